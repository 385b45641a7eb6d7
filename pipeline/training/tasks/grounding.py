"""Replay grounding's training (Baidu's transformer, `models.heads.grounding`) in the one training loop.

Per epoch and replay of the training halves (`Labels-cameras.json` beside the labels), the report's 4
positive and 4 negative candidate chunks of the search span before the replay (`pipeline.inference.grounding.
training_samples`; a `hard_negatives` fraction of the negatives, ours, hold another labelled action of the
span), each with the replay's clip; targets [holds the action, offset]; loss BCE + L2
(`GroundingLoss`, whose two means the loop sums exactly over ranks and accumulation steps). Validation: the
same sampling with a fixed seed (loss) and the grounding Average-AP (loose, the official computation of
`pipeline.evaluation.grounding`) of the validation replays, which picks the best checkpoint when computed.

The draw is a batch plan (`pipeline.training.batch_plan`): an epoch's whole sample list, shuffled, comes from
`np.random.default_rng([seed, epoch])` alone (validation: `[seed, VALID_SEED]`), and each sample's
augmentation from its own `np.random.default_rng([seed, epoch, index])`, so any process builds any row of
the epoch from its index, and N ranks or `--accumulate` steps train on the rows one process does.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from soccerspot.data.cameras import CAMERAS_FILE, Replay, read_camera_labels, replays_of
from soccerspot.errors import DataError
from soccerspot.models.heads.grounding import GroundingLoss
from soccerspot.pipeline.evaluation.grounding import GroundingPairs, add_pair, average_ap
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.inference.grounding import (
    GroundingOptions, HalfTrack, chunks, ground_replay, replay_clip, training_samples,
)
from soccerspot.pipeline.training.batch_plan import BatchPlan, in_order
from soccerspot.pipeline.training.config import TrainConfig
from soccerspot.pipeline.training.loop import LoopTask
from soccerspot.pipeline.training.tasks import register_task
from soccerspot.pipeline.training.tasks.features import build_model, data_differences

POSITIVES, NEGATIVES = 4, 4  # per replay and epoch (the report)
VALID_SEED = 2**31 - 1


class NoCameraLabelsWarning(UserWarning):
    """A training or validation game has no Labels-cameras.json: it gives no replay."""


@dataclass
class ReplaySet:
    """Halves with their replays."""

    tracks: list[HalfTrack]
    replays: list[tuple[int, Replay]]  # (track index, replay)
    actions: list[list[int]]  # rows of each track's labelled actions (hard negatives)


def replay_set(tracks, root: Path) -> ReplaySet:
    """The replays of `tracks` (data.clips.Track), read from `root/<game>/Labels-cameras.json`."""
    halves, replays, labels, actions = [], [], {}, []
    for index, track in enumerate(tracks):
        halves.append(HalfTrack(track.features.array, track.features.meta.frame_times()))
        actions.append([int(row) for row in track.event_rows])
        path = root / track.game / CAMERAS_FILE
        if track.game not in labels:
            if not path.is_file():
                warnings.warn(f"{path}: no camera labels; the game gives no replay", NoCameraLabelsWarning)
                labels[track.game] = []
            else:
                labels[track.game] = replays_of(read_camera_labels(path))
        replays += [(index, replay) for replay in labels[track.game] if replay.half == track.half]
    return ReplaySet(halves, replays, actions)


@dataclass
class ReplaySamples:
    """An epoch's grounding samples as a dataset: `self[indices]` is the batch ((candidates (B, L, D), replay
    clips (B, R, D)), targets (B, 2)) of `samples[i]` for i in `indices`, built from the indices alone.
    Augmentations (training only, where `augment_seed` is given; ours): `replay_jitter` trims each sample's
    replay shot by up to that fraction of its length at each end before resampling it; `feature_noise` adds
    Gaussian noise of that many times each dimension's std over the half to candidates and clips. Sample i
    draws them from `np.random.default_rng([*augment_seed, i])`: the same row whoever builds it."""

    data: ReplaySet
    samples: list[tuple[int, int, int, float, float]]  # (replay index, track index, start, positive, offset)
    length: int
    replay_frames: int
    replay_jitter: float = 0.0
    feature_noise: float = 0.0
    augment_seed: tuple[int, ...] | None = None  # (run seed, epoch); None: no augmentation
    _clips: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    _scales: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.samples)

    def augments(self) -> bool:
        return self.augment_seed is not None and (self.replay_jitter > 0 or self.feature_noise > 0)

    def clip(self, replay_index: int, track: HalfTrack, rng: np.random.Generator | None) -> np.ndarray:
        replay = self.data.replays[replay_index][1]
        if self.replay_jitter > 0 and rng is not None:
            trim = (replay.end - replay.start) * self.replay_jitter * rng.random(2)
            return replay_clip(track, dataclasses.replace(replay, start=replay.start + trim[0],
                                                          end=replay.end - trim[1]), self.replay_frames)
        if replay_index not in self._clips:
            self._clips[replay_index] = replay_clip(track, replay, self.replay_frames)
        return self._clips[replay_index]

    def noisy(self, rows: np.ndarray, track_index: int, rng: np.random.Generator | None) -> np.ndarray:
        if self.feature_noise <= 0 or rng is None:
            return rows
        if track_index not in self._scales:
            array = self.data.tracks[track_index].array
            self._scales[track_index] = np.asarray(array[::4], dtype=np.float32).std(axis=0) * self.feature_noise
        return (rows + rng.normal(size=rows.shape) * self._scales[track_index]).astype(np.float32)

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample `index`'s candidate chunk (L, D) and replay clip (R, D), augmented as the class says."""
        replay_index, track_index, start, _, _ = self.samples[index]
        track = self.data.tracks[track_index]
        rng = np.random.default_rng([*self.augment_seed, index]) if self.augments() else None
        clip = self.clip(replay_index, track, rng)  # draws: the replay's trim, the candidate's noise, the clip's
        candidate = self.noisy(chunks(track, np.array([start]), self.length)[0], track_index, rng)
        return candidate, self.noisy(clip, track_index, rng)

    def __getitem__(self, indices: Sequence[int]) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        pairs = [self.sample(int(i)) for i in indices]
        targets = np.array([self.samples[int(i)][3:] for i in indices], dtype=np.float32).reshape(-1, 2)
        return ((torch.from_numpy(np.stack([p[0] for p in pairs])), torch.from_numpy(np.stack([p[1] for p in pairs]))),
                torch.from_numpy(targets))

    def plan(self, batch_size: int) -> BatchPlan:
        """The samples in their drawn order, in batches of `batch_size`, as a plan the loop splits."""
        return BatchPlan(self, in_order(len(self.samples), batch_size), use_loader=False)


