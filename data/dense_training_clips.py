"""Training clips for dense frame models (a label for every frame), cut from memory-mapped frame caches.

As E2E-Spot's `dataset/frame.py` (`ActionSpotDataset`, Hong et al., ECCV 2022), over frame tracks
(`data.video_clips.FrameTrack`: a half's cache and its events as cache rows):

- a clip is `clip_len` consecutive rows from `base`; `base` is drawn as their `_sample_uniform`: a half chosen
  with probability proportional to its rows, then `base = -pad_len + randint(0, max(0, n - 1 + 2 pad_len -
  clip_len))` (both ends included), so clips run up to `pad_len` rows past either end of the half;
- with `fg_upsample` set, a clip is instead drawn around an event (their `_sample_foreground`) when a uniform
  draw is `>= fg_upsample` (their comparison, kept as written): a uniformly chosen event, `base` uniform among
  the starts whose clip holds it (within the padded bounds);
- labels: 0 (background) on every row, `1 + c` on the row of each event of class c, and on the `dilate_len`
  rows either side of it (their `dilate_len`; events just outside the clip dilate into it);
- rows outside the half are padding: their flag in `valid` is False, and the model's input preparation
  fills them (E2E-Spot: zeros after normalisation);
- mixup (`mixup_alpha` > 0, theirs: 0.2): each clip is mixed with a second, independently drawn clip with a
  weight `l ~ Beta(alpha, alpha)` per clip; targets `l onehot(a) + (1 - l) onehot(b)`. The frames are mixed
  where the model prepares them (after normalisation, as theirs), so batches stay uint8 here;
- horizontal flip of a whole clip with probability 1/2 (`flip`; theirs: RandomHorizontalFlip, same for every
  frame of a clip). Their colour jitter and Gaussian blur are not reproduced.

Their draws come from Python's `random` in their loader workers; here every draw comes from
`numpy.random.default_rng([seed, epoch, ...])`, so an epoch is the same whatever the workers and an exact
`--resume` redraws it. `get_batch(indices)` -> (inputs, targets): inputs `(frames uint8 (B, T, 3, H, W),
valid bool (B, T))` and, with mixup, `+ (partner frames, partner valid, weight float32 (B,))`; targets
float32 (B, T, C + 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from soccerspot.data.video_clips import FrameTrack

DEFAULT_PAD_LEN = 5  # their DEFAULT_PAD_LEN: clips run up to 5 rows past either end of a half


@dataclass(frozen=True)
class DenseClipSettings:
    """How dense training clips are drawn (E2E-Spot's dataset arguments)."""

    clip_len: int
    clips: int  # clips per epoch (theirs: EPOCH_NUM_FRAMES // clip_len)
    dilate_len: int = 0
    pad_len: int = DEFAULT_PAD_LEN
    fg_upsample: float | None = None
    mixup_alpha: float = 0.0
    flip: bool = False


def clip_labels(track: FrameTrack, base: int, clip_len: int, dilate_len: int) -> np.ndarray:
    """(clip_len,) int64: 0 background, 1 + c where an event of class c (dilated by `dilate_len`) falls."""
    labels = np.zeros(clip_len, dtype=np.int64)
    for row, cls in zip(track.event_rows.tolist(), track.event_classes.tolist()):
        index = row - base
        if -dilate_len <= index < clip_len + dilate_len:
            labels[max(0, index - dilate_len): min(clip_len, index + dilate_len + 1)] = cls + 1
    return labels


class DenseClipDataset(Dataset):
    """`settings.clips` clips over `tracks`, redrawn by `set_epoch(epoch)` (`fixed=True`: always epoch 0's)."""

    def __init__(self, tracks: Sequence[FrameTrack], num_classes: int, settings: DenseClipSettings, *,
                 seed: int = 0, train: bool = True):
        if settings.clip_len < 1 or settings.clips < 1:
            raise ValueError(f"clip_len and clips must be >= 1, got {settings.clip_len}, {settings.clips}")
        tracks = [t for t in tracks if t.num_rows > 0]
        if not tracks:
            raise ValueError("no half with frames to draw clips from")
        shapes = {t.cache.array.shape[1:] for t in tracks}
        if len(shapes) > 1:
            raise ValueError(f"frame caches of different sizes: {sorted(shapes)}")
        self.tracks, self.num_classes, self.settings = list(tracks), num_classes, settings
        self.seed, self.train = seed, train
        self.events = [(i, int(row)) for i, t in enumerate(self.tracks) for row in t.event_rows
                       if 0 <= row < t.num_rows]
        self.set_epoch(0)

    def _draw(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.settings
        rows = np.array([t.num_rows for t in self.tracks], dtype=np.float64)
        tracks = np.empty(count, dtype=np.int64)
        bases = np.empty(count, dtype=np.int64)
        for k in range(count):
            if s.fg_upsample is not None and s.fg_upsample > 0 and self.events and rng.random() >= s.fg_upsample:
                track, frame = self.events[int(rng.integers(len(self.events)))]
                n = self.tracks[track].num_rows
                lower = max(-s.pad_len, frame - s.clip_len + 1)
                upper = min(n - 1 + s.pad_len - s.clip_len, frame)
                base = int(rng.integers(lower, upper + 1)) if upper > lower else lower
            else:
                track = int(rng.choice(len(self.tracks), p=rows / rows.sum()))
                n = self.tracks[track].num_rows
                base = -s.pad_len + int(rng.integers(0, max(0, n - 1 + 2 * s.pad_len - s.clip_len) + 1))
            tracks[k], bases[k] = track, base
        return tracks, bases

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch if self.train else 0
        rng = np.random.default_rng([self.seed, self.epoch, 11])
        count = self.settings.clips
        self.clip_track, self.clip_base = self._draw(rng, count)
        mixing = self.train and self.settings.mixup_alpha > 0
        if mixing:
            self.mix_track, self.mix_base = self._draw(rng, count)
            self.mix_weight = rng.beta(self.settings.mixup_alpha, self.settings.mixup_alpha, size=count).astype(np.float32)
        self.mixing = mixing
        flips = rng.random((count, 2)) < 0.5
        self.flips = flips if self.train and self.settings.flip else np.zeros_like(flips)

    def __len__(self) -> int:
        return self.settings.clips

    def _clip(self, track: int, base: int, flip: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.tracks[track]
        length = self.settings.clip_len
        rows = np.arange(base, base + length)
        valid = (rows >= 0) & (rows < t.num_rows)
        frames = np.zeros((length, *t.cache.array.shape[1:]), dtype=np.uint8)
        if valid.any():
            frames[valid] = t.cache.array[rows[valid][0]: rows[valid][-1] + 1]
        if flip:
            frames = frames[:, :, ::-1]
        return frames, valid, clip_labels(t, base, length, self.settings.dilate_len)

    def get_batch(self, indices: Sequence[int]) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        indices = [int(i) for i in indices]
        eye = np.eye(self.num_classes + 1, dtype=np.float32)
        first = [self._clip(int(self.clip_track[i]), int(self.clip_base[i]), bool(self.flips[i, 0])) for i in indices]
        frames = torch.from_numpy(np.stack([f for f, _, _ in first])).permute(0, 1, 4, 2, 3)
        valid = torch.from_numpy(np.stack([v for _, v, _ in first]))
        targets = np.stack([eye[labels] for _, _, labels in first])
        if not self.mixing:
            return (frames, valid), torch.from_numpy(targets)
        second = [self._clip(int(self.mix_track[i]), int(self.mix_base[i]), bool(self.flips[i, 1])) for i in indices]
        weight = self.mix_weight[indices]
        targets = weight[:, None, None] * targets + (1 - weight[:, None, None]) * np.stack([eye[l] for _, _, l in second])
        partner = torch.from_numpy(np.stack([f for f, _, _ in second])).permute(0, 1, 4, 2, 3)
        partner_valid = torch.from_numpy(np.stack([v for _, v, _ in second]))
        return (frames, valid, partner, partner_valid, torch.from_numpy(weight)), torch.from_numpy(targets.astype(np.float32))

    def __getitem__(self, index: int | Sequence[int]):
        """A whole batch (a sampler yields index lists: `pipeline.training.finetune.clip_loader`) or one clip."""
        if isinstance(index, (int, np.integer)):
            return self.get_batch([int(index)])
        return self.get_batch(index)
