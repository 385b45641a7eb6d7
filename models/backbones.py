"""Image backbones cut before their classifier: normalised (n, 3, h, w) float -> (n, feature_dim).

Backbones are registered builders whose defaults are data (`BackboneEntry`: output width, input size,
mean/std, the pretrained weights each name can load with their source and ImageNet accuracy, the paper),
as torchvision's builders with their weight enums; `backbone_entry(name)` reads them, `backbone_names()`
lists the registered ones, and a `timm:<name>` entry is made from timm's own pretrained config.

- torchvision ResNets ``resnet18`` ... ``resnet152`` (He et al., "Deep Residual Learning for Image
  Recognition", 2016); ``resnet152``'s pooled penultimate layer (2048-d) is what SoccerNet's features use.
- any timm image model as ``timm:<name>`` (e.g. ``timm:regnety_008``), its pooled features.

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

import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESNET_PAPER = "He et al., 'Deep Residual Learning for Image Recognition', CVPR 2016"
NONE_SEED = 0
# Keys a classification checkpoint carries that a pooled-feature backbone does not have.
CLASSIFIER_PREFIXES = ("fc.", "head.fc.", "classifier.", "head.weight", "head.bias", "head.1.", "last_linear.")


def normalize_images(
    batch: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """uint8 (..., 3, h, w) images (n, 3, h, w) or clips (n, frames, 3, h, w) -> float `dtype`, scaled to [0, 1]
    then standardised per channel (extraction and fine-tuning both feed a backbone through this)."""
    mean_t = torch.tensor(mean, device=batch.device, dtype=dtype).view(3, 1, 1) * 255.0
    inv_std = 1.0 / (torch.tensor(std, device=batch.device, dtype=dtype).view(3, 1, 1) * 255.0)
    return (batch.to(dtype) - mean_t) * inv_std


class BackboneWeightsError(RuntimeError):
    """The requested weights cannot be loaded (offline, missing or mismatched file); says how to fix it."""


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
    library: str  # "torchvision" | "timm" | "keras" (models.keras_resnet)
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
    """An image model without its classifier. `forward` takes normalised float images (see `mean`/`std`)."""

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
_BACKBONES: dict[str, tuple[BackboneEntry, BodyBuilder]] = {}


def register_backbone(name: str, **entry: Any) -> Callable[[BodyBuilder], BodyBuilder]:
    """Register a builder of a classifier-less model and its stages under `name`, with the `BackboneEntry`
    fields (`library`, `paper`, `feature_dim`, `weights`, ...) as data."""

    def register(builder: BodyBuilder) -> BodyBuilder:
        if name in _BACKBONES:
            raise ValueError(f"backbone {name!r} is registered twice")
        _BACKBONES[name] = (BackboneEntry(name=name, **entry), builder)
        return builder

    return register


def backbone_names() -> list[str]:
    """The registered image backbones (any timm model is also available as "timm:<name>"; video models are
    `models.video_backbones.video_backbone_names()`)."""
    return list(_BACKBONES)


def backbone_entry(name: str) -> BackboneEntry:
    """The defaults of backbone `name`. A "timm:<model>" entry comes from timm's pretrained config and the
    model's real output width (building the model once, without weights)."""
    if name in _BACKBONES:
        return _BACKBONES[name][0]
    if name.startswith("timm:"):
        return _timm_entry(name[len("timm:") :], _timm_body(name[len("timm:") :]))
    if name.startswith("video:"):
        from soccerspot.models.video_backbones import video_backbone_entry

        return video_backbone_entry(name)
    raise ValueError(f"unknown backbone {name!r}: {_KNOWN}")


def build_backbone(name: str = "resnet152", *, weights: str = "imagenet", trainable_stages: int = 0) -> Backbone:
    """Build `name` (`backbone_names()`, "timm:<model>" or "video:<model>", see `models.video_backbones`) with
    `weights` ("imagenet", "imagenet:<tag>", "none" or a file; video models also "kinetics[:<tag>]")."""
    if name in _BACKBONES:
        backbone = _registered_backbone(*_BACKBONES[name], weights)
    elif name.startswith("timm:"):
        backbone = _timm_model(name[len("timm:") :], weights)
    elif name.startswith("video:"):
        from soccerspot.models.video_backbones import build_video_backbone

        return build_video_backbone(name, weights=weights, trainable_stages=trainable_stages)
    else:
        raise ValueError(f"unknown backbone {name!r}: {_KNOWN}")
    backbone.set_trainable_stages(trainable_stages)
    return backbone


_KNOWN = "use resnet18..resnet152, keras_resnet152, 'timm:<model name>' or 'video:<model>' (r3d_18, mc3_18, r2plus1d_18, s3d, mvit_v1_b, mvit_v2_s, swin3d_t/s/b)"


