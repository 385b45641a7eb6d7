"""The reviewer's chain without the browser: open a game in `soccerspot view`'s server, correct three events
the way the page does (POST /api/review), then train on the corrected labels with the existing
`soccerspot train` command, pointed at the review folder as its labels root."""
from __future__ import annotations

import dataclasses
import json
from urllib.parse import quote

import numpy as np

from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.data.features import FeatureMeta, write_features
from soccerspot.data.labels import read_labels
from soccerspot.data.games import LABELS_FILE
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.training.presets import get_preset
from soccerspot.pipeline.training.tasks.features import load_train_data
from soccerspot.pipeline.view.server import make_server
from test_view_server import get_json, post_review
from view_helpers import GAME, HALF_SECONDS, LABELS, make_view_tree, spot_id

FAST = ["--projection-dim", "8", "--clusters", "4", "--window-seconds", "4", "--batch-size", "8", "--epochs", "1",
        "--eval-every", "0", "--sampling", "events", "--no-progress"]


def test_three_corrections_then_train_on_them_with_the_train_command(tmp_path, capsys):
    tree = make_view_tree(tmp_path / "data")
    rows = int(HALF_SECONDS * 2)
    meta = FeatureMeta(backbone="synthetic", weights="none", fps=2.0, step=0.5, transform="none", precision="float32")
    rng = np.random.default_rng(0)
    for half in (1, 2):
        write_features(tree.season / GAME, half, "synth", rng.normal(size=(rows, 16)).astype(np.float32), meta)
    review = tmp_path / "reviewed"
    running = make_server(tree.results, tree.season, review_dir=review).start_background()
    try:
        game = get_json(running, f"/api/game?key={quote(GAME)}")
        truth = {e["id"]: e for e in game["truth"]}
        corrections = {  # nudge a label by one second, reject a label, accept a spot the labels missed
            "t:0": {**{k: truth["t:0"][k] for k in ("half", "label", "visibility")}, "status": "accepted",
                    "position_ms": 6200},
            "t:4": {**{k: truth["t:4"][k] for k in ("half", "label", "visibility")}, "status": "rejected",
                    "position_ms": 15000},
            spot_id(2, 20.0, "Yellow card"): {"status": "accepted", "half": 2, "position_ms": 20000,
                                              "label": "Yellow card", "visibility": "visible"},
        }
        status, _headers, body = post_review(running, {"decisions": corrections})
        assert status == 200, body
    finally:
        running.close()
    corrected = sorted((e.half, e.position_ms, e.label) for e in read_labels(review / GAME / LABELS_FILE).events)
    assert len(corrected) == len(LABELS) and (1, 6200, "Goal") in corrected and (2, 20000, "Yellow card") in corrected
    assert (2, 15000, "Substitution") not in corrected

    games = tmp_path / "games.txt"
    games.write_text(GAME + "\n")
    run = tmp_path / "run"
    code = main(["train", "--features-root", str(tree.season), "--features", "synth", "--labels-root", str(review),
                 "--train-split", str(games), "--valid-split", "none", "--out", str(run), *FAST])
    assert code == 0, capsys.readouterr().err
    assert (run / "last" / "model.pt").is_file()
    recorded = json.loads((run / "train_config.json").read_text())
    assert str(review.resolve()) in json.dumps(recorded)  # the run names the review folder as its labels
    # the events train's data loader reads from that labels root are the corrected ones, row for row
    config = dataclasses.replace(get_preset("netvladpp-paper"), window_seconds=4.0)
    data = load_train_data(config, tree.season, "synth", [GAME], labels_root=review)
    loaded = sorted((t.half, int(row), CLASS_NAMES_V2[int(c)]) for t in data.train.tracks
                    for row, c in zip(t.event_rows, t.event_classes))
    assert loaded == sorted((h, int(round(ms / 500)), label) for h, ms, label in corrected)
