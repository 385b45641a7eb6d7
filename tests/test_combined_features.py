"""Combined features (`soccerspot combine`, `data.combined_features`): normalisation against an independent
computation, column order, row checks, the sidecar, resume, the CLI, training and spotting on them, and
`spot VIDEO` re-creating them from two image backbones."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from soccerspot.data.combined_features import (CombineConfig, combine_arrays, combine_half, find_halves)
from soccerspot.errors import DataError
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


# --- training and spotting on combined features ------------------------------------------------------------

HALF_ROWS = 240  # 2 minutes at 2 fps
TRAIN_CLASSES = ("Goal", "Corner", "Foul")


def write_two_part_season(root, games: int, seed: int = 0) -> list[str]:
    """Noise parts `img` (6-d) and `vid` (4-d); around each event the class marker is in `img` for Goal and
    Corner and in `vid` for Foul, so a head needs both parts."""
    from soccerspot.data.classes import CLASS_NAMES_V2
    from soccerspot.data.labels import Event, GameLabels, write_labels
    from soccerspot.data.games import LABELS_FILE

    rng = np.random.default_rng(seed)
    names = []
    for g in range(games):
        game = f"league/2020-2021/game {g}"
        events = []
        for half in (1, 2):
            img = rng.normal(0.0, 0.3, size=(HALF_ROWS, 6)).astype(np.float32) + 1.0
            vid = rng.normal(0.0, 0.3, size=(HALF_ROWS, 4)).astype(np.float32) + 1.0
            for slot, label in enumerate(TRAIN_CLASSES * 3):
                row = 20 + 22 * slot + int(rng.integers(-3, 4))
                column = TRAIN_CLASSES.index(label)
                (img if label != "Foul" else vid)[row - 2: row + 3, column] += 4.0
                events.append(Event(half, int(row * 500), label))
            write_features(root / game, half, "img", img, meta("timm:synthetic_img"))
            write_features(root / game, half, "vid", vid, meta("video:synthetic_vid", precision="bf16"))
        assert all(event.label in CLASS_NAMES_V2 for event in events)
        write_labels(root / game / LABELS_FILE, GameLabels(url=game, events=events))
        names.append(game)
    return names


def test_train_and_spot_use_combined_features_like_any_feature_set(tmp_path, capsys):
    from soccerspot.data.labels import read_predictions
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint

    root = tmp_path / "season"
    games = write_two_part_season(root, 3)
    assert main(["combine", "--features", str(root), "--parts", "img,vid", "--name", "both", "--no-progress"]) == 0
    (tmp_path / "train.txt").write_text("\n".join(games[:2]) + "\n")
    (tmp_path / "valid.txt").write_text(games[2] + "\n")
    run = tmp_path / "run"
    assert main(["train", "--features-root", str(root), "--features", "both", "--train-split", str(tmp_path / "train.txt"),
                 "--valid-split", str(tmp_path / "valid.txt"), "--out", str(run), "--no-progress", "--projection-dim", "8",
                 "--clusters", "4", "--window-seconds", "4", "--batch-size", "64", "--epochs", "2",
                 "--eval-every", "2"]) == 0
    capsys.readouterr()
    head = load_checkpoint(run / "best")
    assert head.config.input_dim == 10
    assert [c["backbone"] for c in head.feature_settings["components"]] == ["timm:synthetic_img", "video:synthetic_vid"]
    assert head.feature_settings["normalize"] == "l2" and head.feature_settings["precision"] == "mixed:fp32+bf16"
    out = tmp_path / "spotted"
    assert main(["spot", str(root), "--model", str(run / "best"), "--features", "both", "--out", str(out),
                 "--no-progress"]) == 0
    for game in games:
        predictions = read_predictions(out / game / "results_spotting.json").predictions
        assert predictions and {p.label for p in predictions} <= set(head.classes)
    # features combined another way are not what the head was trained on: refused, naming the file
    game_dir = root / games[0]
    assert main(["combine", "--features", str(game_dir), "--parts", "img,vid", "--name", "raw", "--normalize", "none",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["spot", str(game_dir / "1_raw.npy"), "--model", str(run / "best"), "--out", str(tmp_path / "x"),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1_raw.npy" in err[0] and "normalize: features 'none', head 'l2'" in err[0]


# --- spot VIDEO re-creates combined features ------------------------------------------------------------------

BACKBONES = (["--backbone", "resnet18"], ["--backbone", "timm:regnety_002"])


@pytest.fixture(scope="module")
def combined_video(tmp_path_factory):
    """A tiny video, its two image-backbone parts extracted and combined with the CLI, and a random head
    whose recorded training features are that combination (as `soccerspot train` records them)."""
    import torch

    from soccerspot.models.heads import create_head
    from soccerspot.models.heads.pooling_head import PoolingHeadConfig
    from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint

    from video_helpers import constant_rate_times, write_video

    base = tmp_path_factory.mktemp("combined_video")
    video = write_video(base / "match.mp4", constant_rate_times(25, 6.0), gop=25)
    made = base / "made"
    for backbone in BACKBONES:
        assert main(["extract", str(video), "--out", str(made), *backbone, "--weights", "none", "--input-size", "64",
                     "--precision", "fp32", "--device", "cpu", "--no-progress"]) == 0
    parts = sorted(path.name[2:-4] for path in (made / "match").glob("1_*.npy"))
    assert main(["combine", "--features", str(made), "--parts", ",".join(parts), "--name", "both",
                 "--no-progress"]) == 0
    settings = load_features(made / "match", 1, "both").meta.settings()
    torch.manual_seed(0)
    config = PoolingHeadConfig(kind="avgpool", input_dim=settings["dim"], num_classes=2, window_frames=4,
                               projection_dim=None)

    def head(folder, feature_settings):
        return save_checkpoint(base / folder, create_head(config), config, classes=["Goal", "Corner"],
                               feature_settings=feature_settings, fps=2.0, nms=NmsSettings("hard", 4.0, 0.0),
                               extra={"features": "both"})

    return video, made / "match", settings, head


def test_spot_video_recreates_combined_features(tmp_path, combined_video, capsys):
    from soccerspot.data.labels import read_predictions

    video, made, settings, head = combined_video
    model = head("head", settings)
    out = tmp_path / "out"
    assert main(["spot", str(video), "--model", str(model), "--out", str(out), "--precision", "fp32", "--device", "cpu",
                 "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
    remade, original = load_features(out, 1, "both"), load_features(made, 1, "both")
    assert remade.meta.identity() == original.meta.identity() and remade.array.shape == (12, 512 + 368)
    np.testing.assert_allclose(remade.array, original.array, rtol=1e-5, atol=1e-6)
    assert {path.name for path in out.glob("1_*.npy")} == {"1_both.npy", "1_resnet18.npy", "1_regnety_002.npy"}
    assert read_predictions(out / "results_spotting.json").predictions
    # a second run reuses everything: the results exist, and --overwrite spots again without re-extracting
    stamp = (out / "1_both.npy").stat().st_mtime_ns
    assert main(["spot", str(video), "--model", str(model), "--out", str(out), "--precision", "fp32", "--device", "cpu",
                 "--no-progress", "--overwrite"]) == 0
    assert (out / "1_both.npy").stat().st_mtime_ns == stamp


def test_spot_video_refuses_a_component_it_cannot_remake_naming_it(tmp_path, combined_video, capsys):
    video, _, settings, head = combined_video
    from_file = json.loads(json.dumps(settings))
    from_file["components"][1]["weights"] = "file:0123456789ab"
    assert main(["spot", str(video), "--model", str(head("from_file", from_file)), "--out", str(tmp_path / "out"),
                 "--device", "cpu", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    backbone = settings["components"][1]["backbone"]
    assert len(err) == 1 and f"component 2 of 2 of the combined features ({backbone}, weights file:0123456789ab)" in err[0]
    assert "pass that file (--weights FILE)" in err[0]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.npy"))


def test_spot_video_never_overwrites_other_combined_features(tmp_path, combined_video, capsys):
    video, made, settings, head = combined_video
    out = tmp_path / "out"
    other = load_features(made, 1, "both")
    write_features(out, 1, "both", np.asarray(other.array),
                   FeatureMeta.from_json({**other.meta.to_json(), "normalize": "none"}))
    assert main(["spot", str(video), "--model", str(head("head2", settings)), "--out", str(out), "--precision", "fp32",
                 "--device", "cpu", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1_both.npy: already exists, made from other parts or settings" in err[0]


def test_spot_video_recreates_an_image_plus_video_backbone_combination(tmp_path, capsys):
    """Clip features (video:r3d_18) have the rows of image features of the same half, so they combine; their
    clip settings are part of the component's identity and are re-made by spot VIDEO."""
    import torch

    from soccerspot.models.heads import create_head
    from soccerspot.models.heads.pooling_head import PoolingHeadConfig
    from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint

    from video_helpers import constant_rate_times, write_video

    video = write_video(tmp_path / "match.mp4", constant_rate_times(25, 3.0), gop=25)
    for backbone in ("resnet18", "video:r3d_18"):
        assert main(["extract", str(video), "--out", str(tmp_path / "made"), "--backbone", backbone, "--weights", "none",
                     "--input-size", "64", "--precision", "fp32", "--device", "cpu", "--no-progress"]) == 0
    assert main(["combine", "--features", str(tmp_path / "made"), "--parts", "r3d_18,resnet18", "--name", "mix",
                 "--no-progress"]) == 0
    made = load_features(tmp_path / "made/match", 1, "mix")
    assert [c.get("clip_frames") for c in made.meta.components] == [16, None]
    torch.manual_seed(0)
    config = PoolingHeadConfig(kind="maxpool", input_dim=1024, num_classes=2, window_frames=2, projection_dim=None)
    model = save_checkpoint(tmp_path / "head", create_head(config), config, classes=["Goal", "Corner"],
                            feature_settings=made.meta.settings(), fps=2.0, nms=NmsSettings("hard", 2.0, 0.0),
                            extra={"features": "mix"})
    capsys.readouterr()
    assert main(["spot", str(video), "--model", str(model), "--out", str(tmp_path / "out"), "--precision", "fp32",
                 "--device", "cpu", "--no-progress"]) == 0
    remade = load_features(tmp_path / "out", 1, "mix")
    assert remade.meta.identity() == made.meta.identity()
    np.testing.assert_allclose(remade.array, made.array, rtol=1e-5, atol=1e-6)


