"""Exact reductions over every sliding window of a run of rows, in O(rows) rather than O(rows x window).

A run of `rows` rows holds `count = rows - length + 1` windows `[j, j + length)`. These helpers are what a
pooling layer's `window_logits` (`models.pooling`) builds on.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

__all__ = ["window_offset", "window_count", "window_sums", "window_maxima", "window_grams", "window_rows",
           "window_indices", "pad_replicate", "per_window_probabilities"]


def window_offset(window_frames: int) -> int:
    """Row of a window that is its own frame: frame `i`'s window covers frames `[i - offset, i - offset +
    window_frames)` (the peers' `feats2clip(..., off=T // 2)`); a "++" pooling's future half starts there."""
    return window_frames // 2


def window_count(rows: int, length: int) -> int:
    """How many windows of `length` rows a run of `rows` rows holds."""
    if length < 1 or rows < length:
        raise ValueError(f"a run of {rows} rows holds no window of {length} rows")
    return rows - length + 1


def window_sums(terms: torch.Tensor, length: int) -> torch.Tensor:
    """(count, terms) float64 sums of `terms` (rows, terms) over every window: differences of prefix sums.

    float64: a window where a VLAD cluster has almost no mass is a small difference of two larger sums, and
    intra-normalisation turns its relative error into an O(1) error (float32 prefix sums were off by up
    to 7e-2 in probability on sharply assigning heads)."""
    count = window_count(terms.shape[0], length)
    prefix = torch.zeros((terms.shape[0] + 1, terms.shape[1]), dtype=torch.float64, device=terms.device)
    torch.cumsum(terms.to(torch.float64), dim=0, out=prefix[1:])
    return prefix[length : length + count] - prefix[:count]


def window_maxima(terms: torch.Tensor, length: int) -> torch.Tensor:
    """(count, terms) maxima of `terms` (rows, terms) over every window (a stride-1 max pooling)."""
    window_count(terms.shape[0], length)
    return F.max_pool1d(terms.t().unsqueeze(0), length, stride=1).squeeze(0).t()


def window_grams(x: torch.Tensor, length: int) -> torch.Tensor:
    """(count, length, length): the Gram matrix `x_t . x_s` of each window's rows.

    Only the band of the full Gram matrix is computed: windows are grouped by `length`, and group b's
    windows all lie in rows `[b L, b L + 2 L)`, whose (2L x 2L) Gram block holds all of theirs."""
    count = window_count(x.shape[0], length)
    groups = -(-count // length)
    rows_needed = (groups + 1) * length
    if x.shape[0] < rows_needed:  # zero rows only reach windows >= count, which are dropped
        x = torch.cat([x, x.new_zeros(rows_needed - x.shape[0], x.shape[1])])
    spans = x[:rows_needed].unfold(0, 2 * length, length).transpose(1, 2)  # (groups, 2L, dim)
    grams = spans @ spans.transpose(1, 2)  # (groups, 2L, 2L), contiguous
    side = 2 * length
    windows = grams.as_strided((groups, length, length, length), (side * side, side + 1, side, 1))
    return windows.reshape(groups * length, length, length)[:count]


def window_rows(starts: int | np.ndarray, length: int, num_rows: int) -> np.ndarray:
    """Row indices `(..., length)` of the windows starting at `starts` (rows may be negative), edge rows
    replicated where a window runs past the half. Training windows and inference windows both use it."""
    return np.clip(np.asarray(starts, dtype=np.int64)[..., None] + np.arange(length), 0, num_rows - 1)


def window_indices(num_frames: int, window_frames: int, frames: np.ndarray | range | None = None) -> torch.Tensor:
    """(len(frames), window_frames) row indices of each frame's window, clamped to the half.

    Window centring (the peers' convention, sn-spotting `feats2clip(..., off=T // 2)`): the window of frame
    `i` holds rows `i - T//2 ... i - T//2 + T - 1`; rows outside the half repeat the first or last row."""
    centres = np.arange(num_frames) if frames is None else np.asarray(frames, dtype=np.int64)
    return torch.from_numpy(window_rows(centres - window_offset(window_frames), window_frames, num_frames))


def pad_replicate(x: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """`x` (rows, dim) with its first row repeated `before` times in front and its last `after` times behind."""
    return torch.cat([x[:1].expand(before, -1), x, x[-1:].expand(after, -1)])


@torch.no_grad()
def per_window_probabilities(model: nn.Module, features: torch.Tensor, window_frames: int, *,
                             batch_size: int = 256, progress: bool = False) -> torch.Tensor:
    """(frames, outputs) of `model` run on the window around every row of `features` (frames, dim),
    `batch_size` windows per forward pass: the definition every faster whole-half path must equal."""
    num_frames = features.shape[0]
    outputs = []
    starts = range(0, num_frames, batch_size)
    for start in tqdm(starts, desc="windows", unit="batch", disable=not progress, leave=False):
        frames = range(start, min(num_frames, start + batch_size))
        windows = features[window_indices(num_frames, window_frames, frames).to(features.device)]
        outputs.append(model(windows).float())
    if not outputs:
        return features.new_zeros((0, model.config.num_classes + 1))
    return torch.cat(outputs)
