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

Their draws come from Python's `random` in their loader workers; here each clip's draws (its half and start,
its flip, its mixup partner and weight) come from `numpy.random.default_rng([seed, epoch, 11, index])`: a
function of the seed, the epoch and the clip's index alone (`draw(index)`), so an epoch is the same whatever
the workers, an exact `--resume` redraws it, and a rank of a data-parallel run cuts its share of every batch
without drawing the other ranks' clips. `get_batch(indices)` -> (inputs, targets): inputs `(frames uint8 (B, T, 3, H, W),
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


@dataclass(frozen=True)
class ClipDraw:
    """One clip of an epoch: its half (index into the tracks), first row, flip; with mixup, its partner's and
    the weight of this clip in the mix."""

    track: int
    base: int
    flip: bool
    partner: "ClipDraw | None" = None
    weight: float = 1.0


class DenseClipDataset(Dataset):
    """`settings.clips` clips over `tracks`, redrawn by `set_epoch(epoch)` (`train=False`: always epoch 0's,
    without mixup or flips)."""

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
        rows = np.array([t.num_rows for t in self.tracks], dtype=np.float64)
        self.track_p = rows / rows.sum()  # a half chosen with probability proportional to its rows
        self.mixing = self.train and settings.mixup_alpha > 0
        self.set_epoch(0)

    def _place(self, rng: np.random.Generator) -> tuple[int, int]:
        s = self.settings
        if s.fg_upsample is not None and s.fg_upsample > 0 and self.events and rng.random() >= s.fg_upsample:
            track, frame = self.events[int(rng.integers(len(self.events)))]
            n = self.tracks[track].num_rows
            lower = max(-s.pad_len, frame - s.clip_len + 1)
            upper = min(n - 1 + s.pad_len - s.clip_len, frame)
            return track, int(rng.integers(lower, upper + 1)) if upper > lower else lower
        track = int(rng.choice(len(self.tracks), p=self.track_p))
        n = self.tracks[track].num_rows
        return track, -s.pad_len + int(rng.integers(0, max(0, n - 1 + 2 * s.pad_len - s.clip_len) + 1))

    def draw(self, index: int) -> ClipDraw:
        """Clip `index` of the current epoch: a function of (seed, epoch, index) only."""
        if not 0 <= index < self.settings.clips:
            raise IndexError(f"clip {index} of an epoch of {self.settings.clips}")
        rng = np.random.default_rng([self.seed, self.epoch, 11, index])
        flipping = self.train and self.settings.flip
        track, base = self._place(rng)
        flip = bool(rng.random() < 0.5) and flipping
        if not self.mixing:
            return ClipDraw(track, base, flip)
        partner_track, partner_base = self._place(rng)
        partner = ClipDraw(partner_track, partner_base, bool(rng.random() < 0.5) and flipping)
        weight = float(np.float32(rng.beta(self.settings.mixup_alpha, self.settings.mixup_alpha)))
        return ClipDraw(track, base, flip, partner, weight)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch if self.train else 0

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
        draws = [self.draw(int(i)) for i in indices]
        eye = np.eye(self.num_classes + 1, dtype=np.float32)
        first = [self._clip(d.track, d.base, d.flip) for d in draws]
        frames = torch.from_numpy(np.stack([f for f, _, _ in first])).permute(0, 1, 4, 2, 3)
        valid = torch.from_numpy(np.stack([v for _, v, _ in first]))
        targets = np.stack([eye[labels] for _, _, labels in first])
        if not self.mixing:
            return (frames, valid), torch.from_numpy(targets)
        second = [self._clip(d.partner.track, d.partner.base, d.partner.flip) for d in draws]
        weight = np.array([d.weight for d in draws], dtype=np.float32)
        targets = weight[:, None, None] * targets + (1 - weight[:, None, None]) * np.stack([eye[l] for _, _, l in second])
        partner = torch.from_numpy(np.stack([f for f, _, _ in second])).permute(0, 1, 4, 2, 3)
        partner_valid = torch.from_numpy(np.stack([v for _, v, _ in second]))
        return (frames, valid, partner, partner_valid, torch.from_numpy(weight)), torch.from_numpy(targets.astype(np.float32))

    def __getitem__(self, index: int | Sequence[int]):
        """A whole batch (a sampler yields index lists: `pipeline.training.finetune.clip_loader`) or one clip."""
        if isinstance(index, (int, np.integer)):
            return self.get_batch([int(index)])
        return self.get_batch(index)
