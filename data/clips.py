"""Training windows sliced on the fly from memory-mapped features.

A *track* is one half of one game: its feature array (a read-only memory map, never copied), the time of
each row, and its events mapped to row indices. A *window* is `(track, start)`: rows `start ..
start + length - 1`, with rows outside the half replaced by the nearest edge row (the peers'
"replicate_last" padding). Only the window table (two integers and one label row per window) lives in RAM;
features are read from the memory map when a window is asked for (a whole batch in one gather per half,
`WindowDataset.get_batch`), so a SoccerNet-sized training set costs a few MB of process memory whatever
its size on disk. The peers' `SoccerNetClips` instead materialises every chunk of every game in RAM
(~26 GB as float32 for 300 games of 2048-d features at 2 fps).

Test-time windows (one centred on every frame, the peers' `feats2clip(..., off=T//2)`) are not built here:
`soccerspot.pipeline.inference.scores` scores whole halves directly.

Two samplers:

- `"chunks"` — the NetVLAD++ paper's (Giancola & Ghanem, CVPR-W 2021; sn-spotting `SoccerNetClips`):
  non-overlapping chunks of `length` rows with stride `length`, starting at row 0. A chunk's label is
  every event whose row falls inside it (multi-label), column 0 = background when none does.
- `"events"` — event-centred windows: one window per event, placed so that the event falls at a random
  row of the window (a new draw each epoch, reproducible from `(seed, epoch)`), plus every chunk of the
  tiling that holds no event, as background. Labels are again every event inside the window.

Intentional differences from the peers' dataset (documented so results can be compared):

- Event time comes from `position` (ms), mapped to the nearest row through the features' own frame times
  (any fps, any start offset, variable frame rate). The peers use `gameTime` truncated to whole seconds
  times an assumed frame rate, which shifts events by up to one second.
- The number of chunks is `ceil(rows / length)`. The peers' `arange(0, rows - 1, length)` also drops a
  final chunk that would hold only the last row; that chunk's events are lost there, kept here.
- As in the peers, several events of one class in a chunk make one positive (labels are 0/1).
- Events more than one frame step past either end of the half are dropped and counted
  (`WindowDataset.dropped_events`), like the peers' silent drop of events beyond the last chunk.
- A half with zero feature rows (an empty recording, a failed extraction) has no window to give: it is
  skipped with a `SkippedHalfWarning` naming its file, listed in `WindowDataset.skipped_halves`, and its
  events count as dropped.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from soccerspot.errors import DataError
from soccerspot.data.features import HalfFeatures, load_features, seconds_to_rows
from soccerspot.data.games import HALVES
from soccerspot.data.labels import GameLabels, read_labels
from soccerspot.data.games import LABELS_FILE
from soccerspot.models.sliding import window_rows

SAMPLINGS = ("chunks", "events")


class SkippedHalfWarning(UserWarning):
    """A half was left out of the training windows (it has no feature rows)."""


@dataclass
class Track:
    """One half of one game: features (memory-mapped) and its events as (row, class) pairs."""

    game: str
    half: int
    features: HalfFeatures
    event_rows: np.ndarray  # (events,) int64 row index of each event
    event_classes: np.ndarray  # (events,) int64 class index (0-based, without background)

    @property
    def num_rows(self) -> int:
        return int(self.features.array.shape[0])


def event_rows(frame_times: np.ndarray, seconds: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest row for each event time; also a mask of events within one `step` of the half's span.

    Ties (an event exactly between two rows) go to the earlier row."""
    seconds = np.asarray(seconds, dtype=np.float64)
    if len(frame_times) == 0:
        return np.zeros(len(seconds), dtype=np.int64), np.zeros(len(seconds), dtype=bool)
    right = np.searchsorted(frame_times, seconds, side="left").clip(0, len(frame_times) - 1)
    left = (right - 1).clip(0, len(frame_times) - 1)
    choose_left = np.abs(seconds - frame_times[left]) <= np.abs(frame_times[right] - seconds)
    rows = np.where(choose_left, left, right).astype(np.int64)
    inside = (seconds >= frame_times[0] - step) & (seconds <= frame_times[-1] + step)
    return rows, inside


