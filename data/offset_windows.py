"""RMS-Net's training windows on features: a class and the event's position in the window, with masking.

Tomei et al., "RMS-Net: Regression and Masking for Soccer Event Spotting", ICPR 2020. Redrawn every epoch
from `(seed, epoch)`:

- one foreground window per event with the event at a uniformly drawn row `o` of the window; target
  (class + 1, o / (T - 1));
- background windows from event-free stretches (`data.video_clips.event_free_starts`), round(nF / C) of
  them; target (0, 0);
- masking: with probability `mask_probability` a foreground window's rows before its event are replaced
  by the same number of rows of a background window (what happened before the event stops being a cue;
  the event and what follows it stay).

Rows outside a half repeat its edge rows (`data.clips.window_rows`). `get_batch(indices)` -> (float32
(B, T, dim), float32 (B, 2)). `OffsetClipDataset` gives the same targets on clips of frames, for
fine-tuning a backbone with the RMS-Net head (`soccerspot finetune --head rmsnet`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from soccerspot.data.clips import Track
from soccerspot.models.sliding import window_rows
from soccerspot.data.video_clips import BACKGROUND, FrameClipDataset, FrameTrack, event_free_starts


def mask_before(window: np.ndarray, background: np.ndarray, event_row: int) -> np.ndarray:
    """`window` with its rows before `event_row` (a row index inside the window) taken from `background`."""
    masked = window.copy()
    masked[:event_row] = background[:event_row]
    return masked


class OffsetWindowDataset(Dataset):
    def __init__(self, tracks: Sequence[Track], length: int, num_classes: int, *, seed: int = 0,
                 mask_probability: float = 0.0):
        if length < 2:
            raise ValueError(f"an offset needs windows of >= 2 rows, got {length}")
        if not 0.0 <= mask_probability <= 1.0:
            raise ValueError(f"mask_probability must lie in [0, 1], got {mask_probability}")
        self.tracks, self.length, self.num_classes = list(tracks), length, num_classes
        self.seed, self.mask_probability = seed, mask_probability
        self.feature_dim = int(self.tracks[0].features.array.shape[1]) if self.tracks else 0
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch])
        track_ids, starts, targets, offsets = [], [], [], []
        for index, track in enumerate(self.tracks):
            rows = rng.integers(0, self.length, size=len(track.event_rows))
            track_ids.append(np.full(len(rows), index))
            starts.append(track.event_rows - rows)
            offsets.append(rows)
            targets.append(np.stack([track.event_classes + 1.0, rows / (self.length - 1)], axis=1))
        foreground = sum(len(s) for s in starts)
        free = [event_free_starts(track, self.length) for track in self.tracks]
        pool = np.concatenate([np.stack([np.full(len(f), i), f], axis=1) for i, f in enumerate(free)]) \
            if free else np.zeros((0, 2), dtype=np.int64)
        pool = pool.reshape(-1, 2).astype(np.int64)
        wanted = min(len(pool), int(round(foreground / self.num_classes)))
        chosen = pool[rng.choice(len(pool), size=wanted, replace=False)] if wanted else np.zeros((0, 2), np.int64)
        track_ids.append(chosen[:, 0])
        starts.append(chosen[:, 1])
        offsets.append(np.full(wanted, -1))
        targets.append(np.zeros((wanted, 2)))
        self.window_track = np.concatenate(track_ids).astype(np.int64)
        self.window_start = np.concatenate(starts).astype(np.int64)
        self.event_offset = np.concatenate(offsets).astype(np.int64)  # -1: background
        self.targets = np.concatenate(targets).astype(np.float32).reshape(-1, 2)
        # masking: which foreground windows are masked this epoch, and the background each borrows from
        masked = (self.event_offset >= 0) & (rng.random(len(self.event_offset)) < self.mask_probability)
        self.mask_source = np.full((len(masked), 2), -1, dtype=np.int64)
        if masked.any() and len(pool):
            self.mask_source[masked] = pool[rng.integers(0, len(pool), size=int(masked.sum()))]

    def __len__(self) -> int:
        return len(self.window_start)

    def _rows(self, track_index: int, start: int) -> np.ndarray:
        array = self.tracks[track_index].features.array
        return np.asarray(array[window_rows(start, self.length, array.shape[0])], dtype=np.float32)

    def window(self, index: int) -> np.ndarray:
        window = self._rows(int(self.window_track[index]), int(self.window_start[index]))
        source_track, source_start = self.mask_source[index]
        if source_track >= 0:
            window = mask_before(window, self._rows(int(source_track), int(source_start)),
                                 int(self.event_offset[index]))
        return window

    def __getitem__(self, index: int | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, (int, np.integer)):
            return torch.from_numpy(self.window(int(index))), torch.from_numpy(self.targets[index].copy())
        return self.get_batch(index)

    def get_batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), self.length, self.feature_dim), dtype=np.float32)
        for slot, index in enumerate(indices):
            out[slot] = self.window(int(index))
        return torch.from_numpy(out), torch.from_numpy(self.targets[indices])


class OffsetClipDataset(FrameClipDataset):
    """RMS-Net's clips of frames for fine-tuning: `FrameClipDataset`'s clips (one per event at a uniform
    offset, background clips nF/C, redrawn every epoch) with RMS-Net's targets, (class + 1, o / (T - 1))
    for the clip's own event at row `o` and (0, 0) for background, and the same masking as
    `OffsetWindowDataset`: with probability `mask_probability` a foreground clip's frames before its event
    come from an event-free clip. `get_batch(indices)` -> (uint8 (B, T, 3, H, W), float32 (B, 2))."""

    def __init__(self, tracks: Sequence[FrameTrack], length: int, num_classes: int, *, seed: int = 0,
                 mask_probability: float = 0.0, flip: bool = False, color_jitter: float = 0.0):
        if length < 2:
            raise ValueError(f"an offset needs clips of >= 2 rows, got {length}")
        if not 0.0 <= mask_probability <= 1.0:
            raise ValueError(f"mask_probability must lie in [0, 1], got {mask_probability}")
        self.mask_probability = mask_probability
        super().__init__(tracks, length, num_classes, seed=seed, flip=flip, color_jitter=color_jitter)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        # the parent lists one foreground clip per event, half by half in event order, then the background
        rows = np.concatenate([t.event_rows for t in self.tracks]).astype(np.int64)
        classes = np.concatenate([t.event_classes for t in self.tracks]).astype(np.int64)
        foreground = len(rows)
        if not (np.array_equal(self.clip_class[:foreground], classes)
                and (self.clip_class[foreground:] == BACKGROUND).all()):
            raise RuntimeError("FrameClipDataset no longer lists its foreground clips in event order")
        self.event_offset = np.full(len(self.clip_start), -1, dtype=np.int64)  # -1: background
        self.event_offset[:foreground] = rows - self.clip_start[:foreground]
        self.offset_targets = np.zeros((len(self.clip_start), 2), dtype=np.float32)
        self.offset_targets[:foreground, 0] = classes + 1
        self.offset_targets[:foreground, 1] = self.event_offset[:foreground] / (self.length - 1)
        rng = np.random.default_rng([self.seed, epoch, 3])
        free = [event_free_starts(track, self.length) for track in self.tracks]
        pool = np.array([(i, s) for i, f in enumerate(free) for s in f.tolist()], dtype=np.int64).reshape(-1, 2)
        masked = (self.event_offset >= 0) & (rng.random(len(self.event_offset)) < self.mask_probability)
        self.mask_source = np.full((len(masked), 2), -1, dtype=np.int64)
        if masked.any() and len(pool):
            self.mask_source[masked] = pool[rng.integers(0, len(pool), size=int(masked.sum()))]

    def get_batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        indices = np.asarray(indices, dtype=np.int64)
        clips, _ = super().get_batch(indices)
        for slot, index in enumerate(indices.tolist()):
            source_track, source_start = self.mask_source[index]
            if source_track >= 0:
                track = self.tracks[int(source_track)]
                background = track.cache.array[window_rows(int(source_start), self.length, track.num_rows)]
                event = int(self.event_offset[index])
                clips[slot, :event] = torch.from_numpy(np.ascontiguousarray(background[:event])).permute(0, 3, 1, 2)
        return clips, torch.from_numpy(self.offset_targets[indices])
