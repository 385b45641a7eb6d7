"""`soccerspot finetune` end to end on a tiny synthetic season: fine-tune -> extract with the exported
backbone -> train a head on those features -> spot raw video; and an exact `--resume`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from soccerspot.data.features import load_features
from soccerspot.data.labels import read_predictions
from soccerspot.data.games import LABELS_FILE, PREDICTIONS_FILE
from soccerspot.data.synthetic.broadcast import BroadcastConfig, plan_game, render_games
from soccerspot.pipeline.cli import main

pytestmark = pytest.mark.slow

GAMES = ["league/season/train-a", "league/season/train-b", "league/season/valid-a"]
BACKBONE = ["--backbone", "resnet18", "--weights", "none", "--input-size", "64"]
SMALL = ["--window-seconds", "4", "--batch-size", "4", "--eval-every", "1", "--nms-window", "8",
         "--projection-dim", "16", "--clusters", "8", "--precision", "fp32", "--no-progress"]


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("finetune_season")
    config = BroadcastConfig(width=160, height=96, fps=10.0, duration_s=60.0)
    plans = [plan_game(root / game, seed=index + 1, config=config, url=game) for index, game in enumerate(GAMES)]
    render_games(plans, config)
    (root / "train.txt").write_text("\n".join(GAMES[:2]) + "\n")
    (root / "valid.txt").write_text(GAMES[2] + "\n")
    return root


def finetune_args(season: Path, out: Path, *extra: str) -> list[str]:
    return ["finetune", "--videos", str(season), "--train-split", str(season / "train.txt"), "--valid-split",
            str(season / "valid.txt"), "--out", str(out), "--cache-dir", str(out.parent / "cache"), *BACKBONE,
            *SMALL, *extra]


def test_finetune_extract_train_spot(season, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(finetune_args(season, run, "--epochs", "2", "--max-batches", "3")) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["epochs"] == 2
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert all("valid_loss" in m and "valid_a_mAP" in m for m in metrics)
    backbone = run / "best" / "backbone.pt"
    config = json.loads((run / "best" / "config.json").read_text())
    recorded = config["feature_settings"]
    assert recorded["weights"].startswith("file:") and recorded["transform"] == "short-side"

    # the exported backbone re-extracts the season: its features carry the identity the head recorded
    features = tmp_path / "features"
    assert main(["extract", str(season), "--out", str(features), "--backbone", "resnet18", "--weights",
                 str(backbone), "--transform", "short-side", "--input-size", "64", "--precision", "fp32",
                 "--no-progress"]) == 0
    capsys.readouterr()
    name = "resnet18"
    half = load_features(features / GAMES[0], 1, name)
    assert half.meta.weights == recorded["weights"]
    assert half.array.shape[1] == 512

    # a head trained on those features, then the fine-tuned model spots raw video
    for labelled in GAMES:
        (features / labelled / LABELS_FILE).write_text((season / labelled / LABELS_FILE).read_text())
    head_run = tmp_path / "head"
    assert main(["train", "--features-root", str(features), "--features", name, "--train-split",
                 str(season / "train.txt"), "--valid-split", "none", "--out", str(head_run), "--epochs", "2",
                 "--window-seconds", "4", "--batch-size", "8", "--projection-dim", "16", "--clusters", "8",
                 "--no-progress"]) == 0
    capsys.readouterr()
    spotted = tmp_path / "spotted"
    video = season / GAMES[2] / "1_224p.mkv"
    assert main(["spot", str(video), "--model", str(run / "best"), "--out", str(spotted), "--no-progress",
                 "--precision", "fp32"]) == 0
    predictions = read_predictions(spotted / PREDICTIONS_FILE)
    assert predictions.predictions, "the fine-tuned backbone + head spotted nothing"
    assert {p.half for p in predictions.predictions} == {1}
    # the raw-video path extracted with backbone.pt: same identity as the head's
    extracted = load_features(spotted, 1, "resnet18")
    assert extracted.meta.weights == recorded["weights"]


def test_resume_is_exact(season, tmp_path, capsys):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(finetune_args(season, straight, "--epochs", "2", "--max-batches", "2", "--eval-every", "0")) == 0
    assert main(finetune_args(season, resumed, "--epochs", "1", "--max-batches", "2", "--eval-every", "0")) == 0
    assert main(finetune_args(season, resumed, "--epochs", "2", "--max-batches", "2", "--eval-every", "0",
                              "--resume")) == 0
    capsys.readouterr()
    a = torch.load(straight / "state.pt", weights_only=True)["model"]
    b = torch.load(resumed / "state.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    lines = lambda run: [json.loads(l)["train_loss"] for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines(straight) == lines(resumed)


def test_resume_refuses_other_settings(season, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(finetune_args(season, run, "--epochs", "1", "--max-batches", "1", "--eval-every", "0")) == 0
    capsys.readouterr()
    args = finetune_args(season, run, "--epochs", "2", "--max-batches", "1", "--eval-every", "0", "--resume")
    args[args.index("--input-size") + 1] = "80"
    assert main(args) == 1
    assert "input_size" in capsys.readouterr().err


def test_finetune_rmsnet_head_trains_exports_and_spots_video(season, tmp_path, capsys):
    """RMS-Net as the fine-tuning head (its paper's recipe): (class, offset) targets on frame clips, its
    loss, backbone.pt exported, and `spot VIDEO --model RUN/best` through the head's own inference."""
    run = tmp_path / "run"
    assert main(finetune_args(season, run, "--head", "rmsnet", "--epochs", "2", "--max-batches", "3")) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["epochs"] == 2
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(m["train_loss"] == m["train_loss"] and m["train_loss"] > 0 for m in metrics)  # finite, positive
    assert all("valid_a_mAP" in m for m in metrics)
    config = json.loads((run / "best" / "config.json").read_text())
    assert config["head"]["kind"] == "rmsnet" and config["head"]["window_frames"] == 8
    assert (run / "best" / "backbone.pt").is_file()
    assert config["feature_settings"]["weights"].startswith("file:")
    spotted = tmp_path / "spotted"
    video = season / GAMES[2] / "1_224p.mkv"
    assert main(["spot", str(video), "--model", str(run / "best"), "--out", str(spotted), "--no-progress",
                 "--precision", "fp32"]) == 0
    predictions = read_predictions(spotted / PREDICTIONS_FILE)
    assert predictions.predictions, "the fine-tuned backbone + RMS-Net head spotted nothing"
    assert load_features(spotted, 1, "resnet18").meta.weights == config["feature_settings"]["weights"]


def test_finetune_refuses_calf(season, tmp_path, capsys):
    assert main(finetune_args(season, tmp_path / "run", "--head", "calf", "--epochs", "1")) == 2
    assert "calf" in capsys.readouterr().err
