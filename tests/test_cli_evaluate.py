"""`soccerspot evaluate`: the table, --json, and what it says (and returns) on bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from soccerspot.pipeline.cli import main
from soccerspot.pipeline.evaluation.average_map import RESULT_KEYS

GAMES = ["league a/2020-2021/2021-01-01 - 20-00 A.F.C. 1 - 0 B's", "league a/2020-2021/2021-01-08 - 20-00 C 0 - 0 D"]


def annotation(half: int, seconds: int, label: str, visibility: str = "visible") -> dict:
    return {"gameTime": f"{half} - {seconds // 60:02d}:{seconds % 60:02d}", "label": label,
            "position": str(seconds * 1000), "team": "home", "visibility": visibility}


def prediction(half: int, seconds: float, label: str, confidence: float) -> dict:
    return {"gameTime": f"{half} - {int(seconds) // 60}:{int(seconds) % 60}", "label": label,
            "position": str(int(seconds * 1000)), "half": str(half), "confidence": str(confidence)}


@pytest.fixture
def season(tmp_path) -> tuple[Path, Path]:
    labels, predictions = tmp_path / "labels", tmp_path / "predictions"
    for game in GAMES:
        (labels / game).mkdir(parents=True)
        (labels / game / "Labels-v2.json").write_text(json.dumps({"UrlLocal": game, "annotations": [
            annotation(1, 100, "Goal"), annotation(1, 300, "Corner", "not shown"), annotation(2, 50, "Foul")]}))
        (predictions / game).mkdir(parents=True)
        (predictions / game / "results_spotting.json").write_text(json.dumps({"UrlLocal": game, "predictions": [
            prediction(1, 101, "Goal", 0.9), prediction(1, 310, "Corner", 0.6), prediction(2, 400, "Foul", 0.3)]}))
    return labels, predictions


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["evaluate", "--quiet", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_the_table_and_writes_the_official_keys(season, tmp_path, capsys):
    labels, predictions = season
    out_json = tmp_path / "out" / "result.json"
    code, out, _ = run(capsys, "--labels", labels, "--predictions", predictions, "--metric", "loose",
                       "--json", out_json)
    assert code == 0
    result = json.loads(out_json.read_text())
    assert set(result) == set(RESULT_KEYS) and len(result["a_mAP_per_class"]) == 17
    # Goal found 1 s late, Corner 10 s late (inside delta/2 from 20 s on), Foul missed; 14 classes unlabelled.
    assert result["a_mAP_per_class"][2] == 1.0 and result["a_mAP_per_class"][10] == 0.0
    assert 0.0 < result["a_mAP_per_class"][13] < 1.0
    assert "2 games" in out and "Average-mAP" in out and "Shots on target" in out
    assert f"Average-mAP (loose): {result['a_mAP']:.5f}" in out
    # Never overwrite a user's file silently.
    code, _, err = run(capsys, "--labels", labels, "--predictions", predictions, "--json", out_json)
    assert code == 2 and "--force" in err
    assert run(capsys, "--labels", labels, "--predictions", predictions, "--json", out_json, "--force")[0] == 0


def test_games_file_split_and_custom_classes(season, tmp_path, capsys):
    labels, predictions = season
    games_file = tmp_path / "GAMES.txt"
    games_file.write_text(GAMES[1] + "\n")
    code, out, _ = run(capsys, "--labels", labels, "--predictions", predictions, "--split", games_file,
                       "--classes", "Goal,Corner,Foul", "--metric", "tight")
    assert code == 0 and "1 games" in out and "Penalty" not in out
    assert "Average-mAP (tight):" in out


def test_missing_predictions_list_the_games_unless_allowed(season, capsys):
    labels, predictions = season
    (predictions / GAMES[0] / "results_spotting.json").unlink()
    code, _, err = run(capsys, "--labels", labels, "--predictions", predictions)
    assert code == 1 and "1 of 2 games have no results_spotting.json" in err and GAMES[0] in err
    code, out, err = run(capsys, "--labels", labels, "--predictions", predictions, "--allow-missing")
    assert code == 0 and "scored as having no predictions" in err


def test_prediction_file_name_is_configurable(season, capsys):
    labels, predictions = season
    for game in GAMES:
        (predictions / game / "results_spotting.json").rename(predictions / game / "mine.json")
    assert run(capsys, "--labels", labels, "--predictions", predictions)[0] == 1
    assert run(capsys, "--labels", labels, "--predictions", predictions, "--prediction-file", "mine.json")[0] == 0


def test_malformed_json_names_the_file_and_the_reason(season, capsys):
    labels, predictions = season
    path = predictions / GAMES[1] / "results_spotting.json"
    path.write_text('{"predictions": [{"label": "Goal",}]}')
    code, _, err = run(capsys, "--labels", labels, "--predictions", predictions)
    assert code == 1 and str(path) in err and "malformed JSON" in err and "line 1" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("entry, words", [
    ({"label": "Gaol"}, ["unknown label 'Gaol'", "valid labels: Penalty, Kick-off"]),
    ({"half": "3", "gameTime": "3 - 1:00"}, ["half '3'", "valid halves are 1 and 2"]),
])
def test_unknown_label_or_half_is_skipped_with_a_warning_or_with_strict_names_file_and_entry(
        season, capsys, entry, words):
    labels, predictions = season
    path = predictions / GAMES[0] / "results_spotting.json"
    code, before, _ = run(capsys, "--labels", labels, "--predictions", predictions)
    assert code == 0
    obj = json.loads(path.read_text())
    obj["predictions"].append(dict(prediction(1, 10, "Goal", 0.5), **entry))
    path.write_text(json.dumps(obj))
    code, out, err = run(capsys, "--labels", labels, "--predictions", predictions)
    assert code == 0 and out == before  # skipped, as the official scorer skips it
    assert err.count("warning:") == 1 and str(path) in err and "skipped 1 entries" in err
    code, _, err = run(capsys, "--labels", labels, "--predictions", predictions, "--strict")
    assert code == 1 and str(path) in err and "entry 3" in err
    for word in words:
        assert word in err


def test_several_bad_files_are_all_reported(season, capsys):
    labels, predictions = season
    for game in GAMES:
        (predictions / game / "results_spotting.json").write_text("not json")
    code, _, err = run(capsys, "--labels", labels, "--predictions", predictions)
    assert code == 1 and "2 bad files" in err and all(game in err for game in GAMES)


def test_usage_errors_exit_2(season, capsys):
    labels, predictions = season
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--labels", str(labels), "--predictions", str(predictions), "--metric", "medium"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--predictions", str(predictions)])
    assert info.value.code == 2


def test_missing_folders_and_unknown_split_are_data_errors(season, tmp_path, capsys):
    labels, predictions = season
    code, _, err = run(capsys, "--labels", tmp_path / "nope", "--predictions", predictions)
    assert code == 1 and "nope" in err
    code, _, err = run(capsys, "--labels", labels, "--predictions", predictions, "--split", "tset")
    assert code == 1 and "train, valid, test, challenge" in err
    # The official test split's games are not in this tiny labels tree: say which labels are missing.
    code, _, err = run(capsys, "--labels", labels, "--predictions", predictions, "--split", "test")
    assert code == 1 and "100 games without Labels-v2.json" in err


@pytest.mark.real
def test_real_test_split_from_the_command_line(soccernet_data, capsys):
    predictions = soccernet_data / "predictions" / "netvlad_v2_test"
    code, out, _ = run(capsys, "--labels", soccernet_data / "labels", "--predictions", predictions,
                       "--split", "test", "--metric", "tight")
    assert code == 0 and "Average-mAP (tight): 0.04222" in out and "100 games" in out


def test_plots_draws_the_tolerance_curve_and_per_class_bars(season, tmp_path, capsys):
    from PIL import Image

    labels, predictions = season
    code, out, _ = run(capsys, "--labels", labels, "--predictions", predictions, "--plots", tmp_path / "plots")
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert written == ["average_map_tolerance.png", "per_class_ap_loose.png", "per_class_ap_tight.png"]
    for name in written:
        assert name in out
        assert np.asarray(Image.open(tmp_path / "plots" / name).convert("L")).std() > 10  # not blank
