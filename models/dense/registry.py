"""What every dense frame model is and gives, and the registry that builds them by name.

A dense model reads a clip of `clip_len` frames, already normalised, shape (B, T, 3, H, W) float, and scores
every frame: `DenseOutput.logits` (B, T, C + 1), column 0 the background and column 1 + c class c in the
model's class order (E2E-Spot and T-DEED both order them so). Some models give more per frame: T-DEED's
displacement to the frame's event (in frames) and sn-teamspotting's team logit (the event is by the team on
the right of the video). Inference needs to know how a model's frames are normalised and how a clip that runs
past the video's edge is padded (`DenseInput`): the two families differ and it changes the scores.

Models are registered builders, as timm's: `@register_dense_model("e2e-spot", paper=..., **defaults)` over a
function taking the model's config fields as keywords; `create_dense_model(name, **overrides)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import nn

from soccerspot.errors import DataError, SettingsError

# How frames outside the video are filled in a clip that runs past its start or end.
PAD_NORMALISED_ZERO = "normalised-zero"  # zeros after normalisation (E2E-Spot's F.pad of the normalised clip)
PAD_BLACK = "black"  # black frames before normalisation (T-DEED)
PADDINGS = (PAD_NORMALISED_ZERO, PAD_BLACK)


@dataclass(frozen=True)
class DenseOutput:
    """Per-frame outputs of a dense model for a batch of clips."""

    logits: torch.Tensor  # (B, T, C + 1), index 0 = background
    displacement: Optional[torch.Tensor] = None  # (B, T) offset to the frame's event in frames, or None
    team: Optional[torch.Tensor] = None  # (B, T) logit of "by the team on the right of the video", or None
    # (S, B, T, C + 1): every stage's logits of a multi-stage temporal layer (MS-TCN), `logits` the last; or None
    stages: Optional[torch.Tensor] = None


@dataclass(frozen=True)
class DenseInput:
    """How a dense model's frames are prepared: RGB in [0, 1], minus `mean`, over `std`, per channel;
    frames outside the video are `padding` (one of `PADDINGS`)."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    padding: str

    def __post_init__(self) -> None:
        if self.padding not in PADDINGS:
            raise SettingsError("padding", f"{self.padding!r} is not one of {', '.join(PADDINGS)}")

    def normalise(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames (..., 3, H, W) -> float, normalised as the model expects."""
        mean = torch.tensor(self.mean, dtype=torch.float32, device=frames.device).view(3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=frames.device).view(3, 1, 1)
        return (frames.float() / 255.0 - mean) / std


class DenseModel(nn.Module):
    """The interface every dense model keeps: `forward(x (B, T, 3, H, W) normalised) -> DenseOutput`.

    `clip_len` is the number of frames a clip must have (shorter ones are padded by the model itself where
    its source does so); `num_classes` the foreground classes C (the logits have C + 1 columns);
    `has_displacement` / `has_team` say which optional outputs `forward` fills; `input_spec` how to prepare
    frames."""

    clip_len: int
    num_classes: int
    has_displacement: bool = False
    has_team: bool = False
    displacement_radius: int = 0  # frames either side of an event whose displacement is trained (0: no head)
    # state-dict prefixes of the layers that name classes or teams: a run initialised from another task's
    # model (`train-dense --init-from`) leaves them fresh
    task_head_prefixes: tuple[str, ...] = ()
    input_spec: DenseInput

    def forward(self, x: torch.Tensor) -> DenseOutput:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class DenseModelEntry:
    """A registered dense model: its builder, the paper it comes from and its default settings."""

    name: str
    builder: Callable[..., DenseModel]
    paper: str
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, DenseModelEntry] = {}


def register_dense_model(name: str, *, paper: str, **defaults: Any) -> Callable:
    """Decorator: register `builder(**settings) -> DenseModel` under `name`, with its default settings."""

    def register(builder: Callable[..., DenseModel]) -> Callable[..., DenseModel]:
        if name in _REGISTRY:
            raise ValueError(f"dense model {name!r} is registered twice")
        _REGISTRY[name] = DenseModelEntry(name, builder, paper, dict(defaults))
        return builder

    return register


def list_dense_models() -> list[str]:
    return sorted(_REGISTRY)


def dense_model_entry(name: str) -> DenseModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SettingsError("model", f"unknown dense model {name!r}; known: {', '.join(list_dense_models())}") from None


def create_dense_model(name: str, **overrides: Any) -> DenseModel:
    """Build the registered model `name` with its defaults, then `overrides`."""
    entry = dense_model_entry(name)
    return entry.builder(**{**entry.defaults, **overrides})


# --- peer model folders ----------------------------------------------------------------------------------


@dataclass
class PeerDenseModel:
    """A peer's published model folder loaded as one of our dense models, with what its config says."""

    model: DenseModel  # in eval mode, the peer's weights loaded
    classes: tuple[str, ...]  # class names in the model's column order (column 1 + c is classes[c])
    frame_recipe: str  # the frames it was trained on (`extract.frame_recipes` names them)
    variant: str  # which peer code wrote it, e.g. "E2E-Spot"
    checkpoint: Path  # the weights file loaded


@dataclass(frozen=True)
class PeerDenseFormat:
    """How to recognise one peer's model folder and load it."""

    name: str
    recognises: Callable[[Path], bool]
    load: Callable[..., PeerDenseModel]


_PEER_FORMATS: dict[str, PeerDenseFormat] = {}


def register_dense_peer_format(name: str, *, recognises: Callable[[Path], bool]) -> Callable:
    """Decorator: `load(folder, **options) -> PeerDenseModel` for folders `recognises(folder)` accepts."""

    def register(load: Callable[..., PeerDenseModel]) -> Callable[..., PeerDenseModel]:
        _PEER_FORMATS[name] = PeerDenseFormat(name, recognises, load)
        return load

    return register


def list_dense_peer_formats() -> list[str]:
    return sorted(_PEER_FORMATS)


def dense_peer_format_of(folder: str | Path) -> Optional[str]:
    """The name of the registered peer format that recognises `folder`, or None (also for a non-folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    return next((name for name, peer_format in _PEER_FORMATS.items() if peer_format.recognises(folder)), None)


def load_dense_peer_folder(folder: str | Path, **options: Any) -> PeerDenseModel:
    """The peer model folder `folder` loaded by the first registered format that recognises it; a
    `DataError` naming the folder when none does."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "not a folder (a peer model folder holds a config and a checkpoint)")
    name = dense_peer_format_of(folder)
    if name is not None:
        return _PEER_FORMATS[name].load(folder, **options)
    raise DataError(folder, f"not a model folder of a known peer ({', '.join(list_dense_peer_formats()) or 'none registered'})")
