"""`--features ResNET_TF2` against the official code itself: SoccerNet's `FrameCV` (the SoccerNet package),
Keras's `preprocess_input` and Keras's own `ResNet152` (Keras 3 on the torch backend, no TensorFlow), with
seeded weights whose batch-norm statistics are not trivial, written by Keras's legacy HDF5 writer.

One Keras model is built per session (ResNet152 is slow on CPU: ~0.2 s a frame), and the videos are a few
seconds long.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from soccerspot.data.features import load_features
from soccerspot.extract.framecv import ffmpeg_duration, framecv_rate, keep_frame
from soccerspot.extract.recipes import build_recipe_extractor
from soccerspot.pipeline.cli import main

from video_helpers import constant_rate_times, variable_rate_times, write_video, write_with_long_audio

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")
cv2 = pytest.importorskip("cv2")
pytest.importorskip("imutils")

MAX_RELATIVE_L2 = 1e-4
REAL_CAPTURE = cv2.VideoCapture


# ---------------------------------------------------------------------------------------------- the oracle


def _ffmpeg_duration_stub() -> types.ModuleType:
    """moviepy.editor as FrameCV uses it (VideoFileClip(path).duration: the 'Duration:' line of `ffmpeg -i`),
    for machines without moviepy 1.x."""
    import imageio_ffmpeg

    class VideoFileClip:
        def __init__(self, path):
            text = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                                  capture_output=True, text=True).stderr
            h, m, s = re.search(r"Duration: (\d+):(\d+):(\d+\.\d+)", text).groups()
            self.duration = int(h) * 3600 + int(m) * 60 + float(s)

    module = types.ModuleType("moviepy.editor")
    module.VideoFileClip = VideoFileClip
    return module


@pytest.fixture(scope="module")
def framecv_module():
    """SoccerNet.DataLoader, with moviepy / skvideo stubbed only where they are not installed (FrameCV takes
    nothing from skvideo, and only the container's duration from moviepy)."""
    try:
        import moviepy.editor  # noqa: F401
    except Exception:
        sys.modules["moviepy"] = types.ModuleType("moviepy")
        sys.modules["moviepy.editor"] = _ffmpeg_duration_stub()
    try:
        import skvideo.io  # noqa: F401
    except Exception:
        sys.modules["skvideo"] = types.ModuleType("skvideo")
        sys.modules["skvideo.io"] = types.ModuleType("skvideo.io")
    import SoccerNet.DataLoader as loader

    return loader


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory):
    """(legacy HDF5 weights file, Keras model up to avg_pool) of a seeded Keras ResNet152."""
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet152(weights=None)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            gamma = rng.uniform(0.1, 0.3, c) if layer.name.endswith("_3_bn") else rng.uniform(0.5, 1.0, c)
            layer.set_weights([gamma.astype("float32"), rng.normal(0, 0.1, c).astype("float32"),
                               rng.normal(0, 0.1, c).astype("float32"), rng.uniform(0.5, 2.0, c).astype("float32")])
    from keras.src.legacy.saving import legacy_h5_format

    path = tmp_path_factory.mktemp("keras") / "resnet152_seeded.h5"
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return path, keras.Model(model.input, model.get_layer("avg_pool").output)


class RecordingCapture:
    """cv2.VideoCapture that remembers each read frame's time, so the kept frames' times can be read back."""

    log: list = []

    def __init__(self, path):
        self.capture = REAL_CAPTURE(path)
        RecordingCapture.log = []  # FrameCV opens the video again for a re-read: only the last pass counts
        self.last_ms = None

    def get(self, prop):
        return self.capture.get(prop)

    def read(self):
        ok, frame = self.capture.read()
        self.last_ms = self.capture.get(cv2.CAP_PROP_POS_MSEC) if ok else None
        RecordingCapture.current = self
        return ok, frame


def official(loader, model, video: Path, monkeypatch, start=None, duration=None) -> tuple[np.ndarray, np.ndarray]:
    """(features, kept frames' times in s) as the DevKit's VideoFeatureExtractor makes them."""
    from keras.applications.resnet import preprocess_input

    real_resize = loader.imutils.resize
    kept_ms = []

    def resize(frame, **kwargs):  # FrameCV's crop calls it once per kept frame
        kept_ms.append(RecordingCapture.current.last_ms)
        return real_resize(frame, **kwargs)

    capture_class = loader.cv2.VideoCapture
    monkeypatch.setattr(loader.cv2, "VideoCapture", RecordingCapture)
    monkeypatch.setattr(loader.imutils, "resize", resize)
    try:
        grabbed = loader.FrameCV(str(video), FPS=2, transform="crop", start=start, duration=duration)
    finally:
        monkeypatch.setattr(loader.cv2, "VideoCapture", capture_class)
        monkeypatch.setattr(loader.imutils, "resize", real_resize)
    frames = preprocess_input(grabbed.frames.astype(np.float32))
    features = model.predict(frames, batch_size=64, verbose=0)
    count = len(grabbed.frames)
    return np.asarray(features), np.array(kept_ms[-count:] if count else [], dtype=np.float64) / 1000.0


