"""The transformer head of Zhou et al., "Feature Combination Meets Attention: Baidu Soccer Embeddings and
Transformer based Temporal Detection", 2021: linear projection to a 64-d model, sine/cosine positional
encoding, 3 encoder layers with 4 heads, max over time, dropout, linear layer to C+1, sigmoid. (The report
gives layers, heads and width (its "hidden dimension of 64": `model_dim`); the feed-forward width 256 and
the read-out over time are ours: max, like the pooling baselines; `readout="mean"` or `"center"` are the
alternatives.) Whole halves are scored one window per row
(`WindowHead`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from soccerspot.errors import SettingsError
from soccerspot.models.heads.registry import BaseHeadConfig, WindowHead, register_head
from soccerspot.models.papers import BAIDU_REPORT
from soccerspot.models.sliding import window_offset

__all__ = ["TransformerHeadConfig", "TransformerHead", "sinusoidal_encoding"]

TRANSFORMER_KIND = "transformer"
READOUTS = ("max", "mean", "center")


@dataclass
class TransformerHeadConfig(BaseHeadConfig):
    """A `TransformerHead`."""

    kind: str = TRANSFORMER_KIND
    model_dim: int = 64
    num_layers: int = 3
    num_heads: int = 4
    feedforward_dim: int = 256
    attention_dropout: float = 0.1
    readout: str = "max"  # how the encoded window becomes one vector: one of READOUTS

    def _validate_family(self) -> None:
        for name in ("model_dim", "num_layers", "num_heads", "feedforward_dim"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(name, f"{name} must be >= 1, got {getattr(self, name)}")
        if self.model_dim % self.num_heads:
            raise SettingsError("model_dim", f"model_dim {self.model_dim} must be divisible by num_heads {self.num_heads}")
        if self.readout not in READOUTS:
            raise SettingsError("readout", f"readout must be one of {READOUTS}, got {self.readout!r}")
        if not 0.0 <= self.attention_dropout <= 1.0:
            raise SettingsError("attention_dropout", f"attention_dropout must lie in [0, 1], got {self.attention_dropout}")



def sinusoidal_encoding(length: int, dim: int) -> torch.Tensor:
    """Vaswani et al. 2017: PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(same)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    encoding = torch.zeros(length, dim)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)[:, : dim // 2]
    return encoding


class TransformerHead(WindowHead):
    """projection to model_dim -> + positional encoding -> encoder layers -> read-out over time -> linear."""

    def __init__(self, config: TransformerHeadConfig):
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
            pooled = hidden[..., window_offset(frames), :]
        return torch.sigmoid(self.fc(self.dropout(pooled)))



# The report gives layers, heads and width; feed-forward width, attention dropout and read-out are ours.
@register_head(TRANSFORMER_KIND, config=TransformerHeadConfig, paper=BAIDU_REPORT,
               model_dim=64, num_layers=3, num_heads=4, feedforward_dim=256, attention_dropout=0.1, readout="max")
def transformer(config: TransformerHeadConfig) -> TransformerHead:
    return TransformerHead(config)
