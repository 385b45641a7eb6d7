"""Backbone weights from a local file: a state dict (`torch.load(weights_only=True)`, or `.safetensors`) of
the torchvision/timm model, of a `Backbone`, or of a model holding it as `backbone` (a backbone + head
model's state dict); classifier weights in it are ignored. Its identity is "file:<sha256 prefix>"."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from soccerspot.files import sha256_file
from soccerspot.models.state_dict import strip_prefixes

# Names a wrapping model gives the backbone's weights: DataParallel, BackboneHeadModel, Backbone, other models.
WRAPPER_PREFIXES = ("module.", "backbone.", "body.", "model.")
# Keys a classification checkpoint carries that a pooled-feature backbone does not have.
CLASSIFIER_PREFIXES = ("fc.", "head.fc.", "classifier.", "head.weight", "head.bias", "head.1.", "last_linear.")


class BackboneWeightsError(RuntimeError):
    """The requested weights cannot be loaded (offline, missing or mismatched file); says how to fix it."""


def load_weights_file(body: nn.Module, path: str) -> str:
    """Load a local state dict into `body`; returns "file:<sha256 prefix>"."""
    file = Path(path)
    if not file.is_file():
        raise BackboneWeightsError(f"{path}: weights file not found (use 'imagenet', 'none' or a checkpoint file)")
    state = read_state_dict(file)
    state = strip_prefixes(state, WRAPPER_PREFIXES, expected=body.state_dict())
    expected = body.state_dict()
    unexpected = [key for key in state if key not in expected and not key.startswith(CLASSIFIER_PREFIXES)]
    missing = [key for key in expected if key not in state]
    if missing or unexpected:
        raise BackboneWeightsError(
            f"{file}: does not match this backbone: {len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}). Was it made for another architecture?"
        )
    for key, value in state.items():
        if key in expected and tuple(value.shape) != tuple(expected[key].shape):
            raise BackboneWeightsError(
                f"{file}: {key} has shape {tuple(value.shape)}, this backbone expects {tuple(expected[key].shape)}"
            )
    body.load_state_dict({key: value for key, value in state.items() if key in expected})
    return weights_file_id(file)


def weights_file_id(file: str | Path) -> str:
    """The identity features made with the weights in `file` record: "file:<sha256 prefix>"."""
    return f"file:{sha256_file(file)[:16]}"


# file suffix -> a reader of weight files that are no torch state dict (Keras's HDF5: `keras_resnet`)
_READERS: dict[str, Callable[[Path], dict[str, torch.Tensor]]] = {}


def register_weights_reader(suffixes: tuple[str, ...], reader: Callable[[Path], dict[str, torch.Tensor]]) -> None:
    for suffix in suffixes:
        _READERS[suffix] = reader


def read_state_dict(file: Path) -> dict[str, torch.Tensor]:
    if file.suffix in _READERS:
        return _READERS[file.suffix](file)
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(file))
        else:
            obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch's messages run to several lines of advice: one line of ours instead
        raise BackboneWeightsError(f"{file}: not a readable weights file (corrupt, truncated, or not a PyTorch or "
                                   f"safetensors state dict; {type(error).__name__})") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(value, torch.Tensor) for value in obj.values()):
        raise BackboneWeightsError(f"{file}: expected a state dict (names -> tensors)")
    return obj
