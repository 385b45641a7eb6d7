"""The SoccerNet baselines' `model.pth.tar` give the same per-frame scores as the peers' computation.

The references below are written from the peers' documented computation, one window at a time, in
numpy float64 (not from their code):

- test windows: frame i (for i < N - 1: the peers build windows for `arange(0, N - 1)`) takes rows
  i - T//2 ... i - T//2 + T - 1, clamped to the half;
- sn-spotting NetVLAD++: frames projected by `feature_extractor`, L2-normalised; assignment
  softmax(x . clusters) over clusters, no bias; v[d, k] = sum_t a_tk x_td - (sum_t a_tk) clusters2[d, k];
  L2 over d for each k; flattened with d major; L2; first T//2 rows pooled by "before", the rest by
  "after", concatenated; fc; sigmoid; column 0 is background;
- SoccerNet-v2 pooling NetVLAD: assignment softmax(conv_w . x), residuals against `centroids`,
  flattened with k major;
- MaxPool: max over the window's rows.
"""
import numpy as np
import pytest
import torch

from soccerspot.pipeline.inference.checkpoints import load_checkpoint
from soccerspot.pipeline.inference.scores import frame_scores
from soccerspot.data.classes import CLASS_NAMES_V1, CLASS_NAMES_V2


def peer_windows(features: np.ndarray, window: int) -> list[np.ndarray]:
    frames = features.shape[0]
    return [features[np.clip(np.arange(i - window // 2, i - window // 2 + window), 0, frames - 1)]
            for i in range(frames - 1)]


def l2(v: np.ndarray) -> np.ndarray:
    return v / max(np.linalg.norm(v), 1e-12)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def sn_vlad(rows: np.ndarray, clusters: np.ndarray, clusters2: np.ndarray | None) -> np.ndarray:
    dim, k = clusters.shape
    v = np.zeros((dim, k))
    for row in rows:
        x = l2(row)
        a = softmax(x @ clusters)
        for c in range(k):
            v[:, c] += a[c] * x - (0 if clusters2 is None else a[c] * clusters2[0, :, c])
    for c in range(k):
        v[:, c] = l2(v[:, c])
    return l2(v.reshape(-1))  # d major


def pooling_era_vlad(rows: np.ndarray, conv: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    k, dim = centroids.shape
    v = np.zeros((k, dim))
    for row in rows:
        x = l2(row)
        a = softmax(conv.reshape(k, dim) @ x)
        for c in range(k):
            v[c] += a[c] * (x - centroids[c])
    for c in range(k):
        v[c] = l2(v[c])
    return l2(v.reshape(-1))  # k major


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def reference_scores(state: dict, features: np.ndarray, window: int) -> np.ndarray:
    s = {k: v.double().numpy() for k, v in state.items()}
    out = []
    for rows in peer_windows(features.astype(np.float64), window):
        if "feature_extractor.weight" in s:
            rows = rows @ s["feature_extractor.weight"].T + s["feature_extractor.bias"]
        if "pool_layer_before.clusters" in s:
            half = window // 2
            pooled = np.concatenate([
                sn_vlad(rows[:half], s["pool_layer_before.clusters"], s.get("pool_layer_before.clusters2")),
                sn_vlad(rows[half:], s["pool_layer_after.clusters"], s.get("pool_layer_after.clusters2")),
            ])
        elif "pool_layer.centroids" in s:
            pooled = pooling_era_vlad(rows, s["pool_layer.conv.weight"], s["pool_layer.centroids"])
        else:
            pooled = rows.max(axis=0)
        out.append(sigmoid(s["fc.weight"] @ pooled + s["fc.bias"])[1:])
    return np.array(out)


def write_peer(folder, state: dict, log: dict | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 7, "state_dict": state, "best_loss": 0.1,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.001, "params": [0, 1]}]}},
               folder / "model.pth.tar")
    if log:
        lines = ["2021-02-05 15:55:45,101 [MainThread  ] [INFO ]  Parameters:"]
        lines += [f"2021-02-05 15:55:45,101 [MainThread  ] [INFO ]  {k.rjust(15)} : {v}" for k, v in log.items()]
        (folder / "training.log").write_text("\n".join(lines) + "\n")
    return folder / "model.pth.tar"


