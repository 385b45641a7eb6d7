"""Head checkpoints: weights as a plain state_dict, everything else as JSON beside them.

Our format, a folder:

    model.pt      torch.save(model.state_dict())  -- tensors only, read with weights_only=True
    config.json   {"format": "soccerspot-head", "format_version": 1, "head": the head's family config
                   (its registered config's JSON, with "kind"), "classes": [...],
                   "fps": 2.0, "window_seconds": 15.0, "feature_settings": FeatureMeta.settings() of the
                   training features, "nms": {"kind", "window_seconds", "threshold"}, "training": {...}}

The weights are written first and the config last (both atomically), so a folder with a config is complete.
Folders written before the family configs hold one flat object of every family's fields under "head"; they
load unchanged.

Peer checkpoints: the SoccerNet baselines' `model.pth.tar` (`{"state_dict": ..., "epoch": ...}`), read with
`weights_only=True` and converted to our modules by the head that recognises them
(`models.heads.convert_peer_checkpoint`; the pooling baselines: `models/heads/pooling_head.py`). Their
window, frame rate, NMS and feature file come from the `training.log` beside the file when there is one,
else from the published defaults.

A file that needs more than tensors to load (pickled classes, code) is refused with `DataError`:
never unpickle a file a user handed us.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from soccerspot.data.features import seconds_to_rows
from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.classes import CLASS_NAMES_V1, CLASS_NAMES_V2
from soccerspot.errors import DataError
from soccerspot.data.weights_file import load_weights_only
from soccerspot.models.heads import (
    BaseHeadConfig, as_head_config, convert_peer_checkpoint, create_head, head_config_from_json,
)

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
PEER_FILE = "model.pth.tar"
PEER_LOG = "training.log"
FORMAT = "soccerspot-head"
FORMAT_VERSION = 1

@dataclass
class NmsSettings:
    kind: str = "hard"  # "hard" | "soft"
    window_seconds: float = 30.0
    threshold: float = 0.0

    def to_json(self) -> dict:
        return {"kind": self.kind, "window_seconds": self.window_seconds, "threshold": self.threshold}

    @classmethod
    def from_json(cls, obj: dict) -> "NmsSettings":
        return cls(kind=str(obj.get("kind", "hard")), window_seconds=float(obj.get("window_seconds", 30.0)),
                   threshold=float(obj.get("threshold", 0.0)))


@dataclass
class LoadedHead:
    """A head ready for inference (eval mode, on CPU) and what it needs to be used correctly."""

    model: nn.Module
    config: BaseHeadConfig
    classes: list[str]
    fps: float
    feature_settings: dict | None  # None for peer checkpoints (official feature files, not checked)
    nms: NmsSettings
    path: Path
    training: dict = field(default_factory=dict)
    peer: str | None = None  # which peer format, for peer checkpoints
    feature_name: str | None = None  # the feature file the head was trained on, when known

    @property
    def window_seconds(self) -> float:
        return self.config.window_frames / self.fps


# --- saving ----------------------------------------------------------------------------------------------


def save_checkpoint(
    out_dir: str | Path,
    model: nn.Module,
    head_config: BaseHeadConfig,
    *,
    classes: list[str],
    feature_settings: dict | None,
    fps: float,
    extra: dict | None = None,
    nms: NmsSettings | None = None,
) -> Path:
    """Write `out_dir/model.pt` (state_dict) then `out_dir/config.json`; returns `out_dir`.
    `extra` is free-form training information (run id, epoch, losses, ...) stored under "training"."""
    head_config = as_head_config(head_config)
    if len(classes) != head_config.num_classes:
        raise ValueError(f"{len(classes)} class names for a head with {head_config.num_classes} classes")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    with atomic_open(out_dir / MODEL_FILE, "wb") as handle:
        torch.save(state, handle)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "head": head_config.to_json(),
        "classes": list(classes),
        "fps": float(fps),
        "window_seconds": head_config.window_frames / float(fps),
        "feature_settings": feature_settings,
        "nms": (nms or NmsSettings()).to_json(),
        "training": extra or {},
    }
    write_json_atomic(out_dir / CONFIG_FILE, config)
    return out_dir


# --- loading ---------------------------------------------------------------------------------------------


def resolve_checkpoint(path: str | Path) -> tuple[Path, bool]:
    """(weights file, is_ours). A folder may hold ours (`model.pt` + `config.json`) or a peer's file."""
    path = Path(path)
    if path.is_dir():
        if (path / CONFIG_FILE).is_file() and (path / MODEL_FILE).is_file():
            return path / MODEL_FILE, True
        if (path / PEER_FILE).is_file():
            return path / PEER_FILE, False
        raise DataError(path, f"no checkpoint here: expected {MODEL_FILE} + {CONFIG_FILE}, or a peer {PEER_FILE}")
    if not path.is_file():
        raise DataError(path, "checkpoint not found")
    if path.name.endswith(".pth.tar") or not (path.parent / CONFIG_FILE).is_file():
        return path, False
    return path, True


def load_checkpoint(path: str | Path, *, window_frames: int | None = None, classes: list[str] | None = None) -> LoadedHead:
    """Load our checkpoint folder / `model.pt`, or a peer's `model.pth.tar`. For peer files,
    `window_frames` and `classes` override what the training log (or the published default) says."""
    weights, ours = resolve_checkpoint(path)
    if ours:
        return _load_ours(weights)
    return load_peer_checkpoint(weights, window_frames=window_frames, classes=classes)


