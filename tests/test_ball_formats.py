"""`Labels-ball.json` and team-aware `results_spotting.json`: read as written, one prediction per evaluation
frame, class and team."""
from __future__ import annotations

import json

from soccerspot.data.labels import (
    Event, GameLabels, GamePredictions, Prediction, read_labels, read_predictions, write_labels, write_predictions,
)


def test_ball_labels_round_trip(tmp_path):
    events = [Event(1, 1160, "PASS", "left"), Event(1, 61_040, "HIGH PASS", "right", "not shown")]
    path = tmp_path / "Labels-ball.json"
    write_labels(path, GameLabels("game", events))
    raw = json.loads(path.read_text())["annotations"]
    assert raw[0] == {"gameTime": "1 - 00:01", "label": "PASS", "position": "1160", "team": "left",
                      "visibility": "visible"}
    assert raw[1]["gameTime"] == "1 - 01:01"
    assert read_labels(path, ["PASS", "HIGH PASS"]).events == events


def test_team_predictions_keep_one_per_25_fps_frame_class_and_team(tmp_path):
    predictions = [
        Prediction(1, 1000, "PASS", 0.4, "left"), Prediction(1, 1010, "PASS", 0.9, "left"),  # one 40 ms frame
        Prediction(1, 1020, "PASS", 0.3, "right"),  # same frame, other team: kept
        Prediction(1, 1040, "PASS", 0.2, "left"),  # next frame: kept
    ]
    path = tmp_path / "results_spotting.json"
    write_predictions(path, GamePredictions("game", predictions), framerate=25)
    raw = json.loads(path.read_text())["predictions"]
    assert [(p["position"], p["team"], p["confidence"]) for p in raw] == [(1010, "left", 0.9), (1020, "right", 0.3),
                                                                         (1040, "left", 0.2)]
    assert read_predictions(path, ["PASS"]).predictions == sorted(
        [predictions[1], predictions[2], predictions[3]], key=lambda p: p.position_ms)
    # At SoccerNet-v2's 2 fps all four share a 0.5 s frame: one per team is left; no team field where unset.
    write_predictions(path, GamePredictions("game", predictions))
    assert len(json.loads(path.read_text())["predictions"]) == 2
    write_predictions(path, GamePredictions("game", [Prediction(1, 5000, "Goal", 0.5)]))
    assert "team" not in json.loads(path.read_text())["predictions"][0]