def test_spot_video_takes_one_weights_file_per_fine_tuned_component(tmp_path, capsys):
    """A combination of two fine-tuned extractors (Baidu's recipe): `--weights` repeated, each file matched to
    its component by its identity, in any order; a set without the right file is refused, naming it."""
    import torch

    from soccerspot.models.backbones import create_backbone
    from soccerspot.models.heads import create_head
    from soccerspot.models.heads.pooling_head import PoolingHeadConfig
    from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint

    from video_helpers import constant_rate_times, write_video

    video = write_video(tmp_path / "match.mp4", constant_rate_times(25, 3.0), gop=25)
    files = {}
    for backbone, scale in (("resnet18", 1.01), ("timm:regnety_002", 0.99)):
        body = create_backbone(backbone, weights="none").body
        with torch.no_grad():
            for parameter in body.parameters():
                parameter.mul_(scale)
        files[backbone] = tmp_path / f"{backbone.replace(':', '_')}.pt"
        torch.save(body.state_dict(), files[backbone])
        assert main(["extract", str(video), "--out", str(tmp_path / "made"), "--backbone", backbone, "--weights",
                     str(files[backbone]), "--input-size", "64", "--precision", "fp32", "--device", "cpu",
                     "--no-progress"]) == 0
    assert main(["combine", "--features", str(tmp_path / "made"), "--parts", "resnet18,regnety_002", "--name", "ft",
                 "--no-progress"]) == 0
    made = load_features(tmp_path / "made/match", 1, "ft")
    assert all(c["weights"].startswith("file:") for c in made.meta.components)
    torch.manual_seed(0)
    config = PoolingHeadConfig(kind="avgpool", input_dim=made.array.shape[1], num_classes=2, window_frames=2,
                               projection_dim=None)
    model = save_checkpoint(tmp_path / "head", create_head(config), config, classes=["Goal", "Corner"],
                            feature_settings=made.meta.settings(), fps=2.0, nms=NmsSettings("hard", 2.0, 0.0),
                            extra={"features": "ft"})
    capsys.readouterr()
    given = ["--weights", str(files["timm:regnety_002"]), "--weights", str(files["resnet18"])]  # not in part order
    assert main(["spot", str(video), "--model", str(model), "--out", str(tmp_path / "out"), *given, "--precision",
                 "fp32", "--device", "cpu", "--no-progress"]) == 0
    np.testing.assert_allclose(load_features(tmp_path / "out", 1, "ft").array, made.array, rtol=1e-5, atol=1e-6)

    stranger = tmp_path / "stranger.pt"
    torch.save(create_backbone("resnet18", weights="none").body.state_dict(), stranger)
    capsys.readouterr()
    assert main(["spot", str(video), "--model", str(model), "--out", str(tmp_path / "out2"), "--weights", str(stranger),
                 "--weights", str(files["timm:regnety_002"]), "--device", "cpu", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "component 1 of 2" in err[0] and "none of the --weights files" in err[0]