def ours(extractor, video: Path, out: Path) -> tuple[np.ndarray, np.ndarray]:
    extractor.extract(video, out, 1)
    half = load_features(out, 1, extractor.name)
    return np.asarray(half.array), half.meta.frame_times()


def relative_l2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def extractor(keras_model):
    return build_recipe_extractor("ResNET_TF2", weights_file=keras_model[0], device="cpu", precision="fp32",
                                  batch_size=8, progress=False)


def write_textured(path, times, width, height, rate=25):
    """Frames with real texture at every scale (so area resizing and cropping both matter)."""
    return write_video(path, times, width=width, height=height, rate=rate, gop=25)


# ---------------------------------------------------------------------------------------------- the rule


def test_keep_rule_on_25_fps_is_frames_13_25_38_50():
    kept = [i for i in range(1, 51) if keep_frame(i, 25.0, 2.0, None, None)]
    assert kept == [13, 25, 38, 50]


def test_framecv_rate_and_duration_rounding():
    assert ffmpeg_duration(1_001_375) == 1.0 and ffmpeg_duration(2_345_000) == 2.35 and ffmpeg_duration(2_344_999) == 2.34
    assert framecv_rate(25.0, 10.0, 250) == 25.0  # consistent: kept
    assert framecv_rate(25.0, 10.0, 169) == 17.0  # FrameCV re-reads at (n + 1) / duration


# ---------------------------------------------------------------------------------------------- parity


# 398x224 at 25 fps (SoccerNet's videos: only cropped) is the command-line test's video below.
CASES = {
    "1280x720_25fps": dict(times=constant_rate_times(25, 1.1), width=1280, height=720, rate=25),  # area-resized
    "30fps": dict(times=constant_rate_times(30, 1.1), width=398, height=224, rate=30),
    "24fps": dict(times=constant_rate_times(24, 1.1), width=640, height=360, rate=24),
    "variable_rate": dict(times=variable_rate_times(2.0, seed=1), width=398, height=224, rate=25),
}


@pytest.mark.parametrize("case", list(CASES))
def test_features_equal_the_devkits(case, tmp_path, framecv_module, keras_model, extractor, monkeypatch):
    spec = dict(CASES[case])
    video = write_textured(tmp_path / f"{case}.mp4", spec.pop("times"), **spec)
    expected, expected_times = official(framecv_module, keras_model[1], video, monkeypatch)
    features, times = ours(extractor, video, tmp_path / "out")
    assert len(expected) >= 2 and features.shape == expected.shape == (len(expected), 2048)
    assert relative_l2(features, expected).max() <= MAX_RELATIVE_L2
    np.testing.assert_allclose(times, expected_times, atol=1e-6)


def test_cli_writes_the_devkits_file_and_start_duration_as_framecvs(tmp_path, framecv_module, keras_model, monkeypatch):
    video = write_textured(tmp_path / "match.mp4", constant_rate_times(25, 1.6), 398, 224)
    expected, expected_times = official(framecv_module, keras_model[1], video, monkeypatch, start=0.5, duration=1.0)
    out = tmp_path / "features"
    assert main(["extract", str(video), "--out", str(out), "--features", "ResNET_TF2", "--weights", str(keras_model[0]),
                 "--precision", "fp32", "--device", "cpu", "--start", "0.5", "--duration", "1", "--no-progress"]) == 0
    half = load_features(out / "match", 1, "ResNET_TF2")
    assert (out / "match" / "1_ResNET_TF2.npy").is_file()
    assert half.array.shape == expected.shape and len(expected) == 2  # frames 13 and 25 (12.5 <= i <= 37.5)
    assert relative_l2(np.asarray(half.array), expected).max() <= MAX_RELATIVE_L2
    np.testing.assert_allclose(half.meta.frame_times(), expected_times, atol=1e-6)
    np.testing.assert_allclose(expected_times, [0.48, 0.96], atol=1e-6)
    assert half.meta.backbone == "keras_resnet152" and half.meta.sampling == "framecv"
    assert half.meta.transform == "imutils-crop" and half.meta.weights.startswith("file:")


