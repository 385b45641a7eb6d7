"""CALF's targets on feature rows (numpy only): the time-shift encoding, detection targets and chunk sampling.

Cioppa et al., "A Context-Aware Loss Function for Action Spotting in Soccer Videos", CVPR 2020.

Time shifts. For a frame at row x and an action of class c at row t, the shift is s = x - t: positive after
the action, negative before it. Each class has slicing parameters K1 < K2 < 0 < K3 < K4 (rows) that cut
the shift axis into the zones the context-aware loss (`models.heads.calf.segmentation_loss`) treats differently:
far before (s <= K1), just before (K1..K2), ambiguous (K2..0), just after (0..K3), after (K3..K4), far
after (s >= K4). A frame between two actions of its class has two shifts, to the past action (s1 >= 0)
and to the future one (s2 < 0); the paper's rules keep one of them:

- s1 < K3 (just after the past action): s1;
- K3 <= s1 < K4: s1 when the future action is still far (s2 <= K1), otherwise the shift that lies
  relatively deeper in its own zone: s1 when (s1 - K3) / (K4 - K3) < (K2 - s2) / (K2 - K1), else s2;
- s1 >= K4 (the past action is far): s2.

With the paper's example (actions at rows 9 and 42), row 29 has s1 = 20 and s2 = -13. A frame with no
past action takes s1 = K4 + its row (as if an action lay K4 rows before the half) and one with no future
action s2 = K1 - (rows left) (as if one lay |K1| rows after the half's end), so the rules send it to the
far zones; a class with no action anywhere gets K1 everywhere. (The released code pads with these same
virtual actions.)

Detection targets. A chunk of L rows has `num_detections` slots of (confidence, location, one-hot class):
each action in the chunk fills one slot with confidence 1, location row / (L - 1) in [0, 1] and its class;
the other slots are zeros. Location row / (L - 1) (ours; the released code divides by L) makes location 1
the chunk's last row, the inverse of the inference's round(location x (L - 1)).

Chunks. Foreground chunks hold one chosen action at a random row in [R/2, L - R/2), R the receptive field
in rows: away from the chunk's borders, where the convolutions see padding, and exactly the rows the
inference keeps of each chunk (`models.heads.calf.kept_rows`). (Ours: the released code trains on [R, L - R) and
keeps [R/2, L - R/2) at inference.) Background
chunks lie inside stretches of at least L rows where every class's shift is in a far zone. A sample first
draws a class uniformly among the C classes and background, then one of its anchors (the released
SoccerNet-v2 code's class-balanced draw).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "K_SOCCERNET_V2_SECONDS",
    "default_slicing",
    "neighbour_shifts",
    "combine_shifts",
    "class_shifts",
    "time_shift_encoding",
    "detection_targets",
    "background_stretches",
    "ChunkAnchor",
    "chunk_anchors",
    "foreground_start",
    "draw_chunk_starts",
    "anchor_chunk_starts",
]

# Per-class (K1, K2, K3, K4) in seconds, SoccerNet-v2 class order (data.classes.EVENT_DICTIONARY_V2), from the
# released SoccerNet-v2 CALF code (K_V2, multiplied there by the frame rate), as copied in
# OpenSportsLab/OSL-ActionSpotting. The CVPR paper's own experiments are on SoccerNet-v1's 3 classes.
K_SOCCERNET_V2_SECONDS: tuple[tuple[float, float, float, float], ...] = tuple(zip(
    (-100, -98, -20, -40, -96, -5, -8, -93, -99, -31, -75, -10, -97, -75, -20, -84, -18),
    (-50, -49, -10, -20, -48, -3, -4, -46, -50, -15, -37, -5, -49, -38, -10, -42, -9),
    (50, 49, 60, 10, 48, 3, 4, 46, 50, 15, 37, 5, 49, 38, 10, 42, 9),
    (100, 98, 90, 20, 96, 5, 8, 93, 99, 31, 75, 10, 97, 75, 20, 84, 18),
))


def default_slicing(chunk_rows: int, num_classes: int) -> np.ndarray:
    """(C, 4) slicing in rows when none is given (our choice): K = (-1/2, -1/4, 1/4, 1/2) x the chunk for
    every class, at least (-2, -1, 1, 2). The released SoccerNet-v2 values span from +-5 s to +-100 s
    around 120 s chunks; this sits in the middle of that range, relative to the chunk."""
    quarter = max(1, int(round(chunk_rows / 4)))
    return np.tile(np.array([-2 * quarter, -quarter, quarter, 2 * quarter], dtype=np.float64), (num_classes, 1))


def check_slicing(slicing: np.ndarray) -> None:
    """Raise ValueError unless every row is K1 < K2 < 0 < K3 < K4."""
    k = np.asarray(slicing, dtype=np.float64)
    if k.ndim != 2 or k.shape[1] != 4:
        raise ValueError(f"slicing parameters are (classes, 4) = K1, K2, K3, K4 per class; got shape {k.shape}")
    ordered = (k[:, 0] < k[:, 1]) & (k[:, 1] < 0) & (k[:, 2] > 0) & (k[:, 2] < k[:, 3])
    if not ordered.all():
        bad = int(np.flatnonzero(~ordered)[0])
        raise ValueError(f"slicing parameters must satisfy K1 < K2 < 0 < K3 < K4; class {bad} has {k[bad].tolist()}")


def neighbour_shifts(action_rows: np.ndarray, num_rows: int, k1: float, k4: float) -> tuple[np.ndarray, np.ndarray]:
    """For each row of a half: (shift to the latest action at or before it, >= 0; shift to the next action
    after it, < 0), with the virtual actions of the module docstring where there is none."""
    rows = np.arange(num_rows, dtype=np.float64)
    actions = np.unique(np.asarray(action_rows, dtype=np.float64))
    padded = np.concatenate([[-float(k4)], actions, [num_rows - float(k1)]])
    past = padded[np.searchsorted(padded, rows, side="right") - 1]
    future = padded[np.searchsorted(padded, rows, side="right")]
    return rows - past, rows - future


def combine_shifts(past: np.ndarray, future: np.ndarray, k: Sequence[float]) -> np.ndarray:
    """The paper's choice between the shift to the past action and the one to the future action."""
    k1, k2, k3, k4 = (float(v) for v in k)
    past, future = np.asarray(past, dtype=np.float64), np.asarray(future, dtype=np.float64)
    past_deeper = (past - k3) / (k4 - k3) < (k2 - future) / (k2 - k1)
    middle = np.where((future <= k1) | past_deeper, past, future)
    return np.where(past < k3, past, np.where(past < k4, middle, future))


