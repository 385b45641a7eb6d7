"""`soccerspot spot VIDEO`: features extracted with the checkpoint's identity at this machine's precision,
reused when they differ only in precision, refused when made differently; its options and bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from soccerspot.data.features import FeatureMeta, load_features, write_features
from soccerspot.data.labels import read_predictions
from soccerspot.data.scores import read_scores
from soccerspot.extract.extractor import ExtractConfig, Extractor, resolve_precision
from soccerspot.extract.pca import PCA, save_pca
from soccerspot.models.heads import create_head
from soccerspot.models.heads.pooling_head import PoolingHeadConfig
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.cli import main

from video_helpers import constant_rate_times, write_video

CLASSES = ["Goal", "Corner"]
FEATURES = "resnet18"
BEST_CPU_PRECISION = resolve_precision("auto", torch.device("cpu"))


def extract_config(**overrides) -> ExtractConfig:
    values = dict(backbone="resnet18", weights="none", input_size=64, precision="fp32", device="cpu", progress=False)
    return ExtractConfig(**{**values, **overrides})


def make_head(out, *, precision: str = "fp32", weights: str = "none", pca: str | None = None):
    """A random avgpool head whose recorded training features are resnet18 (64 px) at `precision`."""
    settings = Extractor(extract_config(weights=weights, pca=pca)).meta_template().settings()
    settings["precision"] = precision
    torch.manual_seed(0)
    config = PoolingHeadConfig(kind="avgpool", input_dim=settings["dim"], num_classes=2, window_frames=4, projection_dim=None)
    return save_checkpoint(out, create_head(config), config, classes=CLASSES, feature_settings=settings, fps=2.0,
                           nms=NmsSettings("hard", 4.0, 0.0), extra={"features": FEATURES})


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "match.mp4", constant_rate_times(25, 8.0), gop=25)


@pytest.fixture(scope="module")
def head_fp32(tmp_path_factory):
    return make_head(tmp_path_factory.mktemp("ckpt") / "fp32")


def spot(video, model, out, *flags) -> int:
    return main(["spot", str(video), "--model", str(model), "--out", str(out), "--no-progress", *flags])


def stderr_lines(capsys) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_default_extracts_at_this_machines_precision_not_the_checkpoints(tmp_path, video, capsys):
    model = make_head(tmp_path / "gpu_head", precision="fp16")  # as if trained on GPU features
    assert spot(video, model, tmp_path / "out") == 0
    assert load_features(tmp_path / "out", 1, FEATURES).meta.precision == BEST_CPU_PRECISION
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("soccerspot spot: warning: features computed at "
                                                    f"{BEST_CPU_PRECISION}")
    assert "trained on fp16 features" in lines[0]
    assert read_predictions(tmp_path / "out/results_spotting.json").predictions


def test_same_precision_no_warning_and_scores_saved(tmp_path, video, head_fp32, capsys):
    assert spot(video, head_fp32, tmp_path / "out", "--precision", "fp32", "--save-scores", "--batch-size", "5") == 0
    assert stderr_lines(capsys) == []
    features = load_features(tmp_path / "out", 1, FEATURES)
    assert features.meta.precision == "fp32" and features.array.shape == (16, 512)
    scores = read_scores(tmp_path / "out", 1)
    np.testing.assert_array_equal(scores.times, features.meta.frame_times())
    assert scores.probabilities.shape == (16, 2) and scores.classes == CLASSES
    assert scores.meta.extra["features"] == FEATURES


def test_features_on_disk_at_another_precision_are_reused_with_a_warning(tmp_path, video, head_fp32, capsys):
    out = tmp_path / "out"
    assert spot(video, head_fp32, out, "--precision", "fp32") == 0
    before = (out / f"1_{FEATURES}.npy").read_bytes()
    capsys.readouterr()
    assert spot(video, head_fp32, out, "--precision", "bf16", "--overwrite") == 0
    assert (out / f"1_{FEATURES}.npy").read_bytes() == before
    assert load_features(out, 1, FEATURES).meta.precision == "fp32"
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and f"1_{FEATURES}.npy: reused as it is, computed at fp32" in lines[0]
    assert "this run would extract at bf16" in lines[0]


def test_features_on_disk_made_differently_are_not_overwritten(tmp_path, video, head_fp32, capsys):
    out = tmp_path / "out"
    assert spot(video, head_fp32, out, "--precision", "fp32") == 0
    made = load_features(out, 1, FEATURES)
    write_features(out, 1, FEATURES, made.array[:], FeatureMeta.from_json({**made.meta.to_json(), "transform": "resize",
                                                                           "precision": "bf16"}))
    capsys.readouterr()
    assert spot(video, head_fp32, out, "--overwrite") == 1
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and "not overwritten" in lines[0] and f"1_{FEATURES}.npy" in lines[0]
    assert load_features(out, 1, FEATURES).meta.transform == "resize"


def test_weights_and_pca_files_for_raw_video(tmp_path, video, capsys):
    weights = tmp_path / "backbone.pt"
    torch.save(Extractor(extract_config()).backbone.state_dict(), weights)
    rng = np.random.default_rng(0)
    pca_file = tmp_path / "pca.npz"
    save_pca(pca_file, PCA(mean=rng.standard_normal(512).astype(np.float32),
                           components=np.linalg.qr(rng.standard_normal((512, 8)))[0].T.astype(np.float32)))
    model = make_head(tmp_path / "head", weights=str(weights), pca=str(pca_file))
    assert spot(video, model, tmp_path / "a", "--precision", "fp32") == 1
    assert "--weights FILE" in stderr_lines(capsys)[0]
    assert spot(video, model, tmp_path / "a", "--precision", "fp32", "--weights", str(weights)) == 1
    assert "--pca FILE" in stderr_lines(capsys)[0]
    assert spot(video, model, tmp_path / "a", "--precision", "fp32", "--weights", str(weights), "--pca", str(pca_file)) == 0
    assert load_features(tmp_path / "a", 1, "resnet18_PCA8").array.shape == (16, 8)
    other = tmp_path / "other.npz"
    save_pca(other, PCA(mean=np.zeros(512, np.float32), components=np.eye(8, 512, dtype=np.float32)))
    capsys.readouterr()
    assert spot(video, model, tmp_path / "b", "--weights", str(weights), "--pca", str(other)) == 1
    line = stderr_lines(capsys)[0]
    assert "would differ from the head's (pca:" in line


def test_the_head_runs_where_device_says(tmp_path, video, head_fp32):
    assert spot(video, head_fp32, tmp_path / "cpu", "--precision", "fp32", "--device", "cpu") == 0
    assert read_predictions(tmp_path / "cpu/results_spotting.json").predictions


# --- bad input -------------------------------------------------------------------------------------------


def test_a_file_that_is_not_a_video_exits_1_naming_it(tmp_path, head_fp32, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    assert spot(bad, head_fp32, tmp_path / "out") == 1
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("soccerspot spot: error: ") and str(bad) in lines[0]
    assert not (tmp_path / "out/results_spotting.json").exists()


@pytest.mark.parametrize("flags, code, named", [
    (["--precision", "fp16"], 2, "--precision fp16"),
    (["--weights", "missing.pt"], 1, "missing.pt: --weights file not found"),
    (["--pca", "missing.npz"], 1, "missing.npz: --pca file not found"),
    (["--batch-size", "0"], 2, "--batch-size"),
])
def test_bad_video_options(tmp_path, video, head_fp32, capsys, flags, code, named):
    if "fp16" in flags and torch.cuda.is_available():
        pytest.skip("fp16 is valid where torch sees a GPU")
    assert spot(video, head_fp32, tmp_path / "out", *flags) == code
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and named in lines[0]
    assert not (tmp_path / "out").exists()


def test_cuda_without_a_gpu_is_a_usage_error(tmp_path, video, head_fp32, capsys):
    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU here")
    assert spot(video, head_fp32, tmp_path / "out", "--device", "cuda") == 2
    assert "--device cuda" in stderr_lines(capsys)[0]


def test_peer_checkpoint_cannot_spot_video(tmp_path, video, capsys):
    peer = tmp_path / "peer" / "model.pth.tar"
    peer.parent.mkdir()
    torch.save({"state_dict": {"fc.weight": torch.zeros(18, 512), "fc.bias": torch.zeros(18)}}, peer)
    assert spot(video, peer, tmp_path / "out") == 1
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and "records no feature settings" in lines[0]


def test_checkpoint_config_without_feature_identity_exits_1(tmp_path, video, head_fp32, capsys):
    config = json.loads((head_fp32 / "config.json").read_text())
    del config["feature_settings"]["transform"]
    model = tmp_path / "head"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(config))
    (model / "model.pt").write_bytes((head_fp32 / "model.pt").read_bytes())
    assert spot(video, model, tmp_path / "out") == 1
    assert "lack transform" in stderr_lines(capsys)[0]
