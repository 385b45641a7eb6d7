"""Fine-tune a backbone's last stage end to end with a spotting head, on clips of frames from the videos.

The first stage of the two-stage paradigm (RMS-Net, Tomei et al., ICPR 2020; Baidu's fine-tuned extractors,
Zhou et al. 2021): train ResNet-152's `layer4` together with a spotting head on labelled matches, export
the backbone, re-extract the archive with it (`soccerspot extract --weights RUN/best/backbone.pt`), then
train any head on those features (`soccerspot train`) and spot.

Data: each half video is decoded once, sequentially, into a frame cache at the feature rate
(`extract.frame_store`, same sample times and geometry as `soccerspot extract`); clips of T rows are cut
from the memory-mapped caches (`data.video_clips`): one foreground clip per event at a uniformly drawn
offset, background clips from event-free stretches, class-balanced batches.

Model: `models.finetune.BackboneHeadModel` (frozen stages in eval mode and without autograd). Heads: the
pooling heads and the transformer learn each clip's classes (BCE); `--head rmsnet` learns RMS-Net's class
and offset of the clip's own event, with its masking and loss (`data.offset_windows.OffsetClipDataset`,
`clip_targets`), as in its paper.

Loop: `pipeline.training.loop.fit`, the loop every head trains with (optimizer, plateau scheduler, best/last
checkpoints, metrics lines, exact `--resume`). Validation: the loss on held-out clips, and every
`eval_every` epochs the Average-mAP of the held-out halves through the inference path `spot` uses (the
backbone over every cached frame of a half, then the head's whole-half scores and NMS).

A run folder holds, beside `train_config.json`, `metrics.jsonl` and `state.pt`, two checkpoints `best/`
and `last/`, each a head checkpoint (`model.pt` + `config.json`, whose feature settings name the
fine-tuned weights) plus `backbone.pt`: the backbone's state dict, loadable by
`soccerspot extract --weights`, whose identity (`file:<sha256 prefix>`) the head's feature settings record,
so `soccerspot spot MATCH.mkv --model RUN/best` extracts with it and spots.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from soccerspot.data.atomic import atomic_open
from soccerspot.data.classes import class_setup
from soccerspot.data.features import FeatureMeta, HalfFeatures, seconds_to_rows
from soccerspot.data.frame_store import frame_cache_path
from soccerspot.data.games import half_videos, holds_half_videos, resolve_games
from soccerspot.data.labels import GameLabels, read_labels
from soccerspot.data.video_clips import (
    FrameClipDataset, class_balanced_batches, frame_track, shuffled_batches,
)
from soccerspot.errors import DataError, SettingsError
from soccerspot.extract.decode import DECODERS
from soccerspot.extract.frame_store import ensure_frame_cache
from soccerspot.extract.precision import autocast
from soccerspot.extract.transforms import TRANSFORMS
from soccerspot.models.backbones import BackboneWeightsError, create_backbone, weights_file_id
from soccerspot.models.finetune import BackboneHeadModel
from soccerspot.models.heads import create_head
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.training.batch_plan import BatchPlan
from soccerspot.pipeline.training.config import TrainConfig, head_config_for
from soccerspot.pipeline.training.distributed import current, main_rank_first
from soccerspot.pipeline.training.loop import (
    LoopTask, TrainResult, check_loop_settings, run, training_precision,
)
from soccerspot.pipeline.training.settings_record import SettingsRecord
from soccerspot.pipeline.training.tasks import registered_task
from soccerspot.pipeline.training.tasks.features import validation_a_map

BACKBONE_FILE = "backbone.pt"


@dataclass
class FineTuneSettings(SettingsRecord):
    """What fine-tuning adds to a `TrainConfig`: the backbone, its frames and the clips' augmentation."""

    backbone: str = "resnet152"
    weights: str = "imagenet"
    trainable_stages: int = 1
    fps: float = 2.0
    transform: str = "short-side"  # at 224: the whole 398x224 broadcast frame, as RMS-Net
    input_size: int = 224
    decoder: str = "pyav"
    gradient_checkpointing: bool = False
    freeze_batchnorm: bool = False  # the trainable stages' BatchNorm layers in eval mode (statistics fixed)
    balanced: bool = True  # class-balanced batches (RMS-Net's data balancing)
    flip: bool = False
    color_jitter: float = 0.0

    def validate(self) -> "FineTuneSettings":
        if self.transform not in TRANSFORMS:
            raise SettingsError("transform", f"must be one of {', '.join(TRANSFORMS)}; got {self.transform!r}")
        if self.decoder not in DECODERS:
            raise SettingsError("decoder", f"must be one of {', '.join(DECODERS)}; got {self.decoder!r}")
        if self.trainable_stages < 0:
            raise SettingsError("trainable_stages", f"must be >= 0; got {self.trainable_stages}")
        if not self.fps > 0:
            raise SettingsError("fps", f"must be > 0; got {self.fps}")
        if self.input_size < 16:
            raise SettingsError("input_size", f"must be >= 16 pixels; got {self.input_size}")
        if not 0.0 <= self.color_jitter <= 1.0:
            raise SettingsError("color_jitter", f"must lie in [0, 1]; got {self.color_jitter}")
        return self



