"""Keras's ResNet152 (v1), in PyTorch, reading Keras's HDF5 weight files: the network of SoccerNet's
`ResNET_TF2` features.

Keras builds ResNet v1 differently from torchvision, so its weights do not fit torchvision's modules:

- stride 2 sits in the *first 1x1* conv of a stage's first block (and its 1x1 shortcut), not in the 3x3;
- every conv has a bias; BatchNorm's epsilon is 1.001e-5;
- `ZeroPadding2D(3)` before the 7x7 `conv1` and `ZeroPadding2D(1)` before the 3x3/2 max-pool (equal to
  PyTorch's `padding=` here: the conv pads with zeros, and the pool's inputs are ReLU outputs, >= 0, so a
  zero border never wins the max);
- the output is the `avg_pool` layer: the 2048-d global average of `conv5`.

Module names follow Keras's layer names with "." for "_" (`conv2.block1.1_conv` is Keras's
`conv2_block1_1_conv`), so `read_keras_h5` maps a file onto the module by name.

Input: float (n, 3, 224, 224), channels in the order the caller gives, already mean-subtracted and unscaled
(Keras's `preprocess_input` in "caffe" mode). Keras intends BGR order with the BGR means; SoccerNet's
extraction fed frames that OpenCV had already delivered as BGR, so its network saw RGB order with the BGR
means, and that is what the released heads learned. The registered entry's mean/std (`CAFFE_MEAN`,
`CAFFE_STD`, applied by `normalize_images` to RGB frames) reproduce SoccerNet's convention.

Weights: `KERAS_IMAGENET` names Keras's own file (URL and md5 from Keras's `applications/resnet.py`).
Nothing here touches the network: `weights="imagenet"` loads it from the cache folders only
(`cached_weights_file`); `soccerspot.extract.downloads` fetches it. A local `.h5` passed as weights is read
by `backbones._read_state_dict` through `read_keras_h5` (identity "file:<sha256 prefix>").
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from soccerspot.models.backbones.registry import PretrainedWeights, register_backbone, register_pretrained_loader
from soccerspot.models.backbones.weights import BackboneWeightsError, register_weights_reader
from soccerspot.models.papers import RESNET_PAPER

KERAS_PAPER = f"{RESNET_PAPER} (Keras applications' ResNet152)"
BN_EPS = 1.001e-5
# Keras's `preprocess_input(mode="caffe")`: subtract these from channels 0, 1, 2 (BGR means), no scaling.
CAFFE_MEANS = (103.939, 116.779, 123.68)
CAFFE_MEAN = tuple(value / 255.0 for value in CAFFE_MEANS)  # as `normalize_images` takes them (fractions of 255)
CAFFE_STD = (1.0 / 255.0,) * 3  # i.e. no scaling of the 0..255 pixel values
# (bottleneck width, blocks, stride of the first block) per stage, ResNet152 as Keras stacks it
RESNET152_STAGES = (("conv2", 64, 3, 1), ("conv3", 128, 8, 2), ("conv4", 256, 36, 2), ("conv5", 512, 3, 2))
CACHE_ENV = "SOCCERSPOT_CACHE"


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file: where it is downloaded from and how to check it."""

    filename: str
    url: str
    md5: str | None = None
    sha256: str | None = None
    git_sha1: str | None = None  # the git blob id, for files published in a git repository
    source: str = ""


KERAS_IMAGENET = WeightsFile(
    filename="resnet152_weights_tf_dim_ordering_tf_kernels.h5",
    url="https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
        "resnet152_weights_tf_dim_ordering_tf_kernels.h5",
    md5="100835be76be38e30d865e96f2aaae62",
    source="keras/src/applications/resnet.py (BASE_WEIGHTS_PATH, WEIGHTS_HASHES['resnet152'][0], include_top=True)",
)


def cache_dir() -> Path:
    """Where downloaded weights go: `$SOCCERSPOT_CACHE/weights`, default `~/.cache/soccerspot/weights`."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "soccerspot")
    return Path(root) / "weights"


def weights_search_paths(spec: WeightsFile = KERAS_IMAGENET) -> list[Path]:
    """Our cache first, then Keras's own (`$KERAS_HOME/models`, default `~/.keras/models`)."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return [cache_dir() / spec.filename, Path(keras_home) / "models" / spec.filename]


def cached_weights_file(spec: WeightsFile = KERAS_IMAGENET) -> Path | None:
    return next((path for path in weights_search_paths(spec) if path.is_file()), None)


def missing_weights_message(spec: WeightsFile = KERAS_IMAGENET) -> str:
    return (f"{spec.filename} is not here: download {spec.url} (md5 {spec.md5}) and put it at "
            f"{weights_search_paths(spec)[0]}, or pass the file itself (--weights FILE)")


# ---------------------------------------------------------------------------------------------- the network


class Bottleneck(nn.Module):
    """Keras's `residual_block_v1`: 1x1 (stride s) -> 3x3 -> 1x1, BN after each, a 1x1 conv shortcut in a
    stage's first block. Children are named as Keras's layers (`0_conv` is the shortcut)."""

    def __init__(self, in_channels: int, width: int, stride: int, shortcut: bool):
        super().__init__()
        out = 4 * width
        self.has_shortcut = shortcut
        if shortcut:
            self.add_module("0_conv", nn.Conv2d(in_channels, out, 1, stride=stride))
            self.add_module("0_bn", nn.BatchNorm2d(out, eps=BN_EPS))
        self.add_module("1_conv", nn.Conv2d(in_channels, width, 1, stride=stride))
        self.add_module("1_bn", nn.BatchNorm2d(width, eps=BN_EPS))
        self.add_module("2_conv", nn.Conv2d(width, width, 3, padding=1))
        self.add_module("2_bn", nn.BatchNorm2d(width, eps=BN_EPS))
        self.add_module("3_conv", nn.Conv2d(width, out, 1))
        self.add_module("3_bn", nn.BatchNorm2d(out, eps=BN_EPS))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self._modules
        identity = m["0_bn"](m["0_conv"](x)) if self.has_shortcut else x
        y = self.relu(m["1_bn"](m["1_conv"](x)))
        y = self.relu(m["2_bn"](m["2_conv"](y)))
        y = m["3_bn"](m["3_conv"](y))
        return self.relu(y + identity)


