"""torchvision's ResNets ``resnet18`` ... ``resnet152`` (He et al., "Deep Residual Learning for Image
Recognition", 2016); ``resnet152``'s pooled penultimate layer (2048-d) is what SoccerNet's features use.
`weights="imagenet[:tag]"` loads torchvision's own weights through its URL into the torch hub cache."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from soccerspot.models.backbones.registry import PretrainedWeights, register_backbone, register_pretrained_loader
from soccerspot.models.backbones.weights import BackboneWeightsError
from soccerspot.models.papers import RESNET_PAPER


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


def _torchvision_pretrained(name: str, tag: str) -> dict:
    import torchvision

    return torchvision_state_dict(name, torchvision.models.get_model_weights(name)[tag])


def torchvision_state_dict(name: str, spec, dataset: str = "ImageNet") -> dict:
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


register_pretrained_loader("torchvision", _torchvision_pretrained)
