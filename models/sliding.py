"""Exact reductions over every sliding window of a run of rows, in O(rows) rather than O(rows x window).

A run of `rows` rows holds `count = rows - length + 1` windows `[j, j + length)`. These helpers are what a
pooling layer's `window_logits` (`models.pooling`) builds on.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["window_offset", "window_count", "window_sums", "window_maxima", "window_grams"]


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
