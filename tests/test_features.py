import json

import numpy as np
import pytest

from soccerspot.errors import DataError
from soccerspot.data.features import (
    FeatureMeta, check_finite, features_complete, load_features, sidecar_path, write_features,
)


def make_meta(**overrides) -> FeatureMeta:
    fields = dict(backbone="resnet18", weights="none", fps=2.0, step=0.5, transform="crop", precision="fp32")
    return FeatureMeta(**{**fields, **overrides})


def test_write_then_load_is_memory_mapped_and_complete(tmp_path):
    array = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    write_features(tmp_path, 1, "resnet18", array, make_meta())
    half = load_features(tmp_path, 1, "resnet18")
    assert isinstance(half.array, np.memmap)
    np.testing.assert_array_equal(half.array, array)
    assert half.meta.num_frames == 7 and half.meta.dim == 5
    np.testing.assert_allclose(half.meta.frame_times(), np.arange(7) * 0.5)
    assert features_complete(tmp_path, 1, "resnet18", make_meta(dim=5).settings())
    assert not features_complete(tmp_path, 1, "resnet18", make_meta(dim=5, fps=1.0).settings())
    assert not features_complete(tmp_path, 2, "resnet18")


def test_explicit_timestamps_win(tmp_path):
    write_features(tmp_path, 2, "x", np.zeros((3, 2), np.float32), make_meta(timestamps=[0.1, 0.62, 1.1]))
    np.testing.assert_allclose(load_features(tmp_path, 2, "x").meta.frame_times(), [0.1, 0.62, 1.1])


def test_official_file_without_sidecar(tmp_path):
    np.save(tmp_path / "1_ResNET_TF2_PCA512.npy", np.ones((10, 512), np.float32))
    half = load_features(tmp_path, 1, "ResNET_TF2_PCA512")
    assert half.meta.fps == 2.0 and half.meta.dim == 512
    np.testing.assert_allclose(half.meta.frame_times()[-1], 4.5)


def test_stale_sidecar_is_incomplete(tmp_path):
    write_features(tmp_path, 1, "x", np.zeros((4, 2), np.float32), make_meta())
    meta = json.loads(sidecar_path(tmp_path, 1, "x").read_text())
    meta["num_frames"] = 9
    sidecar_path(tmp_path, 1, "x").write_text(json.dumps(meta))
    assert not features_complete(tmp_path, 1, "x")
    with pytest.raises(DataError, match="incomplete or stale"):
        load_features(tmp_path, 1, "x")


def test_missing_and_garbage_files_name_the_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_features(tmp_path, 1, "nope")
    (tmp_path / "1_bad.npy").write_bytes(b"not an npy")
    with pytest.raises(DataError, match="1_bad.npy"):
        load_features(tmp_path, 1, "bad")


def test_check_finite_names_first_bad_row():
    array = np.zeros((10_000, 3), np.float32)
    array[5000, 1] = np.nan
    array[7000, 0] = np.inf
    with pytest.raises(DataError, match="row 5000"):
        check_finite(array, "f.npy")
    check_finite(np.zeros((3, 3)), "ok.npy")
