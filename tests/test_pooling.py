"""Each pooling layer equals a direct implementation of its formula; "++" splits exactly at the centre."""
import numpy as np
import pytest
import torch

from soccerspot.models.pooling import (
    AvgPool, MaxPool, NetRVLAD, NetVLAD, TemporallyAwarePooling, WindowPooling, create_pooling, list_poolings,
    pooling_paper, split_point,
)

torch.manual_seed(0)


def direct_vlad(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, centers: np.ndarray | None) -> np.ndarray:
    """Loops over frames and clusters: v_k = sum_t a_tk (x_t - c_k), a_t = softmax(W x_t + b)."""
    frames, dim = x.shape
    clusters = weight.shape[0]
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    vlad = np.zeros((clusters, dim))
    for t in range(frames):
        logits = weight @ x[t] + (0 if bias is None else bias)
        a = np.exp(logits - logits.max())
        a /= a.sum()
        for k in range(clusters):
            residual = x[t] - (0 if centers is None else centers[k])
            vlad[k] += a[k] * residual
    for k in range(clusters):
        vlad[k] /= max(np.linalg.norm(vlad[k]), 1e-12)
    flat = vlad.reshape(-1)
    return flat / max(np.linalg.norm(flat), 1e-12)


def numpy_of(tensor):
    return None if tensor is None else tensor.detach().double().numpy()


@pytest.mark.parametrize("bias", [True, False])
def test_netvlad_matches_formula(bias):
    layer = NetVLAD(6, 4, assignment_bias=bias).double()
    x = torch.randn(3, 5, 6, dtype=torch.float64)
    got = layer(x).detach().numpy()
    for b in range(3):
        expected = direct_vlad(x[b].numpy(), numpy_of(layer.assignment.weight), numpy_of(layer.assignment.bias),
                               numpy_of(layer.centers))
        np.testing.assert_allclose(got[b], expected, atol=1e-12)
    assert got.shape == (3, layer.out_dim) == (3, 24)


def test_netrvlad_matches_formula():
    layer = NetRVLAD(6, 4).double()
    x = torch.randn(2, 7, 6, dtype=torch.float64)
    got = layer(x).detach().numpy()
    for b in range(2):
        expected = direct_vlad(x[b].numpy(), numpy_of(layer.assignment.weight), numpy_of(layer.assignment.bias), None)
        np.testing.assert_allclose(got[b], expected, atol=1e-12)


def test_netvlad_without_input_normalisation_uses_raw_frames():
    layer = NetVLAD(3, 2, normalize_input=False).double()
    x = torch.randn(1, 4, 3, dtype=torch.float64) * 10
    raw = layer(x)
    layer.normalize_input = True
    assert not torch.allclose(raw, layer(x))


def test_max_and_avg_pool_match_formula():
    x = torch.randn(2, 9, 5)
    np.testing.assert_array_equal(MaxPool(5)(x).numpy(), x.numpy().max(axis=1))
    np.testing.assert_allclose(AvgPool(5)(x).numpy(), x.numpy().mean(axis=1), rtol=1e-6)


@pytest.mark.parametrize("frames", [10, 11, 2])
def test_temporally_aware_splits_exactly_at_the_centre(frames):
    pooling = create_pooling("netvlad++", 6, clusters=8)
    assert isinstance(pooling, TemporallyAwarePooling)
    assert pooling.past.clusters == pooling.future.clusters == 4
    x = torch.randn(2, frames, 6)
    split = split_point(frames)
    assert split == frames // 2
    expected = torch.cat([pooling.past(x[:, :split]), pooling.future(x[:, split:])], dim=1)
    torch.testing.assert_close(pooling(x), expected, rtol=0, atol=0)
    # a change in the last past frame moves only the past part; in the centre frame only the future part
    changed_past, changed_future = x.clone(), x.clone()
    changed_past[:, split - 1] += 1.0
    changed_future[:, split] += 1.0
    half = pooling.past.out_dim
    base, after_past, after_future = pooling(x), pooling(changed_past), pooling(changed_future)
    assert torch.equal(base[:, half:], after_past[:, half:]) and not torch.allclose(base[:, :half], after_past[:, :half])
    assert torch.equal(base[:, :half], after_future[:, :half]) and not torch.allclose(base[:, half:], after_future[:, half:])


