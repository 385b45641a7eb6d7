"""Heads: against independent computations, the registry and its defaults, configs per family."""
import math

import numpy as np
import pytest
import torch

from soccerspot.models.heads.registry import WindowHead

from soccerspot.models.heads import create_head, head_config, head_config_from_json, head_entry, list_heads
from soccerspot.models.heads.pooling_head import PoolingHeadConfig
from soccerspot.models.heads.transformer import TransformerHead, TransformerHeadConfig, sinusoidal_encoding
from soccerspot.models.pooling import list_poolings


def small_config(kind: str, **overrides):
    if kind == "transformer":
        family = dict(model_dim=16, num_layers=2, num_heads=4, feedforward_dim=32)
    elif kind == "rmsnet":
        family = dict(hidden_dim=16, fc_dim=8)
    elif kind == "calf":
        family = dict(frame_hidden=16, frame_reduced=8, capsule_dim=4, num_detections=3)
    else:
        family = dict(clusters=4, projection_dim=16)
    window = 16 if kind == "calf" else 8  # CALF pools a chunk three times
    return head_config(kind, input_dim=24, num_classes=5, window_frames=window, **{**family, **overrides})


@pytest.mark.parametrize("kind", list_heads())
def test_every_head_maps_windows_to_class_probabilities(kind):
    head = create_head(small_config(kind)).eval()
    if not isinstance(head, WindowHead):  # its outputs are not one window's probabilities (RMS-Net)
        out = head.half_probabilities(torch.randn(20, 24))
        assert out.shape == (20, 6)
        torch.testing.assert_close(out[:, 0], 1 - out[:, 1:].max(dim=1).values)
    else:
        out = head(torch.randn(3, 8, 24))
        assert out.shape == (3, 6)  # background + 5 classes
    assert torch.all((out >= 0) & (out <= 1))


def test_pooling_head_against_numpy():
    """maxpool++ by hand: sigmoid(fc(max over the past 4 rows ++ max over the future 4 rows of x W^T + b))."""
    head = create_head(small_config("maxpool++")).eval()
    x = torch.randn(2, 8, 24)
    weights = {name: value.detach().double().numpy() for name, value in head.state_dict().items()}
    projected = x.double().numpy() @ weights["projection.weight"].T + weights["projection.bias"]
    pooled = np.concatenate([projected[:, :4].max(axis=1), projected[:, 4:].max(axis=1)], axis=1)
    expected = 1 / (1 + np.exp(-(pooled @ weights["fc.weight"].T + weights["fc.bias"])))
    np.testing.assert_allclose(head(x).detach().numpy(), expected, atol=1e-6)
    assert head.dropout.p == 0.4


def test_no_projection_pools_raw_features():
    head = create_head(small_config("maxpool", projection_dim=None))
    assert isinstance(head.projection, torch.nn.Identity)
    assert head.fc.weight.shape == (6, 24)


def test_dropout_is_active_only_in_training():
    head = create_head(small_config("avgpool", dropout=0.9))
    x = torch.randn(4, 8, 24)
    head.eval()
    assert torch.equal(head(x), head(x))
    head.train()
    torch.manual_seed(1)
    assert not torch.equal(head(x), head(x))


# --- the transformer against a hand-written encoder ---------------------------------------------------------