def test_framecvs_re_read_at_a_corrected_rate(tmp_path, framecv_module, keras_model, extractor, monkeypatch):
    video = write_with_long_audio(tmp_path / "long_audio.mkv", 0.6, 1.2)
    expected, expected_times = official(framecv_module, keras_model[1], video, monkeypatch)
    features, times = ours(extractor, video, tmp_path / "out")
    assert features.shape == expected.shape and len(expected) == 2  # re-read at 16 / 1.2 fps: frames 7 and 14 of 15
    timing = load_features(tmp_path / "out", 1, "ResNET_TF2").meta.extra["framecv"]
    assert timing["header_fps"] == 25.0 and timing["frames"] == 15 and timing["fps_video"] == 16 / timing["duration"]
    assert relative_l2(features, expected).max() <= MAX_RELATIVE_L2
    np.testing.assert_allclose(times, expected_times, atol=1e-6)


# ---------------------------------------------------------------------------------------------- PCA512


def test_pca512_equals_sklearn_transform(tmp_path, keras_model):
    pca_file, pca, average = write_soccernet_pca(tmp_path / "pca")
    video = write_textured(tmp_path / "match.mp4", constant_rate_times(25, 1.1), 398, 224)
    reduced = build_recipe_extractor("ResNET_TF2_PCA512", weights_file=keras_model[0], pca_file=pca_file,
                                     device="cpu", precision="fp32", progress=False)
    raw = []  # the 2048-d rows the PCA is applied to (their equality with the DevKit's is tested above)
    transform = reduced.pca.transform
    reduced.pca.transform = lambda rows: (raw.append(np.array(rows)), transform(rows))[1]
    features, _ = ours(reduced, video, tmp_path / "out")
    expected = pca.transform(raw[0] - average)
    assert features.shape == expected.shape == (2, 512)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


# ---------------------------------------------------------------------------------------------- a published head


def write_soccernet_pca(folder: Path) -> tuple[Path, object, np.ndarray]:
    """A scikit-learn PCA pickle and its average, shaped as SoccerNet's pca_512_TF2.pkl / average_512_TF2.pkl."""
    import pickle

    decomposition = pytest.importorskip("sklearn.decomposition")
    rng = np.random.default_rng(0)
    data = rng.normal(size=(600, 2048)).astype(np.float32)
    average = data.mean(axis=0)
    pca = decomposition.PCA(n_components=512, svd_solver="full").fit(data - average)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pca_512_TF2.pkl").write_bytes(pickle.dumps(pca))
    (folder / "average_512_TF2.pkl").write_bytes(pickle.dumps(average))
    return folder / "pca_512_TF2.pkl", pca, average


def test_spot_video_with_a_released_head_equals_extract_then_spot(tmp_path, keras_model, soccernet_data, monkeypatch):
    """`spot match.mp4 --model MAXPOOL_v2` (the published head, found by its registered name in the cache)
    extracts ResNET_TF2_PCA512 by its training.log's recipe and spots; the same as extract -> spot."""
    import json
    import shutil

    cache = tmp_path / "cache"
    monkeypatch.setenv("SOCCERSPOT_CACHE", str(cache))
    head_dir = cache / "models" / "MAXPOOL_v2"
    head_dir.mkdir(parents=True)
    for name in ("model.pth.tar", "training.log"):
        shutil.copy(soccernet_data / "checkpoints" / "MAXPOOL_v2" / name, head_dir / name)
    pca_file, _, _ = write_soccernet_pca(tmp_path / "pca")
    video = write_textured(tmp_path / "match.mp4", constant_rate_times(25, 1.1), 398, 224)
    common = ["--weights", str(keras_model[0]), "--pca", str(pca_file), "--precision", "fp32", "--device", "cpu", "--no-progress"]
    assert main(["spot", str(video), "--model", "MAXPOOL_v2", "--out", str(tmp_path / "direct"), *common]) == 0
    assert main(["extract", str(video), "--out", str(tmp_path / "features"), "--features", "ResNET_TF2_PCA512", *common]) == 0
    game = tmp_path / "features" / "match"
    assert main(["spot", str(game), "--model", str(head_dir / "model.pth.tar"), "--features", "ResNET_TF2_PCA512",
                 "--no-progress"]) == 0
    direct = load_features(tmp_path / "direct", 1, "ResNET_TF2_PCA512")
    extracted = load_features(game, 1, "ResNET_TF2_PCA512")
    assert direct.array.shape == (2, 512)
    np.testing.assert_array_equal(np.asarray(direct.array), np.asarray(extracted.array))
    one = json.loads((tmp_path / "direct" / "results_spotting.json").read_text())["predictions"]
    two = json.loads((game / "results_spotting.json").read_text())["predictions"]
    assert one and one == two


