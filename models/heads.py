"""Spotting heads: a window of frame features (batch, window_frames, input_dim) -> class probabilities
(batch, num_classes + 1).

Output convention (the peers' and ours): column 0 is *background* ("no action in this window"), column
`1 + c` is class `c` in the checkpoint's class order; every column is an independent sigmoid probability
(multi-label: several actions can share a window). Inference drops column 0.

- `PoolingHead` — Giancola & Ghanem, "Temporally-Aware Feature Pooling for Action Spotting in Soccer
  Broadcasts", CVPR-W 2021 (and the SoccerNet-v2 pooling baselines): optional learned linear projection
  (2048 -> 512), a temporal pooling from `models.pooling`, dropout 0.4, linear layer to C+1, sigmoid.
- `TransformerHead` — Zhou et al., "Feature Combination Meets Attention: Baidu Soccer Embeddings and
  Transformer based Temporal Detection", 2021: linear projection to a 64-d model, sine/cosine positional
  encoding, 3 encoder layers with 4 heads, max over time, dropout, linear layer to C+1, sigmoid.
  (The report gives layers, heads and width; the read-out over time is ours: max, like the pooling
  baselines; `readout="mean"` or `"center"` are the alternatives.)

`HeadConfig` holds everything needed to rebuild a head; it is stored as JSON beside the weights.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from soccerspot.models.pooling import WindowPooling, build_pooling, pooling_names

__all__ = ["HeadConfig", "PoolingHead", "TransformerHead", "build_head", "head_kinds", "sinusoidal_encoding"]

TRANSFORMER_KIND = "transformer"
READOUTS = ("max", "mean", "center")


@dataclass
class HeadConfig:
    """What a head is. `window_frames` is the window length in feature rows (seconds x fps)."""

    kind: str = "netvlad++"
    input_dim: int = 2048
    num_classes: int = 17
    window_frames: int = 30
    # pooling family
    clusters: int = 64  # K for NetVLAD/NetRVLAD ("++": K/2 per half)
    projection_dim: int | None = 512  # learned linear projection before pooling; None = pool raw features
    dropout: float = 0.4
    assignment_bias: bool = True  # bias of the soft-assignment layer (peers' layers have none)
    normalize_input: bool = True  # L2-normalise each frame before the VLAD soft assignment
    # transformer
    model_dim: int = 64
    num_layers: int = 3
    num_heads: int = 4
    feedforward_dim: int = 256
    attention_dropout: float = 0.1
    readout: str = "max"

    def validate(self) -> "HeadConfig":
        if self.kind not in head_kinds():
            raise ValueError(f"unknown head kind {self.kind!r}; known: {', '.join(head_kinds())}")
        for name in ("input_dim", "num_classes", "window_frames"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"HeadConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.kind.endswith("++") and self.window_frames < 2:
            raise ValueError(f"{self.kind} splits the window in two: window_frames must be >= 2")
        if self.kind.startswith("net") and self.kind.endswith("++") and self.clusters % 2:
            raise ValueError(f"{self.kind} gives K/2 clusters to each half: clusters must be even, got {self.clusters}")
        if self.projection_dim is not None and self.projection_dim < 1:
            raise ValueError(f"projection_dim must be None or >= 1, got {self.projection_dim}")
        if self.kind == TRANSFORMER_KIND:
            if self.model_dim % self.num_heads:
                raise ValueError(f"model_dim {self.model_dim} must be divisible by num_heads {self.num_heads}")
            if self.readout not in READOUTS:
                raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        return self

    @property
    def pooled_dim(self) -> int:
        """Width of the features that reach the pooling layer."""
        return self.projection_dim or self.input_dim

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> "HeadConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise ValueError(f"unknown head config fields: {', '.join(unknown)}")
        return cls(**obj).validate()


class PoolingHead(nn.Module):
    """projection -> temporal pooling -> dropout -> linear -> sigmoid."""

    def __init__(self, config: HeadConfig):
        super().__init__()
        self.config = config
        if config.projection_dim:
            self.projection: nn.Module = nn.Linear(config.input_dim, config.projection_dim)
        else:
            self.projection = nn.Identity()
        self.pooling: WindowPooling = build_pooling(
            config.kind,
            config.pooled_dim,
            clusters=config.clusters,
            assignment_bias=config.assignment_bias,
            normalize_input=config.normalize_input,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(self.pooling.out_dim, config.num_classes + 1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame part of the head (the projection): (..., input_dim) -> (..., pooled_dim)."""
        return self.projection(x)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled window vectors -> probabilities (..., num_classes + 1)."""
        return torch.sigmoid(self.fc(self.dropout(pooled)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.pooling(self.embed(x)))


def sinusoidal_encoding(length: int, dim: int) -> torch.Tensor:
    """Vaswani et al. 2017: PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(same)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    encoding = torch.zeros(length, dim)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)[:, : dim // 2]
    return encoding


class TransformerHead(nn.Module):
    """projection to model_dim -> + positional encoding -> encoder layers -> read-out over time -> linear."""

    def __init__(self, config: HeadConfig):
        super().__init__()
        self.config = config
        self.projection = nn.Linear(config.input_dim, config.model_dim)
        layer = nn.TransformerEncoderLayer(
            config.model_dim,
            config.num_heads,
            dim_feedforward=config.feedforward_dim,
            dropout=config.attention_dropout,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.register_buffer("positions", sinusoidal_encoding(config.window_frames, config.model_dim), persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(config.model_dim, config.num_classes + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-2]
        if frames != self.positions.shape[0]:
            raise ValueError(f"transformer head built for windows of {self.positions.shape[0]} frames, got {frames}")
        hidden = self.encoder(self.projection(x) + self.positions)
        if self.config.readout == "max":
            pooled = hidden.amax(dim=-2)
        elif self.config.readout == "mean":
            pooled = hidden.mean(dim=-2)
        else:
            pooled = hidden[..., frames // 2, :]
        return torch.sigmoid(self.fc(self.dropout(pooled)))


HeadBuilder = Callable[[HeadConfig], nn.Module]
_HEAD_FAMILIES: dict[str, HeadBuilder] = {TRANSFORMER_KIND: TransformerHead}


def head_kinds() -> list[str]:
    return sorted(set(pooling_names()) | set(_HEAD_FAMILIES))


def build_head(config: HeadConfig) -> nn.Module:
    """The head described by `config` (randomly initialised; load weights with `load_state_dict`)."""
    config.validate()
    builder = _HEAD_FAMILIES.get(config.kind, PoolingHead)
    return builder(config)
