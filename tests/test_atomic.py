"""Atomic writes leave files others can read: the mode a plain open() gives under the umask."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.features import FeatureMeta, write_features
from soccerspot.data.labels import GamePredictions, Prediction, write_predictions


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def plain_open_mode(folder, mask: int) -> int:
    os.umask(mask)
    reference = folder / "reference.txt"
    with open(reference, "w") as handle:
        handle.write("x")
    return mode_of(reference)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_atomic_file_gets_the_mode_of_a_plain_open(tmp_path, umask, mask):
    expected = plain_open_mode(tmp_path, mask)
    with atomic_open(tmp_path / "out.bin", "wb") as handle:
        handle.write(b"data")
    assert mode_of(tmp_path / "out.bin") == expected
    assert (tmp_path / "out.bin").read_bytes() == b"data"


def test_outputs_are_0644_under_umask_022(tmp_path, umask):
    umask(0o022)
    write_features(tmp_path / "game", 1, "resnet18", np.zeros((3, 4), np.float32), FeatureMeta())
    write_predictions(tmp_path / "game" / "results_spotting.json",
                      GamePredictions(url="game", predictions=[Prediction(1, 1000, "Goal", 0.5)]))
    write_json_atomic(tmp_path / "game" / "config.json", {"a": 1})
    written = sorted(p.name for p in (tmp_path / "game").iterdir())
    assert written == ["1_resnet18.json", "1_resnet18.npy", "config.json", "results_spotting.json"]
    for name in written:
        assert mode_of(tmp_path / "game" / name) == 0o644, name


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as handle:
            handle.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
