"""Helpers for the dense models' equality tests against the peers' code: importing their shift modules on
this torch/timm, and weights that exercise every path (random gates, non-trivial BatchNorm statistics)."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
import types
from contextlib import contextmanager
from typing import Iterator

import pytest
import timm
import timm.layers.conv_bn_act
import torch
from torch import nn

from peer_code import imported_from


@contextmanager
def peer_modules(root, monkeypatch) -> Iterator[None]:
    """Import from a peer's code on a CPU with timm 1.x: E2E-Spot names `timm.models.layers.conv_bn_act`
    (moved to `timm.layers`), builds GSM's zero padding as `torch.cuda.FloatTensor`, and imports `tabulate`
    (only for printing tables) at the top of `train_e2e.py`; its models ask timm for ImageNet weights, which
    cannot be downloaded here: they get timm's random initialisation."""
    import timm.models.layers as old_layers
    monkeypatch.setattr(old_layers, "conv_bn_act", timm.layers.conv_bn_act, raising=False)
    if importlib.util.find_spec("tabulate") is None:
        stub = types.ModuleType("tabulate")
        stub.tabulate = lambda *args, **kwargs: ""
        stub.__spec__ = importlib.machinery.ModuleSpec("tabulate", None)
        monkeypatch.setitem(sys.modules, "tabulate", stub)
    create_model = timm.create_model
    monkeypatch.setattr(timm, "create_model", lambda *args, **kwargs: create_model(*args, **{**kwargs, "pretrained": False}))
    with imported_from(root):
        yield
        import model.impl.gsm as gsm
        monkeypatch.setattr(gsm, "ftens", lambda *size: torch.zeros(*size))


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Random BatchNorm statistics and affine terms, random temporal gates (GSM starts at zero), in place."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.modules.batchnorm._BatchNorm):
                count = sub.num_features
                sub.running_mean.copy_(0.2 * torch.randn(count, generator=generator))
                sub.running_var.copy_(0.5 + torch.rand(count, generator=generator))
                sub.weight.copy_(1 + 0.2 * torch.randn(count, generator=generator))
                sub.bias.copy_(0.2 * torch.randn(count, generator=generator))
            elif isinstance(sub, (nn.Conv3d,)) or (isinstance(sub, nn.Conv2d) and sub.in_channels == 2):
                sub.weight.copy_(0.3 * torch.randn(sub.weight.shape, generator=generator))
                sub.bias.copy_(0.3 * torch.randn(sub.bias.shape, generator=generator))
    return module.eval()


def renamed(state: dict, renames: list[tuple[str, str]]) -> dict:
    out = {}
    for key, value in state.items():
        for pattern, replacement in renames:
            key = re.sub(pattern, replacement, key)
        out[key] = value
    return out


def skip_without_timm_regnet() -> None:
    if not hasattr(timm.models, "regnet"):
        pytest.skip("timm has no regnet module")
