"""Saved per-frame scores (`data.scores`, `soccerspot spot --save-scores`): round trip, timestamps of the
feature rows, probabilities equal to what inference gives."""
import json

import numpy as np
import pytest

from soccerspot.errors import DataError
from soccerspot.data.features import FeatureMeta, load_features, write_features
from soccerspot.data.scores import read_scores, scores_path, write_scores
from soccerspot.pipeline.inference.checkpoints import load_checkpoint
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.scores import frame_scores

from test_spot_cli import CLASSES, NAME, make_detector, make_tree, meta, spots

EVENTS = {("a/g1", 1): [("Goal", 60), ("Corner", 150)], ("a/g1", 2): [("Corner", 30)], ("a/g2", 1): [("Goal", 100)]}


def test_round_trip_with_explicit_timestamps(tmp_path):
    rng = np.random.default_rng(0)
    probabilities = rng.random((5, 3)).astype(np.float32)
    times = [0.0, 0.52, 1.0, 1.49, 2.1]  # variable frame rate
    source = FeatureMeta(backbone="resnet18", weights="none", fps=2.0, timestamps=times, precision="bf16", num_frames=5,
                         pca="pca:abc")
    path = write_scores(tmp_path, 2, probabilities, source, ["Goal", "Corner", "Foul"], feature_name="resnet18",
                        model="ckpt")
    assert path == scores_path(tmp_path, 2) == tmp_path / "2_scores.npy"
    back = read_scores(tmp_path, 2)
    np.testing.assert_array_equal(back.probabilities, probabilities)
    np.testing.assert_array_equal(back.times, np.asarray(times))
    assert back.classes == ["Goal", "Corner", "Foul"]
    assert back.meta.extra == {"classes": ["Goal", "Corner", "Foul"], "features": "resnet18", "model": "ckpt"}
    assert back.meta.backbone == "resnet18" and back.meta.dim == 3 and back.meta.pca is None


def test_round_trip_with_start_and_step(tmp_path):
    source = FeatureMeta(fps=1.0, start=10.0, step=1.0, num_frames=4)
    write_scores(tmp_path, 1, np.full((4, 2), 0.25), source, ["a", "b"], feature_name="f", model="m")
    back = read_scores(tmp_path, 1)
    np.testing.assert_array_equal(back.times, [10.0, 11.0, 12.0, 13.0])
    assert back.probabilities.dtype == np.float32


def test_write_refuses_shapes_that_do_not_fit(tmp_path):
    source = FeatureMeta(num_frames=4)
    with pytest.raises(ValueError, match="scores must be"):
        write_scores(tmp_path, 1, np.zeros((4, 3)), source, ["a", "b"], feature_name="f", model="m")
    with pytest.raises(ValueError, match="3 score rows for 4 feature rows"):
        write_scores(tmp_path, 1, np.zeros((3, 2)), source, ["a", "b"], feature_name="f", model="m")


def test_read_refuses_what_is_not_a_scores_file(tmp_path):
    write_features(tmp_path, 1, "scores", np.zeros((3, 2), np.float32), FeatureMeta())
    with pytest.raises(DataError, match="1_scores.npy: not a scores file"):
        read_scores(tmp_path, 1)
    with pytest.raises(DataError, match="feature file not found"):
        read_scores(tmp_path, 2)


