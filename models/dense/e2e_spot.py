"""E2E-Spot (Hong et al., ECCV 2022): a RegNetY with a temporal shift in every block, a temporal layer over
the per-frame features, and a linear layer giving C + 1 logits per frame (column 0 background).

As in E2E-Spot's `train_e2e.py` (`E2EModel.Impl`) and `model/modules.py`:
- `feature_arch` `rny002` / `rny008` = timm `regnety_002` / `regnety_008` without their classifier; the
  suffix `_tsm` / `_gsm` inserts TSM / GSM before the first convolution of every block of s1–s4
  (`temporal_shift.ShiftedRegNet`; E2E-Spot's TSM shifts in place, so its blocks' shortcuts are shifted too).
- A shifted model needs clips of exactly `clip_len` frames: a shorter clip is padded at its end with zeros
  (the input is already normalised, so zeros are the mean colour) and the padded frames' features dropped.
- `temporal_arch`: `gru` (one bidirectional GRU layer, hidden size the feature size capped at 768, dropout
  0.5 (`dropout`), a linear layer), `deeper_gru` (three GRU layers), `mstcn` (MS-TCN: three stages of five dilated
  residual layers of 256 channels; the later stages read the softmax of the previous one), `` (a linear
  layer per frame).
- Frames: RGB, ImageNet mean and std; the published configs say `crop_dim: null` (whole 398×224 frames).

`load_e2e_spot_folder` reads a model folder as their code writes and publishes it (`config.json` +
`checkpoint_NNN.pt`, a bare `state_dict` of `E2EModel.Impl`; `module.` removed if present): the config's
`dataset` decides the classes and the frame recipe. timm 0.5.4 (E2E-Spot's `requirements.txt` minimum) and
timm 1.0.31 name `regnety_002` / `regnety_008`'s weights identically (same keys and shapes) and, given the same
weights, give bit-identical features (checked once with the 0.5.4 wheel; 0.6.12's `regnet.py` uses the same
module names), so only the shift wrappers and the temporal layer are renamed.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from soccerspot.errors import DataError, SettingsError
from soccerspot.models.backbones import IMAGENET_MEAN, IMAGENET_STD
from soccerspot.models.dense.registry import (
    PAD_NORMALISED_ZERO, DenseInput, DenseModel, DenseOutput, PeerDenseModel, register_dense_model,
    register_dense_peer_format,
)
from soccerspot.models.dense.temporal_shift import ShiftedRegNet, create_shifted_regnet, peer_renames
from soccerspot.models.papers import E2E_SPOT_PAPER
from soccerspot.models.state_dict import strip_prefixes

__all__ = ["E2ESpot", "E2ESpotConfig", "FEATURE_ARCHS", "TEMPORAL_ARCHS", "E2E_SPOT_DATASETS", "e2e_spot",
           "convert_e2e_spot_state", "e2e_spot_config_from_peer", "load_e2e_spot_folder"]

MAX_GRU_HIDDEN = 768  # E2E-Spot's MAX_GRU_HIDDEN_DIM: "cap it at a RegNet-Y 800MF"


@dataclass(frozen=True)
class FeatureArch:
    timm_name: str
    shift: Optional[str]  # "tsm", "gsm" or None


FEATURE_ARCHS: dict[str, FeatureArch] = {
    f"{short}{suffix}": FeatureArch(timm_name, shift)
    for short, timm_name in (("rny002", "regnety_002"), ("rny008", "regnety_008"))
    for suffix, shift in (("", None), ("_tsm", "tsm"), ("_gsm", "gsm"))
}
TEMPORAL_ARCHS = ("gru", "deeper_gru", "mstcn", "")


@dataclass
class E2ESpotConfig:
    """An E2E-Spot model: `num_classes` foreground classes (C + 1 logits), E2E-Spot's `feature_arch` and
    `temporal_arch` names, the clip length the shift is built for, and whether the backbone starts from
    timm's ImageNet weights."""

    num_classes: int = 17
    feature_arch: str = "rny002_gsm"
    temporal_arch: str = "gru"
    clip_len: int = 100
    pretrained: bool = False
    dropout: float = 0.5  # theirs, in the GRU and MS-TCN layers (0: a run that must equal another exactly)

    def validate(self) -> "E2ESpotConfig":
        if self.feature_arch not in FEATURE_ARCHS:
            raise SettingsError("feature_arch", f"unknown E2E-Spot feature_arch {self.feature_arch!r}; "
                                                f"known: {', '.join(FEATURE_ARCHS)}")
        if self.temporal_arch not in TEMPORAL_ARCHS:
            raise SettingsError("temporal_arch", f"unknown E2E-Spot temporal_arch {self.temporal_arch!r}; "
                                                 f"known: {', '.join(repr(a) for a in TEMPORAL_ARCHS)}")
        if self.num_classes < 1:
            raise SettingsError("num_classes", f"must be at least 1, got {self.num_classes}")
        if self.clip_len < 1:
            raise SettingsError("clip_len", f"must be at least 1, got {self.clip_len}")
        if not 0.0 <= self.dropout < 1.0:
            raise SettingsError("dropout", f"must lie in [0, 1), got {self.dropout}")
        return self