def draw_samples(data: ReplaySet, length: int, options: GroundingOptions, rng: np.random.Generator,
                 hard_fraction: float = 0.0) -> list:
    """An epoch's samples (replay index, track index, chunk start, holds the action, offset): each replay's
    `training_samples` (POSITIVES + NEGATIVES), in replay order, then shuffled, all drawn from `rng`."""
    samples = []
    for replay_index, (track_index, replay) in enumerate(data.replays):
        for start, positive, offset in training_samples(data.tracks[track_index], replay, length, POSITIVES,
                                                        NEGATIVES, rng, options, data.actions[track_index],
                                                        hard_fraction):
            samples.append((replay_index, track_index, int(start), positive, offset))
    order = rng.permutation(len(samples))
    return [samples[i] for i in order]


def validation_a_ap(model, data: ReplaySet, options: GroundingOptions) -> dict:
    pairs = GroundingPairs()
    for track_index, replay in data.replays:
        add_pair(pairs, replay.link.seconds, ground_replay(data.tracks[track_index], replay, options, model))
    return {"a_AP": float(average_ap(pairs, "loose")["a_AP"])} if pairs.targets else {}


def replay_loop_task(config: TrainConfig, data, head_config, out_dir: Path, batches: Callable, criterion):
    """The loop task of a grounding head: `batches(replay set, tracks, seed, augment)` gives the plan of an
    epoch's samples drawn from `seed` alone (training: [run seed, epoch]; validation, the same every epoch:
    [run seed, VALID_SEED], without augmentation); checkpoints, run record and the validation Average-AP are
    shared."""
    root = Path(data.description.get("labels_root") or data.description["features_root"])
    options = GroundingOptions.of_head(head_config)
    train_set = replay_set(data.train.tracks, root)
    if not train_set.replays:
        raise DataError(root, f"no replay in the training games' {CAMERAS_FILE}: nothing to ground")
    valid_set = replay_set(data.valid.tracks, root) if data.valid is not None else None
    model = build_model(config, head_config)

    def checkpoint(folder: Path, epoch: int, record: dict) -> None:
        save_checkpoint(folder, model, head_config, classes=data.classes, feature_settings=data.feature_settings,
                        fps=data.fps, nms=NmsSettings("hard", head_config.nms_window_s, 0.0),
                        extra={"epoch": epoch, "metrics": record, "train_config": config.to_json(),
                               "run": str(out_dir), "features": data.description.get("features"),
                               "task": "replay grounding"})

    valid_plan: list[BatchPlan] = []  # drawn once, at the first validation

    def valid_batches() -> BatchPlan:
        if not valid_plan:
            valid_plan.append(batches(valid_set, data.valid.tracks, (config.seed, VALID_SEED), augment=False))
        return valid_plan[0]

    has_valid = valid_set is not None and bool(valid_set.replays)
    return LoopTask(
        model=model,
        train_batches=lambda epoch: batches(train_set, data.train.tracks, (config.seed, epoch)),
        save_checkpoint=checkpoint,
        run_record={"config": config.to_json(), "data": data.description,
                    "games": {"train": data.train_games, "valid": data.valid_games},
                    "head": head_config.to_json(), "classes": data.classes,
                    "feature_settings": data.feature_settings, "fps": data.fps,
                    "replays": {"train": len(train_set.replays), "valid": len(valid_set.replays) if valid_set else 0}},
        resume_differences=lambda stored: data_differences(stored, data),
        valid_batches=valid_batches if has_valid else None,
        validate=(lambda: validation_a_ap(model, valid_set, options)) if has_valid else None,
        criterion=criterion,
        select_max="valid_a_AP" if has_valid and config.eval_every else None,
    )


@register_task("baidu-grounding")
def grounding_task(config: TrainConfig, data, head_config, out_dir: Path):
    options = GroundingOptions.of_head(head_config)
    length, frames = head_config.window_frames, head_config.replay_frames

    def batches(replays: ReplaySet, _tracks, seed: tuple[int, int], augment: bool = True) -> BatchPlan:
        samples = draw_samples(replays, length, options, np.random.default_rng(list(seed)), head_config.hard_negatives)
        if not augment:
            return ReplaySamples(replays, samples, length, frames).plan(config.batch_size)
        return ReplaySamples(replays, samples, length, frames, head_config.replay_jitter, head_config.feature_noise,
                             augment_seed=tuple(seed)).plan(config.batch_size)

    return replay_loop_task(config, data, head_config, out_dir, batches, GroundingLoss(head_config.offset_weight))
