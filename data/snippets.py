"""Snippets for the snippet recipe (`soccerspot finetune --recipe snippets`): single-label stretches of rows.

Baidu's extractors (Zhou et al. 2021, arXiv 2106.14447) were action-recognition models fine-tuned as
classifiers of 5-second snippets centred on events. Here a snippet is `R = round(seconds x fps)`
consecutive rows of a half's cache (`data.frame_store`: a frame per row for image backbones, a clip per
row for video backbones), labelled with one of C + 1 classes (0..C-1 the event classes, C background).

Sampling, redrawn every epoch from `(seed, epoch)` (`draw_snippets`):

- *foreground*: one snippet per event, the event's row at a uniformly drawn position of the middle half of
  the snippet (`middle_positions`: the rows whose centre lies in [R/4, 3R/4], symmetric about the centre), so the event is
  centred up to a jitter; its class is the event's class (other events it may hold do not count);
- *background*: `round(nF / C)` snippets (nF foreground snippets, C classes) holding no event row, drawn
  uniformly without replacement over every event-free start of every half
  (`data.video_clips.event_free_starts`). That share (background about as frequent as one class) is our
  choice, the one the end-to-end recipe uses for its background clips.

Rows past either end of a half repeat the edge row (`models.sliding.window_rows`), as windows do elsewhere.
`SnippetDataset` cuts the draws from the memory-mapped caches in whole batches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from soccerspot.data.features import seconds_to_rows
from soccerspot.models.sliding import window_rows
from soccerspot.data.video_clips import FrameTrack, event_free_starts

NO_POSITION = -1  # the event position recorded for a background snippet


def snippet_rows(seconds: float, fps: float) -> int:
    """Rows of a snippet: `round(seconds x fps)`, at least one."""
    if not seconds > 0 or not fps > 0:
        raise ValueError(f"a snippet needs seconds > 0 and fps > 0, got {seconds} s at {fps} fps")
    return seconds_to_rows(seconds, fps)


def middle_positions(length: int) -> np.ndarray:
    """The positions (0-based rows of a snippet of `length` rows) of its middle half: the rows whose centre
    `p + 1/2` lies in [length/4, 3 length/4], i.e. `(length + 1) // 4` .. `length - 1 - (length + 1) // 4`
    (symmetric about the snippet's centre; the one row of a 1-row snippet)."""
    if length < 1:
        raise ValueError(f"a snippet needs at least one row, got {length}")
    margin = (length + 1) // 4
    return np.arange(margin, length - margin)


@dataclass
class SnippetDraw:
    """One epoch's snippets: per snippet its track index, first row (may be negative or run past the end:
    edge rows repeat), label (0..C-1, C background) and the event's position in it (-1 for background)."""

    track: np.ndarray
    start: np.ndarray
    label: np.ndarray
    position: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def draw_snippets(tracks: Sequence[FrameTrack], length: int, num_classes: int, *, seed: int = 0,
                  epoch: int = 0) -> SnippetDraw:
    """Foreground snippets (one per event, the event inside the middle half) and `round(nF / C)`
    event-free background snippets, reproducible from `(seed, epoch)`."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    rng = np.random.default_rng([seed, epoch])
    positions = middle_positions(length)
    track_ids, starts, labels, where = [], [], [], []
    for index, track in enumerate(tracks):
        chosen = positions[rng.integers(0, len(positions), size=len(track.event_rows))]
        track_ids.append(np.full(len(chosen), index, dtype=np.int64))
        starts.append(np.asarray(track.event_rows, dtype=np.int64) - chosen)
        labels.append(np.asarray(track.event_classes, dtype=np.int64))
        where.append(chosen.astype(np.int64))
    foreground = sum(len(s) for s in starts)
    free = [event_free_starts(track, length) for track in tracks]
    pool = sum(len(f) for f in free)
    wanted = min(pool, int(round(foreground / num_classes)))
    if wanted:
        picks = np.sort(rng.choice(pool, size=wanted, replace=False))
        bounds = np.cumsum([0] + [len(f) for f in free])
        owner = np.searchsorted(bounds, picks, side="right") - 1
        track_ids.append(owner.astype(np.int64))
        starts.append(np.array([free[o][p - bounds[o]] for o, p in zip(owner, picks)], dtype=np.int64))
        labels.append(np.full(wanted, num_classes, dtype=np.int64))
        where.append(np.full(wanted, NO_POSITION, dtype=np.int64))

    def joined(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    return SnippetDraw(joined(track_ids), joined(starts), joined(labels), joined(where))


class SnippetDataset(Dataset):
    """Snippets of `length` rows over many halves. `get_batch(indices)` -> (uint8 (B, R, 3, H, W) frames, or
    (B, R, T, 3, H, W) clips for clip caches; int64 labels (B,)); `set_epoch(epoch)` redraws them."""

    def __init__(self, tracks: Sequence[FrameTrack], length: int, num_classes: int, *, seed: int = 0):
        if length < 1:
            raise ValueError(f"snippet length must be >= 1 row, got {length}")
        empty = [str(t.cache.path) for t in tracks if t.num_rows == 0]
        if empty:
            raise ValueError(f"halves without frames cannot give snippets: {', '.join(empty)}")
        shapes = {t.cache.array.shape[1:] for t in tracks}
        if len(shapes) > 1:
            raise ValueError(f"caches of different shapes: {sorted(shapes)}")
        self.tracks = list(tracks)
        self.length, self.num_classes, self.seed = length, num_classes, seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.draw = draw_snippets(self.tracks, self.length, self.num_classes, seed=self.seed, epoch=epoch)

    def __len__(self) -> int:
        return len(self.draw)

    def snippet_rows(self, index: int) -> np.ndarray:
        """The cache rows of snippet `index` (edge rows repeated)."""
        track = self.tracks[int(self.draw.track[index])]
        return window_rows(int(self.draw.start[index]), self.length, track.num_rows)

    def __getitem__(self, index: int | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, (int, np.integer)):
            inputs, labels = self.get_batch([int(index)])
            return inputs[0], labels[0]
        return self.get_batch(index)

    def get_batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        indices = np.asarray(indices, dtype=np.int64)
        row_shape = self.tracks[0].cache.array.shape[1:]  # (H, W, 3) or (T, H, W, 3)
        out = np.empty((len(indices), self.length, *row_shape), dtype=np.uint8)
        for slot, index in enumerate(indices):
            out[slot] = self.tracks[int(self.draw.track[index])].cache.array[self.snippet_rows(index)]
        inputs = torch.from_numpy(out)
        inputs = inputs.permute(*range(inputs.ndim - 3), inputs.ndim - 1, inputs.ndim - 3, inputs.ndim - 2)
        return inputs, torch.from_numpy(self.draw.label[indices])


def fixed_batches(count: int, batch_size: int) -> list[list[int]]:
    """0..count-1 in order, in batches (held-out snippets, the same every epoch)."""
    order = list(range(count))
    return [order[i:i + batch_size] for i in range(0, count, batch_size)]


def shuffled_snippet_batches(count: int, batch_size: int, *, seed: int = 0, epoch: int = 0) -> list[list[int]]:
    """A permutation of the epoch's snippets from `(seed, epoch)`, in batches."""
    order = np.random.default_rng([seed, epoch, 3]).permutation(count)
    return [order[i:i + batch_size].tolist() for i in range(0, count, batch_size)]