@dataclass
class VideoHalf:
    game: str
    half: int
    video: Path


@dataclass
class FineTuneData:
    """The cached halves of the training and validation games and their labels."""

    train: list  # data.video_clips.FrameTrack
    valid: list
    valid_labels: dict[str, GameLabels]
    classes: list[str]
    description: dict = field(default_factory=dict)
    train_games: list[str] = field(default_factory=list)
    valid_games: list[str] = field(default_factory=list)


# --- data ------------------------------------------------------------------------------------------------


def video_halves(videos_root: Path, games: Sequence[str]) -> list[VideoHalf]:
    """The half videos of `games` below `videos_root` (`data.games.half_videos`: `224p` preferred)."""
    halves = []
    for game in games:
        found = half_videos(videos_root / game) if (videos_root / game).is_dir() else {}
        if not found:
            raise DataError(videos_root / game, "no half videos for this game (expected 1_224p.mkv / 2_224p.mkv "
                                                "or other 1_*/2_* videos)")
        halves.extend(VideoHalf(game, half, video) for half, video in found.items())
    return halves


def videos_games(spec: str, videos_root: Path) -> list[str]:
    """Games named by `spec` (`data.games.SPLIT_HELP`); "all": every game with half videos."""
    return resolve_games(spec, videos_root, holds_half_videos, root_name="--videos")


def cache_halves(halves: Sequence[VideoHalf], cache_root: Path, settings: FineTuneSettings, *,
                 clip_frames: int | None = None, clip_fps: float | None = None,
                 progress: bool = True) -> tuple[list, list[str]]:
    """A frame cache per half (decoded once, reused after; with `clip_frames`, a clip cache: each row the clip
    a video backbone takes); a half whose video cannot be decoded is left out with a warning and listed in
    the second value."""
    caches, failed = [], []
    for half in halves:
        path = frame_cache_path(cache_root, half.game, half.half, settings.fps, settings.transform,
                                settings.input_size, clip_frames, clip_fps)
        try:
            cache = ensure_frame_cache(half.video, path, fps=settings.fps, transform=settings.transform,
                                       input_size=settings.input_size, decoder=settings.decoder,
                                       clip_frames=clip_frames, clip_fps=clip_fps, progress=progress)
        except DataError as error:
            print(f"warning: {error}; half {half.half} of {half.game!r} left out", file=sys.stderr)
            failed.append(str(half.video))
            continue
        caches.append((half, cache))
    return caches, failed



def read_game_labels(labels_root: Path, games: Sequence[str], labels_file: str) -> dict[str, GameLabels]:
    """Each game's labels, `DataError` naming the first one missing."""
    labels = {}
    for game in games:
        path = labels_root / game / labels_file
        if not path.is_file():
            raise DataError(path, f"labels for game {game!r} not found (pass --labels if they live elsewhere)")
        labels[game] = read_labels(path)
    return labels


def load_finetune_data(config: TrainConfig, settings: FineTuneSettings, videos_root: Path, labels_root: Path,
                       train_games: Sequence[str], valid_games: Sequence[str], cache_root: Path, *,
                       clip_frames: int | None = None, clip_fps: float | None = None,
                       progress: bool = True) -> FineTuneData:
    """Cache every half of both game lists (frames; with `clip_frames`, each row's clip for a video backbone)
    and map their labels to rows."""
    setup = class_setup(config.classes)
    labels = read_game_labels(labels_root, [*train_games, *valid_games], setup.labels_file)
    tracks: dict[str, list] = {}
    failed: list[str] = []
    for split, games in (("train", train_games), ("valid", valid_games)):
        with main_rank_first():  # rank 0 decodes what is missing; the others then read its caches in place
            caches, lost = cache_halves(video_halves(videos_root, games), cache_root, settings,
                                        clip_frames=clip_frames, clip_fps=clip_fps,
                                        progress=progress and current().is_main)
        failed += lost
        tracks[split] = [frame_track(half.game, half.half, cache, labels[half.game], setup.dictionary)
                         for half, cache in caches]
    if not tracks["train"]:
        raise DataError(videos_root, "no training half could be decoded: nothing to fine-tune on")
    description = {
        "videos_root": str(videos_root.resolve()), "labels_root": str(labels_root.resolve()),
        "cache_root": str(cache_root.resolve()), "train_games": len(train_games), "valid_games": len(valid_games),
        "train_halves": len(tracks["train"]), "valid_halves": len(tracks["valid"]), "failed_videos": failed,
    }
    return FineTuneData(tracks["train"], tracks["valid"], {g: labels[g] for g in valid_games}, setup.names,
                        description, list(train_games), list(valid_games))


