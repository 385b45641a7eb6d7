"""CALF's training on features: class-balanced chunks of the halves (`data.calf_targets`), targets = the
chunk's time shifts and slot targets packed as `models.calf.CALFLoss` reads them; validation Average-mAP
through the head's own whole-half inference (`CALFHead.half_probabilities`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from soccerspot.data.calf_targets import chunk_anchors, default_slicing, detection_targets, draw_chunk_starts, \
    time_shift_encoding
from soccerspot.data.clips import Track
from soccerspot.pipeline.config import TrainConfig
from soccerspot.pipeline.tasks import register_task

# Validation chunks per epoch, as a share of the training chunks (ours); drawn the same way every epoch
# (from the generator of a epoch number training never reaches).
VALID_SHARE = 0.25
VALID_EPOCH = 2**31 - 1


def slicing_rows(head_config, fps: float) -> np.ndarray:
    """(C, 4) slicing parameters in rows: the config's seconds x fps, or `default_slicing` of the chunk."""
    if head_config.slicing_seconds is not None:
        return np.asarray(head_config.slicing_seconds, dtype=np.float64) * fps
    return default_slicing(head_config.window_frames, head_config.num_classes)


@dataclass
class ChunkBatches:
    """Sized iterable of (chunks (batch, L, dim) float32, packed targets (batch, L x C + D x (2 + C))) over
    `count` chunks drawn from `tracks` with the generator seeded by (seed, epoch)."""

    tracks: Sequence[Track]
    shifts: Sequence[np.ndarray]
    anchors: list
    length: int
    receptive: int
    num_classes: int
    num_detections: int
    count: int
    batch_size: int
    seed: int
    epoch: int = 0
    _starts: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.seed, self.epoch])
        rows = [track.num_rows for track in self.tracks]
        self._starts = draw_chunk_starts(self.anchors, rows, self.count, self.length, self.receptive, rng)

    def __len__(self) -> int:
        return -(-len(self._starts) // self.batch_size)

    def chunk(self, track_index: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        track = self.tracks[track_index]
        rows = np.clip(np.arange(start, start + self.length), 0, track.num_rows - 1)  # short halves: last row
        features = np.asarray(track.features.array[rows], dtype=np.float32)
        slots = detection_targets(track.event_rows, track.event_classes, start, self.length,
                                  self.num_detections, self.num_classes)
        targets = np.concatenate([self.shifts[track_index][rows].ravel(), slots.ravel()])
        return features, targets

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for begin in range(0, len(self._starts), self.batch_size):
            pairs = [self.chunk(t, s) for t, s in self._starts[begin:begin + self.batch_size]]
            yield (torch.from_numpy(np.stack([p[0] for p in pairs])),
                   torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.float32)))


def chunk_source(tracks: Sequence[Track], head_config, slicing: np.ndarray) -> tuple[list, list]:
    """Each half's time-shift encoding and the anchors of its chunks."""
    shifts = [time_shift_encoding(t.event_rows, t.event_classes, t.num_rows, slicing) for t in tracks]
    anchors = chunk_anchors([(t.event_rows, t.event_classes) for t in tracks], shifts, slicing,
                            head_config.window_frames, head_config.num_classes)
    return shifts, anchors


@register_task("calf")
def calf_task(config: TrainConfig, data, head_config, out_dir: Path):
    from soccerspot.models.calf import CALFLoss
    from soccerspot.pipeline.train import feature_task

    task = feature_task(config, data, head_config, out_dir)  # model, checkpoints, run record, validation
    slicing = slicing_rows(head_config, data.fps)

    def batches(tracks: Sequence[Track], source: tuple[list, list], count: int, epoch: int) -> ChunkBatches:
        return ChunkBatches(tracks, source[0], source[1], head_config.window_frames, head_config.receptive,
                            head_config.num_classes, head_config.num_detections, count, config.batch_size,
                            config.seed, epoch)

    train = chunk_source(data.train.tracks, head_config, slicing)
    task.train_batches = lambda epoch: batches(data.train.tracks, train, head_config.chunks_per_epoch, epoch)
    if data.valid is not None:
        valid = chunk_source(data.valid.tracks, head_config, slicing)
        count = max(1, int(head_config.chunks_per_epoch * VALID_SHARE))
        task.valid_batches = lambda: batches(data.valid.tracks, valid, count, VALID_EPOCH)
    task.criterion = CALFLoss(head_config, torch.as_tensor(slicing, dtype=torch.float32))
    return task