def random_netvladpp_state(input_dim=24, dim=8, clusters=6, classes=17, centres=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {
        "feature_extractor.weight": torch.randn(dim, input_dim, generator=g) / input_dim ** 0.5,
        "feature_extractor.bias": torch.randn(dim, generator=g) * 0.1,
    }
    for part in ("before", "after"):
        state[f"pool_layer_{part}.clusters"] = torch.randn(dim, clusters // 2, generator=g) * 2
        if centres:
            state[f"pool_layer_{part}.clusters2"] = torch.randn(1, dim, clusters // 2, generator=g) / dim ** 0.5
    state["fc.weight"] = torch.randn(classes + 1, dim * clusters, generator=g) * 3
    state["fc.bias"] = torch.randn(classes + 1, generator=g)
    return state


@pytest.mark.parametrize("centres", [True, False])
def test_sn_spotting_netvladpp_gives_the_peers_scores(tmp_path, centres):
    state = random_netvladpp_state(centres=centres)
    path = write_peer(tmp_path / "peer", state, {"window_size": 5, "framerate": 2, "NMS_window": 20,
                                                 "NMS_threshold": 0.0, "features": "ResNET_TF2.npy",
                                                 "pool": "NetVLAD++" if centres else "NetRVLAD++"})
    head = load_checkpoint(path)
    assert head.config.kind == ("netvlad++" if centres else "netrvlad++")
    assert head.config.window_frames == 10 and head.config.projection_dim == 8 and head.config.input_dim == 24
    assert head.peer and head.feature_settings is None and head.feature_name == "ResNET_TF2"
    assert head.classes == CLASS_NAMES_V2 and head.nms.window_seconds == 20.0
    features = np.random.default_rng(0).standard_normal((57, 24)).astype(np.float32)
    expected = reference_scores(state, features, 10)
    for method in ("fast", "per-window"):
        ours = frame_scores(head.model, features, method=method)
        assert ours.shape == (57, 17)  # we also score the last row, which the peers drop
        assert np.abs(ours[:-1] - expected).max() <= 1e-5
    assert expected.std() > 0.05


def test_peer_defaults_without_a_training_log(tmp_path):
    head = load_checkpoint(write_peer(tmp_path / "peer", random_netvladpp_state()))
    assert head.config.window_frames == 30 and head.fps == 2.0  # the paper's 15 s at 2 fps
    assert head.nms.window_seconds == 30.0 and head.nms.threshold == 0.0
    assert load_checkpoint(tmp_path / "peer" / "model.pth.tar", window_frames=12).config.window_frames == 12


def osl_name(key: str) -> str:
    """OSL-ActionSpotting nests the same layers in backbone / neck / head modules."""
    if key.startswith("feature_extractor"):
        return f"backbone.{key}"
    return f"neck.{key}" if key.startswith("pool_layer") else f"head.{key}"


@pytest.mark.parametrize("rename", [lambda key: f"module.{key}", osl_name], ids=["data-parallel", "osl"])
def test_wrapped_state_dict_names_are_understood(tmp_path, rename):
    state = random_netvladpp_state(seed=3)
    path = write_peer(tmp_path / "peer", {rename(k): v for k, v in state.items()})
    features = np.random.default_rng(1).standard_normal((40, 24)).astype(np.float32)
    head = load_checkpoint(path)
    assert np.abs(frame_scores(head.model, features)[:-1] - reference_scores(state, features, 30)).max() <= 1e-5


def test_pooling_era_netvlad_and_maxpool(tmp_path):
    g = torch.Generator().manual_seed(1)
    vlad = {"pool_layer.centroids": torch.rand(8, 12, generator=g),
            "pool_layer.conv.weight": torch.randn(8, 12, 1, 1, generator=g) * 3,
            "fc.weight": torch.randn(4, 96, generator=g) * 3, "fc.bias": torch.randn(4, generator=g)}
    maxpool = {"fc.weight": torch.randn(18, 12, generator=g), "fc.bias": torch.randn(18, generator=g)}
    features = np.random.default_rng(2).standard_normal((45, 12)).astype(np.float32)
    for name, state, classes in (("vlad", vlad, CLASS_NAMES_V1), ("max", maxpool, CLASS_NAMES_V2)):
        head = load_checkpoint(write_peer(tmp_path / name, state, {"chunk_size": 4, "framerate": 2}))
        assert head.config.window_frames == 8 and head.classes == classes
        assert head.nms.window_seconds == 20.0  # their test loop's own NMS default: 40 frames
        expected = reference_scores(state, features, 8)
        assert np.abs(frame_scores(head.model, features)[:-1] - expected).max() <= 1e-5


def test_sn_spotting_maxpool_window_comes_from_its_log(tmp_path):
    """An fc-only file is told apart by its log: sn-spotting's `window_size`, not the older `chunk_size`."""
    state = {"fc.weight": torch.randn(18, 12), "fc.bias": torch.randn(18)}
    head = load_checkpoint(write_peer(tmp_path / "max", state, {"window_size": 5, "framerate": 2, "pool": "MAX",
                                                                "NMS_window": 10, "NMS_threshold": 0.2}))
    assert head.config.kind == "maxpool" and head.config.window_frames == 10
    assert head.nms.window_seconds == 10.0 and head.nms.threshold == 0.2
    features = np.random.default_rng(4).standard_normal((30, 12)).astype(np.float32)
    assert np.abs(frame_scores(head.model, features)[:-1] - reference_scores(state, features, 10)).max() <= 1e-5


def test_unrecognised_peer_state_dict(tmp_path):
    from soccerspot.errors import DataError

    path = write_peer(tmp_path / "odd", {"encoder.weight": torch.zeros(2, 2)})
    with pytest.raises(DataError, match="unrecognised peer checkpoint"):
        load_checkpoint(path)


@pytest.mark.real
@pytest.mark.parametrize("name, kind, classes", [("MAXPOOL_v2", "maxpool", CLASS_NAMES_V2),
                                                 ("NETVLAD_v1", "netvlad", CLASS_NAMES_V1)])
def test_real_baseline_checkpoints(soccernet_data, name, kind, classes):
    path = soccernet_data / "checkpoints" / name / "model.pth.tar"
    head = load_checkpoint(path)
    assert head.config.kind == kind and head.config.input_dim == 512 and head.config.window_frames == 40
    assert head.classes == classes and head.feature_name == "ResNET_TF2_PCA512"
    assert head.nms.window_seconds == 20.0 and head.nms.threshold == 0.0
    state = torch.load(path, weights_only=True, map_location="cpu")["state_dict"]
    # PCA512 features are roughly centred with a few large leading components
    rng = np.random.default_rng(0)
    features = (rng.standard_normal((150, 512)) * np.linspace(3, 0.1, 512)).astype(np.float32)
    expected = reference_scores(state, features, 40)
    ours = frame_scores(head.model, features)
    assert np.abs(ours[:-1] - expected).max() <= 1e-5
    assert expected.max() - expected.min() > 0.01