def _state_dict_of(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise DataError(path, "expected a state_dict (a mapping of parameter names to tensors)")
    return obj


def _load_ours(weights: Path) -> LoadedHead:
    config_path = weights.parent / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(config_path, f"unreadable checkpoint config ({error})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise DataError(config_path, f'not a soccerspot head config (expected "format": "{FORMAT}")')
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise DataError(config_path, f"written by a newer soccerspot (format_version {config['format_version']})")
    try:
        head_config = head_config_from_json(config["head"])
        classes = [str(c) for c in config["classes"]]
        fps = float(config["fps"])
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(config_path, f"incomplete or invalid checkpoint config ({error})") from None
    if len(classes) != head_config.num_classes:
        raise DataError(config_path, f"{len(classes)} class names for a head with {head_config.num_classes} classes")
    state = _state_dict_of(load_weights_only(weights), weights)
    model = create_head(head_config)
    _load_state(model, state, weights)
    return LoadedHead(
        model=model.eval(),
        config=head_config,
        classes=classes,
        fps=fps,
        feature_settings=config.get("feature_settings"),
        nms=NmsSettings.from_json(config.get("nms") or {}),
        path=weights.parent,
        training=config.get("training") or {},
    )


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise DataError(path, f"weights do not fit the head described by its config: {error}") from None


# --- peer checkpoints ------------------------------------------------------------------------------------


def read_peer_log(path: Path) -> dict[str, str]:
    """The `Parameters:` block of a peer `training.log` ("  chunk_size : 20" lines), first value wins."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    pattern = re.compile(r"\[INFO \]\s+(\w+)\s+:\s(.*)$")
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = pattern.search(line)
        if match:
            values.setdefault(match.group(1), match.group(2).strip())
    return values


def _peer_classes(num_classes: int, path: Path) -> list[str]:
    if num_classes == len(CLASS_NAMES_V2):
        return list(CLASS_NAMES_V2)
    if num_classes == len(CLASS_NAMES_V1):  # v1 baselines label windows card -> 0, subs -> 1, soccer -> 2
        return list(CLASS_NAMES_V1)
    raise DataError(path, f"peer checkpoint with {num_classes} classes: pass the class names explicitly "
                          "(soccerspot spot --classes NAME,NAME,...)")


def _log_float(log: dict[str, str], key: str, default: float) -> float:
    try:
        return float(log[key])
    except (KeyError, ValueError):
        return default


def load_peer_checkpoint(path: str | Path, *, window_frames: int | None = None, classes: list[str] | None = None) -> LoadedHead:
    """A SoccerNet baseline `model.pth.tar` as a `LoadedHead` giving the peers' per-frame scores. The head
    that recognises the state dict converts it (`models.heads.convert_peer_checkpoint`); its window, frame
    rate, NMS and feature file come from the `training.log` beside the file, else the published defaults."""
    path = Path(path)
    raw = load_weights_only(path)
    state = _state_dict_of(raw, path)
    log = read_peer_log(path.parent / PEER_LOG)
    fps = _log_float(log, "framerate", 2.0)

    def logged_era(era: str) -> str:  # the log says which code trained it
        if "chunk_size" in log or "window_size" in log:
            return "pooling" if "chunk_size" in log else "temporally-aware"
        return era

    def window_seconds(era: str) -> float:
        # SoccerNet-v2 pooling baselines: windows of `chunk_size` seconds (20 by default)
        if logged_era(era) == "pooling":
            return _log_float(log, "chunk_size", 20.0)
        return _log_float(log, "window_size", 15.0)

    try:
        peer = convert_peer_checkpoint(state, pool=log.get("pool"),
                                       window_frames=lambda era: window_frames or seconds_to_rows(window_seconds(era), fps))
    except (KeyError, ValueError) as error:
        raise DataError(path, f"unrecognised peer checkpoint ({error}); keys: {', '.join(list(state)[:8])}") from None
    if logged_era(peer.era) == "pooling":
        # their test code calls NMS with its own defaults (40 frames, threshold 0), whatever the log says
        nms = NmsSettings("hard", 40 / fps, 0.0)
    else:
        nms = NmsSettings("hard", _log_float(log, "NMS_window", 30.0), _log_float(log, "NMS_threshold", 0.0))
    head_config = peer.config
    num_classes = head_config.num_classes
    class_names = list(classes) if classes is not None else _peer_classes(num_classes, path)
    if len(class_names) != num_classes:
        raise DataError(path, f"{len(class_names)} class names given (--classes) for a head with {num_classes} classes")
    model = create_head(head_config)
    _load_state(model, peer.state, path)
    features = log.get("features")
    return LoadedHead(
        model=model.eval(),
        config=head_config,
        classes=class_names,
        fps=fps,
        feature_settings=None,
        nms=nms,
        path=path,
        training={"log": log, "epoch": raw.get("epoch") if isinstance(raw, dict) else None},
        peer=peer.variant,
        feature_name=features[: -len(".npy")] if features and features.endswith(".npy") else features,
    )
