"""`models.sync_batchnorm`: the layers it replaces keep what they compute outside a data-parallel run (timm's
norm + activation layers included); their global-batch statistics are tested through whole runs in
tests/test_distributed.py and tests/test_dense_distributed.py."""
from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from soccerspot.models.sync_batchnorm import GlobalBatchNorm, sync_batchnorm


def test_timm_norm_activation_layers_keep_their_activation():
    torch.manual_seed(0)
    model = timm.create_model("regnety_002", pretrained=False, num_classes=0)
    converted = timm.create_model("regnety_002", pretrained=False, num_classes=0)
    converted.load_state_dict(model.state_dict())
    assert sync_batchnorm(converted) > 0
    assert not any(type(m).__name__ == "BatchNormAct2d" for m in converted.modules())
    assert any(isinstance(m, GlobalBatchNorm) and isinstance(getattr(m, "act", None), nn.ReLU)
               for m in converted.modules())
    assert converted.state_dict().keys() == model.state_dict().keys()
    images = torch.randn(4, 3, 32, 32)
    for train in (False, True):  # one process: the statistics of its own batch, the activation after them
        model.train(train)
        converted.train(train)
        torch.testing.assert_close(converted(images), model(images), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(converted.stem.bn.running_mean, model.stem.bn.running_mean)


def test_a_batchnorm_with_an_unknown_child_is_refused():
    layer = nn.BatchNorm2d(4)
    layer.add_module("gate", nn.Sigmoid())
    with pytest.raises(ValueError, match="gate"):
        sync_batchnorm(nn.Sequential(layer))
