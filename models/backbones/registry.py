"""Image backbones cut before their classifier: normalised (n, 3, h, w) float -> (n, feature_dim).

Backbones are registered builders whose defaults are data (`BackboneEntry`: output width, input size,
mean/std, the pretrained weights each name can load with their source and ImageNet accuracy, the paper),
as torchvision's builders with their weight enums; `backbone_entry(name)` reads them, `list_backbones()`
lists them and `create_backbone(name, weights=...)` builds one. A family of names a library makes on demand
registers a prefix (`BackboneFamily`): `timm:<any timm model>` (entry from timm's own pretrained config),
`video:<model>` (torchvision's Kinetics models). One module per source in this package, discovered:
`torchvision_resnets`, `timm_models`, `video`; weight files in `weights`.

Weights (``weights=``):

- ``"imagenet"`` (or ``"imagenet:<tag>"``, e.g. ``imagenet:IMAGENET1K_V2``): the library's own pretrained
  weights, through its own loading path (torchvision's URL into the torch hub cache, timm's Hugging Face
  hub download). Offline they load only when cached; otherwise `BackboneWeightsError` says how to supply
  them.
- a local checkpoint file: a state dict (``torch.load(weights_only=True)``, or ``.safetensors``) of the
  torchvision/timm model, of this `Backbone`, or of a model holding it as ``backbone`` (a backbone + head model's state dict); classifier weights in it
  are ignored.
- ``"none"``: random initialisation, seeded so it is the same every run.

`Backbone.weights_id` records which weights were used ("imagenet:IMAGENET1K_V1", "none",
"file:<sha256 prefix>"): features are comparable only when it matches.

``trainable_stages=N`` leaves only the last N stages trainable (ResNet: stem, layer1..layer4); frozen stages
also stay in eval mode under ``.train()`` so their batch-norm statistics do not drift.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from soccerspot.models.backbones.weights import BackboneWeightsError, load_weights_file  # noqa: F401

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NONE_SEED = 0


def normalize_images(
    batch: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """uint8 (..., 3, h, w) images (n, 3, h, w) or clips (n, frames, 3, h, w) -> float `dtype`, scaled to [0, 1]
    then standardised per channel (extraction and fine-tuning both feed a backbone through this)."""
    mean_t = torch.tensor(mean, device=batch.device, dtype=dtype).view(3, 1, 1) * 255.0
    inv_std = 1.0 / (torch.tensor(std, device=batch.device, dtype=dtype).view(3, 1, 1) * 255.0)
    return (batch.to(dtype) - mean_t) * inv_std


@dataclass(frozen=True)
class PretrainedWeights:
    """One set of pretrained weights a backbone name can load (`weights="imagenet:<tag>"`)."""

    tag: str  # e.g. "IMAGENET1K_V1"
    source: str  # where the library's loader fetches them from
    imagenet_top1: float | None = None  # published ImageNet-1K top-1 accuracy (%), as the library lists it


@dataclass(frozen=True)
class BackboneEntry:
    """A backbone's defaults as data. The first of `weights` is what plain `weights="imagenet"` loads."""

    name: str
    library: str  # "torchvision" | "timm" | "keras" (keras_resnet)
    paper: str
    feature_dim: int  # width of the pooled features `forward` returns
    input_size: int = 224  # side of the square crop the weights were trained at
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    weights: tuple[PretrainedWeights, ...] = ()

    def pretrained(self, tag: str | None = None) -> PretrainedWeights:
        """The weights `tag` names (None: the default), or BackboneWeightsError listing the known tags."""
        if not self.weights:
            raise BackboneWeightsError(f"{self.name} has no pretrained weights")
        for candidate in self.weights:
            if tag is None or candidate.tag == tag:
                return candidate
        known = ", ".join(w.tag for w in self.weights)
        raise BackboneWeightsError(f"{self.name} has no weights {tag!r}; known: {known}")


