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

T-DEED (arturxe2/T-DEED and SoccerNet/sn-teamspotting `dataset/frame.py`, `ActionSpotDataset`) adds, where
the settings ask for it:

- clips from their stored list (`start_step` > 0): every half's starts `range(-pad_len, max(0, n - 1 +
  2 pad_len - clip_len), start_step)` in rows (theirs: in source frames, `range(-pad_len * stride, ...,
  int((1 - overlap) * clip_len))`, i.e. every 5 rows for Ball Action Spotting: 10 source frames at stride 2),
  each draw uniform over all halves' starts (their `random.randint` over the stored clips); with
  `event_clips_only`, only starts whose clip holds a label (theirs for SoccerNet-v2);
- `displacement_radius` r > 0: each event labels the rows within r of it (their labels' dilation is r) and
  gives those rows a displacement target `row - event row` (their `labelsD`), 0 elsewhere;
- `teams`: the rows an event labels get its team (0 left, 1 right; -1 where no team is known and on
  background rows: their `labels_team`), later events in the labels file overwriting earlier ones, as theirs;
- with mixup, the displacement targets mix with the clip's weight, and the team target is the weighted
  one where both clips have one, the one clip's where only one has, -1 where neither (sn-teamspotting
  `model.py` `epoch()`);
- events placed on rows as their loader does (`peer_frame_rows`): source frame `int(ms / 1000 * 25)`, row
  `frame // stride` (`FPS_SN` = 25 and stride 2 on Ball Action Spotting), instead of the nearest row.

Their draws come from Python's `random` in their loader workers; here each clip's draws (its half and start,
its flip, its mixup partner and weight) come from `numpy.random.default_rng([seed, epoch, 11, index])`: a
function of the seed, the epoch and the clip's index alone (`draw(index)`), so an epoch is the same whatever
the workers, an exact `--resume` redraws it, and a rank of a data-parallel run cuts its share of every batch
without drawing the other ranks' clips. `get_batch(indices)` -> (inputs, targets): inputs `(frames uint8 (B, T, 3, H, W),
valid bool (B, T))` and, with mixup, `+ (partner frames, partner valid, weight float32 (B,))`; targets
float32 (B, T, C + 1), or with displacement or team targets (B, T, C + 4): the class distribution, then the
displacement (column C + 1 + `DISPLACEMENT_OFFSET`, frames), the team (`TEAM_OFFSET`: 0 left, 1 right, in
between when mixed, -1 none) and whether the clip was mixed (`MIXED_OFFSET`: 1 or 0; their loss takes the
soft class form exactly then), one tensor as the training loop moves targets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from soccerspot.data.clips import event_rows
from soccerspot.data.video_clips import FrameTrack

DEFAULT_PAD_LEN = 5  # their DEFAULT_PAD_LEN: clips run up to 5 rows past either end of a half
PEER_LABEL_FPS = 25.0  # T-DEED's FPS_SN: a label's frame is int(ms / 1000 * 25)
# columns after the C + 1 class columns, in targets with displacement and team columns
DISPLACEMENT_OFFSET, TEAM_OFFSET, MIXED_OFFSET = 0, 1, 2
NO_TEAM = -1


@dataclass
class DenseTrack(FrameTrack):
    """A frame track whose events also carry their team (index into the class set's teams; -1: none)."""

    event_teams: np.ndarray | None = None

    def teams(self) -> np.ndarray:
        return self.event_teams if self.event_teams is not None else np.full(len(self.event_rows), NO_TEAM)


def peer_frame_rows(positions_ms: np.ndarray, cache_fps: float, label_fps: float = PEER_LABEL_FPS) -> np.ndarray:
    """T-DEED's rows of labels: `int(int(ms) / 1000 * 25) // stride`, the stride being the source frames per
    cache row (`round(25 / cache fps)`: 2 for their Ball frames, 12 for their SoccerNet-v2 frames)."""
    stride = max(1, int(round(label_fps / float(cache_fps))))
    frames = np.array([int(int(ms) / 1000 * label_fps) for ms in np.asarray(positions_ms).tolist()], dtype=np.int64)
    return frames // stride


def dense_track(game: str, half: int, cache, labels, class_index: dict[str, int], teams: Sequence[str] = (),
                *, peer_rows: bool = False) -> DenseTrack:
    """The half's events of known classes as rows (`peer_rows`: T-DEED's frame numbers; else the nearest row by
    time, `data.video_clips.frame_track`) with their teams' indices in `teams` (-1 for any other)."""
    kept = [] if labels is None else [e for e in labels.events if e.half == half and e.label in class_index]
    if peer_rows:
        rows = peer_frame_rows(np.array([e.position_ms for e in kept], dtype=np.int64), cache.meta.fps)
    else:  # as `data.video_clips.frame_track`: events more than one frame step outside the half are dropped
        times = np.asarray(cache.meta.timestamps, dtype=np.float64)
        rows, inside = event_rows(times, np.array([e.position_ms / 1000.0 for e in kept], dtype=np.float64),
                                  1.0 / float(cache.meta.fps))
        kept, rows = [e for e, keep in zip(kept, inside.tolist()) if keep], rows[inside]
    classes = np.array([class_index[e.label] for e in kept], dtype=np.int64)
    team_of = {team: index for index, team in enumerate(teams)}
    event_teams = np.array([team_of.get(e.team, NO_TEAM) for e in kept], dtype=np.int64)
    return DenseTrack(game, half, cache, np.asarray(rows, dtype=np.int64), classes, event_teams)


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
    start_step: int = 0  # > 0: T-DEED's stored clips, a start every `start_step` rows; 0: E2E-Spot's draws
    event_clips_only: bool = False  # with start_step: only clips holding a label (T-DEED on SoccerNet-v2)
    displacement_radius: int = 0  # > 0: T-DEED's labels (dilated by it) and displacement targets
    teams: bool = False  # team targets (sn-teamspotting)

    @property
    def extra_targets(self) -> bool:
        """Whether targets carry the displacement and team columns."""
        return self.displacement_radius > 0 or self.teams


