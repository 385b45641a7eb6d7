"""A dense model trained by soccerspot (`soccerspot train-dense`), as a model folder `spot` reads.

`RUN/best/` (and `RUN/last/`) hold `config.json` and `model.pt`: the config names the registered dense model
(`model`, e.g. `e2e-spot`) and its `settings`, the class names in column order (`classes`: column 1 + c is
classes[c]), the frame recipe it was trained on (`frame_recipe`, a name of `extract.frame_recipes`) and whose
evaluation spots it (`variant`, e.g. `E2E-Spot`: clips, averaging and NMS as that peer's); `model.pt` is the
model's state dict. It is registered with the peer folders (`register_dense_peer_format`), so
`soccerspot spot VIDEO --model RUN/best` runs it like a published folder. The writer is
`pipeline.training.dense` (models/ reads weight files only).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from soccerspot.errors import DataError, SettingsError
from soccerspot.models.dense.registry import PeerDenseModel, create_dense_model, register_dense_peer_format

__all__ = ["TRAINED_FORMAT", "TRAINED_CONFIG_FILE", "TRAINED_WEIGHTS_FILE", "load_trained_dense_folder"]

TRAINED_FORMAT = "soccerspot-dense"
TRAINED_CONFIG_FILE = "config.json"
TRAINED_WEIGHTS_FILE = "model.pt"


def _read_config(folder: Path) -> dict | None:
    try:
        obj = json.loads((folder / TRAINED_CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _is_trained_folder(folder: Path) -> bool:
    obj = _read_config(folder)
    return obj is not None and obj.get("format") == TRAINED_FORMAT and (folder / TRAINED_WEIGHTS_FILE).is_file()


@register_dense_peer_format(TRAINED_FORMAT, recognises=_is_trained_folder)
def load_trained_dense_folder(folder: str | Path) -> PeerDenseModel:
    """A soccerspot-trained dense model folder as its model in eval mode; `DataError` naming the file."""
    folder = Path(folder)
    config_file, weights = folder / TRAINED_CONFIG_FILE, folder / TRAINED_WEIGHTS_FILE
    obj = _read_config(folder)
    if obj is None:
        raise DataError(config_file, "not a JSON object")
    try:
        name, settings = str(obj["model"]), dict(obj["settings"])
        classes, recipe, variant = tuple(str(c) for c in obj["classes"]), str(obj["frame_recipe"]), str(obj["variant"])
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(config_file, f"not a soccerspot dense model config (model, settings, classes, frame_recipe, "
                                     f"variant): {error!r}") from None
    try:
        model = create_dense_model(name, **{**settings, "pretrained": False})
    except (SettingsError, TypeError) as error:
        raise DataError(config_file, f"cannot build {name!r}: {getattr(error, 'reason', error)}") from None
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except FileNotFoundError:
        raise DataError(weights, "missing") from None
    except Exception as error:  # torch raises many kinds for a file that is not this model's state dict
        said = " ".join(str(error).split())
        raise DataError(weights, f"not this model's weights ({said[:300]})") from None
    if len(classes) != model.num_classes:
        raise DataError(config_file, f"{len(classes)} class names for a model with {model.num_classes} classes")
    return PeerDenseModel(model.eval(), classes, recipe, variant, weights)
