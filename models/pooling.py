"""Temporal pooling layers: a window of frame features (batch, frames, dim) -> one vector (batch, out_dim).

- `NetVLAD` — Arandjelović et al., "NetVLAD: CNN architecture for weakly supervised place recognition",
  CVPR 2016; as used for action spotting by Giancola et al., "SoccerNet", CVPR-W 2018.
- `NetRVLAD` — Miech et al., "Learnable pooling with Context Gating for video classification", 2017:
  NetVLAD without cluster centres.
- `MaxPool`, `AvgPool` — max / mean over time.
- `TemporallyAwarePooling` — Giancola & Ghanem, "Temporally-Aware Feature Pooling for Action Spotting in
  Soccer Broadcasts", CVPR-W 2021 ("NetVLAD++"): the past half of the window `[-T/2, 0)` and the future half
  `[0, T/2)` are pooled by two separate layers (K/2 clusters each) and concatenated.

Every layer is also *decomposable* for fast whole-half inference (`pipeline/infer.py`): a window's pooled
vector is `finish_terms(reduce(frame_terms(x_t) for t in window), frames)` where `reduce` is a sum
(`reduce == "sum"`: NetVLAD, NetRVLAD, AvgPool — so a window is a difference of prefix sums) or a max
(`reduce == "max"`: MaxPool — a sliding-window max). `segments(window_frames)` says which layer pools
which rows of a window. `forward` never goes through the per-frame terms: it uses the efficient matmul
form, and tests check both agree.

Flattened VLAD layout: cluster-major, `index = k * dim + d`. Peer checkpoints stored dimension-major are
converted when loaded (`pipeline/checkpoints.py`).

Builders are registered by name (`build_pooling("netvlad++", dim, clusters=64)`), like timm's models.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "WindowPooling",
    "NetVLAD",
    "NetRVLAD",
    "MaxPool",
    "AvgPool",
    "TemporallyAwarePooling",
    "register_pooling",
    "build_pooling",
    "pooling_names",
    "split_point",
]


def split_point(window_frames: int) -> int:
    """Rows `[0, split)` of a window are its past, `[split, window_frames)` its future (the centre frame
    belongs to the future, as in the peers' `int(T / 2)` split)."""
    return window_frames // 2


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


def _intra_and_global_normalize(vlad: torch.Tensor) -> torch.Tensor:
    """(..., clusters, dim): L2 per cluster (intra-normalisation), flatten, then global L2."""
    vlad = F.normalize(vlad, p=2, dim=-1)
    vlad = vlad.flatten(-2)
    return F.normalize(vlad, p=2, dim=-1)


class NetVLAD(WindowPooling):
    """Soft-assignment VLAD: `v_k = sum_t a_tk (x_t - c_k) = sum_t a_tk x_t - c_k sum_t a_tk`.

    The soft assignment `a_t = softmax(W x_t + b)` is a 1x1 convolution over time (a linear layer); its
    bias is optional because the peers' layers have none. Frames are L2-normalised first
    (`normalize_input`, as in every peer implementation).
    """

    def __init__(self, dim: int, clusters: int, *, assignment_bias: bool = True, normalize_input: bool = True):
        super().__init__()
        self.dim = dim
        self.clusters = clusters
        self.normalize_input = normalize_input
        self.assignment = nn.Linear(dim, clusters, bias=assignment_bias)
        self.centers = nn.Parameter(torch.randn(clusters, dim) / math.sqrt(dim))
        self.out_dim = clusters * dim

    def soft_assign(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., frames, dim) -> (normalised frames, assignments (..., frames, clusters))."""
        if self.normalize_input:
            x = F.normalize(x, p=2, dim=-1)
        return x, F.softmax(self.assignment(x), dim=-1)

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


class NetRVLAD(WindowPooling):
    """Residual-less NetVLAD: `v_k = sum_t a_tk x_t`, intra-normalised, then globally L2-normalised."""

    def __init__(self, dim: int, clusters: int, *, assignment_bias: bool = True, normalize_input: bool = True):
        super().__init__()
        self.dim = dim
        self.clusters = clusters
        self.normalize_input = normalize_input
        self.assignment = nn.Linear(dim, clusters, bias=assignment_bias)
        self.out_dim = clusters * dim

    def soft_assign(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.normalize_input:
            x = F.normalize(x, p=2, dim=-1)
        return x, F.softmax(self.assignment(x), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, assignment = self.soft_assign(x)
        return _intra_and_global_normalize(assignment.transpose(-1, -2) @ x)

    def frame_terms(self, x: torch.Tensor) -> torch.Tensor:
        x, assignment = self.soft_assign(x)
        return (assignment.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2)

    def finish_terms(self, reduced: torch.Tensor, frames: int) -> torch.Tensor:
        return _intra_and_global_normalize(reduced.unflatten(-1, (self.clusters, self.dim)))


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
_POOLINGS: dict[str, PoolingBuilder] = {}


def register_pooling(name: str) -> Callable[[PoolingBuilder], PoolingBuilder]:
    def register(builder: PoolingBuilder) -> PoolingBuilder:
        _POOLINGS[name] = builder
        return builder

    return register


def pooling_names() -> list[str]:
    return sorted(_POOLINGS)


def build_pooling(name: str, dim: int, **options) -> WindowPooling:
    """`build_pooling("netvlad++", 512, clusters=64, assignment_bias=True, normalize_input=True)`.
    Options a layer does not use (clusters for max pooling) are ignored."""
    if name not in _POOLINGS:
        raise ValueError(f"unknown pooling {name!r}; known: {', '.join(pooling_names())}")
    return _POOLINGS[name](dim, **options)


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


@register_pooling("netvlad")
def netvlad(dim: int, *, clusters: int = 64, assignment_bias: bool = True, normalize_input: bool = True, **_) -> NetVLAD:
    return NetVLAD(dim, clusters, assignment_bias=assignment_bias, normalize_input=normalize_input)


@register_pooling("netvlad++")
def netvlad_temporally_aware(
    dim: int, *, clusters: int = 64, assignment_bias: bool = True, normalize_input: bool = True, **_
) -> TemporallyAwarePooling:
    return _temporally_aware_vlad(NetVLAD, dim, clusters, assignment_bias, normalize_input)


@register_pooling("netrvlad")
def netrvlad(dim: int, *, clusters: int = 64, assignment_bias: bool = True, normalize_input: bool = True, **_) -> NetRVLAD:
    return NetRVLAD(dim, clusters, assignment_bias=assignment_bias, normalize_input=normalize_input)


@register_pooling("netrvlad++")
def netrvlad_temporally_aware(
    dim: int, *, clusters: int = 64, assignment_bias: bool = True, normalize_input: bool = True, **_
) -> TemporallyAwarePooling:
    return _temporally_aware_vlad(NetRVLAD, dim, clusters, assignment_bias, normalize_input)


@register_pooling("maxpool")
def maxpool(dim: int, **_) -> MaxPool:
    return MaxPool(dim)


@register_pooling("maxpool++")
def maxpool_temporally_aware(dim: int, **_) -> TemporallyAwarePooling:
    return TemporallyAwarePooling(MaxPool(dim), MaxPool(dim))


@register_pooling("avgpool")
def avgpool(dim: int, **_) -> AvgPool:
    return AvgPool(dim)


@register_pooling("avgpool++")
def avgpool_temporally_aware(dim: int, **_) -> TemporallyAwarePooling:
    return TemporallyAwarePooling(AvgPool(dim), AvgPool(dim))
