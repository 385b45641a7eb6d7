"""A Ball Action Spotting game for plot and view tests: labels with teams and predictions made from them (most
near their label with its team, some late, some of the other team, some where nothing happened)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from soccerspot.data.classes import CLASS_NAMES_BALL
from soccerspot.data.games import LABELS_FILE_BALL, PREDICTIONS_FILE
from soccerspot.data.labels import Event, GameLabels, GamePredictions, Prediction, read_labels, write_labels, \
    write_predictions

BALL_FPS = 25


def dense_ball_labels(minutes: float = 3.0, per_minute: int = 40, seed: int = 0) -> list[Event]:
    """`per_minute` actions a minute over every ball class (PASS and DRIVE most), teams alternating in spells."""
    rng = np.random.default_rng(seed)
    weights = np.array([8, 5] + [1] * (len(CLASS_NAMES_BALL) - 2), dtype=float)
    count = int(minutes * per_minute)
    times = np.sort(rng.uniform(0.5, minutes * 60 - 0.5, count))
    labels = rng.choice(CLASS_NAMES_BALL, size=count, p=weights / weights.sum())
    return [Event(1, int(round(t * 1000)), str(label), "left" if (t // 7) % 2 == 0 else "right",
                  "visible" if i % 17 else "not shown") for i, (t, label) in enumerate(zip(times, labels))]


def predictions_from(events: list[Event], seed: int = 0) -> list[Prediction]:
    """Spots of `events`: 70 % within 0.3 s with the label's team, 10 % 0.7-1.0 s late (no hit at ±0.5 s), 10 % of
    the other team, 10 % missed; plus one spot in every 20 where no label is."""
    rng = np.random.default_rng(seed)
    other = {"left": "right", "right": "left"}
    spots = []
    for event in events:
        draw = rng.uniform()
        if draw >= 0.9:
            continue
        shift = rng.uniform(-0.3, 0.3) if draw < 0.8 else rng.uniform(0.7, 1.0)
        team = other[event.team] if 0.7 <= draw < 0.8 else event.team
        spots.append(Prediction(1, max(0, int(round(event.position_ms + 1000 * shift))), event.label,
                                float(rng.uniform(0.35, 0.98)), team))
    end = max(e.position_ms for e in events)
    for _ in range(len(events) // 20):
        spots.append(Prediction(1, int(rng.uniform(0, end)), str(rng.choice(CLASS_NAMES_BALL)),
                                float(rng.uniform(0.3, 0.6)), str(rng.choice(["left", "right"]))))
    return spots


def write_ball_game(folder: Path, events: list[Event] | None = None,
                    seed: int = 0) -> tuple[list[Event], list[Prediction]]:
    """`folder/Labels-ball.json` (kept where it exists, else `events` or dense ones) and `results_spotting.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = folder / LABELS_FILE_BALL
    if labels.is_file():
        events = read_labels(labels).events
    else:
        events = events if events is not None else dense_ball_labels(seed=seed)
        write_labels(labels, GameLabels(folder.name, events))
    spots = predictions_from(events, seed)
    write_predictions(folder / PREDICTIONS_FILE, GamePredictions(folder.name, spots), framerate=BALL_FPS)
    return events, spots
