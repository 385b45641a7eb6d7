"""Whole-half inference of a dense frame model, clip by clip, exactly as the peers' test code does it.

A dense model (`models.dense`) classifies every frame of a fixed-length clip. A half is longer, so it is
cut into overlapping clips and each frame's probabilities are averaged over the clips that cover it.
Both peers build their clips with the same inference dataset (`ActionSpotVideoDataset` in `dataset/frame.py`
of jhong93/spot and of SoccerNet/sn-teamspotting), in the frames the model reads:

- clip starts `range(-pad_len, max(0, N - overlap), clip_len - overlap)` (`pad_len` = 5): the first clip
  starts 5 frames before frame 0, the last one starts before `N - overlap`; so a half shorter than one clip is
  one clip, padded;
- frames before 0 and after N - 1 are padding: E2E-Spot pads with zeros *after* normalisation, T-DEED
  with black frames *before* it (its model normalises) - the model says which (`pad_value` here is the
  padding in normalised units);
- E2E-Spot (`train_e2e.evaluate`): each clip's softmax is added to the frames it covers and counted in
  their `support`; the average is `scores / support` (test overlap `clip_len // 2`, `test_e2e.py`);
- T-DEED (`util/eval.py` `mAPevaluateTest` with `model.predict`, overlap `clip_len // 4 * 3`,
  `train_tdeed_bas.py`): within a clip, each frame's softmax is moved by its rounded displacement
  (`t - round(d_t)`, clamped to the clip; element-wise max where several land: `process_prediction`);
  with a team head, the background column stays and each class becomes (left, right) =
  ((1 - team) p, team p), with `sigmoid(team)` of the frame the probabilities landed on
  (`process_predictionTeam`); a clip counts in a frame's support only where its row has non-zero mass,
  and a frame no clip reached is divided by 1.

The arithmetic is float32 in the same order as theirs (`tests/test_dense_clips.py` runs their code on the
same per-clip outputs).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

PAD_LEN = 5  # DEFAULT_PAD_LEN of both peers' dataset/frame.py
SUPPORTS = ("every-clip", "nonzero-rows")


@dataclass(frozen=True)
class ClipRule:
    """How a half is cut into clips and how the clips' outputs become per-frame probabilities."""

    name: str
    overlap_fraction: tuple[int, int]  # overlap = clip_len // a * b
    support: str  # "every-clip" (E2E-Spot) or "nonzero-rows" (T-DEED)
    moves_by_displacement: bool  # T-DEED: probabilities moved by the rounded displacement
    pad_len: int = PAD_LEN
    source: str = ""

    def overlap(self, clip_len: int) -> int:
        divisor, factor = self.overlap_fraction
        return clip_len // divisor * factor

    def step(self, clip_len: int) -> int:
        return clip_len - self.overlap(clip_len)


E2E_SPOT_RULE = ClipRule(
    name="e2e-spot", overlap_fraction=(2, 1), support="every-clip", moves_by_displacement=False,
    source="jhong93/spot test_e2e.py (overlap_len = clip_len // 2) and train_e2e.py evaluate",
)
TDEED_RULE = ClipRule(
    name="t-deed", overlap_fraction=(4, 3), support="nonzero-rows", moves_by_displacement=True,
    source="SoccerNet/sn-teamspotting train_tdeed_bas.py (overlap_len = clip_len // 4 * 3), util/eval.py "
           "mAPevaluateTest, model/modules.py process_prediction / process_predictionTeam",
)
TDEED_SOCCERNETV2_RULE = ClipRule(
    name="t-deed-soccernetv2", overlap_fraction=(2, 1), support="nonzero-rows", moves_by_displacement=True,
    source="arturxe2/T-DEED train_tdeed.py (overlap_len = clip_len // 2 for soccernet) and util/eval.py evaluate",
)
CLIP_RULES: dict[str, ClipRule] = {rule.name: rule for rule in (E2E_SPOT_RULE, TDEED_RULE, TDEED_SOCCERNETV2_RULE)}


def clip_rule(name: str) -> ClipRule:
    if name not in CLIP_RULES:
        raise ValueError(f"unknown clip rule {name!r}; known: {', '.join(CLIP_RULES)}")
    return CLIP_RULES[name]


def clip_starts(num_frames: int, clip_len: int, overlap: int, pad_len: int = PAD_LEN) -> np.ndarray:
    """First frame of every clip (negative: the clip begins with padding), as the peers' datasets list them."""
    if clip_len < 1 or not 0 <= overlap < clip_len:
        raise ValueError(f"clips of {clip_len} frames cannot overlap by {overlap}")
    if num_frames < 1:
        raise ValueError("a half without frames has no clips")
    return np.arange(-pad_len, max(0, num_frames - overlap), clip_len - overlap, dtype=np.int64)


