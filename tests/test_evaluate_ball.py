"""Ball Action Spotting: Team mAP@1 equal to sn-teamspotting's `mAPevaluateCodabench`, the 2023/2024 mAP@1
equal to the SoccerNet package's `evaluate(task="spotting-ball")`, each quirk of theirs on a hand-made case,
and bad input."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ball_helpers import BALL_SPLITS, max_abs_diff, write_ball_season
from peer_code import imported_from, peer_repo

from soccerspot.data.classes import CLASS_NAMES_BALL, CLASS_NAMES_BALL_2023, EVENT_DICTIONARY_BALL
from soccerspot.data.games import official_split_games
from soccerspot.data.labels import Event, GameLabels, GamePredictions, Prediction, read_predictions
from soccerspot.errors import DataError
from soccerspot.pipeline.evaluation.average_map import evaluate_games, frames_of, load_folders
from soccerspot.pipeline.evaluation.ball import TEAM_RESULT_KEYS, evaluate_ball_teams

GAME = "england_efl/2019-2020/2019-10-01 - Reading - Fulham"
OFFICIAL_KEYS = ("a_mAP", "a_mAP_per_class", "a_mAP_visible", "a_mAP_per_class_visible", "a_mAP_unshown",
                 "a_mAP_per_class_unshown")


def load(labels_root, predictions_root, games, classes=CLASS_NAMES_BALL, teams=True):
    return load_folders(labels_root, predictions_root, games, classes=classes, labels_file="Labels-ball.json",
                        progress=False, any_label=teams, ignore_prediction_half=teams)


def codabench(peer_code_root, labels_root, predictions_root, split):
    root = peer_repo("SoccerNet/sn-teamspotting", peer_code_root)
    with imported_from(root):
        from util.eval import mAPevaluateCodabench

        return mAPevaluateCodabench(str(labels_root), str(predictions_root), split=split, event_team=True,
                                    metric="at1")


# ---------------------------------------------------------------------------------------------------------
# Equal to the official code on random untidy seasons. The official scorer costs ~8 s per call on 2 cores
# (200 thresholds x 36 columns of nan_to_num), whatever the data: two team seasons, two without.

def test_team_map_equals_map_evaluate_codabench(tmp_path, peer_code_root):
    labels_root, predictions_root = write_ball_season(tmp_path, 0, CLASS_NAMES_BALL, BALL_SPLITS["test"], teams=True)
    loaded = load(labels_root, predictions_root, BALL_SPLITS["test"])
    ours = evaluate_ball_teams(loaded.labels, loaded.predictions)
    official = codabench(peer_code_root, labels_root, predictions_root, "test")
    assert max_abs_diff(ours, official, TEAM_RESULT_KEYS) <= 1e-6
    assert 0.1 < ours["mAP"] < 0.9 and 0.1 < ours["mAP_no_team"] < 0.9  # hits and misses, not a degenerate case
    assert ours["mAP"] != ours["mAP_no_team"]


def test_a_class_without_labels_makes_team_map_nan_as_the_official_code(tmp_path, peer_code_root):
    # No GOAL anywhere: its two sides' label sums are 0, its Team AP 0/0, and the mean NaN.
    labels_root, predictions_root = write_ball_season(tmp_path, 1, CLASS_NAMES_BALL[:-1], BALL_SPLITS["train"],
                                                      teams=True)
    loaded = load(labels_root, predictions_root, BALL_SPLITS["train"])
    with np.errstate(all="raise"):  # no numpy warning escapes from ours
        ours = evaluate_ball_teams(loaded.labels, loaded.predictions)
    official = codabench(peer_code_root, labels_root, predictions_root, "train")
    assert max_abs_diff(ours, official, TEAM_RESULT_KEYS) <= 1e-6
    assert math.isnan(ours["mAP"]) and math.isnan(ours["mAP_per_class"][-1])
    assert ours["mAP_per_class_no_team"][-1] == 0.0 and not math.isnan(ours["mAP_no_team"])


def official_ball_evaluate(labels_root, predictions_root, split, dictionary):
    from SoccerNet.Evaluation.ActionSpotting import evaluate

    return evaluate(str(labels_root), str(predictions_root), split=split, version=2, framerate=25, metric="at1",
                    label_files="Labels-ball.json", dataset="SoccerNet", task="spotting-ball",
                    EVENT_DICTIONARY=dictionary)


@pytest.mark.parametrize("classes, extra", [(CLASS_NAMES_BALL_2023, ["HEADER"]), (CLASS_NAMES_BALL, ["DIVE"])])
def test_without_teams_equals_the_soccernet_package(tmp_path, classes, extra):
    """2023 (PASS, DRIVE) and 2024 (12 classes): both halves, labels outside the set skipped."""
    labels_root, predictions_root = write_ball_season(tmp_path, 2, classes + extra, BALL_SPLITS["test"],
                                                      teams=False, halves=(1, 2))
    # Predictions of a class outside the set are skipped by both; drop them from ours' input to read strictly.
    loaded = load(labels_root, predictions_root, BALL_SPLITS["test"], classes, teams=False)
    assert all(counts.get("unknown label") for _, counts in loaded.skipped_entries())
    ours = evaluate_games(loaded.labels, loaded.predictions, classes, "at1", framerate=25)
    official = official_ball_evaluate(labels_root, predictions_root, "test",
                                      {name: i for i, name in enumerate(classes)})
    assert max(abs(np.asarray(ours[k], dtype=float) - np.asarray(official[k], dtype=float)).max()
               for k in OFFICIAL_KEYS) <= 1e-6
    assert 0.1 < ours["a_mAP"] < 0.9


def test_ball_splits_are_the_official_lists(peer_code_root):
    root = peer_repo("SoccerNet/sn-teamspotting", peer_code_root)
    with imported_from(root):
        from util.utils import EVENT_DICTIONARY_BALL as PEER_DICTIONARY
        from util.utils import getListGames

        theirs = {split: set(getListGames(split=peer)) for split, peer in
                  (("train", "train"), ("valid", "val"), ("test", "test"), ("challenge", "challenge"))}
    assert EVENT_DICTIONARY_BALL == PEER_DICTIONARY and list(PEER_DICTIONARY) == CLASS_NAMES_BALL
    for split, games in theirs.items():
        assert set(official_split_games(split, "spotting-ball")) == games == set(BALL_SPLITS[split])


# ---------------------------------------------------------------------------------------------------------
# The official evaluator's quirks, one hand-made case each (two classes; AP by hand).

CLASSES = ["PASS", "DRIVE"]


def label(ms: int, cls: str = "PASS", team: str = "left", half: int = 1, visibility: str = "visible") -> Event:
    return Event(half=half, position_ms=ms, label=cls, team=team, visibility=visibility)


def guess(ms: int, confidence: float, cls: str = "PASS", team: str = "left", half: int = 1) -> Prediction:
    return Prediction(half=half, position_ms=ms, label=cls, confidence=confidence, team=team)


def team_map(labels: list[Event], predictions: list[Prediction]) -> dict:
    # DRIVE: one left label found exactly, so its Team AP is 1 and PASS is what each test varies.
    labels = [*labels, label(600_000, "DRIVE")]
    predictions = [*predictions, guess(600_000, 0.9, "DRIVE")]
    return evaluate_ball_teams({GAME: GameLabels(GAME, labels)}, {GAME: GamePredictions(GAME, predictions)}, CLASSES)


def test_sides_are_weighted_by_label_sums_where_not_shown_counts_minus_one():
    # PASS left: two visible and one "not shown" label, all found (AP 1), sum 1; right: one visible, missed
    # (AP 0), sum 1. Team AP (1 * 1 + 0 * 1) / 2 = 0.5; weighted by counts (3 and 1) it would be 0.75.
    labels = [label(10_000), label(20_000), label(30_000, visibility="not shown"), label(40_000, team="right")]
    predictions = [guess(10_000, 0.9), guess(20_000, 0.8), guess(30_000, 0.7)]
    results = team_map(labels, predictions)
    assert results["mAP_per_class"] == [0.5, 1.0]
    assert results["mAP"] == 0.75


def test_later_entry_of_a_frame_wins_not_the_larger():
    # Two predictions in one 40 ms frame: the later (0.1) replaces the earlier (0.9), so a false positive at
    # 0.5 ranks first: precision 1/2 at full recall, 11-point AP 0.5.
    labels = [label(10_000)]
    predictions = [guess(10_000, 0.9), guess(10_010, 0.1), guess(50_000, 0.5)]
    assert team_map(labels, predictions)["mAP_per_class"][0] == pytest.approx(0.5, abs=1e-12)
    swapped = [guess(10_010, 0.1), guess(10_000, 0.9), guess(50_000, 0.5)]
    assert team_map(labels, swapped)["mAP_per_class"][0] == 1.0


def test_a_later_label_of_the_same_frame_replaces_the_earlier():
    # PASS right: one visible label found (AP 1), then the same frame again "not shown": the column sums -1.
    # PASS left: one visible label missed (AP 0, sum 1). Team AP (0 * 1 + 1 * -1) / (1 - 1): a division by 0.
    labels = [label(10_000, team="left"), label(20_000, team="right"),
              label(20_020, team="right", visibility="not shown")]
    results = team_map(labels, [guess(20_000, 0.9, team="right")])
    assert math.isinf(results["mAP_per_class"][0])
    shown_last = [labels[0], labels[2], labels[1]]  # the visible one last: sums 1 and 1, Team AP 1/2
    assert team_map(shown_last, [guess(20_000, 0.9, team="right")])["mAP_per_class"][0] == 0.5


def test_a_confidence_of_zero_is_still_a_detection():
    assert team_map([label(10_000)], [guess(10_000, 0.0)])["mAP_per_class"][0] == 1.0
    assert team_map([label(10_000)], [guess(10_000, -1.0)])["mAP_per_class"][0] == 0.0  # negative: none


def test_predictions_half_is_ignored_and_labels_of_half_two_are_not_scored(tmp_path):
    # A half-2 label missed does not lower recall; a prediction saying half 2 finds a half-1 label.
    labels = [label(10_000), label(20_000, half=2)]
    assert team_map(labels, [guess(10_000, 0.9, half=2)])["mAP_per_class"][0] == 1.0
    path = tmp_path / "results_spotting.json"
    path.write_text(json.dumps({"predictions": [{"position": 5, "label": "PASS", "half": 2, "confidence": 0.5,
                                                 "team": "left"}, {"position": 6, "label": "PASS", "confidence": 1,
                                                                   "team": "right"}]}))
    assert [p.half for p in read_predictions(path, CLASSES, ignore_half=True).predictions] == [1, 1]


def test_one_second_tolerance_in_float_frames_and_clipping_to_the_grid():
    # int(25 * (1160 / 1000)) is 28 in floating point (29 exactly): a prediction at frame 16 is within
    # 12.5 frames of it. Positions past 120 minutes are clipped to the grid's last frame.
    assert frames_of(np.array([1160, 640]), 25, 180_000).tolist() == [28, 16]
    assert team_map([label(1160)], [guess(640, 0.9)])["mAP_per_class"][0] == 1.0
    assert team_map([label(1160)], [guess(639, 0.9)])["mAP_per_class"][0] == 0.0  # frame 15: 13 away
    late = 120 * 60_000
    assert team_map([label(late + 60_000)], [guess(late + 240_000, 0.9)])["mAP_per_class"][0] == 1.0


def test_team_is_scored_separately_from_the_action():
    # Right action, wrong team: a miss in Team mAP, a hit without teams.
    results = team_map([label(10_000, team="left")], [guess(10_000, 0.9, team="right")])
    assert results["mAP_per_class"][0] == 0.0 and results["mAP_per_class_no_team"][0] == 1.0


# ---------------------------------------------------------------------------------------------------------
# Bad input: where the official code stops with a KeyError, one line naming the file and the entry.

@pytest.mark.parametrize("bad, match", [
    (dict(team="home"), "label 0 .*team 'home'.*left or right"),
    (dict(team=""), "label 0 .*team ''.*--class-set ball-2024 or ball-2023"),
    (dict(label="DIVE"), "label 0 has unknown class 'DIVE'"),
])
def test_bad_labels_are_refused_naming_the_entry(bad, match):
    event = Event(**{**dict(half=2, position_ms=1000, label="PASS", team="left"), **bad})
    with pytest.raises(DataError, match=match):  # even in half 2, which is not scored: their lookup comes first
        evaluate_ball_teams({GAME: GameLabels(GAME, [event], path=None)}, {GAME: GamePredictions(GAME)}, CLASSES)


def test_bad_prediction_team_is_refused():
    with pytest.raises(DataError, match="prediction 0 .*team 'away'"):
        team_map([label(1000)], [guess(1000, 0.5, team="away")])


# ---------------------------------------------------------------------------------------------------------
# The command line.

def run_cli(capsys, *args) -> tuple[int, str, str]:
    from soccerspot.pipeline.cli import main

    code = main(["evaluate", "--task", "ball", "--quiet", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def team_season(tmp_path):
    return write_ball_season(tmp_path, 5, CLASS_NAMES_BALL, BALL_SPLITS["test"], teams=True, untidy=False)


def test_cli_team_map_and_json_keys(team_season, tmp_path, capsys):
    labels_root, predictions_root = team_season
    out_json = tmp_path / "out.json"
    code, out, err = run_cli(capsys, "--labels", labels_root, "--predictions", predictions_root, "--split", "test",
                             "--json", out_json)
    assert code == 0, err
    loaded = load(labels_root, predictions_root, BALL_SPLITS["test"])
    expected = evaluate_ball_teams(loaded.labels, loaded.predictions)
    assert f"Team mAP (at1): {expected['mAP']:.5f}  mAP (at1): {expected['mAP_no_team']:.5f}" in out
    assert "2 games" in out and "PLAYER SUCCESSFUL TACKLE" in out
    written = json.loads(out_json.read_text())
    assert tuple(written) == TEAM_RESULT_KEYS

    def strict_json(value):  # NaN and infinities are null in the file
        if isinstance(value, list):
            return [strict_json(v) for v in value]
        return value if math.isfinite(value) else None

    assert written == {key: strict_json(value) for key, value in expected.items()}


def test_cli_nan_team_map_is_null_in_json_with_a_warning(tmp_path, capsys):
    labels_root, predictions_root = write_ball_season(tmp_path, 6, CLASS_NAMES_BALL[:-1], BALL_SPLITS["valid"],
                                                      teams=True, untidy=False)
    code, out, err = run_cli(capsys, "--labels", labels_root, "--predictions", predictions_root, "--split", "valid",
                             "--json", tmp_path / "out.json")
    assert code == 0 and "Team mAP (at1): nan" in out and "two sides of GOAL add to 0" in err
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["mAP"] is None and written["mAP_per_class"][-1] is None and written["mAP_no_team"] > 0


def test_cli_2023_class_set_scores_both_halves_without_teams(tmp_path, capsys):
    labels_root, predictions_root = write_ball_season(tmp_path, 7, CLASS_NAMES_BALL_2023 + ["HEADER"],
                                                      BALL_SPLITS["test"], teams=False, halves=(1, 2))
    code, out, err = run_cli(capsys, "--labels", labels_root, "--predictions", predictions_root, "--split", "test",
                             "--class-set", "ball-2023")
    assert code == 0, err
    loaded = load(labels_root, predictions_root, BALL_SPLITS["test"], CLASS_NAMES_BALL_2023, teams=False)
    expected = evaluate_games(loaded.labels, loaded.predictions, CLASS_NAMES_BALL_2023, "at1", framerate=25)
    assert f"Average-mAP (at1): {expected['a_mAP']:.5f}" in out
    assert "unknown label" in err and "--strict" in err  # HEADER is outside 2023's classes: skipped, as theirs


def test_cli_bad_input_is_one_line(team_season, tmp_path, capsys):
    labels_root, predictions_root = team_season
    path = predictions_root / BALL_SPLITS["test"][0] / "results_spotting.json"
    obj = json.loads(path.read_text())
    obj["predictions"][3]["team"] = "home"
    path.write_text(json.dumps(obj))
    code, _, err = run_cli(capsys, "--labels", labels_root, "--predictions", predictions_root, "--split", "test")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert str(path) in err and "prediction 3" in err and "'home'" in err
    # A game of the split without labels: named, exit 1.
    code, _, err = run_cli(capsys, "--labels", labels_root, "--predictions", predictions_root, "--split", "train")
    assert code == 1 and "4 games without Labels-ball.json" in err and "Leeds United" in err


@pytest.mark.parametrize("flags, match", [
    (["--metric", "loose"], "--metric loose"),
    (["--class-set", "v2"], "--class-set v2"),
    (["--plots", "PLOTS"], "--plots"),
])
def test_cli_flags_the_task_does_not_take_exit_2(team_season, tmp_path, capsys, flags, match):
    labels_root, predictions_root = team_season
    flags = [str(tmp_path / f) if f == "PLOTS" else f for f in flags]
    code, _, err = run_cli(capsys, "--labels", labels_root, "--predictions", predictions_root, *flags)
    assert code == 2 and match in err


def test_predictions_in_a_zip_as_codabench_takes_them(team_season, tmp_path, capsys):
    import zipfile

    labels_root, predictions_root = team_season
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(predictions_root.rglob("results_spotting.json")):
            out.write(path, path.relative_to(predictions_root).as_posix())
    from_folder = load(labels_root, predictions_root, BALL_SPLITS["test"])
    from_zip = load(labels_root, archive, BALL_SPLITS["test"])
    assert from_zip.predictions[GAME].predictions == from_folder.predictions[GAME].predictions
    code, out, err = run_cli(capsys, "--labels", labels_root, "--predictions", archive, "--split", "test")
    expected = evaluate_ball_teams(from_folder.labels, from_folder.predictions)
    assert code == 0 and f"Team mAP (at1): {expected['mAP']:.5f}" in out
    # A game missing from the zip is named, as one missing from a folder.
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr(f"{GAME}/results_spotting.json", "{\"predictions\": []}")
    code, _, err = run_cli(capsys, "--labels", labels_root, "--predictions", archive, "--split", "test")
    assert code == 1 and "1 of 2 games have no results_spotting.json" in err and "Stoke City" in err
    with zipfile.ZipFile(archive, "w") as out:
        for game in BALL_SPLITS["test"]:
            out.writestr(f"{game}/results_spotting.json", "not json" if game == GAME else "{\"predictions\": []}")
    code, _, err = run_cli(capsys, "--labels", labels_root, "--predictions", archive, "--split", "test")
    assert code == 1 and f"submission.zip/{GAME}/results_spotting.json" in err and "malformed JSON" in err