def clip_targets(track: FrameTrack, base: int, clip_len: int, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """T-DEED's per-row targets of a clip: labels (0 background, 1 + c), displacements (`row - event row`
    within `radius`, else 0) and teams (-1 none), each event labelling the rows within `radius` of it, later
    events overwriting earlier ones (their `_store_clips` / `_get_one`)."""
    labels = np.zeros(clip_len, dtype=np.int64)
    displacement = np.zeros(clip_len, dtype=np.int64)
    teams = np.full(clip_len, NO_TEAM, dtype=np.int64)
    event_teams = track.teams() if isinstance(track, DenseTrack) else np.full(len(track.event_rows), NO_TEAM)
    for row, cls, team in zip(track.event_rows.tolist(), track.event_classes.tolist(), event_teams.tolist()):
        index = row - base
        if -radius <= index < clip_len + radius:
            rows = np.arange(max(0, index - radius), min(clip_len, index + radius + 1))
            labels[rows] = cls + 1
            displacement[rows] = rows - index
            teams[rows] = team
    return labels, displacement, teams


def mixed_teams(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """sn-teamspotting's team target of a mixed clip: the weighted team where both clips have one, the one
    clip's where only one has, -1 where neither."""
    both = (first != NO_TEAM) & (second != NO_TEAM)
    mixed = np.where(first != NO_TEAM, first, second).astype(np.float32)
    mixed[both] = weight * first[both] + (1 - weight) * second[both]
    return mixed


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
        self.stored = self._stored_starts() if settings.start_step > 0 else None
        self.set_epoch(0)

    def _stored_starts(self) -> np.ndarray:
        """(clips, 2) [track, base]: T-DEED's stored clips, every `start_step` rows of every half."""
        s = self.settings
        spread = s.displacement_radius if s.displacement_radius > 0 else s.dilate_len
        stored = []
        for index, t in enumerate(self.tracks):
            for base in range(-s.pad_len, max(0, t.num_rows - 1 + 2 * s.pad_len - s.clip_len), s.start_step):
                if s.event_clips_only and not clip_targets(t, base, s.clip_len, spread)[0].any():
                    continue
                stored.append((index, base))
        if not stored:
            raise ValueError("no clip holds a label (event_clips_only)" if s.event_clips_only else "no clips")
        return np.array(stored, dtype=np.int64)

    def _place(self, rng: np.random.Generator) -> tuple[int, int]:
        s = self.settings
        if self.stored is not None:  # their `random.randint(0, len(stored) - 1)`
            track, base = self.stored[int(rng.integers(0, len(self.stored)))]
            return int(track), int(base)
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

    def _clip_and_targets(self, track: int, base: int, flip: bool) -> tuple[np.ndarray, np.ndarray, tuple]:
        t = self.tracks[track]
        length = self.settings.clip_len
        rows = np.arange(base, base + length)
        valid = (rows >= 0) & (rows < t.num_rows)
        frames = np.zeros((length, *t.cache.array.shape[1:]), dtype=np.uint8)
        if valid.any():
            frames[valid] = t.cache.array[rows[valid][0]: rows[valid][-1] + 1]
        if flip:
            frames = frames[:, :, ::-1]
        if self.settings.displacement_radius > 0:
            return frames, valid, clip_targets(t, base, length, self.settings.displacement_radius)
        labels = clip_labels(t, base, length, self.settings.dilate_len)
        if not self.settings.teams:
            return frames, valid, (labels,)
        # teams without displacement: the rows an event labels (dilate_len) carry its team
        return frames, valid, (labels, np.zeros(length, dtype=np.int64),
                               clip_targets(t, base, length, self.settings.dilate_len)[2])

    def get_batch(self, indices: Sequence[int]) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        draws = [self.draw(int(i)) for i in indices]
        eye = np.eye(self.num_classes + 1, dtype=np.float32)
        first = [self._clip_and_targets(d.track, d.base, d.flip) for d in draws]
        frames = torch.from_numpy(np.stack([f for f, _, _ in first])).permute(0, 1, 4, 2, 3)
        valid = torch.from_numpy(np.stack([v for _, v, _ in first]))
        targets = np.stack([eye[t[0]] for _, _, t in first])
        extra = self.settings.extra_targets
        if extra:
            displacement = np.stack([t[1] for _, _, t in first]).astype(np.float32)
            teams = np.stack([t[2] for _, _, t in first]).astype(np.float32)
        if not self.mixing:
            if extra:
                unmixed = np.zeros_like(teams)
                targets = np.concatenate([targets, displacement[..., None], teams[..., None], unmixed[..., None]], -1)
            return (frames, valid), torch.from_numpy(targets)
        second = [self._clip_and_targets(d.partner.track, d.partner.base, d.partner.flip) for d in draws]
        weight = np.array([d.weight for d in draws], dtype=np.float32)
        partner_targets = np.stack([eye[t[0]] for _, _, t in second])
        targets = weight[:, None, None] * targets + (1 - weight[:, None, None]) * partner_targets
        if extra:
            partner_displacement = np.stack([t[1] for _, _, t in second])
            displacement = weight[:, None] * displacement + (1 - weight[:, None]) * partner_displacement
            teams = np.stack([mixed_teams(t1[2], t2[2], float(w))
                              for (_, _, t1), (_, _, t2), w in zip(first, second, weight.tolist())])
            mixed = np.ones_like(teams)
            targets = np.concatenate([targets, displacement[..., None], teams[..., None], mixed[..., None]], -1)
        partner = torch.from_numpy(np.stack([f for f, _, _ in second])).permute(0, 1, 4, 2, 3)
        partner_valid = torch.from_numpy(np.stack([v for _, v, _ in second]))
        return (frames, valid, partner, partner_valid, torch.from_numpy(weight)), torch.from_numpy(targets.astype(np.float32))

    def __getitem__(self, index: int | Sequence[int]):
        """A whole batch (a sampler yields index lists: `pipeline.training.finetune.clip_loader`) or one clip."""
        if isinstance(index, (int, np.integer)):
            return self.get_batch([int(index)])
        return self.get_batch(index)