def layer_norm(h: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mean = h.mean(-1, keepdims=True)
    variance = ((h - mean) ** 2).mean(-1, keepdims=True)
    return (h - mean) / np.sqrt(variance + eps) * gain + bias


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def reference_transformer(weights: dict, window: np.ndarray, heads: int, layers: int, readout: str) -> np.ndarray:
    """Vaswani et al. 2017 post-norm encoder, written out for one window (frames, input_dim):
    h = x Wp + PE; per layer: h = LN(h + MultiHead(h)), h = LN(h + W2 relu(W1 h)); read-out; sigmoid(fc)."""
    frames = window.shape[0]
    h = window @ weights["projection.weight"].T + weights["projection.bias"]
    model_dim = h.shape[1]
    h = h + sinusoidal_encoding(frames, model_dim).double().numpy()
    width = model_dim // heads
    for index in range(layers):
        p = {k[len(f"encoder.layers.{index}."):]: v for k, v in weights.items() if k.startswith(f"encoder.layers.{index}.")}
        qkv = h @ p["self_attn.in_proj_weight"].T + p["self_attn.in_proj_bias"]
        q, k, v = np.split(qkv, 3, axis=1)
        attended = np.zeros_like(h)
        for head in range(heads):  # every frame attends to every frame of the window: no mask
            cols = slice(head * width, (head + 1) * width)
            attention = softmax(q[:, cols] @ k[:, cols].T / math.sqrt(width))
            attended[:, cols] = attention @ v[:, cols]
        attended = attended @ p["self_attn.out_proj.weight"].T + p["self_attn.out_proj.bias"]
        h = layer_norm(h + attended, p["norm1.weight"], p["norm1.bias"])
        hidden = np.maximum(h @ p["linear1.weight"].T + p["linear1.bias"], 0)
        h = layer_norm(h + hidden @ p["linear2.weight"].T + p["linear2.bias"], p["norm2.weight"], p["norm2.bias"])
    pooled = {"max": h.max(axis=0), "mean": h.mean(axis=0), "center": h[frames // 2]}[readout]
    return 1 / (1 + np.exp(-(pooled @ weights["fc.weight"].T + weights["fc.bias"])))


@pytest.mark.parametrize("readout", ["max", "mean", "center"])
def test_transformer_equals_a_hand_written_encoder(readout):
    torch.manual_seed(0)
    config = small_config("transformer", readout=readout)
    head = create_head(config).eval()
    weights = {name: value.detach().double().numpy() for name, value in head.state_dict().items()}
    x = torch.randn(3, 8, 24)
    got = head(x).detach().numpy()
    for b in range(3):
        expected = reference_transformer(weights, x[b].double().numpy(), config.num_heads, config.num_layers, readout)
        np.testing.assert_allclose(got[b], expected, atol=2e-5)
    assert got.std() > 0.01  # not a comparison of constants


def test_transformer_without_positions_cannot_tell_frame_order():
    """An unmasked encoder is permutation-equivariant, so with the positional encoding zeroed a max read-out
    is permutation-invariant; with it, the order matters."""
    torch.manual_seed(0)
    head = create_head(small_config("transformer")).eval()
    x = torch.randn(2, 8, 24)
    shuffled = x[:, torch.randperm(8)]
    assert not torch.allclose(head(x), head(shuffled), atol=1e-4)
    head.positions.zero_()
    torch.testing.assert_close(head(x), head(shuffled), rtol=0, atol=1e-5)


def test_transformer_head_layout():
    head = create_head(small_config("transformer"))
    assert isinstance(head, TransformerHead)
    assert len(head.encoder.layers) == 2
    assert head.encoder.layers[0].self_attn.num_heads == 4
    assert head.projection.out_features == 16
    assert "positions" not in head.state_dict()  # rebuilt from the config, not stored
    with pytest.raises(ValueError, match="windows of 8 frames"):
        head(torch.randn(1, 9, 24))


def test_sinusoidal_encoding_formula():
    encoding = sinusoidal_encoding(5, 6)
    for position in range(5):
        for i in range(3):
            angle = position / 10000 ** (2 * i / 6)
            assert math.isclose(encoding[position, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(encoding[position, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)


# --- registry and configs -----------------------------------------------------------------------------------


def test_registry_holds_every_pooling_head_the_transformer_rmsnet_and_calf_each_naming_its_paper():
    from soccerspot.models.heads.calf import CALFHeadConfig
    from soccerspot.models.heads.rmsnet import RMSNetHeadConfig

    assert list_heads() == sorted(list_poolings() + ["transformer", "rmsnet", "calf"])
    families = {"transformer": TransformerHeadConfig, "rmsnet": RMSNetHeadConfig, "calf": CALFHeadConfig}
    for kind in list_heads():
        entry = head_entry(kind)
        assert entry.kind == kind and "20" in entry.paper  # a year: a citation
        assert entry.config_type is families.get(kind, PoolingHeadConfig)
    assert "Temporally-Aware" in head_entry("netvlad++").paper and "Baidu" in head_entry("transformer").paper


def test_registered_defaults_are_the_papers_values():
    netvladpp = head_config("netvlad++", input_dim=2048, num_classes=17, window_frames=30)
    assert (netvladpp.clusters, netvladpp.projection_dim, netvladpp.dropout) == (64, 512, 0.4)
    assert create_head(netvladpp).fc.in_features == 512 * 64  # 32 past + 32 future clusters of 512-d
    baidu = head_config("transformer", input_dim=8576, num_classes=17, window_frames=7)
    assert (baidu.model_dim, baidu.num_layers, baidu.num_heads) == (64, 3, 4)


def test_a_config_has_only_its_familys_settings():
    assert not hasattr(small_config("netvlad"), "model_dim")
    assert not hasattr(small_config("transformer"), "clusters")
    with pytest.raises(ValueError, match="has no settings clusters"):
        head_config("transformer", input_dim=8, num_classes=2, window_frames=4, clusters=8)
    with pytest.raises(ValueError, match="takes a TransformerHeadConfig"):
        create_head(PoolingHeadConfig(kind="transformer"))


def test_an_old_flat_config_reads_as_its_family_and_builds_the_same_head():
    flat = {"kind": "netrvlad++", "input_dim": 24, "num_classes": 5, "window_frames": 8, "clusters": 4,
            "projection_dim": 16, "dropout": 0.4, "assignment_bias": False, "normalize_input": True,
            "model_dim": 32, "num_layers": 3, "num_heads": 4, "feedforward_dim": 256, "attention_dropout": 0.1,
            "readout": "max"}  # what checkpoints stored before the family configs
    family = head_config_from_json(flat)
    assert family == small_config("netrvlad++", assignment_bias=False)


@pytest.mark.parametrize("kind", ["netrvlad++", "transformer"])
def test_config_json_round_trip(kind):
    config = small_config(kind)
    assert head_config_from_json(config.to_json()) == config
    assert type(config).from_json(config.to_json()) == config


@pytest.mark.parametrize(
    "kind, overrides, message",
    [
        ("lstm", {}, "unknown head kind"),
        ("netvlad++", dict(clusters=5), "even"),
        ("netvlad", dict(clusters=0), "clusters >= 1"),
        ("maxpool++", dict(window_frames=1), ">= 2"),
        ("netvlad", dict(num_classes=0), "num_classes"),
        ("avgpool", dict(dropout=1.5), "dropout"),
        ("transformer", dict(model_dim=30, num_heads=4), "divisible"),
        ("transformer", dict(readout="last"), "readout"),
        ("transformer", dict(num_layers=0), "num_layers"),
    ],
)
def test_invalid_configs_are_refused(kind, overrides, message):
    with pytest.raises(ValueError, match=message):
        config_type = TransformerHeadConfig if kind == "transformer" else PoolingHeadConfig
        create_head(config_type(**{"input_dim": 24, "num_classes": 5, "window_frames": 8, "kind": kind, **overrides}))


def test_unknown_config_fields_are_refused():
    with pytest.raises(ValueError, match="unknown head config fields: colour"):
        head_config_from_json({**small_config("netvlad").to_json(), "colour": "red"})
    with pytest.raises(ValueError, match="unknown head config fields: clusters"):
        TransformerHeadConfig.from_json({**small_config("transformer").to_json(), "clusters": 4})
