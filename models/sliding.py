"""Reductions over every sliding window of a run of rows, all windows in a few batched products.

A run of `rows` rows holds `count = rows - length + 1` windows `[j, j + length)`. These helpers are what a
pooling layer's `window_logits` (`models.pooling`) builds on.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

__all__ = ["window_offset", "window_count", "window_sums", "window_maxima", "window_quadratic_forms", "window_rows",
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


def window_sums(terms: torch.Tensor, length: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(count, terms) sums of `terms` (rows, terms) over every window, accumulated in `dtype`.

    Each window is summed from its own rows only: windows are grouped by `length`, and group b's windows
    all lie in rows `[b L, b L + 2 L)`, so one (L x 2L) band of ones times that span sums all of them (a
    batched matrix product; rows outside a window are multiplied by an exact 0). Unlike differences of
    prefix sums, whose error grows with everything summed before the window, a window's error is
    relative to its own terms: a window where a VLAD cluster has almost no mass keeps its few digits
    (intra-normalisation turns their relative error into an O(1) error)."""
    rows, columns = terms.shape
    count = window_count(rows, length)
    groups = -(-count // length)
    spans = _pad_rows(terms.to(dtype), (groups + 1) * length).unfold(0, 2 * length, length).transpose(1, 2)
    sums = torch.bmm(_window_band(length, dtype, terms.device).expand(groups, -1, -1), spans)
    return sums.reshape(groups * length, columns)[:count]


def _window_band(length: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(L, 2L): row i is 1 on columns `[i, i + L)`, the rows of window i of a group's span."""
    window = torch.arange(length, device=device).unsqueeze(1)
    row = torch.arange(2 * length, device=device)
    return ((row >= window) & (row < window + length)).to(dtype)


def _pad_rows(x: torch.Tensor, rows: int) -> torch.Tensor:
    """`x` with zero rows appended up to `rows` (zero rows only reach windows past the last one)."""
    if x.shape[0] >= rows:
        return x
    return torch.cat([x, x.new_zeros((rows - x.shape[0], *x.shape[1:]))])


def window_maxima(terms: torch.Tensor, length: int) -> torch.Tensor:
    """(count, terms) maxima of `terms` (rows, terms) over every window (a stride-1 max pooling)."""
    window_count(terms.shape[0], length)
    return F.max_pool1d(terms.t().unsqueeze(0), length, stride=1).squeeze(0).t()


def window_quadratic_forms(x: torch.Tensor, weights: torch.Tensor, length: int) -> torch.Tensor:
    """(count, k): `sum_{t,s} w_tk w_sk (x_t . x_s)` over the rows t, s of every window, for x (rows, dim)
    and weights w (rows, k): the squared norm of each window's weighted sum of rows, from dot products.

    Only the band of the Gram matrix is computed: `x_t . x_{t+d}` for d < length (rows are grouped by
    `length`; group b's rows meet their next `length` rows in one block product). Then with
    P_d[t] = w_t w_{t+d} (x_t . x_{t+d}) and its cumulative sum over d, V_e[t] = sum_{d <= e} P_d[t]
    (off-diagonal offsets counted twice), window j's form is sum_i V_{length-1-i}[j+i]: every partial sum
    stays within the window."""
    rows, dim = x.shape
    count = window_count(rows, length)
    groups = -(-count // length) + 1  # groups of rows whose band the windows reach
    band_rows = groups * length
    x = _pad_rows(x, band_rows + length)
    weights = _pad_rows(weights, band_rows + length)
    side = 2 * length
    blocks = torch.bmm(x.unfold(0, side, length).transpose(1, 2), x[:band_rows].view(groups, length, dim).transpose(1, 2))
    # blocks[b, r, i] = x_{bL+r} . x_{bL+i} (r < 2L, i < L); gram[t, d] = x_t . x_{t+d}
    gram = blocks.as_strided((groups, length, length), (side * length, length + 1, length)).reshape(band_rows, length)
    later = weights.unfold(0, length, 1)[:band_rows].transpose(1, 2)  # (band_rows, d, k): w_{t+d}
    products = later * (weights[:band_rows].unsqueeze(1) * gram.unsqueeze(2))
    products[:, 1:] *= 2
    cumulative = products.cumsum(1)
    k = weights.shape[1]
    anti_diagonal = cumulative.as_strided((count, length, k), (length * k, (length - 1) * k, 1),
                                          cumulative.storage_offset() + (length - 1) * k)  # [j, i] = V_{L-1-i}[j+i]
    return anti_diagonal.sum(1)


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
