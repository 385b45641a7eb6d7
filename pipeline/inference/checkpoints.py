"""Head checkpoints: weights as a plain state_dict, everything else as JSON beside them.

Our format, a folder:

    model.pt      torch.save(model.state_dict())  -- tensors only, read with weights_only=True
    config.json   {"format": "soccerspot-head", "format_version": 1, "head": the head's family config
                   (`PoolingHeadConfig` / `TransformerHeadConfig` JSON, with "kind"), "classes": [...],
                   "fps": 2.0, "window_seconds": 15.0, "feature_settings": FeatureMeta.settings() of the
                   training features, "nms": {"kind", "window_seconds", "threshold"}, "training": {...}}

The weights are written first and the config last (both atomically), so a folder with a config is complete.
Folders written before the family configs hold one flat object of every family's fields under "head"; they
load unchanged.

Peer checkpoints: the SoccerNet baselines' `model.pth.tar` (`{"state_dict": ..., "epoch": ...}`), read with
`weights_only=True` and converted to our modules (`convert_peer_state_dict`). Supported: sn-spotting /
OSL-ActionSpotting NetVLAD++ and NetRVLAD++ (`pool_layer_before.clusters[2]`), their single NetVLAD /
NetRVLAD (`pool_layer.clusters[2]`), the SoccerNet-v2 "Pooling" baselines' NetVLAD
(`pool_layer.centroids` + `pool_layer.conv.weight`) and max/avg pooling (`fc.*` only). Their window, frame
rate, NMS and feature file come from the `training.log` beside the file when there is one, else from
the published defaults.

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

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.classes import CLASS_NAMES_V1, CLASS_NAMES_V2
from soccerspot.data.errors import DataError
from soccerspot.data.weights_file import load_weights_only
from soccerspot.models.heads import (
    AnyHeadConfig, BaseHeadConfig, PoolingHeadConfig, as_head_config, build_head, head_config_from_json,
)

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
PEER_FILE = "model.pth.tar"
PEER_LOG = "training.log"
FORMAT = "soccerspot-head"
FORMAT_VERSION = 1

# sn-spotting `--pool` values -> our head kinds
PEER_POOLS = {
    "MAX": "maxpool", "MAX++": "maxpool++", "AVG": "avgpool", "AVG++": "avgpool++",
    "NetVLAD": "netvlad", "NetVLAD++": "netvlad++", "NetRVLAD": "netrvlad", "NetRVLAD++": "netrvlad++",
}
_PEER_PREFIXES = ("module.", "model.", "backbone.", "neck.", "head.")


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
    config: AnyHeadConfig
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
    model = build_head(head_config)
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


def _strip_peer_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    stripped = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in _PEER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        stripped[key] = value
    return stripped


def _dim_major_fc_to_cluster_major(weight: torch.Tensor, parts: int, dim: int, clusters: int) -> torch.Tensor:
    """The peers flatten VLAD as (dim, clusters) per part; ours is (clusters, dim)."""
    outputs = weight.shape[0]
    return weight.reshape(outputs, parts, dim, clusters).transpose(2, 3).reshape(outputs, -1).contiguous()


@dataclass
class PeerModel:
    """A peer state dict converted to ours, with what the weights alone say about the head."""

    variant: str
    kind: str
    state: dict[str, torch.Tensor]
    input_dim: int
    projection_dim: int | None
    clusters: int
    num_classes: int
    era: str  # "pooling" (SoccerNet-v2 baselines, 2021-02) | "temporally-aware" (sn-spotting / OSL)


def convert_peer_state_dict(state: dict[str, torch.Tensor], pool: str | None = None) -> PeerModel:
    """Map a peer state dict onto our modules. `pool` (the log's `--pool`) disambiguates fc-only files."""
    state = _strip_peer_prefixes(state)
    ours: dict[str, torch.Tensor] = {}
    projection_dim = None
    if "feature_extractor.weight" in state:
        ours["projection.weight"] = state["feature_extractor.weight"]
        ours["projection.bias"] = state["feature_extractor.bias"]
        projection_dim, input_dim = state["feature_extractor.weight"].shape
    fc_weight, fc_bias = state.get("fc.weight"), state.get("fc.bias")
    if fc_weight is None or fc_bias is None:
        raise ValueError("no fc.weight / fc.bias: not a SoccerNet pooling baseline")
    num_classes = fc_weight.shape[0] - 1
    clusters = 64
    if "pool_layer_before.clusters" in state:  # sn-spotting / OSL temporally-aware VLAD
        has_centres = "pool_layer_before.clusters2" in state
        kind = "netvlad++" if has_centres else "netrvlad++"
        dim, half = state["pool_layer_before.clusters"].shape
        clusters = 2 * half
        for peer_name, our_name in (("pool_layer_before", "pooling.past"), ("pool_layer_after", "pooling.future")):
            ours[f"{our_name}.assignment.weight"] = state[f"{peer_name}.clusters"].t().contiguous()
            if has_centres:
                ours[f"{our_name}.centers"] = state[f"{peer_name}.clusters2"][0].t().contiguous()
        ours["fc.weight"] = _dim_major_fc_to_cluster_major(fc_weight, 2, dim, half)
        variant, era = f"sn-spotting {kind}", "temporally-aware"
    elif "pool_layer.clusters" in state:  # sn-spotting single NetVLAD / NetRVLAD
        has_centres = "pool_layer.clusters2" in state
        kind = "netvlad" if has_centres else "netrvlad"
        dim, clusters = state["pool_layer.clusters"].shape
        ours["pooling.assignment.weight"] = state["pool_layer.clusters"].t().contiguous()
        if has_centres:
            ours["pooling.centers"] = state["pool_layer.clusters2"][0].t().contiguous()
        ours["fc.weight"] = _dim_major_fc_to_cluster_major(fc_weight, 1, dim, clusters)
        variant, era = f"sn-spotting {kind}", "temporally-aware"
    elif "pool_layer.centroids" in state:  # SoccerNet-v2 "Pooling" baseline NetVLAD (1x1 conv, no bias)
        kind = "netvlad"
        clusters, dim = state["pool_layer.centroids"].shape
        conv = state["pool_layer.conv.weight"]
        ours["pooling.assignment.weight"] = conv.reshape(conv.shape[0], conv.shape[1]).contiguous()
        if "pool_layer.conv.bias" in state:
            ours["pooling.assignment.bias"] = state["pool_layer.conv.bias"]
        ours["pooling.centers"] = state["pool_layer.centroids"]
        ours["fc.weight"] = fc_weight
        variant, era = "soccernet-v2 pooling netvlad", "pooling"
    else:  # max / avg pooling: only the classifier has weights
        kind = PEER_POOLS.get(pool or "MAX")
        if kind is None or kind.startswith("net"):
            raise ValueError(f"fc-only checkpoint but the log says pool {pool!r}")
        width = fc_weight.shape[1]
        dim = width // 2 if kind.endswith("++") else width
        # without a log, a bare max/avg pooling over raw features is taken for the SoccerNet-v2 baseline
        era = "pooling" if projection_dim is None and not kind.endswith("++") else "temporally-aware"
        variant = f"soccernet {kind}"
        ours["fc.weight"] = fc_weight
    ours["fc.bias"] = fc_bias
    if projection_dim is None:
        input_dim = dim
    elif projection_dim != dim:
        raise ValueError(f"projection gives {projection_dim}-d frames but the pooling expects {dim}-d")
    return PeerModel(variant, kind, ours, int(input_dim), None if projection_dim is None else int(projection_dim),
                     int(clusters), int(num_classes), era)


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
    """A SoccerNet baseline `model.pth.tar` as a `LoadedHead` giving the peers' per-frame scores."""
    path = Path(path)
    raw = load_weights_only(path)
    state = _state_dict_of(raw, path)
    log = read_peer_log(path.parent / PEER_LOG)
    try:
        peer = convert_peer_state_dict(state, log.get("pool"))
    except (KeyError, ValueError) as error:
        raise DataError(path, f"unrecognised peer checkpoint ({error}); keys: {', '.join(list(state)[:8])}") from None
    fps = _log_float(log, "framerate", 2.0)
    era = peer.era
    if "chunk_size" in log or "window_size" in log:  # the log says which code trained it
        era = "pooling" if "chunk_size" in log else "temporally-aware"
    if era == "pooling":
        # SoccerNet-v2 pooling baselines: windows of `chunk_size` seconds (20 by default); their test code
        # calls NMS with its own defaults (40 frames, threshold 0), whatever the log's NMS_* values say.
        seconds = _log_float(log, "chunk_size", 20.0)
        nms = NmsSettings("hard", 40 / fps, 0.0)
    else:
        seconds = _log_float(log, "window_size", 15.0)
        nms = NmsSettings("hard", _log_float(log, "NMS_window", 30.0), _log_float(log, "NMS_threshold", 0.0))
    frames = window_frames or int(round(seconds * fps))
    head_config = PoolingHeadConfig(
        kind=peer.kind,
        input_dim=peer.input_dim,
        num_classes=peer.num_classes,
        window_frames=frames,
        clusters=peer.clusters,
        projection_dim=peer.projection_dim,
        assignment_bias="pooling.assignment.bias" in peer.state,
        normalize_input=True,
    )
    if peer.kind.startswith("net") and peer.kind.endswith("++"):
        head_config.assignment_bias = "pooling.past.assignment.bias" in peer.state
    try:
        head_config.validate()
    except ValueError as error:
        raise DataError(path, str(error)) from None
    class_names = list(classes) if classes is not None else _peer_classes(peer.num_classes, path)
    if len(class_names) != peer.num_classes:
        raise DataError(path, f"{len(class_names)} class names given (--classes) for a head with {peer.num_classes} classes")
    model = build_head(head_config)
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
