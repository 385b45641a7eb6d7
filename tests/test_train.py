"""The training loop: learns separable synthetic features, resumes exactly, never overwrites a run."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.errors import DataError
from soccerspot.data.features import FeatureMeta, write_features
from soccerspot.data.labels import Event, GameLabels, write_labels
from soccerspot.data.games import LABELS_FILE
from soccerspot.pipeline.training.config import apply_overrides
from soccerspot.pipeline.training.presets import get_preset
from soccerspot.pipeline.training.run_folder import METRICS_FILE, STATE_FILE
from soccerspot.pipeline.training.tasks.features import load_train_data, train

FPS = 2.0
DIM = 24
HALF_ROWS = 840  # 7 minutes at 2 fps
NUM_CLASSES = len(CLASS_NAMES_V2)


def write_season(root, games, seed=0):
    """Noise features; around each event (+-1 s) the rows carry a strong marker of the event's class.
    Every class occurs once per half, ~24 s apart, in a random order."""
    rng = np.random.default_rng(seed)
    meta = FeatureMeta(backbone="synthetic", weights="none", fps=FPS, step=1 / FPS, transform="none",
                       precision="float32")
    names = []
    for g in range(games):
        game = f"league/2020-2021/game {g}"
        events = []
        for half in (1, 2):
            array = rng.normal(0.0, 0.3, size=(HALF_ROWS, DIM)).astype(np.float32)
            for slot, cls in enumerate(rng.permutation(NUM_CLASSES)):
                second = 20 + 24 * slot + float(rng.uniform(-3, 3))
                row = int(round(second * FPS))
                array[row - 2 : row + 3, cls] += 3.0
                events.append(Event(half, int(round(second * 1000)), CLASS_NAMES_V2[cls]))
            write_features(root / game, half, "synth", array, meta)
        write_labels(root / game / LABELS_FILE, GameLabels(url=game, events=events))
        names.append(game)
    return names


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    root = tmp_path_factory.mktemp("season")
    games = write_season(root, 6)
    return root, games[:4], games[4:]


def small_config(head_settings: dict | None = None, **overrides):
    """netvladpp-paper made small; `head_settings` are merged into its head_options."""
    base = apply_overrides(get_preset("netvladpp-paper"), {
        "head_options.projection_dim": 16, "head_options.clusters": 8, "window_seconds": 6.0, "batch_size": 32,
        "lr": 3e-3, "eval_every": 0, "max_epochs": 3, "seed": 0})
    head = {f"head_options.{name}": value for name, value in (head_settings or {}).items()}
    return apply_overrides(base, {**overrides, **head})


def test_a_head_learns_separable_features_and_spots_them(season, tmp_path):
    root, train_games, valid_games = season
    config = small_config(max_epochs=10, eval_every=10, nms_window=10.0, head_settings={"clusters": 16}, lr=2e-2,
                          batch_size=16)
    data = load_train_data(config, root, "synth", train_games, valid_games)
    result = train(config, data, tmp_path / "run", progress=False)
    last = result.history[-1]
    assert result.epochs == 10 and last["valid_loss"] < result.history[0]["valid_loss"]
    # Average-mAP on the held-out games through frame scores + NMS + the SoccerNet evaluator
    assert last["valid_a_mAP"] > 0.9, last
    assert (tmp_path / "run" / "best" / "config.json").is_file()
    lines = (tmp_path / "run" / METRICS_FILE).read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 11))


def test_best_checkpoint_loads_for_inference_with_the_feature_settings(season, tmp_path):
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint

    root, train_games, valid_games = season
    config = small_config(max_epochs=2)
    data = load_train_data(config, root, "synth", train_games, valid_games)
    result = train(config, data, tmp_path / "run", progress=False)
    loaded = load_checkpoint(tmp_path / "run" / "best")
    assert loaded.feature_settings == data.feature_settings and loaded.feature_settings["backbone"] == "synthetic"
    assert loaded.fps == FPS and loaded.config.window_frames == 12 and loaded.classes == CLASS_NAMES_V2
    assert (loaded.nms.window_seconds, loaded.nms.threshold) == (config.nms_window, config.nms_threshold)
    assert loaded.training["epoch"] == result.best_epoch


def test_resume_continues_exactly_where_it_stopped(season, tmp_path):
    root, train_games, valid_games = season
    # events sampling (offsets drawn per epoch), mixup and dropout (global RNG), a plateau scheduler that
    # reduces the lr at the end of epoch 2 (patience 0, lr high enough for the validation loss to rise)
    config = small_config(max_epochs=4, sampling="events", mixup_alpha=0.3, plateau_patience=0, lr=0.5,
                          batch_size=64)
    train_games, valid_games = train_games[:2], valid_games[:1]
    data = load_train_data(config, root, "synth", train_games, valid_games)
    straight = train(config, data, tmp_path / "straight", progress=False)

    halted = apply_overrides(config, {"max_epochs": 2})  # as if interrupted after epoch 2
    data = load_train_data(halted, root, "synth", train_games, valid_games)
    first = train(halted, data, tmp_path / "resumed", progress=False)
    assert first.epochs == 2
    state = torch.load(tmp_path / "resumed" / STATE_FILE, weights_only=True)
    assert state["epoch"] == 2 and state["optimizer"]["state"]  # Adam moments saved
    resumed = train(config, data, tmp_path / "resumed", resume=True, progress=False)

    assert resumed.epochs == 4 and [r["epoch"] for r in resumed.history] == [3, 4]
    assert straight.history[2]["lr"] < config.lr  # the scheduler reduced the lr before the interruption ...
    assert [r["lr"] for r in resumed.history] == [r["lr"] for r in straight.history[2:]]  # ... and resumed alike
    for a, b in zip(resumed.history, straight.history[2:]):
        assert a["train_loss"] == b["train_loss"] and a["valid_loss"] == b["valid_loss"]
    a = torch.load(tmp_path / "resumed" / "last" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "straight" / "last" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the whole training state is the same: optimizer moments, scheduler counters, RNG
    end_a = torch.load(tmp_path / "resumed" / STATE_FILE, weights_only=True)
    end_b = torch.load(tmp_path / "straight" / STATE_FILE, weights_only=True)
    assert end_a["scheduler"] == end_b["scheduler"] and torch.equal(end_a["torch_rng"], end_b["torch_rng"])
    moments_a, moments_b = end_a["optimizer"]["state"], end_b["optimizer"]["state"]
    assert moments_a.keys() == moments_b.keys()
    assert all(torch.equal(moments_a[k][n], moments_b[k][n]) for k in moments_a for n in ("exp_avg", "exp_avg_sq"))
    lines = (tmp_path / "resumed" / METRICS_FILE).read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]


def test_an_existing_run_folder_is_never_overwritten(season, tmp_path):
    root, train_games, valid_games = season
    config = small_config(max_epochs=1)
    data = load_train_data(config, root, "synth", train_games[:1], [])
    train(config, data, tmp_path / "run", progress=False)
    before = (tmp_path / "run" / "last" / "model.pt").read_bytes()
    with pytest.raises(DataError, match="already holds files"):
        train(config, data, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "last" / "model.pt").read_bytes() == before
    with pytest.raises(DataError, match="no training state"):
        train(config, data, tmp_path / "elsewhere", resume=True, progress=False)


def test_cli_trains_end_to_end_and_resumes(season, tmp_path, capsys):
    from soccerspot.pipeline.cli import main

    root, train_games, valid_games = season
    (tmp_path / "train.txt").write_text("\n".join(train_games[:2]) + "\n")
    (tmp_path / "valid.txt").write_text(valid_games[0] + "\n")
    out = tmp_path / "run"
    common = ["train", "--features-root", str(root), "--features", "synth", "--train-split",
              str(tmp_path / "train.txt"), "--valid-split", str(tmp_path / "valid.txt"), "--out", str(out),
              "--no-progress"]
    settings = ["--projection-dim", "8", "--clusters", "4", "--window-seconds", "4", "--batch-size", "64",
                "--eval-every", "2"]
    assert main(common + settings + ["--epochs", "2"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 2 and summary["last"]["valid_a_mAP"] >= 0
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["config"]["head_options"]["projection_dim"] == 8 and saved["config"]["preset"] == "netvladpp-paper"
    assert main(common + settings + ["--epochs", "2"]) == 1  # the run folder exists: refused
    assert "already holds files" in capsys.readouterr().err
    assert main(common + ["--resume", "--epochs", "3"]) == 0  # the run's own settings, one more epoch
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epochs"] == 3
    assert main(common + ["--resume", "--lr", "0.5", "--epochs", "4"]) == 1  # settings may not change
    assert "these differ: lr" in capsys.readouterr().err
    assert main(common[:-3] + ["--out", str(tmp_path / "y"), "--head", "netvlad+++"]) == 2  # a usage error
    assert "--head netvlad+++: unknown head kind 'netvlad+++'" in capsys.readouterr().err
    # a folder of games inside the features root, and missing features named clearly
    assert main(["train", "--features-root", str(root), "--features", "nope", "--valid-split", "none",
                 "--train-split", str(root / "league"), "--out", str(tmp_path / "x")]) == 1
    assert "no games with 1_nope.npy" in capsys.readouterr().err


def test_metric_lines_written_after_the_saved_state_are_dropped_on_resume(tmp_path):
    from soccerspot.pipeline.training.run_folder import trim_metrics

    path = tmp_path / METRICS_FILE
    path.write_text("".join(json.dumps({"epoch": e, "train_loss": 1.0 / e}) + "\n" for e in (1, 2, 3)))
    trim_metrics(path, 2)  # the run stopped after writing epoch 3's line, before saving its state
    assert [json.loads(line)["epoch"] for line in path.read_text().splitlines()] == [1, 2]


@pytest.mark.parametrize("preset", ["baidu-transformer", "maxpool-paper", "netrvladpp-paper", "avgpoolpp-paper"])
def test_the_same_loop_trains_every_head(season, tmp_path, preset):
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint
    from soccerspot.pipeline.inference.scores import frame_scores

    root, train_games, valid_games = season
    clusters = {"head_options.clusters": 4} if "clusters" in get_preset(preset).head_options else {}
    config = apply_overrides(get_preset(preset), dict(max_epochs=1, batch_size=64, window_seconds=4.0,
                                                      eval_every=1, **clusters))
    data = load_train_data(config, root, "synth", train_games[:1], valid_games[:1])
    result = train(config, data, tmp_path / "run", progress=False)
    record = result.history[0]
    assert np.isfinite(record["train_loss"]) and np.isfinite(record["valid_loss"]) and "valid_a_mAP" in record
    loaded = load_checkpoint(tmp_path / "run" / "last")
    assert loaded.config.kind == config.head
    scores = frame_scores(loaded.model, data.valid.tracks[0].features.array, loaded.config.window_frames)
    assert scores.shape == (HALF_ROWS, NUM_CLASSES)


def test_training_stops_at_the_lr_floor_and_a_finished_run_stays_finished(season, tmp_path):
    root, train_games, _ = season
    # lr already at the floor (the next reduction would pass stop_lr) and patience 0: stop after epoch 1
    config = small_config(max_epochs=5, lr=1e-3, stop_lr=1e-3, plateau_patience=0)
    data = load_train_data(config, root, "synth", train_games[:1], [])
    result = train(config, data, tmp_path / "run", progress=False)
    assert (result.epochs, result.stop_reason) == (1, "lr_floor")
    again = train(config, data, tmp_path / "run", resume=True, progress=False)
    assert (again.epochs, again.stop_reason, again.history) == (1, "lr_floor", [])
