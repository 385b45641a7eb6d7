"""A T-DEED folder as its authors' training writes it -> `TDEED`: `checkpoint_best.pt` (their
`TDEEDModel.Impl.state_dict()`, saved with `torch.save`) beside the JSON config it was trained with (e.g.
sn-teamspotting's `SoccerNetBall_baseline.json`).

What their code builds from the config, and so what the checkpoint holds:
- `feature_arch`, `clip_len`, `temporal_arch`, `n_layers`, `sgp_ks`, `sgp_r`, `num_classes` and
  `radi_displacement` (> 0: a displacement head) make the network; `event_team` (sn-teamspotting) adds the
  team head; `crop_dim` (<= 0: none) is the centre crop at inference; `dataset` decides the class order and
  the frames (`soccernetball`: the 25 fps broadcast read every 2nd frame; `soccernet`: every 12th).
- "Joint training" (`joint_train` in sn-teamspotting's configs, `pretrain` in arturxe2's) trains on a second
  dataset at the same time: their train script swaps the class head for two (`update_pred_head`: keys
  `_pred_fine._fc1` with this dataset's C + 1 classes and `_pred_fine._fc2` with the other dataset's),
  and their inference (`process_double_head`) reads only the first. The first becomes our class head; the
  second is checked against the config's `num_classes` and left out.

Their pinned timm (1.0.11 in sn-teamspotting, 1.0.3 in arturxe2) names `regnety_002` / `regnety_008`'s
weights as the timm soccerspot uses does (same keys and shapes in timm 1.0.3 and 1.0.31, checked), so only
their shift wrapper (`conv1.net`, `conv1.gs`) is renamed (`temporal_shift.peer_renames`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

import torch

from soccerspot.errors import DataError, SettingsError
from soccerspot.models.dense.registry import PeerDenseModel, register_dense_peer_format
from soccerspot.models.dense.tdeed import TDEED, TDEEDConfig, parse_feature_arch
from soccerspot.models.dense.tdeed_classes import tdeed_dataset_classes
from soccerspot.models.dense.temporal_shift import peer_renames

__all__ = ["TDEED_CHECKPOINT", "TDEED_FRAME_RECIPES", "load_tdeed_peer", "tdeed_config_from_peer", "convert_tdeed_state_dict", "find_tdeed_config",
           "is_tdeed_folder", "load_tdeed_folder"]

TDEED_CHECKPOINT = "checkpoint_best.pt"
# Their `dataset` -> test-time frame step in 25 fps frames (train_tdeed*.py: STRIDE_SNB, STRIDE_SN).
_FRAME_STRIDES = {"soccernetball": 2, "soccernet": 12}
_START_PAD = 5  # dataset/frame.py DEFAULT_PAD_LEN
# Their `dataset` -> the frames it reads, by its name in `extract.frame_recipes`.
TDEED_FRAME_RECIPES = {"soccernetball": "tdeed-ball", "soccernet": "tdeed-soccernetv2"}
TDEED_VARIANT = "T-DEED"
# Keys every one of their configs has (their update_args reads them unconditionally).
_REQUIRED = ("feature_arch", "temporal_arch", "clip_len", "num_classes", "n_layers", "sgp_ks", "sgp_r",
             "radi_displacement", "dataset")
_JOINT_KEYS = ("joint_train", "pretrain")  # sn-teamspotting's name, arturxe2's name

# Their module names -> ours, outside the backbone (first match wins).
_RENAMES = (
    (r"^temp_enc$", "temporal.temporal_encoding.weight"),
    (r"^_temp_fine\._sgpMixer\.", "temporal.encoder_decoder.mixers."),
    (r"^_temp_fine\._sgp\.", "temporal.encoder_decoder.blocks."),
    (r"^_pred_displ\._fc_out\.", "temporal.displacement_head.fc."),
    (r"^_pred_team\._fc_out\.", "temporal.team_head.fc."),
)
_CLASS_HEAD = "_pred_fine._fc_out."
_JOINT_CLASS_HEADS = ("_pred_fine._fc1._fc_out.", "_pred_fine._fc2._fc_out.")  # this dataset's, the other's
_BACKBONE = "_features."


def tdeed_config_from_peer(raw: Mapping[str, Any], *, source: str | Path | None = None) -> TDEEDConfig:
    """Their JSON config -> `TDEEDConfig`; DataError naming `source` for a config we cannot run."""
    if not isinstance(raw, Mapping):
        raise DataError(source, "a T-DEED config is a JSON object")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise DataError(source, f"not a T-DEED config: no {', '.join(missing)}")
    if raw.get("modality", "rgb") != "rgb":
        raise DataError(source, f"modality {raw['modality']!r}: T-DEED runs on rgb only")
    dataset = str(raw["dataset"])
    classes = tdeed_dataset_classes(dataset)
    if classes is None:
        raise DataError(source, f"dataset {dataset!r} is not one soccerspot spots with T-DEED "
                                f"(known: {', '.join(sorted(_FRAME_STRIDES))})")
    clip_len = int(raw["clip_len"])
    crop = raw.get("crop_dim")
    # sn-teamspotting (the configs with `event_team`) overlaps test clips by 3/4; arturxe2's evaluation by
    # 1/2 on SoccerNet-v2 and 3/4 elsewhere.
    half_overlap = "event_team" not in raw and dataset == "soccernet"
    try:
        return TDEEDConfig(
            feature_arch=str(raw["feature_arch"]), temporal_arch=str(raw["temporal_arch"]), clip_len=clip_len,
            num_classes=int(raw["num_classes"]), n_layers=int(raw["n_layers"]), sgp_ks=int(raw["sgp_ks"]),
            sgp_r=raw["sgp_r"], radi_displacement=int(raw["radi_displacement"]),
            event_team=bool(raw.get("event_team", False)),
            crop_dim=None if crop is None or int(crop) <= 0 else int(crop),
            dataset=dataset, classes=classes, frame_stride=_FRAME_STRIDES[dataset],
            overlap_rule="1/2" if half_overlap else "3/4", start_pad=_START_PAD,
        ).validate()
    except SettingsError as error:
        raise DataError(source, f"{error.setting}: {error.reason}") from None
    except (TypeError, ValueError) as error:
        raise DataError(source, f"not a T-DEED config: {error}") from None


def _joint_classes(raw: Mapping[str, Any], source: Path) -> int | None:
    """The joint-training dataset's number of classes, or None without joint training."""
    for key in _JOINT_KEYS:
        if raw.get(key):
            try:
                return int(raw[key]["num_classes"])
            except (TypeError, KeyError, ValueError):
                raise DataError(source, f"{key}: expected an object with num_classes") from None
    return None