def class_shifts(action_rows: np.ndarray, num_rows: int, k: Sequence[float]) -> np.ndarray:
    """(rows,) time shift of every row of a half to the actions of one class (K1 everywhere without any)."""
    if len(action_rows) == 0:
        return np.full(num_rows, float(k[0]))
    past, future = neighbour_shifts(action_rows, num_rows, k[0], k[3])
    return combine_shifts(past, future, k)


def time_shift_encoding(event_rows: np.ndarray, event_classes: np.ndarray, num_rows: int,
                        slicing: np.ndarray) -> np.ndarray:
    """(rows, C) float32 time shifts of a half; `slicing` is (C, 4) rows."""
    slicing = np.asarray(slicing, dtype=np.float64)
    event_rows, event_classes = np.asarray(event_rows), np.asarray(event_classes)
    columns = [class_shifts(event_rows[event_classes == c], num_rows, slicing[c]) for c in range(len(slicing))]
    return np.stack(columns, axis=1).astype(np.float32) if columns else np.zeros((num_rows, 0), np.float32)


def detection_targets(event_rows: np.ndarray, event_classes: np.ndarray, start: int, length: int,
                      num_detections: int, num_classes: int) -> np.ndarray:
    """(num_detections, 2 + C) targets of the chunk of rows [start, start + length): the actions inside it
    in row order, the first `num_detections` of them (the rest are dropped, as in the released code)."""
    targets = np.zeros((num_detections, 2 + num_classes), dtype=np.float32)
    rows = np.asarray(event_rows) - start
    inside = (rows >= 0) & (rows < length)
    order = np.argsort(rows[inside], kind="stable")
    for slot, (row, cls) in enumerate(zip(rows[inside][order][:num_detections],
                                          np.asarray(event_classes)[inside][order][:num_detections])):
        targets[slot, 0] = 1.0
        targets[slot, 1] = row / max(length - 1, 1)
        targets[slot, 2 + int(cls)] = 1.0
    return targets


