"""Heads: shapes, probabilities, background column, config round trip and validation."""
import math

import pytest
import torch

from soccerspot.models.heads import HeadConfig, PoolingHead, TransformerHead, build_head, head_kinds, sinusoidal_encoding


def small_config(kind: str, **overrides) -> HeadConfig:
    values = dict(kind=kind, input_dim=24, num_classes=5, window_frames=8, clusters=4, projection_dim=16)
    return HeadConfig(**{**values, **overrides})


@pytest.mark.parametrize("kind", head_kinds())
def test_every_head_maps_windows_to_class_probabilities(kind):
    head = build_head(small_config(kind)).eval()
    out = head(torch.randn(3, 8, 24))
    assert out.shape == (3, 6)  # background + 5 classes
    assert torch.all((out >= 0) & (out <= 1))


def test_pooling_head_is_projection_pooling_dropout_fc_sigmoid():
    head = build_head(small_config("netvlad++")).eval()
    assert isinstance(head, PoolingHead)
    assert head.projection.weight.shape == (16, 24)
    assert head.fc.weight.shape == (6, 16 * 4)
    x = torch.randn(2, 8, 24)
    expected = torch.sigmoid(head.fc(head.pooling(head.projection(x))))
    torch.testing.assert_close(head(x), expected)
    assert head.dropout.p == 0.4


def test_no_projection_pools_raw_features():
    head = build_head(small_config("maxpool", projection_dim=None))
    assert isinstance(head.projection, torch.nn.Identity)
    assert head.fc.weight.shape == (6, 24)


def test_dropout_is_active_only_in_training():
    head = build_head(small_config("avgpool", dropout=0.9))
    x = torch.randn(4, 8, 24)
    head.eval()
    assert torch.equal(head(x), head(x))
    head.train()
    torch.manual_seed(1)
    assert not torch.equal(head(x), head(x))


def test_transformer_head_layout():
    config = small_config("transformer", model_dim=64, num_layers=3, num_heads=4)
    head = build_head(config)
    assert isinstance(head, TransformerHead)
    assert len(head.encoder.layers) == 3
    assert head.encoder.layers[0].self_attn.num_heads == 4
    assert head.projection.out_features == 64
    assert "positions" not in head.state_dict()  # rebuilt from the config, not stored
    with pytest.raises(ValueError, match="windows of 8 frames"):
        head(torch.randn(1, 9, 24))


def test_transformer_is_order_aware():
    torch.manual_seed(0)
    head = build_head(small_config("transformer")).eval()
    x = torch.randn(1, 8, 24)
    assert not torch.allclose(head(x), head(x.flip(1)))


def test_sinusoidal_encoding_formula():
    encoding = sinusoidal_encoding(5, 6)
    for position in range(5):
        for i in range(3):
            angle = position / 10000 ** (2 * i / 6)
            assert math.isclose(encoding[position, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(encoding[position, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)


def test_config_json_round_trip_rebuilds_the_same_head():
    config = small_config("netrvlad++", assignment_bias=False)
    again = HeadConfig.from_json(config.to_json())
    assert again == config
    first = build_head(config)
    second = build_head(again)
    second.load_state_dict(first.state_dict())
    x = torch.randn(2, 8, 24)
    torch.testing.assert_close(first.eval()(x), second.eval()(x))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(kind="lstm"), "unknown head kind"),
        (dict(kind="netvlad++", clusters=5), "even"),
        (dict(kind="maxpool++", window_frames=1), ">= 2"),
        (dict(num_classes=0), "num_classes"),
        (dict(kind="transformer", model_dim=30, num_heads=4), "divisible"),
    ],
)
def test_invalid_configs_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_head(small_config(**{"kind": "netvlad", **overrides}))


def test_unknown_config_fields_are_refused():
    with pytest.raises(ValueError, match="unknown head config fields: colour"):
        HeadConfig.from_json({**small_config("netvlad").to_json(), "colour": "red"})