def chunk_starts(num_rows: int, length: int) -> np.ndarray:
    """Starts of the paper's non-overlapping chunks: 0, length, 2·length, … (ceil(rows/length) of them)."""
    return np.arange(0, max(num_rows, 1), length, dtype=np.int64)[: max(1, math.ceil(num_rows / length))]


def slice_window(array: np.ndarray, start: int, length: int) -> np.ndarray:
    """`length` rows from `start`, copied out of the memory map as float32 (only this window is read)."""
    num_rows = array.shape[0]
    if start >= 0 and start + length <= num_rows:
        block = array[start : start + length]
    else:
        block = array[window_rows(start, length, num_rows)]
    return np.array(block, dtype=np.float32, copy=True)


def window_labels(track: Track, starts: np.ndarray, length: int, num_classes: int) -> np.ndarray:
    """Multi-label targets with a background column, one row per window start:
    [background, class 0, …, class C-1]; an event counts when its row lies in [start, start + length)."""
    targets = np.zeros((len(starts), num_classes + 1), dtype=np.float32)
    for row, label in zip(track.event_rows, track.event_classes):
        targets[(starts <= row) & (row < starts + length), 1 + label] = 1.0
    targets[:, 0] = targets[:, 1:].max(axis=1, initial=0.0) == 0.0
    return targets


def load_track(
    game: str,
    half: int,
    features_root: str | Path,
    features_name: str,
    labels: GameLabels | None,
    class_index: dict[str, int],
) -> tuple[Track, int]:
    """Memory-map one half and map its events to rows. Returns the track and how many events were dropped
    (outside the half's time span). Labels not in `class_index` are ignored, as the peers do."""
    half_features = load_features(Path(features_root) / game, half, features_name, mmap=True)
    meta = half_features.meta
    times = meta.frame_times()
    if len(times) != half_features.array.shape[0]:
        raise DataError(half_features.path, f"{half_features.array.shape[0]} rows but {len(times)} frame times")
    events = [] if labels is None else [e for e in labels.events if e.half == half and e.label in class_index]
    seconds = np.array([e.position_ms / 1000.0 for e in events], dtype=np.float64)
    classes = np.array([class_index[e.label] for e in events], dtype=np.int64)
    if meta.timestamps is None:
        step = float(meta.step)
    else:
        step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / float(meta.fps)
    rows, inside = event_rows(times, seconds, step)
    track = Track(game=game, half=half, features=half_features, event_rows=rows[inside], event_classes=classes[inside])
    return track, int((~inside).sum())


def labels_path(game: str, labels_root: str | Path, labels_file: str = LABELS_FILE) -> Path:
    return Path(labels_root) / game / labels_file


