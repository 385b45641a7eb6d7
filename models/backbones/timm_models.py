"""Any timm image model as ``timm:<name>`` (e.g. ``timm:regnety_008``), its pooled features. Its entry (input
size, mean/std, weights) comes from timm's own pretrained config; `weights="imagenet"` loads through timm's
Hugging Face hub path (from the cache when offline; HF_HUB_OFFLINE=1 fails at once with instructions)."""
from __future__ import annotations

import os

from torch import nn

from soccerspot.models.backbones.registry import (
    IMAGENET_MEAN, IMAGENET_STD, Backbone, BackboneEntry, BackboneFamily, PretrainedWeights, is_imagenet,
    register_backbone_family, seeded,
)
from soccerspot.models.backbones.weights import BackboneWeightsError, load_weights_file

TIMM_PREFIX = "timm:"


def _timm_output_dim(body: nn.Module) -> int:
    """Width of what `forward` returns with `num_classes=0`: models with a pre-logits layer
    (MobileNetV3, EfficientNet-lite heads...) return `head_hidden_size`, wider than `num_features`."""
    return int(getattr(body, "head_hidden_size", None) or body.num_features)


def _timm_body(model_name: str) -> nn.Module:
    import timm

    try:
        return seeded(lambda: timm.create_model(model_name, pretrained=False, num_classes=0))
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
    if is_imagenet(weights):
        weights_id = _load_timm_pretrained(body, model_name, body.pretrained_cfg or {})
    elif weights != "none":
        weights_id = load_weights_file(body, weights)
    stages = [[info["module"]] for info in body.feature_info] if getattr(body, "feature_info", None) else []
    if not stages:
        stages = [[name] for name, module in body.named_children() if any(True for _ in module.parameters())]
    return Backbone(body, stages, name=entry.name, feature_dim=entry.feature_dim, weights_id=weights_id,
                    mean=entry.mean, std=entry.std, input_size=entry.input_size)


def _load_timm_pretrained(body: nn.Module, model_name: str, cfg: dict) -> str:
    import timm

    hub_id = cfg.get("hf_hub_id")
    cached = _hf_cached_file(hub_id) if hub_id else None
    if cached is None and os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise BackboneWeightsError(
            f"cannot load ImageNet weights for timm model {model_name!r}: not in the Hugging Face cache and "
            f"HF_HUB_OFFLINE is set. Pre-populate the cache where there is internet "
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


def load_timm_imagenet(body: nn.Module, model_name: str) -> str:
    """timm's ImageNet weights for `model_name` into `body` (built with `num_classes=0`), from the Hugging Face
    cache or downloaded; `BackboneWeightsError` saying how to provide them otherwise. Returns the weights id."""
    return _load_timm_pretrained(body, model_name, getattr(body, "pretrained_cfg", None) or {})


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


def _timm_create(name: str, *, weights: str, trainable_stages: int) -> Backbone:
    backbone = _timm_model(name[len(TIMM_PREFIX):], weights)
    backbone.set_trainable_stages(trainable_stages)
    return backbone


register_backbone_family(BackboneFamily(
    TIMM_PREFIX,
    entry=lambda name: _timm_entry(name[len(TIMM_PREFIX):], _timm_body(name[len(TIMM_PREFIX):])),
    create=_timm_create,
    hint="'timm:<model name>'",
))