def background_stretches(shifts: np.ndarray, slicing: np.ndarray, length: int) -> list[tuple[int, int]]:
    """[begin, end) row ranges of at least `length` rows where every class's shift is <= K1 or >= K4."""
    slicing = np.asarray(slicing, dtype=np.float64)
    far = ((shifts <= slicing[:, 0]) | (shifts >= slicing[:, 3])).all(axis=1)
    edges = np.diff(np.concatenate([[0], far.astype(np.int8), [0]]))
    begins, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(b), int(e)) for b, e in zip(begins, ends) if e - b >= length]


@dataclass(frozen=True)
class ChunkAnchor:
    """Where a chunk may come from: an action (`row`, its class) or a background stretch [row, end)."""

    track: int
    cls: int  # 0..C-1 for an action, C for background
    row: int
    end: int = 0  # background only: the stretch's end (exclusive)


def chunk_anchors(tracks_events: Sequence[tuple[np.ndarray, np.ndarray]], tracks_shifts: Sequence[np.ndarray],
                  slicing: np.ndarray, length: int, num_classes: int) -> list[list[ChunkAnchor]]:
    """Anchors per class (index C: background stretches) over the halves; `tracks_events` holds each
    half's (event rows, event classes) and `tracks_shifts` its time-shift encoding."""
    anchors: list[list[ChunkAnchor]] = [[] for _ in range(num_classes + 1)]
    for index, ((rows, classes), shifts) in enumerate(zip(tracks_events, tracks_shifts)):
        for row, cls in zip(np.asarray(rows).tolist(), np.asarray(classes).tolist()):
            anchors[int(cls)].append(ChunkAnchor(index, int(cls), int(row)))
        for begin, end in background_stretches(shifts, slicing, length):
            anchors[num_classes].append(ChunkAnchor(index, num_classes, begin, end))
    return anchors


def foreground_start(row: int, num_rows: int, length: int, receptive: int, rng: np.random.Generator) -> int:
    """A chunk start putting `row` at a random position in [receptive // 2, length - receptive // 2) of the
    chunk (anywhere when that range is empty), kept inside the half where the half is long enough."""
    low, high = receptive // 2, length - receptive // 2
    position = int(rng.integers(low, high)) if high > low else int(rng.integers(0, length))
    start = row - position
    return int(min(max(start, 0), max(num_rows - length, 0)))


def anchor_chunk(anchor: ChunkAnchor, num_rows: Sequence[int], length: int, receptive: int,
                 rng: np.random.Generator, background: int) -> tuple[int, int]:
    """(track, start) of a chunk from `anchor`; `background` is the background class index (C)."""
    if anchor.cls == background:
        return anchor.track, int(rng.integers(anchor.row, anchor.end - length + 1))
    return anchor.track, foreground_start(anchor.row, num_rows[anchor.track], length, receptive, rng)


def anchor_chunk_starts(anchors: list[list[ChunkAnchor]], num_rows: Sequence[int], length: int, receptive: int,
                        rng: np.random.Generator) -> list[tuple[int, int]]:
    """One chunk per anchor (every action, every background stretch), in anchor order."""
    return [anchor_chunk(anchor, num_rows, length, receptive, rng, len(anchors) - 1)
            for found in anchors for anchor in found]


def draw_chunk_starts(anchors: list[list[ChunkAnchor]], num_rows: Sequence[int], count: int, length: int,
                      receptive: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """`count` chunks as (track, start): a class drawn uniformly among those with anchors (background
    included), then one of its anchors; a background chunk starts anywhere its stretch holds it."""
    available = [c for c, found in enumerate(anchors) if found]
    if not available:
        return []
    chunks = []
    for cls in rng.choice(available, size=count):
        anchor = anchors[cls][int(rng.integers(len(anchors[cls])))]
        chunks.append(anchor_chunk(anchor, num_rows, length, receptive, rng, len(anchors) - 1))
    return chunks
