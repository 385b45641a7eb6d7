"""From per-frame class scores to spots: non-maximum suppression along time, one class at a time.

- `hard_nms` — the SoccerNet baselines' NMS (`get_spot_from_NMS`): repeatedly keep the highest remaining
  frame (ties: the earliest) while its score is >= threshold, and remove every frame in
  `[i - w/2, i + w/2)` around it (w = window in frames; clipped to the half).
- `soft_nms` — a linear soft-NMS (Bodla et al., ICCV 2017, along time): keep the highest remaining frame,
  then scale every other frame within w/2 of it by `|j - i| / (w/2)` instead of removing it, so close
  but distinct actions survive with lower confidence. Stops when the best remaining score is below
  `max(threshold, min_score)`; `min_score` (1e-3) bounds the number of spots, which would otherwise be
  every frame of the half.
- `peak_nms` — E2E-Spot's (`util/eval.py` `non_maximum_supression`, applied by `eval_soccernetv2.py` to the
  frames scoring >= 0.01): keep a frame unless another within `window` frames (a radius) scores strictly
  higher.
- `grouped_soft_nms` — T-DEED's (sn-teamspotting `util/eval.py` `soft_non_maximum_supression`): the
  columns of one action (its left and right team columns, or one column) form one list; repeatedly take
  the best remaining entry while it scores >= threshold, and scale every entry within `window` frames (a
  radius) by `distance² / window²`, the taken one included, then remove the list's first entry at the taken
  frame. Their order, ties and float64 arithmetic are kept.
- `scores_to_predictions` — both halves' spots as `data.labels.Prediction`s (positions in ms from the
  feature rows' own timestamps).
"""
from __future__ import annotations

import math

import numpy as np

from soccerspot.data.features import seconds_to_rows
from soccerspot.data.labels import Prediction

NMS_KINDS = ("hard", "soft")  # feature heads' (`spot --nms`)
DENSE_NMS_KINDS = ("peaks", "grouped-soft")  # dense frame models' peers': `peak_nms`, `grouped_soft_nms`
SOFT_NMS_MIN_SCORE = 1e-3


def window_in_frames(window_seconds: float, fps: float) -> int:
    """The NMS window in feature rows (at least 1)."""
    return seconds_to_rows(window_seconds, fps)


def _suppression_range(index: int, window_frames: int, num_frames: int) -> tuple[int, int]:
    half = window_frames / 2
    return max(0, math.floor(index - half)), min(num_frames, index + math.floor(half))


def hard_nms(scores: np.ndarray, window_frames: int, threshold: float = 0.0) -> list[tuple[int, float]]:
    """[(frame, score)] kept by greedy NMS on one class's (frames,) scores, highest first."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"hard_nms takes one class's scores (frames,), got shape {scores.shape}")
    suppressed = np.zeros(scores.shape[0], dtype=bool)
    kept = []
    for index in np.argsort(-scores, kind="stable"):
        score = scores[index]
        if score < threshold:
            break
        if suppressed[index]:
            continue
        kept.append((int(index), float(score)))
        begin, end = _suppression_range(int(index), window_frames, scores.shape[0])
        suppressed[begin:end] = True
    return kept


def soft_nms(
    scores: np.ndarray, window_frames: int, threshold: float = 0.0, min_score: float = SOFT_NMS_MIN_SCORE
) -> list[tuple[int, float]]:
    """[(frame, decayed score)] kept by linear soft-NMS on one class's (frames,) scores, highest first."""
    remaining = np.array(scores, dtype=np.float64)
    if remaining.ndim != 1:
        raise ValueError(f"soft_nms takes one class's scores (frames,), got shape {remaining.shape}")
    floor = max(threshold, min_score)
    radius = window_frames / 2
    kept = []
    while remaining.size:
        index = int(np.argmax(remaining))
        score = remaining[index]
        if not score >= floor:  # also stops on -inf (all taken)
            break
        kept.append((index, float(score)))
        begin, end = _suppression_range(index, window_frames, remaining.shape[0])
        distance = np.abs(np.arange(begin, end) - index)
        remaining[begin:end] *= np.minimum(distance / radius, 1.0)
        remaining[index] = -np.inf
    return kept


def peak_nms(scores: np.ndarray, window: int, threshold: float = 0.0) -> list[tuple[int, float]]:
    """[(frame, score)] of one class's (frames,) scores, in frame order: the frames scoring >= threshold
    that no other such frame within `window` frames beats (E2E-Spot's NMS)."""
    scores = np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"peak_nms takes one class's scores (frames,), got shape {scores.shape}")
    candidate = np.where(scores >= threshold, scores, -np.inf)
    beaten = np.zeros(len(scores), dtype=bool)
    for shift in range(1, window + 1):  # is some other candidate within the window strictly higher?
        beaten[:-shift] |= candidate[shift:] > scores[:-shift]
        beaten[shift:] |= candidate[:-shift] > scores[shift:]
    return [(int(frame), float(scores[frame])) for frame in np.flatnonzero((scores >= threshold) & ~beaten)]


def grouped_soft_nms(scores: np.ndarray, window: int, threshold: float = 0.01) -> list[tuple[int, int, float]]:
    """[(frame, column, score)] kept by T-DEED's soft NMS from (frames, G) scores of one action's G columns
    (G = 2: left, right), in the order they are taken."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"grouped_soft_nms takes one action's (frames, columns) scores, got shape {scores.shape}")
    frames, columns = np.nonzero(scores >= threshold)  # frame-major, then column: their event order
    values = scores[frames, columns].astype(np.float64)
    kept = []
    window_squared = window ** 2
    while values.size:
        best = int(np.argmax(values))  # the first of equal maxima, as Python's max
        if values[best] < threshold:
            break
        frame = frames[best]
        kept.append((int(frame), int(columns[best]), float(values[best])))
        first = int(np.argmax(frames == frame))
        near = np.abs(frames - frame) <= window
        values[near] = values[near] * (np.abs(frame - frames[near]) ** 2) / window_squared
        frames, columns, values = np.delete(frames, first), np.delete(columns, first), np.delete(values, first)
    return kept


def nms(scores: np.ndarray, kind: str, window_frames: int, threshold: float = 0.0) -> list[tuple[int, float]]:
    if kind == "hard":
        return hard_nms(scores, window_frames, threshold)
    if kind == "soft":
        return soft_nms(scores, window_frames, threshold)
    raise ValueError(f"unknown NMS kind {kind!r}; choose one of {', '.join(NMS_KINDS)}")


def scores_to_predictions(
    scores: np.ndarray,
    frame_times: np.ndarray,
    classes: list[str],
    half: int,
    *,
    kind: str = "hard",
    window_frames: int = 60,
    threshold: float = 0.0,
) -> list[Prediction]:
    """(frames, classes) scores of one half -> spots, each at its row's timestamp (ms, rounded)."""
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != len(classes):
        raise ValueError(f"scores of shape {scores.shape} for {len(classes)} classes")
    if len(frame_times) != scores.shape[0]:
        raise ValueError(f"{len(frame_times)} frame times for {scores.shape[0]} score rows")
    predictions = []
    for column, label in enumerate(classes):
        for frame, score in nms(scores[:, column], kind, window_frames, threshold):
            confidence = min(1.0, max(0.0, score))
            position = max(0, int(round(float(frame_times[frame]) * 1000.0)))
            predictions.append(Prediction(half=half, position_ms=position, label=label, confidence=confidence))
    return predictions
