"""The dense models' registry and interface (`models.dense.registry`)."""
from __future__ import annotations

import pytest
import torch

from soccerspot.errors import SettingsError
from soccerspot.models.dense import (
    PAD_BLACK, DenseInput, DenseModel, DenseOutput, create_dense_model, dense_model_entry, list_dense_models,
    register_dense_model,
)


class _Constant(DenseModel):
    def __init__(self, clip_len: int, num_classes: int):
        super().__init__()
        self.clip_len, self.num_classes = clip_len, num_classes
        self.input_spec = DenseInput((0.5, 0.5, 0.5), (0.25, 0.25, 0.25), PAD_BLACK)

    def forward(self, x):
        return DenseOutput(torch.zeros(x.shape[0], x.shape[1], self.num_classes + 1))


def test_register_and_create_with_defaults_then_overrides():
    register_dense_model("test-constant", paper="none", clip_len=8, num_classes=3)(_Constant)
    try:
        assert "test-constant" in list_dense_models()
        model = create_dense_model("test-constant", num_classes=5)
        assert (model.clip_len, model.num_classes) == (8, 5)
        assert model(torch.zeros(2, 8, 3, 4, 4)).logits.shape == (2, 8, 6)
        assert dense_model_entry("test-constant").paper == "none"
        with pytest.raises(ValueError, match="registered twice"):
            register_dense_model("test-constant", paper="none")(_Constant)
    finally:
        from soccerspot.models.dense import registry
        registry._REGISTRY.pop("test-constant", None)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(SettingsError, match="unknown dense model 'nope'"):
        create_dense_model("nope")


def test_dense_input_normalises_uint8_and_refuses_unknown_padding():
    spec = DenseInput((0.5, 0.25, 0.0), (0.5, 0.25, 1.0), PAD_BLACK)
    frames = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    assert torch.allclose(spec.normalise(frames)[0, :, 0, 0], torch.tensor([1.0, 3.0, 1.0]))
    with pytest.raises(SettingsError, match="padding"):
        DenseInput((0, 0, 0), (1, 1, 1), "mirror")