def test_a_published_head_without_pca_says_which_files_it_needs(tmp_path, keras_model, soccernet_data, capsys):
    video = write_textured(tmp_path / "match.mp4", constant_rate_times(25, 1.0), 398, 224)
    code = main(["spot", str(video), "--model", str(soccernet_data / "checkpoints" / "MAXPOOL_v2" / "model.pth.tar"),
                 "--weights", str(keras_model[0]), "--out", str(tmp_path / "out"), "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(lines) == 1
    assert "--pca pca_512_TF2.pkl" in lines[0] and "average_512_TF2.pkl" in lines[0] and "sn-spotting" in lines[0]


def test_keras2_weight_names_and_whole_model_files_read_the_same(tmp_path, keras_model):
    """Keras 2 wrote `conv1_conv/kernel:0` (the applications' file), Keras 3 writes `conv1_conv/kernel`; a whole
    model's .h5 nests the layers under `model_weights`. All three give the same state dict."""
    import torch

    from soccerspot.models.backbones.keras_resnet import read_keras_h5

    source = keras_model[0]
    keras2 = tmp_path / "keras2.h5"
    nested = tmp_path / "model.h5"
    with h5py.File(source, "r") as src, h5py.File(keras2, "w") as k2, h5py.File(nested, "w") as whole:
        root = whole.create_group("model_weights")
        for target in (k2, root):
            target.attrs["layer_names"] = src.attrs["layer_names"]
        for layer in src.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            names = [n.decode() if isinstance(n, bytes) else n for n in src[layer].attrs["weight_names"]]
            group, copy = k2.create_group(layer), root.create_group(layer)
            group.attrs["weight_names"] = [f"{n}:0".encode() for n in names]
            copy.attrs["weight_names"] = [n.encode() for n in names]
            for name in names:
                group.create_dataset(f"{name}:0", data=src[layer][name][()])
                copy.create_dataset(name, data=src[layer][name][()])
    reference = read_keras_h5(source)
    assert "conv1_conv.weight" in reference and "conv5.block3.3_bn.running_var" in reference
    assert not any(key.startswith("predictions") for key in reference)  # the classifier is left out
    for other in (read_keras_h5(keras2), read_keras_h5(nested)):
        assert other.keys() == reference.keys()
        assert all(torch.equal(other[key], reference[key]) for key in reference)


def test_bf16_autocast_and_channels_last_work_for_it(extractor):
    """The streaming extractor's CPU path (channels-last, bf16 autocast) runs Keras's ResNet152 as any backbone:
    bf16 rows stay within a few percent of fp32 ones."""
    import torch

    images = torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    exact = extractor.forward(images).numpy()
    precision = extractor.precision
    try:
        extractor.precision = "bf16"
        reduced = extractor.forward(images).numpy()
    finally:
        extractor.precision = precision
    assert np.isfinite(reduced).all() and relative_l2(reduced, exact).max() < 0.05


def test_features_names_the_recipe_where_the_checkpoint_cannot(tmp_path, keras_model, soccernet_data, capsys):
    """A bare model.pth.tar (no training.log) cannot say what it reads: without --features spot says to name
    it; with --features ResNET_TF2_PCA512 that recipe is used (here it then asks for its PCA files)."""
    import shutil

    model = tmp_path / "bare" / "model.pth.tar"
    model.parent.mkdir()
    shutil.copy(soccernet_data / "checkpoints" / "MAXPOOL_v2" / "model.pth.tar", model)
    video = write_textured(tmp_path / "match.mp4", constant_rate_times(25, 1.0), 398, 224)
    base = ["spot", str(video), "--model", str(model), "--weights", str(keras_model[0]), "--out", str(tmp_path / "o"),
            "--window", "40", "--no-progress"]
    assert main(base) == 1
    assert "--features ResNET_TF2_PCA512" in capsys.readouterr().err
    assert main([*base, "--features", "ResNET_TF2_PCA512"]) == 1
    assert "--pca pca_512_TF2.pkl" in capsys.readouterr().err