def _registered_backbone(entry: BackboneEntry, builder: BodyBuilder, weights: str) -> Backbone:
    body, stages = _seeded(builder)
    weights_id = "none"
    if _is_imagenet(weights):
        pretrained = entry.pretrained(_imagenet_tag(weights))
        body.load_state_dict(_PRETRAINED_LOADERS[entry.library](entry.name, pretrained.tag), strict=False)
        weights_id = f"imagenet:{pretrained.tag}"
    elif weights != "none":
        weights_id = _load_file(body, weights)
    return Backbone(body, stages, name=entry.name, feature_dim=entry.feature_dim, weights_id=weights_id,
                    mean=entry.mean, std=entry.std, input_size=entry.input_size)


# ---------------------------------------------------------------------------------------------- torchvision


def _resnet_weights(name: str, top1_v1: float, top1_v2: float | None = None) -> tuple[PretrainedWeights, ...]:
    """torchvision's ResNet weights: V1 (the original recipe) and, for the deeper ones, V2 (its newer recipe)."""
    enum = f"ResNet{name[len('resnet'):]}_Weights"
    weights = [PretrainedWeights("IMAGENET1K_V1", f"torchvision {enum}.IMAGENET1K_V1 (torch hub cache)", top1_v1)]
    if top1_v2 is not None:
        weights.append(PretrainedWeights("IMAGENET1K_V2", f"torchvision {enum}.IMAGENET1K_V2 (torch hub cache)", top1_v2))
    return tuple(weights)


def _resnet_body(name: str) -> tuple[nn.Module, list[list[str]]]:
    import torchvision

    body = getattr(torchvision.models, name)(weights=None)
    body.fc = nn.Identity()
    return body, [["conv1", "bn1"], ["layer1"], ["layer2"], ["layer3"], ["layer4"]]


@register_backbone("resnet18", library="torchvision", paper=RESNET_PAPER, feature_dim=512,
                   weights=_resnet_weights("resnet18", 69.758))
def resnet18() -> tuple[nn.Module, list[list[str]]]:
    return _resnet_body("resnet18")


@register_backbone("resnet34", library="torchvision", paper=RESNET_PAPER, feature_dim=512,
                   weights=_resnet_weights("resnet34", 73.314))
def resnet34() -> tuple[nn.Module, list[list[str]]]:
    return _resnet_body("resnet34")


@register_backbone("resnet50", library="torchvision", paper=RESNET_PAPER, feature_dim=2048,
                   weights=_resnet_weights("resnet50", 76.13, 80.858))
def resnet50() -> tuple[nn.Module, list[list[str]]]:
    return _resnet_body("resnet50")


@register_backbone("resnet101", library="torchvision", paper=RESNET_PAPER, feature_dim=2048,
                   weights=_resnet_weights("resnet101", 77.374, 81.886))
def resnet101() -> tuple[nn.Module, list[list[str]]]:
    return _resnet_body("resnet101")


# SoccerNet's features: this model's pooled penultimate layer, ImageNet V1 weights.
@register_backbone("resnet152", library="torchvision", paper=RESNET_PAPER, feature_dim=2048,
                   weights=_resnet_weights("resnet152", 78.312, 82.284))
def resnet152() -> tuple[nn.Module, list[list[str]]]:
    return _resnet_body("resnet152")


TORCHVISION_RESNETS = {name: entry.feature_dim for name, (entry, _) in _BACKBONES.items()}  # name -> width


def _torchvision_pretrained(name: str, tag: str) -> dict:
    import torchvision

    return _torchvision_state_dict(name, torchvision.models.get_model_weights(name)[tag])


def _torchvision_state_dict(name: str, spec, dataset: str = "ImageNet") -> dict:
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    try:
        state = spec.get_state_dict(progress=False, check_hash=False)
    except Exception as error:  # URLError, socket errors, HTTP errors: all mean "not available here"
        filename = os.path.basename(spec.url)
        raise BackboneWeightsError(
            f"cannot load {dataset} weights for {name} ({spec}): {error}. Offline? Download {spec.url} "
            f"elsewhere and put it at {checkpoints / filename} (the torch hub cache; TORCH_HOME moves it), "
            f"or pass the file itself: --weights /path/to/{filename}"
        ) from error
    return {key: value for key, value in state.items() if not key.startswith("fc.")}


# ---------------------------------------------------------------------------------------------- timm


def _timm_output_dim(body: nn.Module) -> int:
    """Width of what `forward` returns with `num_classes=0`: models with a pre-logits layer
    (MobileNetV3, EfficientNet-lite heads...) return `head_hidden_size`, wider than `num_features`."""
    return int(getattr(body, "head_hidden_size", None) or body.num_features)


def _timm_body(model_name: str) -> nn.Module:
    import timm

    try:
        return _seeded(lambda: timm.create_model(model_name, pretrained=False, num_classes=0))
    except RuntimeError as error:  # timm's "Unknown model"
        raise ValueError(f"unknown timm model {model_name!r} ({error})") from error


