"""Spotting heads: a window of frame features (batch, window_frames, input_dim) -> class probabilities
(batch, num_classes + 1).

Output convention (the peers' and ours): column 0 is *background* ("no action in this window"), column
`1 + c` is class `c` in the checkpoint's class order; every column is an independent sigmoid probability
(multi-label: several actions can share a window). Inference drops column 0. A head that scores a whole
half itself (`half_probabilities`, e.g. RMS-Net in `models.rmsnet`) may return other outputs per window;
its `half_probabilities` keeps this convention per row.

Two families, one config type each:

- `PoolingHead` (`PoolingHeadConfig`) — Giancola & Ghanem, "Temporally-Aware Feature Pooling for Action
  Spotting in Soccer Broadcasts", CVPR-W 2021 (and the SoccerNet-v2 pooling baselines): optional learned
  linear projection (2048 -> 512), a temporal pooling from `models.pooling`, dropout 0.4, linear layer to
  C+1, sigmoid.
- `TransformerHead` (`TransformerHeadConfig`) — Zhou et al., "Feature Combination Meets Attention: Baidu
  Soccer Embeddings and Transformer based Temporal Detection", 2021: linear projection to a 64-d model,
  sine/cosine positional encoding, 3 encoder layers with 4 heads, max over time, dropout, linear layer to
  C+1, sigmoid. (The report gives layers, heads and width; the read-out over time is ours: max, like the
  pooling baselines; `readout="mean"` or `"center"` are the alternatives.)

Heads are registered builders, as timm's models: `@register_head("netvlad++", config=PoolingHeadConfig,
paper=..., clusters=64, ...)` records the head's config type, the paper it comes from and its
hyper-parameters from that paper as data (`head_entry(kind)`); `head_config(kind, input_dim=...,
num_classes=..., window_frames=...)` fills a config from them and `build_head(config)` builds it.

A config is stored as JSON beside the weights (`to_json`, read back with `head_config_from_json`).
Checkpoints written before the family configs stored one flat object holding every family's fields;
`head_config_from_json` still reads them (it keeps the fields of the head's family).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from soccerspot.models.sliding import window_offset
from soccerspot.models.pooling import TEMPORALLY_AWARE_PAPER, WindowPooling, build_pooling, pooling_paper

__all__ = [
    "BaseHeadConfig",
    "PoolingHeadConfig",
    "TransformerHeadConfig",
    "AnyHeadConfig",
    "HeadEntry",
    "PoolingHead",
    "TransformerHead",
    "register_head",
    "head_entry",
    "head_kinds",
    "head_config",
    "head_config_from_json",
    "as_head_config",
    "build_head",
    "sinusoidal_encoding",
]

TRANSFORMER_KIND = "transformer"
READOUTS = ("max", "mean", "center")
BAIDU_REPORT = ("Zhou et al., 'Feature Combination Meets Attention: Baidu Soccer Embeddings and Transformer based "
                "Temporal Detection', technical report 2021 (arXiv 2106.14447)")


# --- configs ---------------------------------------------------------------------------------------------


@dataclass
class BaseHeadConfig:
    """What every head has. `window_frames` is the window length in feature rows (seconds x fps)."""

    kind: str = "netvlad++"
    input_dim: int = 2048
    num_classes: int = 17
    window_frames: int = 30
    dropout: float = 0.4  # before the classifier

    def validate(self) -> "BaseHeadConfig":
        """Raise ValueError naming the first invalid setting; returns self."""
        entry = head_entry(self.kind)
        if not isinstance(self, entry.config_type):
            raise ValueError(f"head {self.kind!r} takes a {entry.config_type.__name__}, not a {type(self).__name__}")
        for name in ("input_dim", "num_classes", "window_frames"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{type(self).__name__}.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout <= 1.0:
            raise ValueError(f"dropout must lie in [0, 1], got {self.dropout}")
        self._validate_family()
        return self

    def _validate_family(self) -> None:
        """The family's own checks."""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> "BaseHeadConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise ValueError(f"unknown head config fields: {', '.join(unknown)}")
        return cls(**obj).validate()


