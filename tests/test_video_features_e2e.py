"""A video backbone end to end on a tiny synthetic season: `extract --backbone video:r3d_18` -> `train` a head
on its clip features -> `spot VIDEO --model RUN/best`, which re-extracts clips with the same identity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soccerspot.data.features import load_features
from soccerspot.data.labels import read_predictions
from soccerspot.data.games import LABELS_FILE, PREDICTIONS_FILE
from soccerspot.data.synthetic.broadcast import BroadcastConfig, plan_game, render_games
from soccerspot.pipeline.cli import main

pytestmark = pytest.mark.slow

GAMES = ["league/season/train-a", "league/season/train-b", "league/season/test-a"]
VIDEO_BACKBONE = ["--backbone", "video:r3d_18", "--weights", "none", "--input-size", "32", "--precision", "fp32", "--fps", "1"]


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video_season")
    config = BroadcastConfig(width=160, height=96, fps=10.0, duration_s=30.0)
    plans = [plan_game(root / game, seed=index + 1, config=config, url=game) for index, game in enumerate(GAMES)]
    render_games(plans, config)
    (root / "train.txt").write_text("\n".join(GAMES[:2]) + "\n")
    return root


def test_video_backbone_extract_train_spot(season, tmp_path, capsys):
    features = tmp_path / "features"
    assert main(["extract", str(season), "--out", str(features), *VIDEO_BACKBONE, "--no-progress"]) == 0
    assert "clips of 16 frames at 15 fps" in capsys.readouterr().err
    half = load_features(features / GAMES[0], 1, "r3d_18")
    assert half.array.shape == (30, 512) and np.isfinite(half.array).all()
    assert half.meta.clip_frames == 16 and half.meta.clip_fps == 15.0 and half.meta.input_size == 32

    for game in GAMES:
        (features / game / LABELS_FILE).write_text((season / game / LABELS_FILE).read_text())
    run = tmp_path / "head"
    assert main(["train", "--features-root", str(features), "--features", "r3d_18", "--train-split",
                 str(season / "train.txt"), "--valid-split", "none", "--out", str(run), "--epochs", "2",
                 "--window-seconds", "4", "--batch-size", "8", "--projection-dim", "16", "--clusters", "8",
                 "--no-progress"]) == 0
    capsys.readouterr()

    spotted = tmp_path / "spotted"
    video = season / GAMES[2] / "1_224p.mkv"
    assert main(["spot", str(video), "--model", str(run / "best"), "--out", str(spotted), "--no-progress",
                 "--precision", "fp32"]) == 0
    assert read_predictions(spotted / PREDICTIONS_FILE).predictions
    extracted = load_features(spotted, 1, "r3d_18")
    assert extracted.meta.identity() == half.meta.identity()
    # the same clips through the same weights: spot's features equal extract's for this half
    reference = load_features(features / GAMES[2], 1, "r3d_18")
    np.testing.assert_allclose(extracted.array, reference.array, rtol=1e-5, atol=1e-6)