def _timm_entry(model_name: str, body: nn.Module) -> BackboneEntry:
    """timm's pretrained config of the model, as a `BackboneEntry`."""
    cfg = body.pretrained_cfg or {}
    hub_id = cfg.get("hf_hub_id")
    size = cfg.get("input_size")
    weights = (PretrainedWeights(f"timm/{hub_id or model_name}", f"Hugging Face hub {hub_id} (timm)"),) if hub_id else ()
    return BackboneEntry(
        name=f"timm:{model_name}", library="timm", paper=str(cfg.get("paper_ids") or cfg.get("paper_name") or ""),
        feature_dim=_timm_output_dim(body), input_size=int(size[-1]) if size else 224,
        mean=tuple(cfg.get("mean", IMAGENET_MEAN)), std=tuple(cfg.get("std", IMAGENET_STD)), weights=weights,
    )


def _timm_model(model_name: str, weights: str) -> Backbone:
    body = _timm_body(model_name)
    entry = _timm_entry(model_name, body)
    weights_id = "none"
    if _is_imagenet(weights):
        weights_id = _load_timm_pretrained(body, model_name, body.pretrained_cfg or {})
    elif weights != "none":
        weights_id = _load_file(body, weights)
    stages = [[info["module"]] for info in body.feature_info] if getattr(body, "feature_info", None) else []
    if not stages:
        stages = [[name] for name, module in body.named_children() if any(True for _ in module.parameters())]
    return Backbone(body, stages, name=entry.name, feature_dim=entry.feature_dim, weights_id=weights_id,
                    mean=entry.mean, std=entry.std, input_size=entry.input_size)


def _load_timm_pretrained(body: nn.Module, model_name: str, cfg: dict) -> str:
    import timm

    hub_id = cfg.get("hf_hub_id")
    cached = _hf_cached_file(hub_id) if hub_id else None
    if cached is None and not _huggingface_reachable():
        raise BackboneWeightsError(
            f"cannot load ImageNet weights for timm model {model_name!r}: not in the Hugging Face cache and "
            f"huggingface.co is unreachable. Pre-populate the cache where there is internet "
            f"(`hf download {hub_id}`; HF_HOME moves the cache) or pass a local file: --weights /path/to/"
            f"model.safetensors"
        )
    try:
        overlay = {"file": cached} if cached else None
        pretrained = timm.create_model(model_name, pretrained=True, num_classes=0, pretrained_cfg_overlay=overlay)
    except Exception as error:
        raise BackboneWeightsError(
            f"cannot load ImageNet weights for timm model {model_name!r}: {error}. Pre-populate the Hugging "
            f"Face cache (`hf download {hub_id}`) or pass a local file with --weights"
        ) from error
    body.load_state_dict(pretrained.state_dict())
    return f"imagenet:timm/{hub_id or model_name}"


def _hf_cached_file(hub_id: str) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for filename in ("model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(hub_id, filename)
        if isinstance(path, str):
            return path
    return None


def _huggingface_reachable(timeout: float = 3.0) -> bool:
    """A quick check, so an offline machine fails at once instead of after a minute of retries."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------- files


def _load_file(body: nn.Module, path: str) -> str:
    """Load a local state dict into `body`; returns "file:<sha256 prefix>"."""
    file = Path(path)
    if not file.is_file():
        raise BackboneWeightsError(f"{path}: weights file not found (use 'imagenet', 'none' or a checkpoint file)")
    state = _read_state_dict(file)
    state = _strip_prefixes(state, body)
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
    return f"file:{_sha256(Path(file))[:16]}"


def _read_state_dict(file: Path) -> dict[str, torch.Tensor]:
    if file.suffix in (".h5", ".hdf5"):  # Keras's HDF5 weights (keras_resnet152)
        from soccerspot.models.keras_resnet import read_keras_h5

        return read_keras_h5(file)
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


def _strip_prefixes(state: dict[str, torch.Tensor], body: nn.Module) -> dict[str, torch.Tensor]:
    """Accept this Backbone's keys ("body."), a wrapping model's ("backbone."), DataParallel's ("module.")."""
    expected = set(body.state_dict())
    for _ in range(3):
        if any(key in expected for key in state):
            break
        for prefix in ("module.", "backbone.", "body.", "model."):
            if any(key.startswith(prefix) for key in state):
                state = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
                break
    return state


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- helpers


def _is_imagenet(weights: str) -> bool:
    return weights == "imagenet" or weights.startswith("imagenet:")


def _imagenet_tag(weights: str) -> str | None:
    return weights.split(":", 1)[1] if ":" in weights else None


def _seeded(make):
    """Build with a fixed seed (restoring the caller's RNG), so weights='none' is the same every run."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(NONE_SEED)
        return make()


_PRETRAINED_LOADERS: dict[str, Callable[[str, str], dict]] = {"torchvision": _torchvision_pretrained}

import soccerspot.models.keras_resnet  # noqa: E402,F401  registers keras_resnet152 (Keras's ResNet152, SoccerNet's ResNET_TF2)
