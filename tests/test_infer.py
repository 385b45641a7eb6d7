"""Whole-half inference: window centring, fast path == per-window path for every pooling, edge cases."""
import numpy as np
import pytest
import torch

from soccerspot.models.heads import create_head, head_config
from soccerspot.models.heads.pooling_head import PoolingHeadConfig
from soccerspot.models.pooling import list_poolings
from soccerspot.models import sliding
from soccerspot.models.sliding import window_indices
from soccerspot.pipeline.inference.scores import frame_scores, window_probabilities

POOLING_KINDS = list_poolings()


def fast_probabilities(head, features: np.ndarray, window_frames: int, tile_frames: int = 256) -> np.ndarray:
    """The pooling head's own whole-half path (window sums)."""
    assert window_frames == head.config.window_frames
    return head.eval().half_probabilities(torch.from_numpy(features), tile_frames=tile_frames).numpy()


def per_window_probabilities(head, features: np.ndarray, window_frames: int, batch_size: int = 256) -> np.ndarray:
    """The definition: the model run on the window around every row."""
    return sliding.per_window_probabilities(head.eval(), torch.from_numpy(features), window_frames,
                                            batch_size=batch_size).numpy()


def sharp_head(kind: str, window_frames: int = 10, input_dim: int = 20, **overrides):
    """A head whose outputs spread over (0, 1): random init leaves everything near 0.5, which would
    hide differences between the two paths."""
    torch.manual_seed(0)
    family = dict(model_dim=16, num_heads=4) if kind == "transformer" else dict(clusters=8, projection_dim=12)
    config = head_config(kind, input_dim=input_dim, num_classes=4, window_frames=window_frames,
                         **{**family, **overrides})
    head = create_head(config).eval()
    with torch.no_grad():
        head.fc.weight.mul_(40.0)
    return head


def explicit_windows(features: np.ndarray, window_frames: int) -> np.ndarray:
    """Frame i's window: rows i - T//2 ... i - T//2 + T - 1, edge rows repeated."""
    frames = features.shape[0]
    windows = []
    for i in range(frames):
        rows = [min(max(i - window_frames // 2 + j, 0), frames - 1) for j in range(window_frames)]
        windows.append(features[rows])
    return np.stack(windows)


def test_window_indices_centre_the_window_on_the_frame():
    indices = window_indices(100, 6, [50, 0, 99])
    assert indices[0].tolist() == [47, 48, 49, 50, 51, 52]
    assert indices[1].tolist() == [0, 0, 0, 0, 1, 2]
    assert indices[2].tolist() == [96, 97, 98, 99, 99, 99]
    assert window_indices(100, 5, [50])[0].tolist() == [48, 49, 50, 51, 52]


@pytest.mark.parametrize("kind", POOLING_KINDS)
@pytest.mark.parametrize("window_frames, frames", [(10, 700), (7, 300), (10, 4), (6, 1)])
def test_fast_path_equals_per_window_path(kind, window_frames, frames):
    head = sharp_head(kind, window_frames)
    features = np.random.default_rng(frames).standard_normal((frames, 20)).astype(np.float32)
    fast = fast_probabilities(head, features, window_frames, tile_frames=128)
    reference = per_window_probabilities(head, features, window_frames, batch_size=64)
    assert fast.shape == reference.shape == (frames, 5)
    assert np.abs(fast - reference).max() <= 1e-5
    assert reference.std() > 0.05  # the comparison is not between constants


def test_per_window_path_evaluates_the_model_on_each_centred_window():
    head = sharp_head("netvlad++", 6)
    features = np.random.default_rng(1).standard_normal((13, 20)).astype(np.float32)
    with torch.no_grad():
        expected = head(torch.from_numpy(explicit_windows(features, 6))).numpy()
    np.testing.assert_allclose(per_window_probabilities(head, features, 6), expected, atol=1e-6)
    np.testing.assert_allclose(window_probabilities(head, features, 6), expected, atol=1e-5)


def test_transformer_uses_the_per_window_path():
    head = sharp_head("transformer", 8)
    features = np.random.default_rng(2).standard_normal((9, 20)).astype(np.float32)
    with torch.no_grad():
        expected = head(torch.from_numpy(explicit_windows(features, 8))).numpy()
    np.testing.assert_allclose(window_probabilities(head, features), expected, atol=1e-5)
    with pytest.raises(ValueError, match="no fast path"):
        window_probabilities(head, features, method="fast")


def test_frame_scores_drop_the_background_column_and_restore_training_mode():
    head = sharp_head("avgpool", 4)
    head.train()
    features = np.random.default_rng(3).standard_normal((11, 20)).astype(np.float32)
    scores = frame_scores(head, features)
    assert scores.shape == (11, 4)
    assert head.training
    head.eval()
    np.testing.assert_allclose(scores, per_window_probabilities(head, features, 4)[:, 1:], atol=1e-5)


def test_empty_half_and_wrong_width():
    head = sharp_head("netvlad", 4)
    assert frame_scores(head, np.zeros((0, 20), np.float32)).shape == (0, 4)
    assert frame_scores(head, np.zeros((0, 20), np.float32), method="per-window").shape == (0, 4)
    with pytest.raises(ValueError, match="12-d but the head expects 20-d"):
        frame_scores(head, np.zeros((5, 12), np.float32))


def test_inference_side_spots_a_hand_made_detector():
    """A head built by hand to fire on a feature bump: the score peaks at the bump's frame (odd window:
    centred exactly on the frame)."""
    config = PoolingHeadConfig(kind="avgpool", input_dim=3, num_classes=2, window_frames=7, projection_dim=None)
    head = create_head(config).eval()
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[0.0, 0, -5], [14.0, 0, 0], [0, 14.0, 0]]))
        head.fc.bias.copy_(torch.tensor([0.0, -4.0, -4.0]))
    frames = np.arange(200)
    features = np.zeros((200, 3), np.float32)
    features[:, 0] = np.exp(-0.5 * ((frames - 60) / 2.0) ** 2)
    features[:, 1] = np.exp(-0.5 * ((frames - 150) / 2.0) ** 2)
    scores = frame_scores(head, features)
    assert int(np.argmax(scores[:, 0])) == 60 and scores[60, 0] > 0.9
    assert int(np.argmax(scores[:, 1])) == 150 and scores[150, 1] > 0.9
    assert scores[100].max() < 0.05


@pytest.mark.parametrize("kind, sharpness", [("netvlad++", 40.0), ("netrvlad", 40.0), ("netvlad", 1000.0)])
def test_fast_path_is_exact_when_clusters_get_almost_no_mass(kind, sharpness):
    """Sharp soft assignments leave some clusters with ~0 mass in a window: their intra-normalised
    direction comes from their tiny window sums, which must stay accurate (prefix-sum differences lost them)."""
    head = sharp_head(kind, 30)
    layers = [head.pooling.past, head.pooling.future] if kind.endswith("++") else [head.pooling]
    with torch.no_grad():
        for layer in layers:
            # x40: float32 prefix sums were off by 2e-5 (netrvlad) to 7e-2 (netvlad++); x1000: masses
            # of 1e-100 and less, which no prefix-sum difference resolves
            layer.assignment.weight.mul_(sharpness)
    features = np.random.default_rng(5).standard_normal((600, 20)).astype(np.float32)
    fast = fast_probabilities(head, features, 30)
    reference = per_window_probabilities(head, features, 30)
    assert np.abs(fast - reference).max() <= 1e-5