# --- temporal layers ---------------------------------------------------------------------------------------


class GRUSpotter(nn.Module):
    """Bidirectional GRU over the clip's features, dropout (theirs 0.5), a linear layer per frame."""

    def __init__(self, feature_dim: int, outputs: int, *, layers: int, dropout: float = 0.5):
        super().__init__()
        hidden = min(feature_dim, MAX_GRU_HIDDEN)
        self.gru = nn.GRU(feature_dim, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * hidden, outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(features)
        return self.fc(self.dropout(states))


class LinearSpotter(nn.Module):
    """One linear layer per frame (E2E-Spot's `temporal_arch ''`)."""

    def __init__(self, feature_dim: int, outputs: int):
        super().__init__()
        self.fc = nn.Linear(feature_dim, outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)


class DilatedResidual(nn.Module):
    """MS-TCN's layer: x + dropout(conv1x1(relu(dilated conv3(x))))."""

    def __init__(self, channels: int, dilation: int, dropout: float = 0.5):
        super().__init__()
        self.dilated = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.pointwise = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.pointwise(F.relu(self.dilated(x))))


class TCNStage(nn.Module):
    """One MS-TCN stage over (B, T, D): a 1×1 projection, `layers` dilated residual layers (dilation 2^i),
    a 1×1 output convolution."""

    def __init__(self, in_dim: int, outputs: int, *, channels: int = 256, layers: int = 5, dropout: float = 0.5):
        super().__init__()
        self.project = nn.Conv1d(in_dim, channels, 1)
        self.layers = nn.ModuleList([DilatedResidual(channels, 2 ** i, dropout) for i in range(layers)])
        self.out = nn.Conv1d(channels, outputs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project(x.transpose(1, 2))
        for layer in self.layers:
            x = layer(x)
        return self.out(x).transpose(1, 2)


class MSTCNSpotter(nn.Module):
    """MS-TCN (Farha & Gall, CVPR 2019) as E2E-Spot configures it: 3 stages; (S, B, T, C + 1)."""

    def __init__(self, feature_dim: int, outputs: int, *, stages: int = 3, dropout: float = 0.5):
        super().__init__()
        self.stages = nn.ModuleList([TCNStage(feature_dim if i == 0 else outputs, outputs, dropout=dropout)
                                     for i in range(stages)])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits = [self.stages[0](features)]
        for stage in self.stages[1:]:
            logits.append(stage(torch.softmax(logits[-1], dim=2)))
        return torch.stack(logits)


def _temporal_layer(arch: str, feature_dim: int, outputs: int, dropout: float = 0.5) -> nn.Module:
    if arch == "gru":
        return GRUSpotter(feature_dim, outputs, layers=1, dropout=dropout)
    if arch == "deeper_gru":
        return GRUSpotter(feature_dim, outputs, layers=3, dropout=dropout)
    if arch == "mstcn":
        return MSTCNSpotter(feature_dim, outputs, dropout=dropout)
    return LinearSpotter(feature_dim, outputs)


# --- the model ---------------------------------------------------------------------------------------------


class E2ESpot(DenseModel):
    """E2E-Spot: (B, T ≤ clip_len, 3, H, W) normalised frames -> per-frame logits (B, T, C + 1)."""

    def __init__(self, config: E2ESpotConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.clip_len = config.clip_len
        self.num_classes = config.num_classes
        self.input_spec = DenseInput(IMAGENET_MEAN, IMAGENET_STD, PAD_NORMALISED_ZERO)
        arch = FEATURE_ARCHS[config.feature_arch]
        self.features: ShiftedRegNet = create_shifted_regnet(
            arch.timm_name, kind=arch.shift, clip_len=config.clip_len, shift_shortcut=arch.shift == "tsm",
            pretrained=config.pretrained)
        self.temporal = _temporal_layer(config.temporal_arch, self.features.feature_dim, config.num_classes + 1,
                                        config.dropout)

    def forward(self, x: torch.Tensor) -> DenseOutput:
        length = x.shape[1]
        if self.features.kind is not None:
            if length > self.clip_len:
                raise ValueError(f"clips of at most {self.clip_len} frames, got {length}")
            x = F.pad(x, (0, 0, 0, 0, 0, 0, 0, self.clip_len - length))  # zeros after the last frame
        features = self.features(x)[:, :length]
        logits = self.temporal(features)
        if logits.dim() == 4:  # MS-TCN: every stage's logits
            return DenseOutput(logits=logits[-1], stages=logits)
        return DenseOutput(logits=logits)


@register_dense_model("e2e-spot", paper=E2E_SPOT_PAPER, **asdict(E2ESpotConfig()))
def e2e_spot(**settings: Any) -> E2ESpot:
    return E2ESpot(E2ESpotConfig(**settings))


# --- their model folders -----------------------------------------------------------------------------------

# E2E-Spot's class.txt is the sorted set of its training split's label names (parse_soccernet*.py).
SOCCERNET_V2_SORTED = (
    "Ball out of play", "Clearance", "Corner", "Direct free-kick", "Foul", "Goal", "Indirect free-kick",
    "Kick-off", "Offside", "Penalty", "Red card", "Shots off target", "Shots on target", "Substitution",
    "Throw-in", "Yellow card", "Yellow->red card",
)
BALL_2023_SORTED = ("DRIVE", "PASS")
BALL_2024_SORTED = (
    "BALL PLAYER BLOCK", "CROSS", "DRIVE", "FREE KICK", "GOAL", "HEADER", "HIGH PASS", "OUT", "PASS",
    "PLAYER SUCCESSFUL TACKLE", "SHOT", "THROW IN",
)


@dataclass(frozen=True)
class E2ESpotDataset:
    """What an E2E-Spot config's `dataset` means: its class lists (by class count) and its frames."""

    class_sets: tuple[tuple[str, ...], ...]
    frame_recipe: str  # `extract.frame_recipes`: e2e-soccernetv2 = every int(fps / 2)-th frame, 398x224


E2E_SPOT_DATASETS: dict[str, E2ESpotDataset] = {
    "soccernetv2": E2ESpotDataset((SOCCERNET_V2_SORTED,), "e2e-soccernetv2"),
    "soccernetv2_challenge": E2ESpotDataset((SOCCERNET_V2_SORTED,), "e2e-soccernetv2"),
    "soccernet_ball": E2ESpotDataset((BALL_2023_SORTED, BALL_2024_SORTED), "e2e-ball"),
    "soccernetball": E2ESpotDataset((BALL_2023_SORTED, BALL_2024_SORTED), "e2e-ball"),
}

CONFIG_FILE = "config.json"
CHECKPOINT_PATTERN = re.compile(r"^checkpoint_(\d+)\.pt$")


def e2e_spot_config_from_peer(obj: dict, path: Path | str) -> tuple[E2ESpotConfig, tuple[str, ...], str]:
    """An E2E-Spot `config.json` as (our config, class names in column order, frame recipe name).
    DataError naming `path` for anything soccerspot cannot run."""
    try:
        dataset_name, num_classes = obj["dataset"], int(obj["num_classes"])
        feature_arch, temporal_arch, clip_len = obj["feature_arch"], obj["temporal_arch"], int(obj["clip_len"])
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(path, f"not an E2E-Spot config (dataset, num_classes, feature_arch, temporal_arch, "
                              f"clip_len): {error!r}") from None
    if obj.get("modality", "rgb") != "rgb":
        raise DataError(path, f"modality {obj['modality']!r}: only RGB models run here (soccerspot decodes RGB frames)")
    if obj.get("crop_dim"):
        raise DataError(path, f"crop_dim {obj['crop_dim']}: only whole-frame models (crop_dim null) run here")
    dataset = E2E_SPOT_DATASETS.get(dataset_name)
    if dataset is None:
        raise DataError(path, f"dataset {dataset_name!r} is not a soccer dataset soccerspot knows "
                              f"({', '.join(E2E_SPOT_DATASETS)})")
    classes = next((names for names in dataset.class_sets if len(names) == num_classes), None)
    if classes is None:
        raise DataError(path, f"num_classes {num_classes} for dataset {dataset_name!r}: its class lists have "
                              f"{' or '.join(str(len(c)) for c in dataset.class_sets)} classes")
    config = E2ESpotConfig(num_classes=num_classes, feature_arch=feature_arch, temporal_arch=temporal_arch,
                           clip_len=clip_len)
    try:
        config.validate()
    except SettingsError as error:
        raise DataError(path, error.reason) from None
    return config, classes, dataset.frame_recipe


def _temporal_renames(arch: str) -> list[tuple[str, str]]:
    if arch in ("gru", "deeper_gru"):
        return [(r"^_pred_fine\._gru\.", "temporal.gru."), (r"^_pred_fine\._fc_out\._fc_out\.", "temporal.fc.")]
    if arch == "mstcn":
        return [
            (r"^_pred_fine\._tcn\.", "temporal.stages.0."),
            (r"^_pred_fine\._stages\.(\d+)\.", lambda m: f"temporal.stages.{int(m.group(1)) + 1}."),
            (r"(temporal\.stages\.\d+\.)conv_1x1\.", r"\1project."),
            (r"(temporal\.stages\.\d+\.)conv_out\.", r"\1out."),
            (r"(temporal\.stages\.\d+\.layers\.\d+\.)conv_dilated\.", r"\1dilated."),
            (r"(temporal\.stages\.\d+\.layers\.\d+\.)conv_1x1\.", r"\1pointwise."),
        ]
    return [(r"^_pred_fine\._fc_out\.", "temporal.fc.")]


def convert_e2e_spot_state(state: dict[str, torch.Tensor], config: E2ESpotConfig) -> dict[str, torch.Tensor]:
    """E2E-Spot's `E2EModel.Impl` state dict (DataParallel's `module.` allowed) in `E2ESpot`'s names."""
    shift = FEATURE_ARCHS[config.feature_arch].shift
    backbone = peer_renames(shift, shift_shortcut=shift == "tsm")
    renames = _temporal_renames(config.temporal_arch)
    out = {}
    for key, value in strip_prefixes(state, ("module.",)).items():
        if key.startswith("_features."):
            key = key[len("_features."):]
            for pattern, replacement in backbone:
                key = re.sub(pattern, replacement, key)
            key = "features.regnet." + key
        else:
            for pattern, replacement in renames:
                key = re.sub(pattern, replacement, key)
        out[key] = value
    return out


def _briefly(keys: list[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _checkpoint_file(folder: Path, checkpoint: Optional[str]) -> Path:
    """The file their `test_e2e.py` loads: the best epoch of `loss.json` (by val_mAP) when present, else the
    highest-numbered `checkpoint_NNN.pt`; or the file named."""
    if checkpoint is not None:
        return folder / checkpoint
    epochs = sorted(int(m.group(1)) for p in folder.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name)))
    if not epochs:
        raise DataError(folder, "no checkpoint_NNN.pt in this E2E-Spot model folder")
    loss_file = folder / "loss.json"
    if loss_file.is_file():
        try:
            history = json.loads(loss_file.read_text())
            best = max(history, key=lambda entry: entry["val_mAP"])["epoch"]
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(loss_file, f"not E2E-Spot's loss history (epoch, val_mAP per entry): {error!r}") from None
        return folder / f"checkpoint_{int(best):03d}.pt"
    return folder / f"checkpoint_{epochs[-1]:03d}.pt"


def _is_e2e_spot_folder(folder: Path) -> bool:
    config_file = folder / CONFIG_FILE
    if not config_file.is_file() or not any(CHECKPOINT_PATTERN.match(p.name) for p in folder.iterdir()):
        return False
    try:
        obj = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(obj, dict) and "feature_arch" in obj and "temporal_arch" in obj


@register_dense_peer_format("e2e-spot", recognises=_is_e2e_spot_folder)
def load_e2e_spot_folder(folder: str | Path, *, checkpoint: Optional[str] = None) -> PeerDenseModel:
    """An E2E-Spot model folder (`config.json` + `checkpoint_NNN.pt`) as an `E2ESpot` in eval mode."""
    folder = Path(folder)
    config_file = folder / CONFIG_FILE
    try:
        obj = json.loads(config_file.read_text())
    except OSError as error:
        raise DataError(config_file, f"cannot read: {error.strerror or error}") from None
    except ValueError as error:
        raise DataError(config_file, f"not JSON: {error}") from None
    if not isinstance(obj, dict):
        raise DataError(config_file, "not an E2E-Spot config (a JSON object)")
    config, classes, recipe = e2e_spot_config_from_peer(obj, config_file)
    weights = _checkpoint_file(folder, checkpoint)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(weights, "missing") from None
    except Exception as error:  # torch raises many kinds for a file that is not a checkpoint
        raise DataError(weights, f"not a PyTorch checkpoint: {error}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(weights, "not a state dict (E2E-Spot saves the model's bare state_dict)")
    model = E2ESpot(config)
    converted = convert_e2e_spot_state(state, config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    if missing or unexpected:
        parts = ([f"missing {_briefly(missing)}"] if missing else []) + \
                ([f"unexpected {_briefly(unexpected)}"] if unexpected else [])
        raise DataError(weights, f"does not match {config.feature_arch} + {config.temporal_arch!r} of "
                                 f"{config_file.name}: {'; '.join(parts)}")
    wrong = [k for k in expected if expected[k].shape != converted[k].shape]
    if wrong:
        raise DataError(weights, f"shapes do not match {config.feature_arch} + {config.temporal_arch!r}: "
                                 + _briefly([f"{k} {tuple(converted[k].shape)} != {tuple(expected[k].shape)}" for k in wrong]))
    model.load_state_dict(converted)
    return PeerDenseModel(model.eval(), classes, recipe, "E2E-Spot", weights)