def clip_frames(frames: torch.Tensor, start: int, clip_len: int, pad_value: torch.Tensor) -> torch.Tensor:
    """The (clip_len, 3, H, W) clip starting at `start` of normalised `frames` (N, 3, H, W): the frames
    before 0 and from N on are `pad_value` ((3,) in normalised units, one value per channel)."""
    count = frames.shape[0]
    begin, end = max(0, start), min(count, start + clip_len)
    before, after = begin - start, start + clip_len - max(end, begin)
    body = frames[begin:end]
    if before == 0 and after == 0:
        return body
    pad = pad_value.to(frames.dtype).view(1, -1, 1, 1).expand(1, frames.shape[1], *frames.shape[2:])
    return torch.cat([pad.expand(before, *pad.shape[1:]), body, pad.expand(after, *pad.shape[1:])])


def displaced_probabilities(probabilities: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """T-DEED's `process_prediction` after its softmax: (B, T, K) probabilities, each row moved to
    `t - round(displacement[b, t])` (clamped to the clip), element-wise max where several land, zeros where
    none does."""
    length = probabilities.shape[1]
    steps = torch.arange(length, device=probabilities.device).unsqueeze(0)
    targets = (steps - displacement.round().int()).clamp(0, length - 1).long()
    moved = torch.zeros_like(probabilities)
    index = targets.unsqueeze(-1).expand_as(probabilities)
    return moved.scatter_reduce(1, index, probabilities, reduce="amax", include_self=True)


def team_columns(probabilities: torch.Tensor, team_logits: torch.Tensor) -> torch.Tensor:
    """T-DEED's `process_predictionTeam`: (B, T, 1 + C) -> (B, T, 1 + 2C), background first, then each class
    as (left, right) = ((1 - team) p, team p), team = sigmoid of the logit of the same row."""
    team = torch.sigmoid(team_logits).unsqueeze(-1)
    batch, length, width = probabilities.shape
    out = torch.zeros(batch, length, 1 + (width - 1) * 2, dtype=probabilities.dtype, device=probabilities.device)
    out[:, :, 0] = probabilities[:, :, 0]
    out[:, :, 1::2] = (1 - team) * probabilities[:, :, 1:]
    out[:, :, 2::2] = team * probabilities[:, :, 1:]
    return out


def clip_probabilities(logits: torch.Tensor, displacement: torch.Tensor | None, team: torch.Tensor | None,
                       rule: ClipRule) -> torch.Tensor:
    """Per-clip, per-frame probabilities (B, T, K) from a dense model's outputs, as the rule's peer forms them."""
    probabilities = torch.softmax(logits.float(), dim=2)
    if rule.moves_by_displacement and displacement is not None:
        probabilities = displaced_probabilities(probabilities, displacement.float())
    if team is not None:
        probabilities = team_columns(probabilities, team.float())
    return probabilities


class FrameAverage:
    """Each frame's probabilities summed over the clips that cover it, and how many clips count (float32
    sums, int32 counts, as the peers keep them). Grows as frames arrive: the half's length need not be known
    before its last clip."""

    def __init__(self, columns: int, support: str, capacity: int = 1024):
        if support not in SUPPORTS:
            raise ValueError(f"unknown support rule {support!r}; known: {', '.join(SUPPORTS)}")
        self.support_rule = support
        self.scores = np.zeros((capacity, columns), np.float32)
        self.support = np.zeros(capacity, np.int32)

    def _reserve(self, frames: int) -> None:
        if frames <= self.scores.shape[0]:
            return
        capacity = max(frames, 2 * self.scores.shape[0])
        scores = np.zeros((capacity, self.scores.shape[1]), np.float32)
        support = np.zeros(capacity, np.int32)
        scores[: self.scores.shape[0]] = self.scores
        support[: self.support.shape[0]] = self.support
        self.scores, self.support = scores, support

    def add(self, start: int, probabilities: np.ndarray, num_frames: int) -> None:
        """Add one clip's (T, K) probabilities starting at frame `start` of a half of (at least) `num_frames`
        frames: the rows before frame 0 and from `num_frames` on are dropped (the peers' `evaluate`)."""
        if start < 0:
            probabilities = probabilities[-start:]
            start = 0
        end = min(start + probabilities.shape[0], num_frames)
        probabilities = probabilities[: max(0, end - start)]
        self._reserve(end)
        self.scores[start:end] += probabilities
        if self.support_rule == "every-clip":
            self.support[start:end] += 1
        else:
            self.support[start:end] += (probabilities.sum(axis=1) != 0)

    def result(self, num_frames: int) -> np.ndarray:
        """(num_frames, K) float32 averages; `ValueError` where a frame no clip covered under "every-clip"
        (E2E-Spot asserts it never happens), divided by 1 under "nonzero-rows" (T-DEED)."""
        self._reserve(num_frames)
        scores, support = self.scores[:num_frames].copy(), self.support[:num_frames].copy()
        if self.support_rule == "nonzero-rows":
            support[support == 0] = 1
        elif num_frames and support.min() == 0:
            raise ValueError(f"frame {int(np.argmin(support))} is covered by no clip")
        scores /= support[:, None]
        return scores