def test_spot_save_scores_writes_what_inference_gave_with_the_feature_rows_times(tmp_path, capsys):
    tree = make_tree(tmp_path / "features", EVENTS)
    # one half at a variable frame rate: its scores must carry the same explicit times
    variable = load_features(tree / "a/g2", 1, NAME)
    times = list(np.round(np.arange(200) * 0.5 + 0.01 * np.sin(np.arange(200)), 4))
    write_features(tree / "a/g2", 1, NAME, variable.array[:], FeatureMeta.from_json({**variable.meta.to_json(), "timestamps": times}))
    model = make_detector(tmp_path / "model")
    out = tmp_path / "results"
    assert main(["spot", str(tree), "--model", str(model), "--out", str(out), "--save-scores", "--no-progress"]) == 0
    head = load_checkpoint(model)
    for (game, half) in EVENTS:
        saved = read_scores(out / game, half)
        features = load_features(tree / game, half, NAME)
        expected = frame_scores(head.model, features.array, head.config.window_frames)
        np.testing.assert_array_equal(saved.probabilities, expected.astype(np.float32))
        np.testing.assert_array_equal(saved.times, features.meta.frame_times())
        assert saved.classes == CLASSES
        assert saved.meta.extra["features"] == NAME and saved.meta.extra["model"] == str(model)
    assert read_scores(out / "a/g2", 1).times.tolist() == times
    # the peaks of the saved scores are where the spots are
    goal = read_scores(out / "a/g1", 1)
    assert goal.times[int(np.argmax(goal.probabilities[:, 0]))] * 1000 == 30000
    assert (1, "Goal", 30000) in spots(out / "a/g1/results_spotting.json")


def test_scores_beside_the_features_do_not_get_in_the_way(tmp_path):
    tree = make_tree(tmp_path / "features", {("g", 1): [("Goal", 60)]})
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "g"), "--model", str(model), "--save-scores"]) == 0
    assert (tree / "g/1_scores.npy").is_file() and (tree / "g/1_scores.json").is_file()
    first = spots(tree / "g/results_spotting.json")
    # the game folder now holds two .npy names: the scores are not taken for a second feature set
    assert main(["spot", str(tree / "g"), "--model", str(model), "--overwrite"]) == 0
    assert spots(tree / "g/results_spotting.json") == first


def test_a_scores_file_given_as_features_is_refused(tmp_path, capsys):
    tree = make_tree(tmp_path / "features", {("g", 1): [("Goal", 60)]})
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "g"), "--model", str(model), "--save-scores"]) == 0
    capsys.readouterr()
    assert main(["spot", str(tree / "g/1_scores.npy"), "--model", str(model), "--out", str(tmp_path / "r")]) == 1
    line = capsys.readouterr().err.strip()
    assert "1_scores.npy: a scores file written by --save-scores" in line and "\n" not in line


def test_without_save_scores_nothing_but_results(tmp_path):
    tree = make_tree(tmp_path / "features", {("g", 1): [("Goal", 60)]})
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "r")]) == 0
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["results_spotting.json"]
    assert json.loads((tmp_path / "r/results_spotting.json").read_text())["predictions"]


def test_scores_keep_the_feature_settings(tmp_path):
    tree = make_tree(tmp_path / "features", {("g", 1): [("Goal", 60)]}, precision="bf16")
    model = make_detector(tmp_path / "model", meta(dim=3, precision="bf16").settings())
    assert main(["spot", str(tree / "g"), "--model", str(model), "--out", str(tmp_path / "r"), "--save-scores"]) == 0
    saved = read_scores(tmp_path / "r", 1)
    assert (saved.meta.backbone, saved.meta.weights, saved.meta.fps) == ("toy", "none", 2.0)


def test_spot_plots_draws_each_half_from_its_saved_scores_with_the_ground_truth(tmp_path, capsys):
    from PIL import Image

    from soccerspot.pipeline.reports.timeline import load_timelines

    tree = make_tree(tmp_path / "features", {("g", 1): [("Goal", 60)], ("g", 2): [("Corner", 30)]})
    model = make_detector(tmp_path / "model")
    assert main(["spot", str(tree / "g"), "--model", str(model), "--plots", "--no-progress"]) == 0
    assert "drew 2 timeline plot(s)" in capsys.readouterr().out
    for half in (1, 2):
        assert scores_path(tree / "g", half).is_file()  # --plots implies --save-scores
        image = np.asarray(Image.open(tree / "g" / f"{half}_timeline.png").convert("L"))
        assert image.shape[1] > 800 and image.std() > 10
    assert [t.scores is not None for t in load_timelines(tree / "g")] == [True, True]