def convert_tdeed_state_dict(state: Mapping[str, torch.Tensor], config: TDEEDConfig,
                             joint_classes: int | None = None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Their state dict -> (ours, our key -> their key). With `joint_classes` (joint training), their two
    class heads are expected: the first becomes ours, the second is checked (joint_classes + 1 outputs) and
    left out. Keys we do not know keep their name (and fail the load, named)."""
    _, shift = parse_feature_arch(config.feature_arch)
    backbone_renames = [(re.compile(pattern), repl) for pattern, repl in peer_renames(shift)]
    class_head = _CLASS_HEAD if joint_classes is None else _JOINT_CLASS_HEADS[0]
    renames = [(re.compile(pattern), repl) for pattern, repl in _RENAMES]
    renames.append((re.compile("^" + re.escape(class_head)), "temporal.class_head.fc."))
    if joint_classes is not None:
        for suffix in ("weight", "bias"):
            key = _JOINT_CLASS_HEADS[1] + suffix
            if key not in state:
                raise ValueError(f"no {key}: the config names a joint-training dataset, so their model has "
                                 f"two class heads")
            if state[key].shape[0] != joint_classes + 1:
                raise ValueError(f"{key} has {state[key].shape[0]} outputs; the config's joint-training dataset "
                                 f"has {joint_classes} + 1")
    ours: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in state.items():
        if joint_classes is not None and key.startswith(_JOINT_CLASS_HEADS[1]):
            continue
        if key.startswith(_BACKBONE):
            name = key[len(_BACKBONE):]
            for pattern, repl in backbone_renames:
                name = pattern.sub(repl, name)
            name = "backbone.regnet." + name
        else:
            name = key
            for pattern, repl in renames:
                if pattern.search(key):
                    name = pattern.sub(repl, key)
                    break
        ours[name] = value
        origin[name] = key
    return ours, origin


def _brief(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown} and {len(keys) - limit} more" if len(keys) > limit else shown


def _check_and_load(model: TDEED, state: dict[str, torch.Tensor], origin: dict[str, str],
                    checkpoint: Path, config_name: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(origin[k] for k in set(state) - set(expected))
    wrong = sorted(f"{origin[k]} {tuple(state[k].shape)} (config: {tuple(expected[k].shape)})"
                   for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} ({_brief(missing)})")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} ({_brief(unexpected)})")
    if wrong:
        problems.append(f"wrong shape {len(wrong)} ({_brief(wrong, 2)})")
    if problems:
        raise DataError(checkpoint, f"does not match {config_name} ({model.config.feature_arch}, "
                                    f"{model.num_classes} classes): " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(path, f"cannot read JSON: {error}") from None


def _looks_like_config(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and "feature_arch" in data and "temporal_arch" in data


def find_tdeed_config(folder: Path) -> Path:
    """The one JSON file in `folder` that is a T-DEED config (has `feature_arch` and `temporal_arch`; their
    save folder also holds `loss.json` and prediction files)."""
    candidates = sorted(p for p in folder.glob("*.json") if _looks_like_config(p))
    if not candidates:
        raise DataError(folder, f"no T-DEED config (a JSON with feature_arch and temporal_arch) beside "
                                f"{TDEED_CHECKPOINT}")
    if len(candidates) > 1:
        raise DataError(folder, f"several T-DEED configs ({', '.join(p.name for p in candidates)}): "
                                f"keep the one {TDEED_CHECKPOINT} was trained with")
    return candidates[0]


def is_tdeed_folder(path: str | Path) -> bool:
    """Whether `path` is a folder holding T-DEED's `checkpoint_best.pt` and a T-DEED JSON config."""
    folder = Path(path)
    return (folder / TDEED_CHECKPOINT).is_file() and any(_looks_like_config(p) for p in folder.glob("*.json"))


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise DataError(path, "no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a state dict
        raise DataError(path, f"not a PyTorch state dict: {str(error).splitlines()[0]}") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(path, "not a state dict (a mapping of names to tensors)")
    return dict(state)


def load_tdeed_folder(path: str | Path, *, config_path: str | Path | None = None) -> TDEED:
    """T-DEED from their folder (or its `checkpoint_best.pt`), in eval mode. DataError for a folder that is
    not one, a config we cannot run, or a checkpoint that does not match its config."""
    path = Path(path)
    checkpoint = path if path.suffix == ".pt" else path / TDEED_CHECKPOINT
    config_file = Path(config_path) if config_path is not None else find_tdeed_config(checkpoint.parent)
    raw = _read_json(config_file)
    config = tdeed_config_from_peer(raw, source=config_file)
    state = _read_state_dict(checkpoint)
    model = TDEED(config)
    try:
        ours, origin = convert_tdeed_state_dict(state, config, _joint_classes(raw, config_file))
    except ValueError as error:
        raise DataError(checkpoint, str(error)) from None
    _check_and_load(model, ours, origin, checkpoint, config_file.name)
    return model.eval()


@register_dense_peer_format("t-deed", recognises=is_tdeed_folder)
def load_tdeed_peer(folder: str | Path, *, config_path: str | Path | None = None) -> PeerDenseModel:
    """A T-DEED folder as a registered peer format: the model, its class order and its frame recipe."""
    path = Path(folder)
    model = load_tdeed_folder(path, config_path=config_path)
    checkpoint = path if path.suffix == ".pt" else path / TDEED_CHECKPOINT
    return PeerDenseModel(model=model, classes=model.classes, frame_recipe=TDEED_FRAME_RECIPES[model.config.dataset],
                          variant=TDEED_VARIANT, checkpoint=checkpoint)
