"""Training clips of frames for fine-tuning a backbone with a head, cut from memory-mapped frame caches.

A *frame track* is one half: its frame cache (`data.frame_store`) and its events mapped to cache rows
through the cache's own timestamps (`data.clips.event_rows`, as feature tracks are). A clip is `(track,
start)`: rows `start .. start + T - 1`, edge rows replicated past the half (`models.sliding.window_rows`), with
the multi-label target of `data.clips.window_labels` (column 0 background, `1 + c` class c).

Sampling, as RMS-Net describes it (Tomei et al., ICPR 2020), redrawn every epoch from `(seed, epoch)`:

- one *foreground* clip per event, the event at a uniformly drawn row of the clip;
- *background* clips from event-free stretches (no event inside the clip), `round(nF / C)` of them for nF
  foreground clips and C classes, drawn uniformly over every event-free start of every half;
- batches: `class_balanced_batches` deals the classes round-robin (rare classes are repeated, frequent
  ones thinned, so each class is seen about equally often) with background clips spread among them at
  their share; `shuffled_batches` is the plain alternative.

Augmentation, off by default: a horizontal flip and a brightness/contrast jitter, each drawn once per clip
(every frame of a clip gets the same), reproducible from `(seed, epoch, clip)`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from soccerspot.data.clips import event_rows, window_labels
from soccerspot.models.sliding import window_rows
from soccerspot.data.frame_store import FrameCache
from soccerspot.data.labels import GameLabels

BACKGROUND = -1  # the class recorded for a background clip


@dataclass
class FrameTrack:
    """One half: its frame cache and its events as (row, class) pairs."""

    game: str
    half: int
    cache: FrameCache
    event_rows: np.ndarray
    event_classes: np.ndarray

    @property
    def num_rows(self) -> int:
        return int(self.cache.array.shape[0])


def frame_track(game: str, half: int, cache: FrameCache, labels: GameLabels | None,
                class_index: dict[str, int]) -> FrameTrack:
    """Map the half's events (labels in `class_index`; others ignored) to the cache's rows; events more
    than one frame step outside the half are dropped."""
    times = np.asarray(cache.meta.timestamps, dtype=np.float64)
    events = [] if labels is None else [e for e in labels.events if e.half == half and e.label in class_index]
    seconds = np.array([e.position_ms / 1000.0 for e in events], dtype=np.float64)
    classes = np.array([class_index[e.label] for e in events], dtype=np.int64)
    rows, inside = event_rows(times, seconds, 1.0 / float(cache.meta.fps))
    return FrameTrack(game, half, cache, rows[inside], classes[inside])


def event_free_starts(track: FrameTrack, length: int) -> np.ndarray:
    """Every start in [0, rows - length] whose clip holds no event (a half shorter than a clip: none)."""
    if track.num_rows < length:
        return np.zeros(0, dtype=np.int64)
    hits = np.zeros(track.num_rows + 1, dtype=np.int64)
    np.add.at(hits, track.event_rows + 1, 1)
    counts = np.cumsum(hits)
    starts = np.arange(track.num_rows - length + 1)
    return starts[counts[starts + length] - counts[starts] == 0]


class FrameClipDataset(Dataset):
    """Clips of `length` rows over many halves. `get_batch(indices)` -> (uint8 (B, T, 3, H, W), float32
    targets (B, C + 1)); `set_epoch(epoch)` redraws the clips."""

    def __init__(self, tracks: Sequence[FrameTrack], length: int, num_classes: int, *, seed: int = 0,
                 flip: bool = False, color_jitter: float = 0.0):
        if length < 1:
            raise ValueError(f"clip length must be >= 1 row, got {length}")
        empty = [str(t.cache.path) for t in tracks if t.num_rows == 0]
        if empty:
            raise ValueError(f"halves without frames cannot give clips: {', '.join(empty)}")
        shapes = {t.cache.array.shape[1:] for t in tracks}
        if len(shapes) > 1:
            raise ValueError(f"frame caches of different sizes: {sorted(shapes)}")
        self.tracks = list(tracks)
        self.length, self.num_classes, self.seed = length, num_classes, seed
        self.flip, self.color_jitter = flip, color_jitter
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        rng = np.random.default_rng([self.seed, epoch])
        tracks, starts, labels = [], [], []
        for index, track in enumerate(self.tracks):  # foreground: each event at a uniform offset
            offsets = rng.integers(0, self.length, size=len(track.event_rows))
            tracks.append(np.full(len(offsets), index, dtype=np.int64))
            starts.append(track.event_rows - offsets)
            labels.append(track.event_classes)
        foreground = sum(len(s) for s in starts)
        free = [event_free_starts(track, self.length) for track in self.tracks]
        pool = sum(len(f) for f in free)
        wanted = min(pool, int(round(foreground / self.num_classes)))
        if wanted:
            picks = np.sort(rng.choice(pool, size=wanted, replace=False))
            bounds = np.cumsum([0] + [len(f) for f in free])
            owner = np.searchsorted(bounds, picks, side="right") - 1
            tracks.append(owner.astype(np.int64))
            starts.append(np.array([free[o][p - bounds[o]] for o, p in zip(owner, picks)], dtype=np.int64))
            labels.append(np.full(wanted, BACKGROUND, dtype=np.int64))
        self.clip_track = np.concatenate(tracks) if tracks else np.zeros(0, dtype=np.int64)
        self.clip_start = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
        self.clip_class = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
        self.targets = np.zeros((len(self.clip_start), self.num_classes + 1), dtype=np.float32)
        for index, track in enumerate(self.tracks):
            chosen = np.flatnonzero(self.clip_track == index)
            self.targets[chosen] = window_labels(track, self.clip_start[chosen], self.length, self.num_classes)

    def __len__(self) -> int:
        return len(self.clip_start)

    def clip_rows(self, index: int) -> np.ndarray:
        """The cache rows of clip `index` (edges replicated)."""
        track = self.tracks[int(self.clip_track[index])]
        return window_rows(int(self.clip_start[index]), self.length, track.num_rows)

    def clip_times(self, index: int) -> np.ndarray:
        """Each row's timestamp (seconds from the start of the half)."""
        track = self.tracks[int(self.clip_track[index])]
        return np.asarray(track.cache.meta.timestamps, dtype=np.float64)[self.clip_rows(index)]

    def __getitem__(self, index: int | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, (int, np.integer)):
            clips, targets = self.get_batch([int(index)])
            return clips[0], targets[0]
        return self.get_batch(index)

    def get_batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        indices = np.asarray(indices, dtype=np.int64)
        height, width = self.tracks[0].cache.array.shape[1:3]
        out = np.empty((len(indices), self.length, height, width, 3), dtype=np.uint8)
        for slot, index in enumerate(indices):
            out[slot] = self.tracks[int(self.clip_track[index])].cache.array[self.clip_rows(index)]
            if self.flip or self.color_jitter:
                out[slot] = self._augment(out[slot], int(index))
        clips = torch.from_numpy(out).permute(0, 1, 4, 2, 3)  # (B, T, 3, H, W), channels-last in memory
        return clips, torch.from_numpy(self.targets[indices])

    def _augment(self, clip: np.ndarray, index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.flip and rng.random() < 0.5:
            clip = clip[:, :, ::-1]
        if self.color_jitter:
            brightness = 1.0 + rng.uniform(-self.color_jitter, self.color_jitter)
            contrast = 1.0 + rng.uniform(-self.color_jitter, self.color_jitter)
            values = clip.astype(np.float32)
            mean = values.mean()
            clip = np.clip((values - mean) * contrast + mean * brightness, 0, 255).round().astype(np.uint8)
        return clip


def class_balanced_batches(dataset: FrameClipDataset, batch_size: int, *, seed: int = 0,
                           epoch: int = 0) -> list[list[int]]:
    """As many clips as the epoch has, foreground dealt round-robin over the classes present (each class
    about equally often: rare ones repeated), background clips at their share in random places."""
    rng = np.random.default_rng([seed, epoch, 1])
    classes = sorted(set(dataset.clip_class[dataset.clip_class != BACKGROUND].tolist()))
    groups = {c: rng.permutation(np.flatnonzero(dataset.clip_class == c)) for c in classes}
    foreground = int((dataset.clip_class != BACKGROUND).sum())
    dealt: list[int] = []
    used = {c: 0 for c in classes}
    while len(dealt) < foreground:
        for c in rng.permutation(classes):
            if len(dealt) == foreground:
                break
            if used[c] == len(groups[c]):
                groups[c], used[c] = rng.permutation(groups[c]), 0
            dealt.append(int(groups[c][used[c]]))
            used[c] += 1
    background = np.flatnonzero(dataset.clip_class == BACKGROUND)
    order = np.array(dealt, dtype=np.int64)
    for clip in rng.permutation(background):
        order = np.insert(order, rng.integers(0, len(order) + 1), clip)
    return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def shuffled_batches(dataset: FrameClipDataset, batch_size: int, *, seed: int = 0, epoch: int = 0) -> list[list[int]]:
    order = np.random.default_rng([seed, epoch, 2]).permutation(len(dataset))
    return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
