"""Combined features (`soccerspot combine`, `data.combined_features`): normalisation against an independent
computation, column order, row checks, the sidecar, resume, the CLI, training and spotting on them, and
`spot VIDEO` re-creating them from two image backbones."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from soccerspot.data.combined_features import (CombineConfig, combine_arrays, combine_half, find_halves)
from soccerspot.data.errors import DataError
from soccerspot.data.features import FeatureMeta, load_features, sidecar_path, write_features
from soccerspot.pipeline.cli import main

FPS = 2.0


def meta(backbone: str, *, weights: str = "none", precision: str = "fp32", timestamps=None, **fields) -> FeatureMeta:
    return FeatureMeta(backbone=backbone, weights=weights, fps=FPS, step=1 / FPS, transform="crop", input_size=64,
                       precision=precision, timestamps=timestamps, **fields)


def write_parts(game_dir, rows=10, dims=(3, 5), seed=0, halves=(1, 2)):
    """Random parts `a` (dims[0] wide, scale 10) and `b` (dims[1] wide, scale 0.1) for each half."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for half in halves:
        for name, dim, scale in (("a", dims[0], 10.0), ("b", dims[1], 0.1)):
            array = (rng.normal(size=(rows, dim)) * scale).astype(np.float32)
            write_features(game_dir, half, name, array, meta(f"backbone_{name}"))
            arrays[half, name] = array
    return arrays


def unit_rows_by_loop(array: np.ndarray) -> np.ndarray:
    """Row-by-row division by the square root of the sum of squares (written independently of the module)."""
    out = np.zeros(array.shape, dtype=np.float64)
    for i, row in enumerate(array.astype(np.float64)):
        norm = math.sqrt(sum(float(v) * float(v) for v in row))
        out[i] = row / norm if norm > 0 else row
    return out


# --- the arrays --------------------------------------------------------------------------------------------