# --- model and checkpoints -------------------------------------------------------------------------------


def clip_frames(config: TrainConfig, settings: FineTuneSettings) -> int:
    return seconds_to_rows(config.window_seconds, settings.fps)


def build_finetune_model(config: TrainConfig, settings: FineTuneSettings, num_classes: int):
    """`BackboneHeadModel` on `config.device`; `SettingsError` for a head that cannot take the clips."""
    try:
        backbone = create_backbone(settings.backbone, weights=settings.weights,
                                  trainable_stages=settings.trainable_stages)
    except BackboneWeightsError as error:  # offline ImageNet weights, a missing or mismatched file
        raise DataError(None, str(error)) from None
    except ValueError as error:
        raise SettingsError("backbone", str(error)) from None
    try:
        head_config = head_config_for(config, backbone.feature_dim, num_classes, clip_frames(config, settings))
        head = create_head(head_config)
    except SettingsError as error:
        raise SettingsError(error.setting, f"invalid head settings: {error.reason}") from None
    model = BackboneHeadModel(backbone, head, gradient_checkpointing=settings.gradient_checkpointing,
                              frozen_batchnorm=settings.freeze_batchnorm)
    return model.to(torch.device(config.device), memory_format=model.backbone.memory_format), head_config


def feature_settings(model, settings: FineTuneSettings, weights_id: str, precision: str) -> dict:
    """The settings (`FeatureMeta.settings()`) of the features `soccerspot extract --weights backbone.pt`
    makes with this backbone: what the exported head expects."""
    return FeatureMeta(backbone=model.backbone.name, weights=weights_id, fps=float(settings.fps),
                       transform=settings.transform, input_size=settings.input_size, precision=precision, pca=None,
                       dim=model.backbone.feature_dim).settings()


