"""Per-frame class scores for a whole half: one window around every feature row, scored by a head.

Window centring (the peers' convention, sn-spotting `feats2clip(..., off=T // 2)`): the window of frame
`i` holds rows `i - T//2 ... i - T//2 + T - 1`; for even T that is `i - T/2 ... i + T/2 - 1`, so a "++"
head pools the past `[i - T/2, i)` and the future `[i, i + T/2)`. Rows outside the half repeat the first
or last row ("replicate" padding), so halves shorter than a window work too.

Unlike the peers we score *every* row: their test loop builds windows for `arange(0, N - 1)` only (and the
SoccerNet-v2 pooling baselines also drop the last of those), so their score matrices are one or two rows
short at the end of a half; on the rows both have, the scores are the same.

Two ways to get the same numbers:

- `per_window_probabilities` — any head: gather each window (batch, T, dim) and run the model on it.
- `fast_probabilities` — pooling heads (`models.heads.PoolingHead`), linear in the number of frames:
  - the projection (2048 -> 512) runs once per frame instead of T times per frame;
  - "++" heads: past and future segments are done separately and their fc contributions added (the fc of
    a concatenation is the sum of each part times its slice of the weights);
  - NetVLAD / NetRVLAD: per-frame soft assignments a_t, and per-frame terms a_tk, a_tk (W_ok . x_t) and
    a_tk (c_k . x_t) (W: the fc weights of cluster k's block, c: centres), summed over each window as a
    difference of two prefix sums (float64, restarted every tile). The residual norms |v_k| that the
    intra-normalisation divides by come from the window's block of the frames' Gram matrix (only its
    band is computed; (T/2)^2 x K per frame, small next to the K x dim of a VLAD vector). So the
    window's (clusters x dim) VLAD vector is never formed: that is what makes a 45-minute half cost
    less than a second (`scripts/bench_head_infer.py`). Windows where a cluster has almost no mass,
    whose prefix-sum difference would be mostly rounding, are pooled directly instead;
  - AvgPool: prefix sums of the frames; MaxPool: a sliding-window max (`max_pool1d`, stride 1).
  Outputs equal the per-window path to float32 rounding (tested <= 1e-5 for every pooling type).
  Dropout is the identity here (inference, eval mode).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from soccerspot.models.heads import PoolingHead
from soccerspot.models.pooling import NetRVLAD, NetVLAD, WindowPooling

DEFAULT_BATCH = 256  # windows per forward pass on the per-window path
DEFAULT_TILE = 256  # frames per tile on the fast path (bounds the memory of the per-frame terms)


def window_offset(window_frames: int) -> int:
    """Rows before frame `i` in its window."""
    return window_frames // 2


def window_indices(num_frames: int, window_frames: int, frames: np.ndarray | range | None = None) -> torch.Tensor:
    """(len(frames), window_frames) row indices of each frame's window, clamped to the half."""
    if frames is None:
        frames = range(num_frames)
    centres = torch.as_tensor(np.asarray(frames), dtype=torch.long).unsqueeze(1)
    offsets = torch.arange(window_frames, dtype=torch.long) - window_offset(window_frames)
    return (centres + offsets).clamp_(0, num_frames - 1)


