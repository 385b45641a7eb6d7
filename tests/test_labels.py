import json

import pytest

from soccerspot.data.classes import CLASS_NAMES_V2, EVENT_DICTIONARY_V2
from soccerspot.errors import DataError
from soccerspot.data.labels import (
    GamePredictions, Prediction, game_time, read_labels, read_predictions, write_predictions,
)


def test_v2_dictionary_order():
    assert CLASS_NAMES_V2[0] == "Penalty" and CLASS_NAMES_V2[-1] == "Yellow->red card"
    assert len(CLASS_NAMES_V2) == 17 and sorted(EVENT_DICTIONARY_V2.values()) == list(range(17))


def test_game_time_runs_past_45_minutes():
    assert game_time(2, (53 * 60 + 51) * 1000 + 400) == "2 - 53:51"


def test_predictions_round_trip_dedupes_bins(tmp_path):
    preds = GamePredictions(url="a/b/c", predictions=[
        Prediction(1, 10_100, "Goal", 0.2), Prediction(1, 10_400, "Goal", 0.9),  # same 0.5 s bin
        Prediction(1, 10_600, "Goal", 0.5), Prediction(2, 10_100, "Corner", 0.3),
    ])
    path = tmp_path / "results_spotting.json"
    write_predictions(path, preds)
    raw = json.loads(path.read_text())
    assert all(isinstance(p["position"], int) for p in raw["predictions"])
    back = read_predictions(path)
    assert sorted((p.half, p.position_ms, p.confidence) for p in back.predictions) == [
        (1, 10_400, 0.9), (1, 10_600, 0.5), (2, 10_100, 0.3)]


def test_predictions_accept_strings_and_unpadded_game_time(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"Url": "x", "predictions": [
        {"gameTime": "2 - 5:03", "label": "Goal", "position": "303000", "half": "2", "confidence": "0.5"}]}))
    (p,) = read_predictions(path, CLASS_NAMES_V2).predictions
    assert (p.half, p.position_ms, p.label, p.confidence) == (2, 303000, "Goal", 0.5)


@pytest.mark.parametrize("entry, words", [
    ({"gameTime": "3 - 0:01", "label": "Goal", "position": "1000", "confidence": "1"}, "valid halves"),
    ({"gameTime": "1 - 0:01", "label": "Gaol", "position": "1000", "confidence": "1"}, "unknown label 'Gaol'"),
])
def test_bad_prediction_entries_name_file_and_entry(tmp_path, entry, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"predictions": [entry]}))
    with pytest.raises(DataError, match=words) as info:
        read_predictions(path, CLASS_NAMES_V2)
    assert str(path) in str(info.value)


def test_malformed_json_names_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"predictions": [')
    with pytest.raises(DataError, match="malformed JSON") as info:
        read_predictions(path)
    assert "broken.json" in str(info.value)


@pytest.mark.real
def test_reads_every_real_labels_file(soccernet_data):
    files = sorted((soccernet_data / "labels").rglob("Labels-v2.json"))
    assert len(files) == 500
    latest = 0
    for path in files:
        labels = read_labels(path, CLASS_NAMES_V2)
        assert labels.events
        latest = max(latest, max(e.position_ms for e in labels.events))
    assert latest >= 53 * 60 * 1000  # stoppage time to 53:51 exists in the real data


def test_labels_without_position_use_game_time_and_take_the_half_from_it(tmp_path):
    path = tmp_path / "Labels.json"
    path.write_text(json.dumps({"annotations": [
        {"gameTime": "2 - 05:12", "label": "y-card", "team": "away"},  # SoccerNet-v1: second precision only
        {"gameTime": "1 - 00:10", "label": "Goal", "position": "10500", "half": "2"},  # gameTime's half wins
    ]}))
    first, second = read_labels(path).events
    assert (first.half, first.position_ms) == (2, 312_000)
    assert (second.half, second.position_ms) == (1, 10_500)


def test_position_wins_over_a_disagreeing_game_time(tmp_path):
    path = tmp_path / "Labels-v2.json"
    path.write_text(json.dumps({"annotations": [
        {"gameTime": "1 - 12:00", "label": "Goal", "position": "600400", "visibility": "not shown"}]}))
    (event,) = read_labels(path, CLASS_NAMES_V2).events
    assert event.position_ms == 600_400 and not event.shown
