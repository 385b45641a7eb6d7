"""Temporal pooling layers: a window of frame features (batch, frames, dim) -> one vector (batch, out_dim).

- `NetVLAD` — Arandjelović et al., "NetVLAD: CNN architecture for weakly supervised place recognition",
  CVPR 2016; as used for action spotting by Giancola et al., "SoccerNet", CVPR-W 2018.
- `NetRVLAD` — Miech et al., "Learnable pooling with Context Gating for video classification", 2017:
  NetVLAD without cluster centres.
- `MaxPool`, `AvgPool` — max / mean over time.
- `TemporallyAwarePooling` — Giancola & Ghanem, "Temporally-Aware Feature Pooling for Action Spotting in
  Soccer Broadcasts", CVPR-W 2021 ("NetVLAD++"): the past half of the window `[-T/2, 0)` and the future half
  `[0, T/2)` are pooled by two separate layers (K/2 clusters each) and concatenated.

Every layer is also *decomposable* for fast whole-half inference (`models/heads/pooling_head.py`), through one method
contract that the inference code calls without knowing the layer's class:

- `segments(window_frames)` says which layer pools which rows of a window (the "++" split);
- `window_readout(weight)` gives a function `readout(rows, length)` that returns `layer(window) @ weight.T`
  for *every* window of a run of rows at once (constants of the weights computed once, the runs scored
  tile by tile). The default goes through the per-frame terms: a window's pooled vector is
  `finish_terms(reduce(frame_terms(x_t) for t in window), frames)` where `reduce` is a sum
  (`reduce == "sum"`: AvgPool — `models.sliding.window_sums`) or a max (`reduce == "max"`:
  MaxPool — a sliding-window max). NetVLAD and NetRVLAD override it with an exact shortcut that never
  forms the (clusters x dim) window vectors (`_vlad_window_logits`).

A new pooling layer is a `WindowPooling` subclass with `forward`, `frame_terms` and `finish_terms` (or its
own `window_readout`) plus a registered builder (`uses_clusters` / `splits_window` as data); a head of it is
one more registration in `models/heads/pooling_head.py`, and a training preset one more entry in
`pipeline/training/presets.py`. `forward` never goes
through the per-frame terms: it uses the efficient matmul form, and tests check both agree.

Flattened VLAD layout: cluster-major, `index = k * dim + d`. Peer checkpoints stored dimension-major are
converted when loaded (`models/heads/pooling_head.py`).

Builders are registered by name (`create_pooling("netvlad++", dim, clusters=64)`), like timm's models.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from soccerspot.models.papers import (
    NETRVLAD_PAPER, NETVLAD_PAPER, SOCCERNET_PAPER, TEMPORALLY_AWARE_PAPER,
)
from soccerspot.models.sliding import window_maxima, window_offset, window_quadratic_forms, window_sums

__all__ = [
    "WindowPooling",
    "NetVLAD",
    "NetRVLAD",
    "MaxPool",
    "AvgPool",
    "TemporallyAwarePooling",
    "register_pooling",
    "create_pooling",
    "list_poolings",
    "pooling_entry",
    "PoolingEntry",
    "pooling_paper",
    "split_point",
]


# readout(rows, length) -> (rows - length + 1, outputs): see `WindowPooling.window_readout`
WindowReadout = Callable[[torch.Tensor, int], torch.Tensor]


def split_point(window_frames: int) -> int:
    """Rows `[0, split)` of a window are its past, `[split, window_frames)` its future: the split is the
    window's own frame (`window_offset`), which belongs to the future, as in the peers' `int(T / 2)` split."""
    return window_offset(window_frames)


class WindowPooling(nn.Module):
    """Base class: a pooling over the time axis that can be decomposed into per-frame terms."""

    reduce: str = "sum"  # how per-frame terms combine over a window: "sum" or "max"
    out_dim: int

    def frame_terms(self, x: torch.Tensor) -> torch.Tensor:
        """(..., frames, dim) -> (..., frames, terms): what each frame contributes to a window."""
        raise NotImplementedError

    def finish_terms(self, reduced: torch.Tensor, frames: int) -> torch.Tensor:
        """(..., terms) reduced over a window of `frames` rows -> (..., out_dim)."""
        raise NotImplementedError

    def segments(self, window_frames: int) -> list[tuple["WindowPooling", int, int]]:
        """Which layer pools which rows `[begin, end)` of a window; the outputs are concatenated."""
        return [(self, 0, window_frames)]

    def window_readout(self, weight: torch.Tensor) -> WindowReadout:
        """`readout(rows, length)` -> (count, outputs): `self(rows[j : j + length]) @ weight.T` for every
        window of a run of frames `rows` (rows, dim), count = rows - length + 1; `weight` (outputs, out_dim)
        is a classifier's slice. What depends on the weights alone is computed here, once per half, not
        once per run. Inference only (call under `torch.no_grad()`).

        This default reduces `frame_terms` over each window (window sums in float64 for "sum", a sliding
        max for "max") and finishes them with `finish_terms`."""

        def readout(rows: torch.Tensor, length: int) -> torch.Tensor:
            terms = self.frame_terms(rows)
            if self.reduce == "max":
                reduced = window_maxima(terms, length)
            else:
                reduced = window_sums(terms, length).to(terms.dtype)
            return self.finish_terms(reduced, length) @ weight.t()

        return readout

    def window_logits(self, rows: torch.Tensor, length: int, weight: torch.Tensor) -> torch.Tensor:
        """`window_readout(weight)(rows, length)`, for a single run of rows."""
        return self.window_readout(weight)(rows, length)


def _intra_and_global_normalize(vlad: torch.Tensor) -> torch.Tensor:
    """(..., clusters, dim): L2 per cluster (intra-normalisation), flatten, then global L2."""
    vlad = F.normalize(vlad, p=2, dim=-1)
    vlad = vlad.flatten(-2)
    return F.normalize(vlad, p=2, dim=-1)


class _SoftAssignmentPooling(WindowPooling):
    """What NetVLAD and NetRVLAD share: `a_t = softmax(W x_t + b)` over `clusters`, a 1x1 convolution over
    time (a linear layer); its bias is optional because the peers' layers have none. Frames are
    L2-normalised first (`normalize_input`, as in every peer implementation)."""

    def __init__(self, dim: int, clusters: int, *, assignment_bias: bool = True, normalize_input: bool = True):
        super().__init__()
        self.dim = dim
        self.clusters = clusters
        self.normalize_input = normalize_input
        self.assignment = nn.Linear(dim, clusters, bias=assignment_bias)
        self.out_dim = clusters * dim

    def residual_centres(self) -> torch.Tensor | None:
        """(clusters, dim) centres the residuals are taken from; None: no residuals (NetRVLAD)."""
        return None

    def soft_assign(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., frames, dim) -> (normalised frames, assignments (..., frames, clusters))."""
        if self.normalize_input:
            x = F.normalize(x, p=2, dim=-1)
        return x, F.softmax(self.assignment(x), dim=-1)

    def window_readout(self, weight: torch.Tensor) -> WindowReadout:
        constants = _VladConstants.of(self, weight)
        return lambda rows, length: _vlad_window_logits(self, rows, length, weight, constants)