def _model_input(model: nn.Module, features: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Features as a float32 (frames, dim) tensor on the model's device, checked against its input width."""
    x = _as_tensor(features, device)
    _check_dim(model, x)
    return x


def _as_tensor(features: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(features, torch.Tensor):
        tensor = features.to(device=device, dtype=torch.float32)
    else:
        array = np.asarray(features, dtype=np.float32)
        if not array.flags.writeable:  # a read-only memory map: torch wants a writable buffer
            array = array.copy()
        tensor = torch.from_numpy(array).to(device)
    if tensor.ndim != 2:
        raise ValueError(f"features must be (frames, dim), got shape {tuple(tensor.shape)}")
    return tensor


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _check_dim(model: nn.Module, features: torch.Tensor) -> None:
    config = getattr(model, "config", None)
    if config is not None and features.shape[1] != config.input_dim:
        raise ValueError(f"features are {features.shape[1]}-d but the head expects {config.input_dim}-d inputs")


@torch.no_grad()
def per_window_probabilities(
    model: nn.Module,
    features: np.ndarray | torch.Tensor,
    window_frames: int,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
) -> np.ndarray:
    """(frames, classes + 1) probabilities, evaluating the model on every window separately."""
    device = _device_of(model)
    x = _model_input(model, features, device)
    num_frames = x.shape[0]
    outputs = []
    starts = range(0, num_frames, batch_size)
    for start in tqdm(starts, desc="windows", unit="batch", disable=not progress, leave=False):
        frames = range(start, min(num_frames, start + batch_size))
        windows = x[window_indices(num_frames, window_frames, frames).to(device)]
        outputs.append(model(windows).float().cpu())
    if not outputs:
        return np.zeros((0, _num_outputs(model)), dtype=np.float32)
    return torch.cat(outputs).numpy()


def _num_outputs(model: nn.Module) -> int:
    return model.config.num_classes + 1


def _pad_replicate(x: torch.Tensor, before: int, after: int) -> torch.Tensor:
    return torch.cat([x[:1].expand(before, -1), x, x[-1:].expand(after, -1)])


def _window_sums(terms: torch.Tensor, count: int, length: int) -> torch.Tensor:
    """Sums of `terms` rows over the `count` windows `[j, j + length)`: differences of prefix sums.

    float64: a window where a cluster has almost no mass is a small difference of two larger sums, and
    intra-normalisation turns its relative error into an O(1) error (float32 prefix sums were off by up
    to 7e-2 in probability on sharply assigning heads)."""
    prefix = torch.zeros((terms.shape[0] + 1, terms.shape[1]), dtype=torch.float64, device=terms.device)
    torch.cumsum(terms.to(torch.float64), dim=0, out=prefix[1:])
    return prefix[length : length + count] - prefix[:count]


def _generic_window_pool(layer: WindowPooling, rows: torch.Tensor, count: int, length: int) -> torch.Tensor:
    """(count, out_dim) pooled vectors of the windows `rows[j : j + length]` (max or summed terms)."""
    terms = layer.frame_terms(rows)
    if layer.reduce == "max":
        reduced = F.max_pool1d(terms.t().unsqueeze(0), length, stride=1).squeeze(0).t()
    else:
        reduced = _window_sums(terms, count, length).to(terms.dtype)
    return layer.finish_terms(reduced, length)


@dataclass
class _VladConstants:
    """Per-layer quantities shared by every tile."""

    weight: torch.Tensor  # (outputs * clusters, dim): the fc weights of each cluster's block
    weight_dot_centres: torch.Tensor | None  # (outputs, clusters) float64: W_ok . c_k
    centres_squared: torch.Tensor | None  # (clusters,) float64: |c_k|^2


def _vlad_constants(layer: NetVLAD | NetRVLAD, weight: torch.Tensor) -> _VladConstants:
    per_cluster = weight.reshape(weight.shape[0], layer.clusters, layer.dim)
    if not isinstance(layer, NetVLAD):
        return _VladConstants(per_cluster.reshape(-1, layer.dim), None, None)
    centres = layer.centers.to(torch.float64)
    return _VladConstants(per_cluster.reshape(-1, layer.dim), (per_cluster.to(torch.float64) * centres).sum(-1),
                          centres.square().sum(-1))


def _window_grams(x: torch.Tensor, count: int, length: int) -> torch.Tensor:
    """(count, length, length): the Gram matrix of each window's rows `x[j : j + length]`.

    Only the band of the full Gram matrix is computed: windows are grouped by `length`, and group b's
    windows all lie in rows `[b L, b L + 2 L)`, whose (2L x 2L) Gram block holds all of theirs."""
    groups = -(-count // length)
    rows_needed = (groups + 1) * length
    if x.shape[0] < rows_needed:  # zero rows only reach windows >= count, which are dropped
        x = torch.cat([x, x.new_zeros(rows_needed - x.shape[0], x.shape[1])])
    spans = x[:rows_needed].unfold(0, 2 * length, length).transpose(1, 2)  # (groups, 2L, dim)
    grams = spans @ spans.transpose(1, 2)  # (groups, 2L, 2L), contiguous
    side = 2 * length
    windows = grams.as_strided((groups, length, length, length), (side * side, side + 1, side, 1))
    return windows.reshape(groups * length, length, length)[:count]


def _vlad_window_logits(layer: NetVLAD | NetRVLAD, weight: torch.Tensor, constants: _VladConstants,
                        rows: torch.Tensor, count: int, length: int) -> torch.Tensor:
    """(count, outputs) = fc-weight slice `weight` times the normalised VLAD of each window
    `rows[j : j + length]`, without forming the (clusters x dim) vectors.

    With v_k = S_k - m_k c_k (S_k = sum a_tk x_t, m_k = sum a_tk over the window) and n_k = |v_k|:
      W_ok . v_k = sum_t a_tk (W_ok . x_t) - m_k (W_ok . c_k)              prefix sums of per-frame terms
      n_k^2 = sum_{t,s} a_tk a_sk (x_t . x_s) - 2 m_k (c_k . S_k) + m_k^2 |c_k|^2
    (the first term from the window's block of the Gram matrix, the second from prefix sums); the output
    is sum_k (W_ok . v_k) / max(n_k, eps) over the global norm sqrt(sum_k n_k^2 / max(n_k, eps)^2): the
    layer's intra- then global L2 normalisation (F.normalize, eps = 1e-12), exactly.

    A prefix-sum difference has an absolute error ~1e-16 x the tile's sum; where a cluster's mass in a
    window is below 1e-8 of its mass over the tile (very sharp assignments), that window is pooled
    directly instead, so the result never depends on that cancellation."""
    eps = 1e-12
    frames, clusters, outputs = rows.shape[0], layer.clusters, weight.shape[0]
    x, assignment = layer.soft_assign(rows)  # (frames, dim), (frames, clusters)
    projected = (x @ constants.weight.t()).view(frames, outputs, clusters)
    terms = [assignment, (projected * assignment.unsqueeze(1)).flatten(1)]
    if constants.weight_dot_centres is not None:
        terms.append(assignment * (x @ layer.centers.t()))
    sums = _window_sums(torch.cat(terms, dim=1), count, length)
    mass = sums[:, :clusters]
    numerator = sums[:, clusters : clusters + outputs * clusters].view(count, outputs, clusters)
    # sum over t, s in the window of a_tk a_sk (x_t . x_s), from the Gram matrix's diagonal blocks
    x64, assignment64 = x.to(torch.float64), assignment.to(torch.float64)
    blocks = _window_grams(x64, count, length)
    window_assignment = assignment64.unfold(0, length, 1).transpose(1, 2)  # (count, length, clusters)
    squared = ((blocks @ window_assignment) * window_assignment).sum(dim=1)  # (count, clusters)
    if constants.weight_dot_centres is not None:
        centred = sums[:, clusters + outputs * clusters :]  # sum a_tk (c_k . x_t)
        numerator = numerator - mass.unsqueeze(1) * constants.weight_dot_centres
        squared = squared - 2 * mass * centred + mass.square() * constants.centres_squared
    squared = squared.clamp_min(0)
    norms = squared.sqrt().clamp_min(eps)
    global_norm = (squared / norms.square()).sum(-1).sqrt().clamp_min(eps)
    logits = ((numerator / norms.unsqueeze(1)).sum(-1) / global_norm.unsqueeze(1)).to(weight.dtype)
    fragile = (mass < 1e-8 * assignment64.sum(0)).any(dim=1).nonzero().flatten()
    if fragile.numel():
        windows = rows[fragile.unsqueeze(1) + torch.arange(length, device=rows.device)]
        logits[fragile] = layer(windows) @ weight.t()
    return logits


@torch.no_grad()
def fast_probabilities(
    model: PoolingHead,
    features: np.ndarray | torch.Tensor,
    window_frames: int,
    *,
    tile_frames: int = DEFAULT_TILE,
    progress: bool = False,
) -> np.ndarray:
    """(frames, classes + 1) probabilities of a pooling head, in O(frames) (see module docstring)."""
    device = _device_of(model)
    x = _model_input(model, features, device)
    num_frames = x.shape[0]
    if num_frames == 0:
        return np.zeros((0, _num_outputs(model)), dtype=np.float32)
    embedded = model.embed(x)
    offset = window_offset(window_frames)
    # padded row p is frame p - offset (clamped); frame i's window is padded rows [i, i + window_frames)
    padded = _pad_replicate(embedded, offset, window_frames - offset)
    segments = model.pooling.segments(window_frames)
    weights, column = [], 0
    for layer, _, _ in segments:  # fc(concat(parts)) = sum over parts of the part times its weight slice
        weight = model.fc.weight[:, column : column + layer.out_dim]
        column += layer.out_dim
        weights.append((weight, _vlad_constants(layer, weight) if isinstance(layer, (NetVLAD, NetRVLAD)) else None))
    outputs = []
    starts = range(0, num_frames, tile_frames)
    for start in tqdm(starts, desc="tiles", unit="tile", disable=not progress, leave=False):
        count = min(tile_frames, num_frames - start)
        logits = model.fc.bias.expand(count, -1).clone()
        for (layer, begin, end), (weight, constants) in zip(segments, weights):
            length = end - begin
            rows = padded[start + begin : start + begin + count + length - 1]
            if constants is not None:
                logits += _vlad_window_logits(layer, weight, constants, rows, count, length)
            else:
                logits.addmm_(_generic_window_pool(layer, rows, count, length), weight.t())
        outputs.append(torch.sigmoid(logits).float().cpu())
    return torch.cat(outputs).numpy()


def supports_fast_path(model: nn.Module) -> bool:
    return isinstance(model, PoolingHead)


def window_probabilities(
    model: nn.Module,
    features: np.ndarray | torch.Tensor,
    window_frames: int | None = None,
    *,
    method: str = "auto",
    batch_size: int = DEFAULT_BATCH,
    tile_frames: int = DEFAULT_TILE,
    progress: bool = False,
) -> np.ndarray:
    """(frames, classes + 1) probabilities, column 0 = background. `method`: "auto" (fast where the head
    allows it), "fast" or "per-window". The model is put in eval mode for the call."""
    if window_frames is None:
        window_frames = model.config.window_frames
    if method not in ("auto", "fast", "per-window"):
        raise ValueError(f"method must be auto, fast or per-window, got {method!r}")
    if method == "fast" and not supports_fast_path(model):
        raise ValueError(f"{type(model).__name__} has no fast path; use method='per-window'")
    was_training = model.training
    model.eval()
    try:
        if method != "per-window" and supports_fast_path(model):
            return fast_probabilities(model, features, window_frames, tile_frames=tile_frames, progress=progress)
        return per_window_probabilities(model, features, window_frames, batch_size=batch_size, progress=progress)
    finally:
        model.train(was_training)


def frame_scores(
    model: nn.Module,
    features: np.ndarray | torch.Tensor,
    window_frames: int | None = None,
    **kwargs,
) -> np.ndarray:
    """(frames, num_classes) per-frame class scores (the background column dropped)."""
    return window_probabilities(model, features, window_frames, **kwargs)[:, 1:]
