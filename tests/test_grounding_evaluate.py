"""Replay grounding Average-AP against the official `SoccerNet.Evaluation.ReplayGrounding.evaluate` itself
(run with `np.float` restored for it), on synthetic label / detection sets, loose and tight."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from soccerspot.data.cameras import CAMERAS_FILE, DETECTIONS_FILE, mm_ss
from soccerspot.errors import DataError
from soccerspot.pipeline.evaluation.grounding import evaluate_grounding

CLASSES = ["Goal", "Foul", "Shots on target", "Corner", "Yellow card"]


def official(labels_root: Path, predictions_root: Path, games: list[str], metric: str, monkeypatch) -> float:
    import SoccerNet.Evaluation.ReplayGrounding as official_module

    monkeypatch.setattr(np, "float", float, raising=False)  # removed from numpy; the official code needs it
    monkeypatch.setattr(official_module, "getListGames", lambda split: list(games))
    return official_module.evaluate(str(labels_root), str(predictions_root), split="test", metric=metric)["a_AP"]


def change(half: int, second: int, link: dict | None = None, replay: str = "real-time") -> dict:
    entry = {"gameTime": f"{half} - {mm_ss(second)}", "label": "Main camera center", "change_type": "abrupt",
             "replay": replay, "position": str(second * 1000)}
    if link is not None:
        entry["link"] = link
    return entry


def link(label: str, half: int, second: int) -> dict:
    return {"label": label, "half": str(half), "time": mm_ss(second), "position": str(second * 1000),
            "team": "home", "visibility": "visible"}


def random_game(rng: random.Random, untidy: bool) -> tuple[list[dict], list[dict]]:
    """(camera annotations, predicted replays) of one game: replays 5..110 s after their action, detections
    near the truth, elsewhere, and (untidy) entries the official code treats in its own way."""
    annotations, replays = [change(1, 0)], []
    for half in (1, 2):
        second = 5 if half == 1 else 0
        if half == 2:
            annotations.append(change(2, 0))
        for _ in range(rng.randint(3, 6)):
            action = second + rng.randint(20, 200)
            start = action + rng.randint(5, 110)
            end = start + rng.randint(4, 20)
            label = rng.choice(CLASSES)
            annotations.append(change(half, start, replay="replay"))
            annotations.append(change(half, end, link(label, half, action), replay="replay"))
            second = end + rng.randint(1, 30)
            annotations.append(change(half, second))
            found = []
            for _ in range(rng.randint(0, 6)):  # none at all sometimes
                if rng.random() < 0.5:
                    time = action + rng.gauss(0, 8)
                else:
                    time = rng.uniform(0, end)
                found.append({"time": round(max(time, 0.0), 2), "score": round(rng.random(), 4)})
            replays.append({"half": half, "start": start, "end": end, "detection": found})
    if untidy:
        a = annotations
        a.insert(3, change(1, 40, link("Not a class", 1, 30)))  # unknown class: skipped
        a.insert(3, change(1, 41, link("Goal", 2, 30)))  # link to the other half
        a.append(change(2, int(a[-1]["position"]) // 1000, link("Goal", 2, 10)))  # same second as the change before
        replays.append({"half": 1, "start": 1, "end": 9999 // 10, "detection": [{"time": 3.0, "score": 0.5}]})  # no label
        replays.append(dict(replays[0]))  # the same replay twice
        replays[1]["detection"] = replays[1]["detection"] + [{"time": replays[1]["detection"][0]["time"] + 0.1,
                                                               "score": -0.3}] if replays[1]["detection"] else []
        replays[2]["detection"] = []  # a replay with no detection
        replays[3]["detection"] = replays[3]["detection"] + [{"time": 3499.9, "score": 0.2}]  # just under the cap
    return annotations, replays


def write_set(root: Path, seed: int, games: int, untidy: bool) -> list[str]:
    rng = random.Random(seed)
    names = []
    for index in range(games):
        game = f"league/season/game-{index}"
        annotations, replays = random_game(rng, untidy)
        (root / "labels" / game).mkdir(parents=True)
        (root / "predictions" / game).mkdir(parents=True)
        (root / "labels" / game / CAMERAS_FILE).write_text(json.dumps({"UrlLocal": game, "annotations": annotations}))
        (root / "predictions" / game / DETECTIONS_FILE).write_text(json.dumps({"Replays": replays}))
        names.append(game)
    return names


@pytest.mark.parametrize("seed,untidy", [(0, False), (1, False), (2, True), (3, True)])
def test_equals_official_loose_and_tight(tmp_path, monkeypatch, seed, untidy):
    games = write_set(tmp_path, seed, games=3, untidy=untidy)
    for metric in ("loose", "tight"):
        ours = evaluate_grounding(tmp_path / "labels", tmp_path / "predictions", games, metric)["a_AP"]
        theirs = official(tmp_path / "labels", tmp_path / "predictions", games, metric, monkeypatch)
        assert abs(ours - theirs) <= 1e-6, (metric, ours, theirs)
        assert 0.0 < ours < 1.0  # a set with hits and misses, not a degenerate one


def test_perfect_and_empty_detections(tmp_path, monkeypatch):
    games = write_set(tmp_path, 5, games=2, untidy=False)
    for game in games:  # every replay grounded exactly, then nothing at all
        labels = json.loads((tmp_path / "labels" / game / CAMERAS_FILE).read_text())
        replays = [{"half": int(a["link"]["half"]), "start": 0, "end": int(a["position"]) // 1000,
                    "detection": [{"time": int(a["link"]["position"]) // 1000, "score": 0.9}]}
                   for a in labels["annotations"] if "link" in a]
        (tmp_path / "predictions" / game / DETECTIONS_FILE).write_text(json.dumps({"Replays": replays}))
    assert evaluate_grounding(tmp_path / "labels", tmp_path / "predictions", games, "tight")["a_AP"] == pytest.approx(1.0)
    assert official(tmp_path / "labels", tmp_path / "predictions", games, "tight", monkeypatch) == pytest.approx(1.0)
    for game in games:
        obj = json.loads((tmp_path / "predictions" / game / DETECTIONS_FILE).read_text())
        for replay in obj["Replays"]:
            replay["detection"] = []
        (tmp_path / "predictions" / game / DETECTIONS_FILE).write_text(json.dumps(obj))
    ours = evaluate_grounding(tmp_path / "labels", tmp_path / "predictions", games, "loose")["a_AP"]
    assert ours == official(tmp_path / "labels", tmp_path / "predictions", games, "loose", monkeypatch) == 0.0


def test_detection_past_the_cap_is_refused_where_the_official_crashes(tmp_path, monkeypatch):
    games = write_set(tmp_path, 7, games=1, untidy=False)
    path = tmp_path / "predictions" / games[0] / DETECTIONS_FILE
    obj = json.loads(path.read_text())
    obj["Replays"][0]["detection"].append({"time": 3500.0, "score": 0.4})
    path.write_text(json.dumps(obj))
    with pytest.raises(IndexError):
        official(tmp_path / "labels", tmp_path / "predictions", games, "loose", monkeypatch)
    with pytest.raises(DataError, match="3500"):
        evaluate_grounding(tmp_path / "labels", tmp_path / "predictions", games, "loose")


@pytest.mark.parametrize("bad,match", [({"time": -2.0, "score": 0.5}, "negative"),
                                       ({"time": 10.0, "score": float("nan")}, "score"),
                                       ({"score": 0.5}, "time")])
def test_untidy_detections_are_refused_naming_the_file(tmp_path, bad, match):
    games = write_set(tmp_path, 8, games=1, untidy=False)
    path = tmp_path / "predictions" / games[0] / DETECTIONS_FILE
    obj = json.loads(path.read_text())
    obj["Replays"][1]["detection"].append(bad)
    path.write_text(json.dumps(obj).replace("NaN", "NaN"))
    with pytest.raises(DataError, match=match) as caught:
        evaluate_grounding(tmp_path / "labels", tmp_path / "predictions", games, "loose")
    assert DETECTIONS_FILE in str(caught.value) and "replay 1" in str(caught.value)


def test_no_matching_replay_is_refused(tmp_path):
    games = write_set(tmp_path, 9, games=1, untidy=False)
    (tmp_path / "predictions" / games[0] / DETECTIONS_FILE).write_text(json.dumps({"Replays": []}))
    with pytest.raises(DataError, match="no predicted replay"):
        evaluate_grounding(tmp_path / "labels", tmp_path / "predictions", games, "loose")


def test_evaluate_command_task_grounding(tmp_path, monkeypatch, capsys):
    from soccerspot.pipeline.cli import main

    games = write_set(tmp_path, 11, games=2, untidy=False)
    (tmp_path / "labels" / "league/season/no-cameras").mkdir(parents=True)
    (tmp_path / "labels" / "league/season/no-cameras" / "Labels-v2.json").write_text('{"annotations": []}')
    code = main(["evaluate", "--task", "grounding", "--labels", str(tmp_path / "labels"), "--predictions",
                 str(tmp_path / "predictions"), "--metric", "tight", "--json", str(tmp_path / "out.json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    expected = official(tmp_path / "labels", tmp_path / "predictions", games, "tight", monkeypatch)
    assert f"Average-AP (tight): {expected:.5f}" in out
    assert "1 games have no Labels-cameras.json" in out and "no-cameras" in out
    assert json.loads((tmp_path / "out.json").read_text())["a_AP"] == pytest.approx(expected, abs=1e-9)
    code = main(["evaluate", "--task", "grounding", "--labels", str(tmp_path / "labels"), "--predictions",
                 str(tmp_path / "predictions"), "--metric", "at3"])
    assert code == 2 and "--metric at3" in capsys.readouterr().err
