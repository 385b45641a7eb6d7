"""A small synthetic game for the `soccerspot view` tests: two 30 s halves (H.264 in Matroska, 160x96 at
10 fps), known spots, labels, saved scores and both replay files, in the demo's layout: videos and labels in
`season/<game>`, results in `results/<game>`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soccerspot.data.features import FeatureMeta
from soccerspot.data.labels import Event, GameLabels, GamePredictions, Prediction
from soccerspot.data.games import LABELS_FILE, PREDICTIONS_FILE
from soccerspot.data.labels import write_labels, write_predictions
from soccerspot.data.scores import write_scores
from soccerspot.data.synthetic.broadcast import BroadcastConfig, make_game

GAME = "league/2020-2021/game A"  # a space, as real SoccerNet names have
HALF_SECONDS = 30.0
VIDEO_FPS = 10.0
# (half, seconds, class, confidence)
SPOTS = [
    (1, 5.0, "Goal", 0.92), (1, 17.0, "Goal", 0.20), (1, 8.0, "Corner", 0.81), (1, 12.5, "Corner", 0.64),
    (1, 22.0, "Corner", 0.12), (1, 14.0, "Throw-in", 0.55), (2, 6.0, "Goal", 0.70), (2, 20.0, "Yellow card", 0.40),
]
# (half, seconds, class, visibility)
LABELS = [
    (1, 5.2, "Goal", "visible"), (1, 8.4, "Corner", "visible"), (1, 25.0, "Throw-in", "not shown"),
    (2, 6.1, "Goal", "visible"), (2, 15.0, "Substitution", "visible"),
]
CLASSES = ["Goal", "Corner", "Throw-in", "Yellow card", "Substitution"]


@dataclass
class ViewTree:
    season: Path
    results: Path
    game: str = GAME

    @property
    def labels(self) -> Path:
        return self.season / self.game / LABELS_FILE


def spot_id(half: int, seconds: float, label: str) -> str:
    return f"p:{half}:{int(round(seconds * 1000))}:{label}"


def make_view_tree(root: Path) -> ViewTree:
    season, results = root / "season", root / "results"
    make_game(season / GAME, seed=5, config=BroadcastConfig(width=160, height=96, fps=VIDEO_FPS, duration_s=HALF_SECONDS))
    events = [Event(h, int(round(s * 1000)), c, "home", v) for h, s, c, v in LABELS]
    write_labels(season / GAME / LABELS_FILE, GameLabels(url=GAME, events=events))
    predictions = [Prediction(h, int(round(s * 1000)), c, conf) for h, s, c, conf in SPOTS]
    write_predictions(results / GAME / PREDICTIONS_FILE, GamePredictions(url=GAME, predictions=predictions))
    rows = int(HALF_SECONDS * 2)
    meta = FeatureMeta(backbone="synthetic", weights="none", fps=2.0, step=0.5, num_frames=rows)
    for half in (1, 2):
        probabilities = np.zeros((rows, len(CLASSES)), np.float32)
        for h, s, c, conf in SPOTS:
            if h == half:
                probabilities[int(s * 2), CLASSES.index(c)] = conf
        write_scores(results / GAME, half, probabilities, meta, CLASSES, feature_name="synth", model="test")
    (results / GAME / "Detection-replays.json").write_text(json.dumps(
        {"Replays": [{"half": 1, "start": 10.0, "end": 13.0, "detection": [{"time": 4.0, "score": 0.3},
                                                                           {"time": 5.0, "score": 0.9}]}]}))
    (season / GAME / "Labels-cameras.json").write_text(json.dumps({"annotations": [
        {"gameTime": "1 - 00:00", "label": "Main camera center", "change_type": "abrupt", "replay": "real-time"},
        {"gameTime": "1 - 00:19", "label": "Close-up player", "change_type": "logo", "replay": "replay",
         "link": {"label": "Goal", "half": "1", "time": "00:05", "position": "5200"}},
        {"gameTime": "1 - 00:24", "label": "Main camera center", "change_type": "logo", "replay": "real-time"},
    ]}))
    return ViewTree(season, results)
