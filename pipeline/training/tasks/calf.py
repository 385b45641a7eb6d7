"""CALF's training on features: class-balanced chunks of the halves (`data.calf_targets`), targets = the
chunk's time shifts and slot targets packed as `models.heads.calf.CALFLoss` reads them; validation Average-mAP
through the head's own whole-half inference (`CALFHead.half_probabilities`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from soccerspot.data.calf_targets import (
    anchor_chunk_starts, chunk_anchors, default_slicing, detection_targets, draw_chunk_starts,
    time_shift_encoding,
)
from soccerspot.data.clips import Track
from soccerspot.models.heads.calf import CALFLoss
from soccerspot.pipeline.training.batch_plan import BatchPlan
from soccerspot.pipeline.training.config import TrainConfig
from soccerspot.pipeline.training.tasks import register_task
from soccerspot.pipeline.training.tasks.features import feature_task

# Validation: one chunk per validation action and background stretch (ours), the same chunks every epoch.
VALID_SEED = 2**31 - 1


def slicing_rows(head_config, fps: float) -> np.ndarray:
    """(C, 4) slicing parameters in rows: the config's seconds x fps, or `default_slicing` of the chunk."""
    if head_config.slicing_seconds is not None:
        return np.asarray(head_config.slicing_seconds, dtype=np.float64) * fps
    return default_slicing(head_config.window_frames, head_config.num_classes)


@dataclass
class ChunkBatches:
    """Sized iterable of (chunks (batch, L, dim) float32, packed targets (batch, L x C + D x (2 + C))) over
    the chunks (track index, start) of `tracks` listed in `starts`."""

    tracks: Sequence[Track]
    shifts: Sequence[np.ndarray]
    starts: list[tuple[int, int]]
    length: int
    num_classes: int
    num_detections: int
    batch_size: int

    def __len__(self) -> int:
        return -(-len(self.starts) // self.batch_size)

    def chunk(self, track_index: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        track = self.tracks[track_index]
        rows = np.clip(np.arange(start, start + self.length), 0, track.num_rows - 1)  # short halves: last row
        features = np.asarray(track.features.array[rows], dtype=np.float32)
        slots = detection_targets(track.event_rows, track.event_classes, start, self.length,
                                  self.num_detections, self.num_classes)
        targets = np.concatenate([self.shifts[track_index][rows].ravel(), slots.ravel()])
        return features, targets

    def __getitem__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of the chunks `starts[i]` for i in `indices`."""
        pairs = [self.chunk(*self.starts[i]) for i in indices]
        return (torch.from_numpy(np.stack([p[0] for p in pairs])),
                torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.float32)))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for begin in range(0, len(self.starts), self.batch_size):
            yield self[range(begin, min(begin + self.batch_size, len(self.starts)))]

    def plan(self) -> BatchPlan:
        """The same batches as a plan the loop splits over ranks and accumulation steps."""
        order = list(range(len(self.starts)))
        return BatchPlan(self, [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)],
                         use_loader=False)


# Rows read for the input statistics (ours): evenly spaced over the training halves, enough for a stable
# mean and std without reading a SoccerNet-sized training set in full.
STATISTICS_ROWS = 100_000


def input_statistics(tracks: Sequence[Track], max_rows: int = STATISTICS_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std of the training features (float64), over at most `max_rows` rows."""
    total = sum(track.num_rows for track in tracks)
    step = max(1, -(-total // max_rows))
    parts = [np.asarray(track.features.array[::step], dtype=np.float64) for track in tracks if track.num_rows]
    rows = np.concatenate(parts)
    return rows.mean(axis=0), rows.std(axis=0)


def chunk_source(tracks: Sequence[Track], head_config, slicing: np.ndarray) -> tuple[list, list]:
    """Each half's time-shift encoding and the anchors of its chunks."""
    shifts = [time_shift_encoding(t.event_rows, t.event_classes, t.num_rows, slicing) for t in tracks]
    anchors = chunk_anchors([(t.event_rows, t.event_classes) for t in tracks], shifts, slicing,
                            head_config.window_frames, head_config.num_classes)
    return shifts, anchors


@register_task("calf")
def calf_task(config: TrainConfig, data, head_config, out_dir: Path):
    task = feature_task(config, data, head_config, out_dir)  # model, checkpoints, run record, validation
    slicing = slicing_rows(head_config, data.fps)
    task.model.set_input_statistics(*(torch.from_numpy(v) for v in input_statistics(data.train.tracks)))

    def batches(tracks: Sequence[Track], shifts: list, starts: list[tuple[int, int]]) -> BatchPlan:
        return ChunkBatches(tracks, shifts, starts, head_config.window_frames, head_config.num_classes,
                            head_config.num_detections, config.batch_size).plan()

    def train_batches(epoch: int) -> BatchPlan:
        rng = np.random.default_rng([config.seed, epoch])
        starts = draw_chunk_starts(train_anchors, train_rows, head_config.chunks_per_epoch,
                                   head_config.window_frames, head_config.receptive, rng)
        return batches(data.train.tracks, train_shifts, starts)

    train_shifts, train_anchors = chunk_source(data.train.tracks, head_config, slicing)
    train_rows = [track.num_rows for track in data.train.tracks]
    task.train_batches = train_batches
    if data.valid is not None:
        valid_shifts, valid_anchors = chunk_source(data.valid.tracks, head_config, slicing)
        valid_starts = anchor_chunk_starts(valid_anchors, [t.num_rows for t in data.valid.tracks],
                                           head_config.window_frames, head_config.receptive,
                                           np.random.default_rng([config.seed, VALID_SEED]))
        task.valid_batches = lambda: batches(data.valid.tracks, valid_shifts, valid_starts)
    task.criterion = CALFLoss(head_config, torch.as_tensor(slicing, dtype=torch.float32))
    return task