class NetVLAD(_SoftAssignmentPooling):
    """Soft-assignment VLAD: `v_k = sum_t a_tk (x_t - c_k) = sum_t a_tk x_t - c_k sum_t a_tk`."""

    def __init__(self, dim: int, clusters: int, *, assignment_bias: bool = True, normalize_input: bool = True):
        super().__init__(dim, clusters, assignment_bias=assignment_bias, normalize_input=normalize_input)
        self.centers = nn.Parameter(torch.randn(clusters, dim) / math.sqrt(dim))

    def residual_centres(self) -> torch.Tensor:
        return self.centers

    def aggregate(self, weighted: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
        """weighted = sum_t a_tk x_t (..., clusters, dim), mass = sum_t a_tk (..., clusters)."""
        vlad = weighted - mass.unsqueeze(-1) * self.centers
        return _intra_and_global_normalize(vlad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, assignment = self.soft_assign(x)
        weighted = assignment.transpose(-1, -2) @ x
        return self.aggregate(weighted, assignment.sum(dim=-2))

    def frame_terms(self, x: torch.Tensor) -> torch.Tensor:
        x, assignment = self.soft_assign(x)
        outer = (assignment.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2)
        return torch.cat([assignment, outer], dim=-1)

    def finish_terms(self, reduced: torch.Tensor, frames: int) -> torch.Tensor:
        mass, weighted = reduced.split([self.clusters, self.clusters * self.dim], dim=-1)
        weighted = weighted.unflatten(-1, (self.clusters, self.dim))
        return self.aggregate(weighted, mass)


class NetRVLAD(_SoftAssignmentPooling):
    """Residual-less NetVLAD: `v_k = sum_t a_tk x_t`, intra-normalised, then globally L2-normalised."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, assignment = self.soft_assign(x)
        return _intra_and_global_normalize(assignment.transpose(-1, -2) @ x)

    def frame_terms(self, x: torch.Tensor) -> torch.Tensor:
        x, assignment = self.soft_assign(x)
        return (assignment.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2)

    def finish_terms(self, reduced: torch.Tensor, frames: int) -> torch.Tensor:
        return _intra_and_global_normalize(reduced.unflatten(-1, (self.clusters, self.dim)))


@dataclass
class _VladConstants:
    """What the VLAD shortcut needs from the weights alone."""

    per_cluster: torch.Tensor  # (outputs, clusters, dim): the fc weights of each cluster's block
    weight_dot_centres: torch.Tensor | None  # (outputs, clusters) float64: W_ok . c_k
    centres_squared: torch.Tensor | None  # (clusters,) float64: |c_k|^2

    @classmethod
    def of(cls, layer: "_SoftAssignmentPooling", weight: torch.Tensor) -> "_VladConstants":
        per_cluster = weight.reshape(weight.shape[0], layer.clusters, layer.dim)
        centres = layer.residual_centres()
        if centres is None:
            return cls(per_cluster, None, None)
        centres = centres.to(torch.float64)
        return cls(per_cluster, (per_cluster.to(torch.float64) * centres).sum(-1), centres.square().sum(-1))


def _vlad_window_logits(layer: _SoftAssignmentPooling, rows: torch.Tensor, length: int, weight: torch.Tensor,
                        constants: _VladConstants) -> torch.Tensor:
    """The window readout of NetVLAD / NetRVLAD, without forming the (clusters x dim) window vectors.

    With v_k = S_k - m_k c_k (S_k = sum a_tk x_t, m_k = sum a_tk over the window; c_k = 0 for NetRVLAD)
    and n_k = |v_k|:
      W_ok . v_k = sum_t a_tk (W_ok . x_t) - m_k (W_ok . c_k)              window sums of per-frame terms
      n_k^2 = sum_{t,s} a_tk a_sk (x_t . x_s) - 2 m_k (c_k . S_k) + m_k^2 |c_k|^2
    (the first term from the band of the Gram matrix, `window_quadratic_forms`, the others from window
    sums); the output is sum_k (W_ok . v_k) / max(n_k, eps) over the global norm
    sqrt(sum_k n_k^2 / max(n_k, eps)^2): the layer's intra- then global L2 normalisation (F.normalize,
    eps = 1e-12), exactly.

    Every window sum is taken over the window's own rows (`window_sums`), so a cluster with almost no mass
    in a window keeps its relative precision. The W . x terms are summed in the features' dtype, like the
    layer's own S_k. n_k^2 is a difference of larger terms where frames lie close to their centre, so its
    three terms are summed in float64."""
    eps = 1e-12
    frames, clusters, outputs = rows.shape[0], layer.clusters, weight.shape[0]
    count = frames - length + 1
    centres = layer.residual_centres()
    x, assignment = layer.soft_assign(rows)  # (frames, dim), (frames, clusters)
    projected = (x @ constants.per_cluster.reshape(-1, layer.dim).t()).view(frames, outputs, clusters)
    numerator = window_sums((projected * assignment.unsqueeze(1)).flatten(1), length, x.dtype)
    mass_terms = [assignment] if centres is None else [assignment, assignment * (x @ centres.t())]
    sums = window_sums(torch.cat(mass_terms, dim=1), length)
    mass = sums[:, :clusters]
    squared = window_quadratic_forms(x.to(torch.float64), assignment.to(torch.float64), length)  # |S_k|^2
    if centres is not None:
        centred = sums[:, clusters:]  # sum a_tk (c_k . x_t)
        squared = squared - 2 * mass * centred + mass.square() * constants.centres_squared
    squared = squared.clamp_min(0)
    norms = squared.sqrt().clamp_min(eps)
    global_norm = (squared / norms.square()).sum(-1).sqrt().clamp_min(eps)
    # sum_k (W_ok . v_k) / n_k, as one batched product over k
    logits = torch.bmm(numerator.view(count, outputs, clusters), (1 / norms).to(numerator.dtype).unsqueeze(2))
    logits = logits.squeeze(2).to(torch.float64)
    if centres is not None:
        logits = logits - (mass / norms) @ constants.weight_dot_centres.t()
    return (logits / global_norm.unsqueeze(1)).to(weight.dtype)


class MaxPool(WindowPooling):
    """Max over time of each feature dimension."""

    reduce = "max"

    def __init__(self, dim: int):
        super().__init__()
        self.out_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=-2)

    def frame_terms(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def finish_terms(self, reduced: torch.Tensor, frames: int) -> torch.Tensor:
        return reduced


class AvgPool(WindowPooling):
    """Mean over time of each feature dimension."""

    def __init__(self, dim: int):
        super().__init__()
        self.out_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=-2)

    def frame_terms(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def finish_terms(self, reduced: torch.Tensor, frames: int) -> torch.Tensor:
        return reduced / frames


class TemporallyAwarePooling(WindowPooling):
    """The "++" wrapper: `past` pools rows `[0, T//2)` of the window, `future` rows `[T//2, T)`;
    the two vectors are concatenated (past first)."""

    def __init__(self, past: WindowPooling, future: WindowPooling):
        super().__init__()
        self.past = past
        self.future = future
        self.out_dim = past.out_dim + future.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-2]
        if frames < 2:
            raise ValueError(f"a temporally-aware pooling needs windows of >= 2 frames, got {frames}")
        split = split_point(frames)
        return torch.cat([self.past(x[..., :split, :]), self.future(x[..., split:, :])], dim=-1)

    def segments(self, window_frames: int) -> list[tuple[WindowPooling, int, int]]:
        split = split_point(window_frames)
        return [(self.past, 0, split), (self.future, split, window_frames)]


# --- registry of builders ------------------------------------------------------------------------------

PoolingBuilder = Callable[..., WindowPooling]


@dataclass(frozen=True)
class PoolingEntry:
    """A registered pooling layer: its builder, paper, and what its settings mean as data —
    `uses_clusters` (NetVLAD, NetRVLAD) and `splits_window` ("++": past and future halves, K/2 clusters each)."""

    name: str
    builder: PoolingBuilder
    paper: str = ""
    uses_clusters: bool = False
    splits_window: bool = False


_POOLINGS: dict[str, PoolingEntry] = {}


def register_pooling(name: str, *, paper: str = "", uses_clusters: bool = False,
                     splits_window: bool = False) -> Callable[[PoolingBuilder], PoolingBuilder]:
    """Register `builder(dim, **options)` under `name`; `paper` names where the layer comes from."""

    def register(builder: PoolingBuilder) -> PoolingBuilder:
        if name in _POOLINGS:
            raise ValueError(f"pooling {name!r} is registered twice")
        _POOLINGS[name] = PoolingEntry(name, builder, paper, uses_clusters, splits_window)
        return builder

    return register


def list_poolings() -> list[str]:
    return sorted(_POOLINGS)


def pooling_entry(name: str) -> PoolingEntry:
    if name not in _POOLINGS:
        raise ValueError(f"unknown pooling {name!r}; known: {', '.join(list_poolings())}")
    return _POOLINGS[name]


def pooling_paper(name: str) -> str:
    """The paper a registered pooling layer comes from."""
    return pooling_entry(name).paper


def create_pooling(name: str, dim: int, **options) -> WindowPooling:
    """`create_pooling("netvlad++", 512, clusters=64, assignment_bias=True, normalize_input=True)`.
    Options a layer does not use (clusters for max pooling) are ignored."""
    return pooling_entry(name).builder(dim, **options)


def _half_clusters(clusters: int) -> int:
    if clusters < 2 or clusters % 2:
        raise ValueError(f"a temporally-aware VLAD splits its clusters in two: need an even number, got {clusters}")
    return clusters // 2


def _temporally_aware_vlad(layer: type, dim: int, clusters: int, assignment_bias: bool,
                           normalize_input: bool) -> TemporallyAwarePooling:
    """Past and future pooled by two separate VLAD layers of K/2 clusters each."""
    half = _half_clusters(clusters)
    return TemporallyAwarePooling(
        *(layer(dim, half, assignment_bias=assignment_bias, normalize_input=normalize_input) for _ in range(2))
    )


@register_pooling("netvlad", paper=NETVLAD_PAPER, uses_clusters=True)
def netvlad(dim: int, *, clusters: int = 64, assignment_bias: bool = True, normalize_input: bool = True, **_) -> NetVLAD:
    return NetVLAD(dim, clusters, assignment_bias=assignment_bias, normalize_input=normalize_input)


@register_pooling("netvlad++", paper=TEMPORALLY_AWARE_PAPER, uses_clusters=True, splits_window=True)
def netvlad_temporally_aware(
    dim: int, *, clusters: int = 64, assignment_bias: bool = True, normalize_input: bool = True, **_
) -> TemporallyAwarePooling:
    return _temporally_aware_vlad(NetVLAD, dim, clusters, assignment_bias, normalize_input)


@register_pooling("netrvlad", paper=NETRVLAD_PAPER, uses_clusters=True)
def netrvlad(dim: int, *, clusters: int = 64, assignment_bias: bool = True, normalize_input: bool = True, **_) -> NetRVLAD:
    return NetRVLAD(dim, clusters, assignment_bias=assignment_bias, normalize_input=normalize_input)


@register_pooling("netrvlad++", paper=TEMPORALLY_AWARE_PAPER, uses_clusters=True, splits_window=True)
def netrvlad_temporally_aware(
    dim: int, *, clusters: int = 64, assignment_bias: bool = True, normalize_input: bool = True, **_
) -> TemporallyAwarePooling:
    return _temporally_aware_vlad(NetRVLAD, dim, clusters, assignment_bias, normalize_input)


@register_pooling("maxpool", paper=SOCCERNET_PAPER)
def maxpool(dim: int, **_) -> MaxPool:
    return MaxPool(dim)


@register_pooling("maxpool++", paper=TEMPORALLY_AWARE_PAPER, splits_window=True)
def maxpool_temporally_aware(dim: int, **_) -> TemporallyAwarePooling:
    return TemporallyAwarePooling(MaxPool(dim), MaxPool(dim))


@register_pooling("avgpool", paper=SOCCERNET_PAPER)
def avgpool(dim: int, **_) -> AvgPool:
    return AvgPool(dim)


@register_pooling("avgpool++", paper=TEMPORALLY_AWARE_PAPER, splits_window=True)
def avgpool_temporally_aware(dim: int, **_) -> TemporallyAwarePooling:
    return TemporallyAwarePooling(AvgPool(dim), AvgPool(dim))