class KerasResNet(nn.Module):
    """Keras's ResNet v1 up to its `avg_pool` layer: (n, 3, h, w) -> (n, 4 * last width)."""

    def __init__(self, stages=RESNET152_STAGES):
        super().__init__()
        self.conv1_conv = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        self.conv1_bn = nn.BatchNorm2d(64, eps=BN_EPS)
        self.relu = nn.ReLU(inplace=True)
        self.pool1_pool = nn.MaxPool2d(3, stride=2, padding=1)  # = ZeroPadding2D(1) + MaxPooling2D(3, 2) after ReLU
        channels = 64
        for name, width, blocks, stride in stages:
            stage = nn.ModuleDict()
            for index in range(blocks):
                first = index == 0
                stage[f"block{index + 1}"] = Bottleneck(channels, width, stride if first else 1, shortcut=first)
                channels = 4 * width
            self.add_module(name, stage)
        self.stage_names = [name for name, *_ in stages]
        self.feature_dim = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1_pool(self.relu(self.conv1_bn(self.conv1_conv(x))))
        for name in self.stage_names:
            for block in self._modules[name].values():
                x = block(x)
        return x.mean(dim=(-2, -1))  # avg_pool (GlobalAveragePooling2D)


@register_backbone("keras_resnet152", library="keras", paper=KERAS_PAPER, feature_dim=2048, mean=CAFFE_MEAN,
                   std=CAFFE_STD, weights=(PretrainedWeights("KERAS_IMAGENET", KERAS_IMAGENET.url),))
def keras_resnet152() -> tuple[nn.Module, list[list[str]]]:
    body = KerasResNet()
    return body, [["conv1_conv", "conv1_bn"], ["conv2"], ["conv3"], ["conv4"], ["conv5"]]


# ---------------------------------------------------------------------------------------------- HDF5 weights

_BN_NAMES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
SKIPPED_LAYERS = ("predictions",)  # the ImageNet classifier: not part of the pooled features


def module_name(layer: str) -> str:
    """Keras layer name -> this module's path: "conv2_block1_1_conv" -> "conv2.block1.1_conv"."""
    parts = layer.split("_")
    if len(parts) >= 4 and parts[1].startswith("block"):
        return f"{parts[0]}.{parts[1]}.{'_'.join(parts[2:])}"
    return layer


def _variable_name(weight_name: str) -> str:
    """"conv1_conv/kernel:0" (Keras 2) or "conv1_conv/kernel" (Keras 3) -> "kernel"."""
    return weight_name.rsplit("/", 1)[-1].split(":", 1)[0]


def _torch_value(variable: str, value: np.ndarray) -> tuple[str, torch.Tensor]:
    if variable == "kernel":
        if value.ndim != 4:
            raise ValueError(f"kernel of rank {value.ndim}, expected a 2-D conv's (h, w, in, out)")
        return "weight", torch.from_numpy(np.ascontiguousarray(value.transpose(3, 2, 0, 1)))
    if variable == "bias":
        return "bias", torch.from_numpy(np.ascontiguousarray(value))
    if variable in _BN_NAMES:
        return _BN_NAMES[variable], torch.from_numpy(np.ascontiguousarray(value))
    raise ValueError(f"unknown variable {variable!r}")


def read_keras_h5(path: str | Path) -> dict[str, torch.Tensor]:
    """Keras's legacy HDF5 weights (per-layer groups with a `weight_names` attribute; the applications'
    files, `save_weights_to_hdf5_group`, or a whole model's `model_weights`) -> this module's state dict.
    The `predictions` classifier is left out; float32 throughout."""
    import h5py

    path = Path(path)
    state: dict[str, torch.Tensor] = {}
    try:
        with h5py.File(path, "r") as handle:
            root = handle["model_weights"] if "model_weights" in handle else handle
            names = [_text(name) for name in root.attrs.get("layer_names", [])]
            if not names:
                raise BackboneWeightsError(f"{path}: not a Keras HDF5 weights file (no 'layer_names' attribute)")
            for layer in names:
                group = root[layer]
                weight_names = [_text(name) for name in group.attrs.get("weight_names", [])]
                if not weight_names or layer in SKIPPED_LAYERS:
                    continue
                for weight_name in weight_names:
                    key, value = _torch_value(_variable_name(weight_name), np.asarray(group[weight_name], dtype=np.float32))
                    state[f"{module_name(layer)}.{key}"] = value
    except (OSError, KeyError, ValueError) as error:
        raise BackboneWeightsError(f"{path}: not a readable Keras HDF5 weights file ({type(error).__name__}: {error})") from None
    for name in [key for key in state if key.endswith("running_mean")]:
        state[name.replace("running_mean", "num_batches_tracked")] = torch.tensor(0)
    return state


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _keras_pretrained(name: str, tag: str) -> dict:
    """`weights="imagenet"`: Keras's file from the cache folders (never downloaded here)."""
    file = cached_weights_file(KERAS_IMAGENET)
    if file is None:
        raise BackboneWeightsError(f"cannot load ImageNet weights for {name}: {missing_weights_message()}")
    return read_keras_h5(file)


register_pretrained_loader("keras", _keras_pretrained)
register_weights_reader((".h5", ".hdf5"), read_keras_h5)
