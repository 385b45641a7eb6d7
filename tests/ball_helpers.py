"""Random Ball Action Spotting seasons in the official formats, full of the corner cases the evaluators
define: for equality tests against sn-teamspotting's `mAPevaluateCodabench` and the SoccerNet package."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FPS = 25
GRID_MS = 120 * 60 * 1000  # the official grid's length; later positions are clipped to its last frame

# The official splits (SoccerNet/data/Ball*.json; sn-teamspotting util/utils.py getListGames).
BALL_SPLITS = {
    "train": ["england_efl/2019-2020/2019-10-01 - Leeds United - West Bromwich",
              "england_efl/2019-2020/2019-10-01 - Hull City - Sheffield Wednesday",
              "england_efl/2019-2020/2019-10-01 - Brentford - Bristol City",
              "england_efl/2019-2020/2019-10-01 - Blackburn Rovers - Nottingham Forest"],
    "valid": ["england_efl/2019-2020/2019-10-01 - Middlesbrough - Preston North End"],
    "test": ["england_efl/2019-2020/2019-10-01 - Stoke City - Huddersfield Town",
             "england_efl/2019-2020/2019-10-01 - Reading - Fulham"],
    "challenge": ["england_efl/2019-2020/2019-10-02 - Cardiff City - Queens Park Rangers",
                  "england_efl/2019-2020/2019-10-01 - Wigan Athletic - Birmingham City"],
}


def game_time(half: int, position_ms: int, padded: bool = True) -> str:
    minutes, seconds = divmod(position_ms // 1000, 60)
    return f"{half} - {minutes:02d}:{seconds:02d}" if padded else f"{half} - {minutes}:{seconds}"


def random_ball_game(rng: np.random.Generator, classes: list[str], *, teams: bool, halves: tuple[int, ...] = (1,),
                     minutes: float = 6.0, untidy: bool = True) -> tuple[list, list]:
    """(annotations, predictions) of one game: dense actions of every class at 25 fps precision."""
    annotations, predictions = [], []
    span_ms = int(minutes * 60_000)

    def team() -> dict:
        return {"team": str(rng.choice(["left", "right"]))} if teams else {}

    for half in halves:
        positions = np.sort(rng.integers(0, span_ms, size=int(rng.integers(25, 50))))
        labels = [classes[i % len(classes)] for i in range(len(positions))]  # every class has labels
        rng.shuffle(labels)
        for position, label in zip(positions.tolist(), labels):
            visibility = "not shown" if rng.random() < 0.15 else "visible"
            entry = {"gameTime": game_time(half, position), "label": label, "position": str(position),
                     **team(), "visibility": visibility}
            annotations.append(entry)
            if untidy and rng.random() < 0.05:  # same frame again: the later entry wins, whatever it says
                annotations.append(dict(entry, position=str(position + int(rng.integers(0, 30))),
                                        visibility=str(rng.choice(["visible", "not shown"]))))
            for _ in range(int(rng.integers(0, 3))):  # predictions around each label, maybe the wrong team
                offset = int(rng.normal(0, 500))
                guess = dict(team()) if rng.random() < 0.3 else {k: entry[k] for k in ("team",) if k in entry}
                predictions.append({"position": max(0, position + offset), "label": label, "half": half,
                                    "confidence": float(rng.random()), **guess})
        for _ in range(int(rng.integers(10, 30))):  # spurious predictions
            predictions.append({"position": int(rng.integers(0, span_ms)), "label": str(rng.choice(classes)),
                                "half": half, "confidence": float(rng.random()), **team()})
        if untidy:
            late = GRID_MS + int(rng.integers(0, 300_000))  # past the grid: clipped to its last frame
            annotations.append({"gameTime": game_time(half, late), "label": classes[0], "position": str(late),
                                **team(), "visibility": "visible"})
            predictions.append({"position": late + 5, "label": classes[0], "half": half, "confidence": 0.7,
                                **{k: annotations[-1][k] for k in ("team",) if k in annotations[-1]}})
            # A confidence of 0.0 is a detection; a later entry of the same frame replaces an earlier one.
            predictions.append({"position": int(positions[0]), "label": labels[0], "half": half, "confidence": 0.0,
                                **{k: annotations[0][k] for k in ("team",) if k in annotations[0]}})
            same = int(positions[1])
            predictions += [{"position": same, "label": labels[1], "half": half, "confidence": 0.99, **team()},
                            {"position": same + 10, "label": labels[1], "half": half, "confidence": 0.05, **team()}]
            erased = int(rng.integers(0, span_ms))
            predictions += [{"position": erased, "label": classes[0], "half": half, "confidence": 0.95, **team()},
                            {"position": erased + 1, "label": classes[0], "half": half, "confidence": -1.0,
                             **team()}]
    if untidy and teams:
        # Half 2 in a one-video-per-game set: labels ignored; predictions' half is ignored (they count).
        position = int(rng.integers(0, span_ms))
        annotations.append({"gameTime": game_time(2, position), "label": classes[-1], "position": str(position),
                            **team(), "visibility": "visible"})
        predictions.append({"position": position, "label": classes[-1], "half": 2, "confidence": 0.8, **team()})
    entries = []
    for number, p in enumerate(predictions):
        strings = untidy and number % 3 == 0  # values as strings, gameTime unpadded
        half = p.pop("half")
        entry = {"gameTime": game_time(half, p["position"], padded=False), **p, "half": half,
                 "position": str(p["position"]) if strings else p["position"],
                 "confidence": str(p["confidence"]) if strings else p["confidence"]}
        if untidy and teams and number % 7 == 1:  # the team evaluator reads neither half nor gameTime
            del entry["half"], entry["gameTime"]
        entries.append(entry)
    if untidy:
        for entry in annotations[::11]:  # no visibility: shown
            del entry["visibility"]
    return annotations, entries


def write_ball_season(root: Path, seed: int, classes: list[str], games: list[str], *, teams: bool,
                      halves: tuple[int, ...] = (1,), untidy: bool = True) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    labels_root, predictions_root = root / "labels", root / "predictions"
    for game in games:
        annotations, predictions = random_ball_game(rng, classes, teams=teams, halves=halves, untidy=untidy)
        (labels_root / game).mkdir(parents=True)
        (labels_root / game / "Labels-ball.json").write_text(json.dumps({"UrlLocal": game,
                                                                          "annotations": annotations}))
        (predictions_root / game).mkdir(parents=True)
        (predictions_root / game / "results_spotting.json").write_text(json.dumps({"UrlLocal": game,
                                                                                   "predictions": predictions}))
    return labels_root, predictions_root


def max_abs_diff(ours: dict, official: dict, keys) -> float:
    """Largest difference over `keys` (NaN equals NaN; NaN against a number is infinite)."""
    worst = 0.0
    for key in keys:
        a = np.asarray(ours[key], dtype=np.float64)
        b = np.asarray(official[key], dtype=np.float64)
        assert a.shape == b.shape, key
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return float("inf")
        finite = ~np.isnan(a)
        worst = max(worst, float(np.max(np.abs(a[finite] - b[finite]), initial=0.0)))
    return worst