@dataclass
class WindowDataset(Dataset):
    """Training windows over many games. `__getitem__(i)` -> (features (length, dim) float32, target (C+1,))."""

    tracks: list[Track]
    length: int
    num_classes: int
    sampling: str = "chunks"
    seed: int = 0
    dropped_events: int = 0
    skipped_halves: list[str] = field(default_factory=list)  # feature files of halves without rows
    epoch: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {self.sampling!r}")
        if self.length < 1:
            raise ValueError(f"window length must be >= 1 row, got {self.length}")
        empty = [str(t.features.path) for t in self.tracks if t.num_rows == 0]
        if empty:
            raise ValueError(f"tracks without feature rows cannot give windows: {', '.join(empty)}")
        for track in self.tracks[1:]:
            first = self.tracks[0].features
            if track.features.array.shape[1] != first.array.shape[1]:
                raise DataError(track.features.path, f"{track.features.array.shape[1]}-d features, but "
                                                     f"{first.path} has {first.array.shape[1]}-d")
        self.set_epoch(0)

    @property
    def feature_dim(self) -> int:
        return int(self.tracks[0].features.array.shape[1]) if self.tracks else 0

    def set_epoch(self, epoch: int) -> None:
        """Rebuild the window table (event-centred offsets are drawn from (seed, epoch))."""
        self.epoch = epoch
        track_ids = [np.zeros(0, dtype=np.int64)]
        starts = [np.zeros(0, dtype=np.int64)]
        targets = [np.zeros((0, self.num_classes + 1), dtype=np.float32)]
        rng = np.random.default_rng([self.seed, epoch])
        for index, track in enumerate(self.tracks):
            track_starts = chunk_starts(track.num_rows, self.length)
            if self.sampling == "events":
                event_chunks = np.unique(track.event_rows // self.length) * self.length
                background = np.setdiff1d(track_starts, event_chunks)
                offsets = rng.integers(0, self.length, size=len(track.event_rows))
                track_starts = np.concatenate([track.event_rows - offsets, background])
            track_ids.append(np.full(len(track_starts), index, dtype=np.int64))
            starts.append(track_starts)
            targets.append(window_labels(track, track_starts, self.length, self.num_classes))
        self.window_track = np.concatenate(track_ids)
        self.window_start = np.concatenate(starts)
        self.targets = np.concatenate(targets)

    def __len__(self) -> int:
        return len(self.window_start)

    def __getitem__(self, index: int | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """One window (int index) or a whole batch (a sequence of indices, see `get_batch`)."""
        if not isinstance(index, (int, np.integer)):
            return self.get_batch(index)
        track = self.tracks[int(self.window_track[index])]
        window = slice_window(track.features.array, int(self.window_start[index]), self.length)
        return torch.from_numpy(window), torch.from_numpy(self.targets[index].copy())

    def get_batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(len(indices), length, dim) float32 windows and their targets, gathered straight from the memory
        maps into one output array: one gather per track, no per-window arrays, no second copy to collate."""
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), self.length, self.feature_dim), dtype=np.float32)
        tracks, starts = self.window_track[indices], self.window_start[indices]
        for track_index in np.unique(tracks):
            chosen = np.flatnonzero(tracks == track_index)
            array = self.tracks[track_index].features.array
            out[chosen] = array[window_rows(starts[chosen], self.length, array.shape[0])]
        return torch.from_numpy(out), torch.from_numpy(self.targets[indices])


def build_window_dataset(
    games: Sequence[str],
    features_root: str | Path,
    features_name: str,
    class_index: dict[str, int],
    *,
    window_seconds: float,
    labels_root: str | Path | None = None,
    labels_file: str = LABELS_FILE,
    sampling: str = "chunks",
    seed: int = 0,
    require_labels: bool = True,
    halves: Sequence[int] = HALVES,
) -> WindowDataset:
    """Memory-map the `halves` of `games` (Ball's games: half 1 only) and build their windows.

    Labels are read from `<labels_root>/<game>/<labels_file>` (default: beside the features, the SoccerNet
    layout). The window length in rows is `round(window_seconds * fps)` from the features' own fps, which
    must agree across games. Halves without feature rows are skipped with a `SkippedHalfWarning`."""
    labels_root = features_root if labels_root is None else labels_root
    num_classes = max(class_index.values()) + 1
    tracks: list[Track] = []
    dropped = 0
    skipped: list[str] = []
    for game in games:
        path = labels_path(game, labels_root, labels_file)
        if path.is_file():
            labels = read_labels(path)
        elif require_labels:
            raise DataError(path, f"labels for game {game!r} not found (pass --labels-root if they live elsewhere)")
        else:
            labels = None
        for half in halves:
            track, lost = load_track(game, half, features_root, features_name, labels, class_index)
            dropped += lost
            if track.num_rows == 0:
                skipped.append(str(track.features.path))
                reason = f"{track.features.path}: no feature rows; half {half} of {game!r} skipped"
                warnings.warn(SkippedHalfWarning(f"{reason} ({lost} event(s) dropped)"), stacklevel=2)
                continue
            if tracks and float(track.features.meta.fps) != float(tracks[0].features.meta.fps):
                raise DataError(track.features.path, f"features at {track.features.meta.fps:g} fps, but "
                                                     f"{tracks[0].features.path} has {tracks[0].features.meta.fps:g}")
            tracks.append(track)
    if not tracks:
        if skipped:
            raise DataError(Path(features_root), f"every half has zero feature rows ({len(skipped)} halves, "
                                                 f"e.g. {skipped[0]}): no training windows")
        raise DataError(Path(features_root), "no games to build training windows from")
    length = seconds_to_rows(window_seconds, float(tracks[0].features.meta.fps))
    return WindowDataset(tracks, length, num_classes, sampling=sampling, seed=seed, dropped_events=dropped,
                         skipped_halves=skipped)
