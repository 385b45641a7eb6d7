"""The head registry: what every head config has, and registered builders whose defaults are data.

Output convention (the peers' and ours): a head maps a window of frame features (batch, window_frames,
input_dim) to (batch, num_classes + 1) probabilities; column 0 is *background* ("no action in this
window"), column `1 + c` is class `c` in the checkpoint's class order; every column is an independent
sigmoid probability (multi-label). Inference drops column 0.

Every head scores a whole half itself: `half_probabilities(features (frames, dim) float32, *, progress)
-> (frames, C + 1)` keeps the convention per row. `WindowHead` gives window heads the exact per-window
path (one window around every row, `models.sliding.per_window_probabilities`); a head with a faster exact
path (pooling heads' window sums) or other outputs (CALF's chunks, RMS-Net's offsets) overrides it.

Heads are registered builders, as timm's models: `@register_head("netvlad++", config=PoolingHeadConfig,
paper=..., clusters=64, ...)` records the head's config type, the paper it comes from and its
hyper-parameters from that paper as data (`head_entry(kind)`); `head_config(kind, input_dim=...,
num_classes=..., window_frames=...)` fills a config from them and `create_head(config)` builds it.
A head whose published checkpoints come in another layout registers a converter
(`register_peer_converter`), timm's `checkpoint_filter_fn` idea: `convert_peer_checkpoint` tries them.

A config is stored as JSON beside the weights (`to_json`, read back with `head_config_from_json`).
Checkpoints written before the family configs stored one flat object holding every family's fields;
`head_config_from_json` still reads them (it keeps the fields of the head's family).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import torch
from torch import nn

from soccerspot.errors import SettingsError
from soccerspot.models.heads.context import RowContext, window_context
from soccerspot.models.sliding import per_window_probabilities

__all__ = [
    "BaseHeadConfig", "HeadEntry", "WindowHead", "PeerHead", "register_head", "head_entry", "list_heads",
    "head_config", "head_config_from_json", "as_head_config", "create_head", "register_peer_converter",
    "convert_peer_checkpoint",
]


@dataclass
class BaseHeadConfig:
    """What every head has. `window_frames` is the window length in feature rows (seconds x fps)."""

    kind: str = "netvlad++"
    input_dim: int = 2048
    num_classes: int = 17
    window_frames: int = 30
    dropout: float = 0.4  # before the classifier

    # Fields a family's stored configs may hold that it no longer has (a setting whose meaning was replaced):
    # dropped when a stored config is read (`from_json`, `head_config_from_json`).
    retired_fields: ClassVar[tuple[str, ...]] = ()

    def validate(self) -> "BaseHeadConfig":
        """Raise SettingsError naming the first invalid setting; returns self."""
        entry = head_entry(self.kind)
        if not isinstance(self, entry.config_type):
            raise SettingsError("kind", f"head {self.kind!r} takes a {entry.config_type.__name__}, not a {type(self).__name__}")
        for name in ("input_dim", "num_classes", "window_frames"):
            if int(getattr(self, name)) < 1:
                raise SettingsError(name, f"{type(self).__name__}.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout <= 1.0:
            raise SettingsError("dropout", f"dropout must lie in [0, 1], got {self.dropout}")
        self._validate_family()
        return self

    def _validate_family(self) -> None:
        """The family's own checks."""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> "BaseHeadConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        obj = {k: v for k, v in obj.items() if k not in cls.retired_fields}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise ValueError(f"unknown head config fields: {', '.join(unknown)}")
        return cls(**obj).validate()


class WindowHead(nn.Module):
    """A head that scores one window at a time; its whole-half scores are one window around every row.
    `fast_inference` says whether `half_probabilities` is faster than the per-window path (and equal)."""

    fast_inference = False

    def context_rows(self) -> RowContext:
        """A row's score is its window's: rows `[i - offset, i - offset + window_frames)`."""
        return window_context(self.config.window_frames)

    @torch.no_grad()
    def half_probabilities(self, features: torch.Tensor, *, progress: bool = False, batch_size: int = 256,
                           **_: Any) -> torch.Tensor:
        return per_window_probabilities(self, features, self.config.window_frames, batch_size=batch_size,
                                        progress=progress)


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