class Backbone(nn.Module):
    """An image model without its classifier. `forward` takes normalised float images (see `mean`/`std`).
    `takes_clips` and `memory_format` say what a caller feeds it: images (n, 3, h, w), channels-last."""

    takes_clips = False
    memory_format = torch.channels_last

    def __init__(
        self, body: nn.Module, stages: list[list[str]], *, name: str, feature_dim: int, weights_id: str,
        mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD, input_size: int = 224,
    ):
        super().__init__()
        self.body = body
        self.stage_names = stages  # module names inside `body`, grouped by stage, input to output
        self.name = name
        self.feature_dim = feature_dim
        self.weights_id = weights_id
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.input_size = input_size
        self.trainable_stages = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def prepare(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 images (n, 3, h, w) as sampled -> the float input `forward` takes: normalised with the
        weights' mean/std, in this backbone's layout (extraction and fine-tuning both feed it through here)."""
        return normalize_images(batch, self.mean, self.std).contiguous(memory_format=self.memory_format)

    def set_trainable_stages(self, count: int) -> None:
        """Freeze everything, then unfreeze the last `count` stages (and anything after them)."""
        if count < 0:
            raise ValueError(f"trainable_stages must be >= 0, got {count}")
        count = min(count, len(self.stage_names))
        self.trainable_stages = count
        for parameter in self.body.parameters():
            parameter.requires_grad_(False)
        for module in self._trainable_modules():
            for parameter in module.parameters():
                parameter.requires_grad_(True)
        self.train(self.training)

    def _trainable_modules(self) -> list[nn.Module]:
        if self.trainable_stages == 0:
            return []
        first = len(self.stage_names) - self.trainable_stages
        names = [name for stage in self.stage_names[first:] for name in stage]
        # Modules after the last stage (e.g. a final conv or norm) belong to the trainable tail.
        last_top = self.stage_names[-1][-1].split(".")[0]
        top_names = [name for name, _ in self.body.named_children()]
        names += top_names[top_names.index(last_top) + 1 :] if last_top in top_names else []
        return [self.body.get_submodule(name) for name in names]

    def train(self, mode: bool = True) -> "Backbone":
        super().train(mode)
        if mode:
            trainable = {id(module) for module in self._trainable_modules()}
            for stage in self.stage_names:
                for name in stage:
                    module = self.body.get_submodule(name)
                    if id(module) not in trainable:
                        module.eval()
        return self


# ---------------------------------------------------------------------------------------------- registry

BodyBuilder = Callable[[], tuple[nn.Module, list[list[str]]]]  # () -> (model without classifier, its stages)
PretrainedLoader = Callable[[str, str], dict]  # (backbone name, weights tag) -> state dict of its body
_BACKBONES: dict[str, tuple[BackboneEntry, BodyBuilder]] = {}
_PRETRAINED_LOADERS: dict[str, PretrainedLoader] = {}


@dataclass(frozen=True)
class BackboneFamily:
    """Backbones named `<prefix><model>` that a library makes on demand (`timm:<any timm model>`,
    `video:<torchvision video model>`): how to read a name's entry and build it."""

    prefix: str
    entry: Callable[[str], Any]  # full name -> its entry (BackboneEntry or the family's own)
    create: Callable[..., "Backbone"]  # (full name, *, weights, trainable_stages) -> Backbone
    names: Callable[[], list[str]] = list  # the family's listed names ([] where any model of a library goes)
    hint: str = ""


_FAMILIES: dict[str, BackboneFamily] = {}


def register_backbone(name: str, **entry: Any) -> Callable[[BodyBuilder], BodyBuilder]:
    """Register a builder of a classifier-less model and its stages under `name`, with the `BackboneEntry`
    fields (`library`, `paper`, `feature_dim`, `weights`, ...) as data."""

    def register(builder: BodyBuilder) -> BodyBuilder:
        if name in _BACKBONES:
            raise ValueError(f"backbone {name!r} is registered twice")
        _BACKBONES[name] = (BackboneEntry(name=name, **entry), builder)
        return builder

    return register


def register_pretrained_loader(library: str, loader: PretrainedLoader) -> None:
    """How `weights="imagenet[:tag]"` loads for the registered backbones of `library`."""
    _PRETRAINED_LOADERS[library] = loader


def register_backbone_family(family: BackboneFamily) -> None:
    if family.prefix in _FAMILIES:
        raise ValueError(f"backbone family {family.prefix!r} is registered twice")
    _FAMILIES[family.prefix] = family


def _family_of(name: str) -> BackboneFamily | None:
    return next((family for prefix, family in _FAMILIES.items() if name.startswith(prefix)), None)


def _unknown(name: str) -> ValueError:
    known = [", ".join(_BACKBONES)] + [family.hint or f"'{prefix}<model>'" for prefix, family in _FAMILIES.items()]
    return ValueError(f"unknown backbone {name!r}: use {' or '.join(known)}")


def list_backbones(library: str | None = None) -> list[str]:
    """The registered backbones and every listed member of a family (any timm model also works as
    "timm:<name>"); with `library`, only the registered backbones of that library."""
    if library is not None:
        return [name for name, (entry, _) in _BACKBONES.items() if entry.library == library]
    return list(_BACKBONES) + [name for family in _FAMILIES.values() for name in family.names()]


def backbone_entry(name: str) -> Any:
    """The defaults of backbone `name` (a family member's come from its library: a "timm:<model>" entry from
    timm's pretrained config and the model's real output width, building the model once without weights)."""
    if name in _BACKBONES:
        return _BACKBONES[name][0]
    family = _family_of(name)
    if family is None:
        raise _unknown(name)
    return family.entry(name)


def create_backbone(name: str = "resnet152", *, weights: str = "imagenet", trainable_stages: int = 0) -> "Backbone":
    """Build `name` (`list_backbones()`, or a family member such as "timm:<model>") with `weights`
    ("imagenet", "imagenet:<tag>", "none" or a file; video models also "kinetics[:<tag>]")."""
    if name in _BACKBONES:
        backbone = _registered_backbone(*_BACKBONES[name], weights)
        backbone.set_trainable_stages(trainable_stages)
        return backbone
    family = _family_of(name)
    if family is None:
        raise _unknown(name)
    return family.create(name, weights=weights, trainable_stages=trainable_stages)


def _registered_backbone(entry: BackboneEntry, builder: BodyBuilder, weights: str) -> "Backbone":
    body, stages = seeded(builder)
    weights_id = "none"
    if is_imagenet(weights):
        pretrained = entry.pretrained(imagenet_tag(weights))
        body.load_state_dict(_PRETRAINED_LOADERS[entry.library](entry.name, pretrained.tag), strict=False)
        weights_id = f"imagenet:{pretrained.tag}"
    elif weights != "none":
        weights_id = load_weights_file(body, weights)
    return Backbone(body, stages, name=entry.name, feature_dim=entry.feature_dim, weights_id=weights_id,
                    mean=entry.mean, std=entry.std, input_size=entry.input_size)


# ---------------------------------------------------------------------------------------------- helpers


def is_imagenet(weights: str) -> bool:
    return weights == "imagenet" or weights.startswith("imagenet:")


def imagenet_tag(weights: str) -> str | None:
    return weights.split(":", 1)[1] if ":" in weights else None


def seeded(make):
    """Build with a fixed seed (restoring the caller's RNG), so weights='none' is the same every run."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(NONE_SEED)
        return make()