@dataclass
class PoolingHeadConfig(BaseHeadConfig):
    """A `PoolingHead`: `kind` is the name of its pooling layer (`models.pooling.pooling_names()`)."""

    clusters: int = 64  # K for NetVLAD/NetRVLAD ("++": K/2 per half); unused by max/avg pooling
    projection_dim: int | None = 512  # learned linear projection before pooling; None = pool raw features
    assignment_bias: bool = True  # bias of the soft-assignment layer (peers' layers have none)
    normalize_input: bool = True  # L2-normalise each frame before the VLAD soft assignment

    @property
    def pooled_dim(self) -> int:
        """Width of the features that reach the pooling layer."""
        return self.projection_dim or self.input_dim

    def _validate_family(self) -> None:
        vlad = self.kind.startswith("net")
        if self.kind.endswith("++") and self.window_frames < 2:
            raise ValueError(f"{self.kind} splits the window in two: window_frames must be >= 2")
        if vlad and self.clusters < 1:
            raise ValueError(f"{self.kind} needs clusters >= 1, got {self.clusters}")
        if vlad and self.kind.endswith("++") and self.clusters % 2:
            raise ValueError(f"{self.kind} gives K/2 clusters to each half: clusters must be even, got {self.clusters}")
        if self.projection_dim is not None and self.projection_dim < 1:
            raise ValueError(f"projection_dim must be None or >= 1, got {self.projection_dim}")


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
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.model_dim % self.num_heads:
            raise ValueError(f"model_dim {self.model_dim} must be divisible by num_heads {self.num_heads}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if not 0.0 <= self.attention_dropout <= 1.0:
            raise ValueError(f"attention_dropout must lie in [0, 1], got {self.attention_dropout}")


AnyHeadConfig = PoolingHeadConfig | TransformerHeadConfig


def _family_fields() -> set[str]:
    """Every field of every registered family config: checkpoints written before the family configs stored
    one flat object with all of them (`head_config_from_json` reads it, keeping its family's fields)."""
    return {f.name for entry in _HEADS.values() for f in dataclasses.fields(entry.config_type)}


def as_head_config(config: BaseHeadConfig) -> AnyHeadConfig:
    """A family config, validated."""
    if not isinstance(config, BaseHeadConfig):
        raise TypeError(f"not a head config: {type(config).__name__}")
    return config.validate()


def head_config_from_json(obj: Mapping[str, Any]) -> AnyHeadConfig:
    """A stored head config: a family config's JSON, or the flat JSON of older checkpoints (every family's
    fields in one object; the other families' are dropped). Unknown fields raise ValueError."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"a head config is a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind", BaseHeadConfig.kind)
    config_type = head_entry(kind).config_type
    own = {f.name for f in dataclasses.fields(config_type)}
    unknown = sorted(set(obj) - own - _family_fields())
    if unknown:
        raise ValueError(f"unknown head config fields: {', '.join(unknown)}")
    return config_type(**{name: value for name, value in obj.items() if name in own}).validate()


class PoolingHead(nn.Module):
    """projection -> temporal pooling -> dropout -> linear -> sigmoid."""

    def __init__(self, config: PoolingHeadConfig):
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


# --- registry of builders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadEntry:
    """A registered head: its builder, config type, source and hyper-parameters from that source."""

    kind: str
    builder: Callable[[Any], nn.Module]
    config_type: type
    paper: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    task: str = "spotting"  # what the head's outputs mean: "spotting" (this module's convention) or "grounding"


_HEADS: dict[str, HeadEntry] = {}


def register_head(kind: str, *, config: type, paper: str, task: str = "spotting", **defaults: Any) -> Callable:
    """Register `builder(config) -> nn.Module` under `kind`; `defaults` are config fields from `paper`;
    `task` says what its outputs are (spotting heads follow this module's convention)."""
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(defaults) - names)
    if unknown:
        raise ValueError(f"defaults of head {kind!r} name fields {config.__name__} lacks: {', '.join(unknown)}")

    def register(builder: Callable[[Any], nn.Module]) -> Callable[[Any], nn.Module]:
        if kind in _HEADS:
            raise ValueError(f"head {kind!r} is registered twice")
        _HEADS[kind] = HeadEntry(kind, builder, config, paper, dict(defaults), task)
        return builder

    return register


def head_kinds(task: str | None = "spotting") -> list[str]:
    """The registered heads of `task` (None: all)."""
    return sorted(kind for kind, entry in _HEADS.items() if task is None or entry.task == task)


def head_entry(kind: str) -> HeadEntry:
    if kind not in _HEADS:
        raise ValueError(f"unknown head kind {kind!r}; known: {', '.join(head_kinds(None))}")
    return _HEADS[kind]


def head_config(kind: str, *, input_dim: int, num_classes: int, window_frames: int, **overrides: Any) -> AnyHeadConfig:
    """The config of head `kind` with its registered defaults, then `overrides` (validated).
    Fields its family does not have raise ValueError."""
    entry = head_entry(kind)
    names = {f.name for f in dataclasses.fields(entry.config_type)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"head {kind!r} ({entry.config_type.__name__}) has no settings {', '.join(unknown)}")
    values = {**entry.defaults, **overrides}
    return entry.config_type(kind=kind, input_dim=input_dim, num_classes=num_classes, window_frames=window_frames,
                             **values).validate()


def build_head(config: BaseHeadConfig) -> nn.Module:
    """The head described by `config` (randomly initialised; load weights with `load_state_dict`)."""
    config = as_head_config(config)
    return head_entry(config.kind).builder(config)


# The NetVLAD++ paper's recipe, which its pooling ablation keeps for every pooling layer.
PAPER_POOLING = dict(clusters=64, projection_dim=512, dropout=0.4)


@register_head("netvlad++", config=PoolingHeadConfig, paper=TEMPORALLY_AWARE_PAPER, **PAPER_POOLING)
def netvlad_temporally_aware(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("netrvlad++", config=PoolingHeadConfig, paper=TEMPORALLY_AWARE_PAPER, **PAPER_POOLING)
def netrvlad_temporally_aware(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("maxpool++", config=PoolingHeadConfig, paper=TEMPORALLY_AWARE_PAPER, **PAPER_POOLING)
def maxpool_temporally_aware(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("avgpool++", config=PoolingHeadConfig, paper=TEMPORALLY_AWARE_PAPER, **PAPER_POOLING)
def avgpool_temporally_aware(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("netvlad", config=PoolingHeadConfig, paper=f"{pooling_paper('netvlad')}; {TEMPORALLY_AWARE_PAPER}",
               **PAPER_POOLING)
def netvlad(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("netrvlad", config=PoolingHeadConfig,
               paper=f"{pooling_paper('netrvlad')}; {TEMPORALLY_AWARE_PAPER}", **PAPER_POOLING)
def netrvlad(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("maxpool", config=PoolingHeadConfig, paper=f"{pooling_paper('maxpool')}; {TEMPORALLY_AWARE_PAPER}",
               **PAPER_POOLING)
def maxpool(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


@register_head("avgpool", config=PoolingHeadConfig, paper=f"{pooling_paper('avgpool')}; {TEMPORALLY_AWARE_PAPER}",
               **PAPER_POOLING)
def avgpool(config: PoolingHeadConfig) -> PoolingHead:
    return PoolingHead(config)


# The report gives layers, heads and width; feed-forward width, attention dropout and read-out are ours.
@register_head(TRANSFORMER_KIND, config=TransformerHeadConfig, paper=BAIDU_REPORT,
               model_dim=64, num_layers=3, num_heads=4, feedforward_dim=256, attention_dropout=0.1, readout="max")
def transformer(config: TransformerHeadConfig) -> TransformerHead:
    return TransformerHead(config)


from soccerspot.models import rmsnet as _rmsnet  # noqa: E402,F401  registers the rmsnet head
from soccerspot.models import calf as _calf  # noqa: E402,F401  registers the calf head
from soccerspot.models import grounding_head as _grounding  # noqa: E402,F401  registers the baidu-grounding head
