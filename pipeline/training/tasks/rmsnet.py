"""RMS-Net's training on features: offset windows with masking (`data.offset_windows`), CE + lambda MSE
(`models.heads.rmsnet.RMSNetLoss`); validation Average-mAP through the head's own whole-half inference. On
frame clips (fine-tuning): the same targets cut from clips."""
from __future__ import annotations

from pathlib import Path

import torch
from soccerspot.data.offset_windows import OffsetClipDataset, OffsetWindowDataset
from soccerspot.models.heads.rmsnet import RMSNetLoss
from soccerspot.pipeline.training.config import TrainConfig
from soccerspot.pipeline.training.tasks import register_task
from soccerspot.pipeline.training.tasks.features import batch_loader, feature_task


@register_task("rmsnet")
def rmsnet_task(config: TrainConfig, data, head_config, out_dir: Path):
    task = feature_task(config, data, head_config, out_dir)  # model, checkpoints, run record, validation
    train = OffsetWindowDataset(data.train.tracks, data.train.length, len(data.classes), seed=config.seed,
                                mask_probability=head_config.mask_probability)
    valid = None if data.valid is None else OffsetWindowDataset(data.valid.tracks, data.train.length,
                                                                len(data.classes), seed=config.seed)

    def train_batches(epoch: int):
        train.set_epoch(epoch)
        shuffle = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        return batch_loader(train, config.batch_size, config.num_workers, shuffle)

    task.train_batches = train_batches
    task.valid_batches = None if valid is None else (lambda: batch_loader(valid, config.batch_size,
                                                                          config.num_workers))
    task.criterion = RMSNetLoss(head_config.offset_weight)
    return task


@register_task("rmsnet", input="frames")
def rmsnet_clip_targets(head_config):
    """Fine-tuning RMS-Net: clips with the class and offset of their event, masked in training, its loss."""
    def offset_clips(tracks, length, num_classes, *, train: bool = False, **options):
        return OffsetClipDataset(tracks, length, num_classes,
                                 mask_probability=head_config.mask_probability if train else 0.0, **options)

    return offset_clips, RMSNetLoss(head_config.offset_weight)