def list_heads(task: str | None = "spotting") -> list[str]:
    """The registered heads of `task` (None: all)."""
    return sorted(kind for kind, entry in _HEADS.items() if task is None or entry.task == task)


def head_entry(kind: str) -> HeadEntry:
    if kind not in _HEADS:
        raise SettingsError("kind", f"unknown head kind {kind!r}; known: {', '.join(list_heads(None))}")
    return _HEADS[kind]


def head_config(kind: str, *, input_dim: int, num_classes: int, window_frames: int, **overrides: Any) -> BaseHeadConfig:
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


def _family_fields() -> set[str]:
    """Every field of every registered family config: checkpoints written before the family configs stored
    one flat object with all of them (`head_config_from_json` reads it, keeping its family's fields)."""
    return {f.name for entry in _HEADS.values() for f in dataclasses.fields(entry.config_type)}


def as_head_config(config: BaseHeadConfig) -> BaseHeadConfig:
    """A family config, validated."""
    if not isinstance(config, BaseHeadConfig):
        raise TypeError(f"not a head config: {type(config).__name__}")
    return config.validate()


def head_config_from_json(obj: Mapping[str, Any]) -> BaseHeadConfig:
    """A stored head config: a family config's JSON, or the flat JSON of older checkpoints (every family's
    fields in one object; the other families' are dropped), less its family's `retired_fields`. Unknown
    fields raise ValueError."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"a head config is a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind", BaseHeadConfig.kind)
    config_type = head_entry(kind).config_type
    own = {f.name for f in dataclasses.fields(config_type)}
    obj = {k: v for k, v in obj.items() if k not in config_type.retired_fields}
    unknown = sorted(set(obj) - own - _family_fields())
    if unknown:
        raise ValueError(f"unknown head config fields: {', '.join(unknown)}")
    return config_type(**{name: value for name, value in obj.items() if name in own}).validate()


def create_head(config: BaseHeadConfig) -> nn.Module:
    """The head described by `config` (randomly initialised; load weights with `load_state_dict`)."""
    config = as_head_config(config)
    return head_entry(config.kind).builder(config)


# --- peer checkpoints -------------------------------------------------------------------------------------


@dataclass
class PeerHead:
    """A peer checkpoint's state dict converted to one of our heads, with what its weights say."""

    config: BaseHeadConfig
    state: dict[str, torch.Tensor]
    variant: str  # which peer code wrote it, e.g. "sn-spotting netvlad++"
    era: str  # which generation of that code (decides the window and NMS defaults of its log)


# converter(state, *, pool, window_frames) -> PeerHead, or raises ValueError when the state is not its kind
PeerConverter = Callable[..., PeerHead]
_PEER_CONVERTERS: dict[str, PeerConverter] = {}


def register_peer_converter(name: str) -> Callable[[PeerConverter], PeerConverter]:
    def register(converter: PeerConverter) -> PeerConverter:
        _PEER_CONVERTERS[name] = converter
        return converter

    return register


def convert_peer_checkpoint(state: dict[str, torch.Tensor], *, pool: str | None = None,
                            window_frames: Callable[[str], int]) -> PeerHead:
    """A peer state dict as one of our heads: the first registered converter that recognises it.
    `window_frames(era)` gives the window length in rows for the era the converter finds.
    Raises ValueError naming what no converter recognised."""
    reasons = []
    for name, converter in _PEER_CONVERTERS.items():
        try:
            return converter(state, pool=pool, window_frames=window_frames)
        except (KeyError, ValueError) as error:
            reasons.append(f"{name}: {error}")
    raise ValueError("; ".join(reasons) or "no peer checkpoint converter is registered")