def save_backbone(folder: Path, model) -> str:
    """Write `folder/backbone.pt` (the backbone's state dict, as `extract --weights` reads it); returns the
    identity `extract` gives features made with it."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.backbone.body.state_dict().items()}
    with atomic_open(folder / BACKBONE_FILE, "wb") as handle:
        torch.save(state, handle)
    return weights_file_id(folder / BACKBONE_FILE)


# --- validation ------------------------------------------------------------------------------------------


@torch.no_grad()
def half_features(model, track, device: torch.device, precision: str, batch_frames: int = 64) -> HalfFeatures:
    """The backbone over every cached frame of a half: the features `extract` would write for it."""
    frames = track.cache.array
    outputs = []
    for start in range(0, len(frames), batch_frames):
        images = torch.from_numpy(np.array(frames[start:start + batch_frames])).permute(0, 3, 1, 2)
        with autocast(device.type, precision):
            outputs.append(model.features(images.to(device, non_blocking=True)).float().cpu())
    width = model.backbone.feature_dim
    array = torch.cat(outputs).numpy() if outputs else np.zeros((0, width), dtype=np.float32)
    times = [float(t) for t in track.cache.meta.timestamps]
    meta = FeatureMeta(backbone=model.backbone.name, fps=float(track.cache.meta.fps), timestamps=times,
                       num_frames=len(times), dim=width)
    return HalfFeatures(array, meta, track.cache.path)


@dataclass
class FeatureTrack:
    """What `tasks.features.validation_a_map` reads of a half: its game, half and features."""

    game: str
    half: int
    features: HalfFeatures


def finetune_validation_a_map(model, data: FineTuneData, config: TrainConfig, precision: str) -> dict:
    """The backbone over every cached frame of the validation halves, then `validation_a_map` of the head."""
    device = torch.device(config.device)
    model.eval()
    tracks = [FeatureTrack(t.game, t.half, half_features(model, t, device, precision)) for t in data.valid]
    return validation_a_map(model.head, tracks, data.valid_labels, data.classes, config)


# --- the task --------------------------------------------------------------------------------------------


def clip_loader(dataset, batches: list[list[int]], config: TrainConfig) -> BatchPlan:
    """Whole batches cut by the dataset (`get_batch`), pinned for non-blocking copies on CUDA: the epoch's
    plan, which the loop splits over ranks and accumulation steps."""
    return BatchPlan(dataset, batches, config.num_workers, pin_memory=torch.device(config.device).type == "cuda")


def finetune_task(config: TrainConfig, settings: FineTuneSettings, data: FineTuneData, out_dir: Path) -> LoopTask:
    model, head_config = build_finetune_model(config, settings, len(data.classes))
    length = clip_frames(config, settings)
    precision = training_precision(config.precision, torch.device(config.device))
    clips_for, criterion = clip_targets(config.head, head_config)
    train_clips = clips_for(data.train, length, len(data.classes), seed=config.seed, flip=settings.flip,
                            color_jitter=settings.color_jitter, train=True)
    valid_clips = clips_for(data.valid, length, len(data.classes), seed=config.seed) if data.valid else None

    def train_batches(epoch: int) -> BatchPlan:
        train_clips.set_epoch(epoch)
        make = class_balanced_batches if settings.balanced else shuffled_batches
        return clip_loader(train_clips, make(train_clips, config.batch_size, seed=config.seed, epoch=epoch), config)

    def valid_batches() -> BatchPlan:
        valid_clips.set_epoch(0)  # the same held-out clips every epoch
        order = list(range(len(valid_clips)))
        return clip_loader(valid_clips, [order[i:i + config.batch_size] for i in range(0, len(order), config.batch_size)],
                           config)

    def checkpoint(folder: Path, epoch: int, record: dict) -> None:
        weights_id = save_backbone(folder, model)
        save_checkpoint(folder, model.head, head_config, classes=data.classes,
                        feature_settings=feature_settings(model, settings, weights_id, precision), fps=settings.fps,
                        nms=NmsSettings(config.nms, config.nms_window, config.nms_threshold),
                        extra={"epoch": epoch, "metrics": record, "train_config": config.to_json(),
                               "finetune": settings.to_json(), "run": str(out_dir), "backbone_file": BACKBONE_FILE})

    run_record = {"config": config.to_json(), "finetune": settings.to_json(), "data": data.description,
                  "games": {"train": data.train_games, "valid": data.valid_games}, "head": head_config.to_json(),
                  "classes": data.classes}
    return LoopTask(
        model=model, train_batches=train_batches, save_checkpoint=checkpoint, run_record=run_record,
        resume_differences=lambda stored: run_differences(stored, run_record),
        valid_batches=valid_batches if valid_clips is not None and len(valid_clips) else None,
        validate=(lambda: finetune_validation_a_map(model, data, config, precision)) if data.valid else None,
        **({} if criterion is None else {"criterion": criterion}),
    )


def run_differences(stored: dict, current: dict) -> list[str]:
    """What differs between the run a `--resume` continues and this one (games, folders, settings)."""
    differences = []
    for split in ("train", "valid"):
        if stored.get("games", {}).get(split) != current["games"][split]:
            differences.append(f"{split} games")
    for key in ("videos_root", "labels_root"):
        if stored.get("data", {}).get(key) != current["data"][key]:
            differences.append(f"{key.replace('_', ' ')} {stored.get('data', {}).get(key)} -> {current['data'][key]}")
    then, now = stored.get("finetune", {}), current["finetune"]
    defaults = FineTuneSettings().to_json()  # a setting added since the run started had its default value
    changed = sorted(key for key in now if then.get(key, defaults.get(key)) != now[key])
    if changed:
        differences.append(f"fine-tuning settings ({', '.join(changed)})")
    return differences


def window_clip_targets(head_config):
    """Clips labelled with their window's classes, the loop's BCE: pooling heads and the transformer."""
    def window_clips(tracks, length, num_classes, *, train: bool = False, **options):
        return FrameClipDataset(tracks, length, num_classes, **options)

    return window_clips, None


def clip_targets(kind: str, head_config):
    """(clip dataset factory, criterion or None for the loop's BCE) of a head: its registered frames task
    (`pipeline.training.tasks`, e.g. RMS-Net's class + offset), else its window's classes."""
    return (registered_task(kind, "frames") or window_clip_targets)(head_config)


def check_finetune_head(kind: str) -> None:
    """Fine-tuning trains heads whose target is a window's classes (pooling heads, the transformer) and
    heads with a registered frames task (RMS-Net); another head with its own targets and loss on features
    (CALF's chunks) is not wired to frame clips."""
    if registered_task(kind) is not None and registered_task(kind, "frames") is None:
        raise SettingsError("head", f"{kind!r} trains with its own targets, which fine-tuning on frame clips does "
                                    "not provide; fine-tune with a pooling head, the transformer or rmsnet")


def finetune(config: TrainConfig, settings: FineTuneSettings, data: FineTuneData, out_dir: str | Path, *,
             resume: bool = False, max_batches: int | None = None, progress: bool = True) -> TrainResult:
    """Fine-tune `settings.backbone`'s last stages with `config.head` on `data`, writing the run to `out_dir`."""
    if not data.valid and config.select_on == "valid_a_mAP":
        raise SettingsError("select_on", "'valid_a_mAP' needs validation games")
    check_loop_settings(config)
    check_finetune_head(config.head)
    settings.validate()
    return run(config, lambda: finetune_task(config, settings, data, Path(out_dir)), out_dir, resume=resume,
               max_batches=max_batches, progress=progress, frames=True)