def test_temporally_aware_max_pool_is_past_max_then_future_max():
    x = torch.randn(1, 8, 3)
    out = create_pooling("maxpool++", 3)(x)
    torch.testing.assert_close(out, torch.cat([x[:, :4].amax(1), x[:, 4:].amax(1)], dim=1))


@pytest.mark.parametrize("name", list_poolings())
def test_frame_terms_reduce_to_forward(name):
    """The decomposition used by fast inference gives forward's output on a whole window."""
    pooling = create_pooling(name, 6, clusters=4).double()
    x = torch.randn(7, 6, dtype=torch.float64)
    parts = []
    for layer, begin, end in pooling.segments(7):
        terms = layer.frame_terms(x[begin:end])
        reduced = terms.amax(0) if layer.reduce == "max" else terms.sum(0)
        parts.append(layer.finish_terms(reduced, end - begin))
    torch.testing.assert_close(torch.cat(parts), pooling(x.unsqueeze(0))[0], rtol=0, atol=1e-12)


def test_registry_builds_every_family_and_rejects_unknown():
    assert set(list_poolings()) == {"netvlad", "netvlad++", "netrvlad", "netrvlad++", "maxpool", "maxpool++",
                                    "avgpool", "avgpool++"}
    assert create_pooling("netvlad", 8, clusters=16).out_dim == 128
    assert create_pooling("netvlad++", 8, clusters=16).out_dim == 128
    assert create_pooling("avgpool++", 8).out_dim == 16
    with pytest.raises(ValueError, match="unknown pooling"):
        create_pooling("netvlad+++", 8)
    with pytest.raises(ValueError, match="even"):
        create_pooling("netvlad++", 8, clusters=5)


@pytest.mark.parametrize("name", list_poolings())
@torch.no_grad()
def test_window_logits_score_every_window_like_forward(name):
    """The fast-path contract: `window_logits(rows, length, W)[j] == forward(rows[j:j+length]) @ W.T`,
    for every layer of every registered pooling (the VLAD shortcut included)."""
    pooling = create_pooling(name, 6, clusters=4).double()
    rows = torch.randn(40, 6, dtype=torch.float64)
    for layer, begin, end in pooling.segments(9):
        length = end - begin
        weight = torch.randn(3, layer.out_dim, dtype=torch.float64)
        got = layer.window_logits(rows, length, weight)
        expected = torch.stack([layer(rows[j : j + length]) @ weight.t() for j in range(40 - length + 1)])
        assert got.shape == (40 - length + 1, 3)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


class RootMeanSquare(WindowPooling):
    """A pooling layer the package does not know: sqrt(mean_t x_t^2), decomposed as sum of squares."""

    def __init__(self, dim: int):
        super().__init__()
        self.out_dim = dim

    def forward(self, x):
        return x.square().mean(dim=-2).sqrt()

    def frame_terms(self, x):
        return x.square()

    def finish_terms(self, reduced, frames):
        return (reduced / frames).sqrt()


@torch.no_grad()
def test_a_new_pooling_layer_gets_the_fast_path_from_its_terms_alone():
    layer = RootMeanSquare(5).double()
    rows = torch.randn(30, 5, dtype=torch.float64)
    weight = torch.randn(2, 5, dtype=torch.float64)
    direct = torch.stack([rows[j : j + 6].square().mean(0).sqrt() @ weight.t() for j in range(25)])
    torch.testing.assert_close(layer.window_logits(rows, 6, weight), direct, rtol=0, atol=1e-12)


def test_every_pooling_names_its_paper():
    for name in list_poolings():
        assert "20" in pooling_paper(name)  # a year: an actual citation, not an empty string
    assert "Temporally-Aware" in pooling_paper("netvlad++") and "NetVLAD" in pooling_paper("netvlad")
