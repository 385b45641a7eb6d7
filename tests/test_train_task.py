"""`soccerspot train --task`: a feature head learns Ball Action Spotting from Labels-ball.json (the 12 classes
without teams, validated by mAP@1 on the 25 fps grid); flags that cannot learn the task are refused, naming why."""
from __future__ import annotations

import json

import numpy as np
import pytest

from soccerspot.data.classes import CLASS_NAMES_BALL
from soccerspot.data.features import FeatureMeta, write_features
from soccerspot.data.games import LABELS_FILE_BALL
from soccerspot.data.labels import Event, GameLabels, write_labels
from soccerspot.pipeline.cli import main

FPS = 25.0
DIM = len(CLASS_NAMES_BALL) + 4
ROWS = int(FPS * 40)  # 40 s, one video per game (half 1), as Ball Action Spotting's


def write_ball_features(root, games: int, seed: int = 0) -> list[str]:
    """Noise features at 25 fps; at each action (+-2 frames) its class's column carries a marker."""
    rng = np.random.default_rng(seed)
    meta = FeatureMeta(backbone="synthetic", weights="none", fps=FPS, step=1 / FPS, transform="none",
                       precision="float32")
    names = []
    for g in range(games):
        game = f"england_efl/2019-2020/game {g}"
        array = rng.normal(0.0, 0.3, size=(ROWS, DIM)).astype(np.float32)
        events = []
        for slot, cls in enumerate(rng.permutation(len(CLASS_NAMES_BALL))):
            frame = int(50 + 70 * slot + rng.integers(-10, 10))
            array[frame - 2: frame + 3, cls] += 3.0
            events.append(Event(1, int(frame * 40), CLASS_NAMES_BALL[cls], team=("left", "right")[slot % 2]))
        write_features(root / game, 1, "synth", array, meta)
        write_labels(root / game / LABELS_FILE_BALL, GameLabels(url=game, events=events))
        names.append(game)
    return names


@pytest.fixture(scope="module")
def ball_features(tmp_path_factory):
    root = tmp_path_factory.mktemp("ball_features")
    games = write_ball_features(root, 5)
    (root / "train.txt").write_text("\n".join(games[:4]) + "\n")
    (root / "valid.txt").write_text(games[4] + "\n")
    return root


def command(root, out, *extra):
    return ["train", "--features-root", str(root), "--features", "synth", "--train-split", str(root / "train.txt"),
            "--valid-split", str(root / "valid.txt"), "--out", str(out), "--no-progress", *extra]


def test_a_feature_head_learns_ball_actions_and_is_validated_at_1_second(ball_features, tmp_path, capsys):
    settings = ["--head", "maxpool++", "--window-seconds", "2", "--batch-size", "32", "--lr", "0.01",
                "--epochs", "30", "--eval-every", "30", "--nms-window", "1"]
    assert main(command(ball_features, tmp_path / "run", "--task", "ball", *settings)) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["config"]["classes"] == "ball-2024" and saved["config"]["metric"] == "at1"
    assert saved["classes"] == CLASS_NAMES_BALL
    # every class's marker found within 1 s in the held-out game: mAP@1 of its validation
    assert summary["last"]["valid_a_mAP"] > 0.9, summary


@pytest.mark.parametrize("extra, says", [
    (["--classes", "ball-2025"], "a feature head has no team output: train T-DEED's team head with soccerspot "
                                 "train-dense --task ball"),
    (["--classes", "v2"], "--classes v2: not a class set of --task ball (ball-2025, ball-2024, ball-2023)"),
    (["--metric", "loose"], "--metric loose: not a metric of --task ball"),
])
def test_flags_that_cannot_learn_ball_are_refused(ball_features, tmp_path, capsys, extra, says):
    assert main(command(ball_features, tmp_path / "run", "--task", "ball", *extra)) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run").exists()


def test_a_spotting_preset_cannot_learn_grounding(ball_features, tmp_path, capsys):
    assert main(command(ball_features, tmp_path / "run", "--task", "grounding")) == 2
    err = capsys.readouterr().err
    assert "--task grounding: the netvlad++ head does not learn SoccerNet-v2 replay grounding" in err
    assert "baidu-grounding" in err and "calf-grounding" in err