def test_l2_normalises_each_part_then_concatenates_in_order():
    rng = np.random.default_rng(1)
    a = (rng.normal(size=(7, 3)) * 50).astype(np.float32)
    b = (rng.normal(size=(7, 4)) * 0.01).astype(np.float32)
    b[2] = 0.0  # a zero row stays zero
    combined = combine_arrays([a, b], "l2")
    assert combined.shape == (7, 7) and combined.dtype == np.float32
    np.testing.assert_allclose(combined[:, :3], unit_rows_by_loop(a), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(combined[:, 3:], unit_rows_by_loop(b), rtol=1e-6, atol=1e-7)
    assert np.all(combined[2, 3:] == 0.0)
    # every part weighs the same: each non-zero part row has norm 1 whatever its scale
    np.testing.assert_allclose(np.linalg.norm(combined[:, :3], axis=1), 1.0, rtol=1e-6)
    reversed_order = combine_arrays([b, a], "l2")
    np.testing.assert_array_equal(reversed_order[:, :4], combined[:, 3:])


def test_none_concatenates_unchanged_and_bad_inputs_are_refused():
    a, b = np.arange(6, dtype=np.float32).reshape(3, 2), np.ones((3, 1), dtype=np.float32)
    np.testing.assert_array_equal(combine_arrays([a, b], "none"), np.hstack([a, b]))
    with pytest.raises(ValueError, match="same rows"):
        combine_arrays([a, np.ones((4, 1), dtype=np.float32)])
    with pytest.raises(ValueError, match="unknown normalisation"):
        combine_arrays([a, b], "zscore")


def test_config_problems():
    assert CombineConfig(["a", "b"], "ab").problems() == []
    assert [f for f, _ in CombineConfig(["a"], "ab").problems()] == ["parts"]
    assert [f for f, _ in CombineConfig(["a", "a"], "ab").problems()] == ["parts"]
    assert [f for f, _ in CombineConfig(["a", "b"], "a").problems()] == ["name"]
    assert [f for f, _ in CombineConfig(["a", "b"], "ab", normalize="x").problems()] == ["normalize"]


# --- halves on disk ----------------------------------------------------------------------------------------


def test_combined_half_and_its_sidecar_list_every_component(tmp_path):
    arrays = write_parts(tmp_path, rows=12)
    result = combine_half(tmp_path, 1, CombineConfig(["a", "b"], "ab"))
    assert not result.skipped
    combined = load_features(tmp_path, 1, "ab")
    assert combined.array.shape == (12, 8)
    np.testing.assert_allclose(combined.array, np.hstack([unit_rows_by_loop(arrays[1, "a"]),
                                                          unit_rows_by_loop(arrays[1, "b"])]), rtol=1e-6, atol=1e-7)
    side = json.loads(sidecar_path(tmp_path, 1, "ab").read_text())
    assert side["backbone"] == "combined" and side["normalize"] == "l2" and side["dim"] == 8
    assert [c["backbone"] for c in side["components"]] == ["backbone_a", "backbone_b"]
    for component, dim in zip(side["components"], (3, 5)):
        assert component == {"backbone": component["backbone"], "weights": "none", "fps": FPS, "transform": "crop",
                             "input_size": 64, "pca": None, "dim": dim}
    assert side["extra"]["parts"] == ["a", "b"] and side["extra"]["part_precisions"] == ["fp32", "fp32"]
    np.testing.assert_allclose(combined.meta.frame_times(), load_features(tmp_path, 1, "a").meta.frame_times())


def test_identity_tells_combinations_apart(tmp_path):
    write_parts(tmp_path)
    combine_half(tmp_path, 1, CombineConfig(["a", "b"], "ab"))
    combine_half(tmp_path, 1, CombineConfig(["b", "a"], "ba"))
    combine_half(tmp_path, 1, CombineConfig(["a", "b"], "ab_raw", normalize="none"))
    identities = [load_features(tmp_path, 1, name).meta.identity() for name in ("ab", "ba", "ab_raw")]
    assert identities[0] != identities[1] and identities[0] != identities[2] and identities[1] != identities[2]
    plain = load_features(tmp_path, 1, "a").meta.settings()
    assert "components" not in plain and "normalize" not in plain  # other features keep their identity


def test_mixed_precisions_are_recorded_but_not_identity(tmp_path):
    write_parts(tmp_path, halves=(1,))
    b = load_features(tmp_path, 1, "b", mmap=False)
    write_features(tmp_path, 2, "a", load_features(tmp_path, 1, "a", mmap=False).array, meta("backbone_a"))
    write_features(tmp_path, 2, "b", b.array, meta("backbone_b", precision="bf16"))
    combine_half(tmp_path, 1, CombineConfig(["a", "b"], "ab"))
    combine_half(tmp_path, 2, CombineConfig(["a", "b"], "ab"))
    first, second = (load_features(tmp_path, half, "ab").meta for half in (1, 2))
    assert first.precision == "fp32" and second.precision == "mixed:fp32+bf16"
    assert first.identity() == second.identity()


def test_rows_must_match_in_count_and_time(tmp_path):
    write_parts(tmp_path, rows=10, halves=(1,))
    write_features(tmp_path, 1, "short", np.ones((9, 2), np.float32), meta("x"))
    with pytest.raises(DataError, match="has 9 rows but .*1_a.npy has 10") as error:
        combine_half(tmp_path, 1, CombineConfig(["a", "short"], "bad"))
    assert error.value.path.endswith("1_short.npy")
    shifted = [0.5 * i + (1e-3 if i == 4 else 0.0) for i in range(10)]
    write_features(tmp_path, 1, "shifted", np.ones((10, 2), np.float32), meta("x", timestamps=shifted))
    with pytest.raises(DataError, match="row 4 is at 2.001000 s but row 4 of .*1_a.npy is at 2.000000 s"):
        combine_half(tmp_path, 1, CombineConfig(["a", "shifted"], "bad"))
    within = [0.5 * i + 5e-7 for i in range(10)]  # within 1e-6 s: the same times
    write_features(tmp_path, 1, "close", np.ones((10, 2), np.float32), meta("x", timestamps=within))
    assert not combine_half(tmp_path, 1, CombineConfig(["a", "close"], "ok")).skipped
    with pytest.raises(DataError, match="part 'nope' missing for half 1") as error:
        combine_half(tmp_path, 1, CombineConfig(["a", "nope"], "bad"))
    assert error.value.path.endswith("1_nope.npy")
    with pytest.raises(DataError, match="itself combined"):
        combine_half(tmp_path, 1, CombineConfig(["a", "ok"], "bad"))
    assert not (tmp_path / "1_bad.npy").exists()


def test_resume_skips_current_halves_and_redoes_stale_ones(tmp_path):
    write_parts(tmp_path, halves=(1,))
    config = CombineConfig(["a", "b"], "ab")
    assert not combine_half(tmp_path, 1, config).skipped
    assert combine_half(tmp_path, 1, config).skipped
    # a part made again (other values, same settings): redone
    write_features(tmp_path, 1, "b", np.full((10, 5), 2.0, np.float32), meta("backbone_b"))
    redone = combine_half(tmp_path, 1, config)
    assert not redone.skipped and redone.reason == "its parts were made again"
    np.testing.assert_allclose(load_features(tmp_path, 1, "ab").array[:, 3:], 1 / math.sqrt(5), rtol=1e-6)
    # another normalisation under the same name: redone
    assert combine_half(tmp_path, 1, CombineConfig(["a", "b"], "ab", normalize="none")).reason == \
        "made with other parts or settings"
    # an interrupted run (array without its sidecar): redone
    sidecar_path(tmp_path, 1, "ab").unlink()
    assert combine_half(tmp_path, 1, config).reason == "array without its sidecar (interrupted run)"
    assert combine_half(tmp_path, 1, config).skipped


def test_find_halves_lists_every_half_holding_a_part(tmp_path):
    write_parts(tmp_path / "league/s/g1")
    write_parts(tmp_path / "league/s/g2", halves=(2,))
    jobs = [(job.game_dir.relative_to(tmp_path).as_posix(), job.half) for job in find_halves(tmp_path, ["a", "b"])]
    assert jobs == [("league/s/g1", 1), ("league/s/g1", 2), ("league/s/g2", 2)]


# --- the CLI -----------------------------------------------------------------------------------------------


def test_cli_combines_a_tree_goes_on_past_a_bad_game_and_resumes(tmp_path, capsys):
    write_parts(tmp_path / "l/s/good")
    write_parts(tmp_path / "l/s/bad")
    (tmp_path / "l/s/bad/2_b.npy").unlink()
    command = ["combine", "--features", str(tmp_path), "--parts", "a,b", "--name", "ab", "--no-progress"]
    assert main(command) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert len(errors) == 1 and "2_b.npy: part 'b' missing for half 2" in errors[0]
    assert "combined 3 half(s) into ab (a+b, l2); skipped 0 already complete; 1 failed" in captured.out
    assert load_features(tmp_path / "l/s/good", 2, "ab").array.shape == (10, 8)
    assert main(command) == 1
    assert "combined 0 half(s) into ab (a+b, l2); skipped 3 already complete; 1 failed" in capsys.readouterr().out


@pytest.mark.parametrize("flags, code, message", [
    (["--parts", "a"], 2, "--parts needs at least two feature names"),
    (["--parts", "a,b", "--name", "a"], 2, "--name 'a' is one of the parts"),
    (["--parts", "x,y"], 1, "no feature files of x, y below this folder"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, flags, code, message):
    write_parts(tmp_path, halves=(1,))
    args = {"--name": "ab", **dict(zip(flags[::2], flags[1::2]))}
    argv = ["combine", "--features", str(tmp_path)] + [item for pair in args.items() for item in pair]
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_cli_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["combine", "--features", str(tmp_path / "nowhere"), "--parts", "a,b", "--name", "ab"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere: --features: no such folder" in err[0]
