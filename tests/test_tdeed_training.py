"""Training T-DEED (`train-dense` with the `tdeed-ball` / `tdeed-soccernetv2` presets): their clip targets
(labels dilated by radi_displacement, displacement, team) and their loss, against the authors' own
`TDEEDModel.epoch()` (SoccerNet/sn-teamspotting with its team BCE, arturxe2/T-DEED without) on the same
random outputs and the targets our clip dataset gives, with and without mixup."""
from __future__ import annotations

import json
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from peer_code import imported_from, peer_repo

from soccerspot.data.classes import class_setup
from soccerspot.data.dense_training_clips import (
    NO_TEAM, DenseClipDataset, DenseClipSettings, DenseTrack, clip_targets, peer_frame_rows,
)
from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.extract.frame_recipes import FRAME_RECIPES, FrameRecipe
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.dense_models import PEER_INFERENCE
from soccerspot.pipeline.training.dense_losses import TDEEDLoss

NUM_CLASSES = 3
CLIP = 12
TEAM = NUM_CLASSES + 2  # the targets' team column (after the classes and the displacement)


class _Cache:
    def __init__(self, rows: int):
        self.array = np.zeros((rows, 2, 2, 3), dtype=np.uint8)
        self.path = Path("cache")


def _track(rows: int = 60) -> DenseTrack:
    # events close together (their labels overwrite), one without a team, one near each edge
    events = [(1, 0, 0), (9, 2, 1), (12, 1, 0), (13, 0, NO_TEAM), (30, 2, 1), (33, 1, 1), (58, 0, 0)]
    return DenseTrack("g", 1, _Cache(rows), np.array([e[0] for e in events]), np.array([e[1] for e in events]),
                      np.array([e[2] for e in events]))


def their_clip_targets(track: DenseTrack, base: int, clip_len: int, radius: int):
    """Their `_store_clips` event loop and `_get_one` (sn-teamspotting `dataset/frame.py`), transcribed on rows
    (stride 1: `label_idx = event_row - base`); team classes as their `load_classes(event_team=True)` numbers
    them (class c, left -> 2c + 1, right -> 2c + 2)."""
    stored, stored_d = [], []
    for row, cls, team in zip(track.event_rows, track.event_classes, track.event_teams):
        label_idx = int(row) - base
        if -radius <= label_idx < clip_len + radius:
            label = 2 * int(cls) + 1 + (1 if team == 1 else 0)
            for i in range(max(0, label_idx - radius), min(clip_len, label_idx + radius + 1)):
                stored.append({"label": label, "label_idx": i, "team": int(team)})
                stored_d.append({"displ": i - label_idx, "label_idx": i})
    labels = np.zeros(clip_len, np.int64)
    labels_team = np.zeros(clip_len, np.int64) - 1
    for entry in stored:
        labels[entry["label_idx"]] = -(-entry["label"] // 2)  # math.ceil(label / 2)
        labels_team[entry["label_idx"]] = (entry["label"] + 1) % 2 if entry["team"] != NO_TEAM else -1
    labels_d = np.zeros(clip_len, np.int64)
    for entry in stored_d:
        labels_d[entry["label_idx"]] = entry["displ"]
    return labels, labels_d, labels_team


@pytest.mark.parametrize("base", [-5, 0, 3, 7, 25, 50])
def test_clip_targets_are_their_labels_displacements_and_teams(base):
    track = _track()
    ours = clip_targets(track, base, CLIP, 4)
    theirs = their_clip_targets(track, base, CLIP, 4)
    for mine, their in zip(ours, theirs):
        assert mine.tolist() == their.tolist()


def test_peer_rows_are_their_frame_numbers_over_the_stride():
    # their label_idx = (int(int(position) / 1000 * 25) - base) // stride, base a multiple of the stride
    positions = np.array([0, 39, 40, 79, 80, 120, 1_000, 123_456, 2_699_960])
    for fps, stride in ((12.5, 2), (25 / 12, 12)):
        expected = [int(int(p) / 1000 * 25) // stride for p in positions.tolist()]
        assert peer_frame_rows(positions, fps).tolist() == expected


def test_stored_clips_start_every_step_and_can_keep_only_clips_with_labels():
    track = _track(60)
    settings = DenseClipSettings(clip_len=CLIP, clips=200, pad_len=5, start_step=5, displacement_radius=2)
    dataset = DenseClipDataset([track], NUM_CLASSES, settings, seed=3)
    # their range(-pad * stride, max(0, video_len - 1 + (2 * pad - clip_len) * stride), overlap), in rows
    assert sorted(set(dataset.draw(i).base for i in range(200))) == list(range(-5, 60 - 1 + 10 - CLIP, 5))
    only = DenseClipDataset([track], NUM_CLASSES, DenseClipSettings(
        clip_len=CLIP, clips=50, start_step=5, displacement_radius=2, event_clips_only=True), seed=3)
    assert all(clip_targets(track, int(b), CLIP, 2)[0].any() for b in only.stored[:, 1])
    assert len(only.stored) < len(dataset.stored)


class _Loader(list):
    """A one-batch loader with the attributes their epoch() reads from `loader.dataset`."""

    def __init__(self, batch: dict, radius: int, team: bool):
        super().__init__([batch])
        self.dataset = types.SimpleNamespace(_radi_displacement=radius, _event_team=team)


class _Outputs(torch.nn.Module):
    """Stands in for their `Impl`: returns fixed outputs, as their forward does (a dict, and y)."""

    def __init__(self, outputs: dict):
        super().__init__()
        self.outputs, self._double_head = outputs, False

    def forward(self, x, y=None, inference=False):
        return dict(self.outputs), y


def their_loss(root: Path, outputs: dict, batch: dict, radius: int, team: bool, weights: list[float]) -> float:
    """Their `TDEEDModel.epoch(loader)` (no optimizer: the loss only) on one batch, their mixup weights
    replaced by `weights` (their `random.betavariate` calls, one per clip)."""
    with imported_from(root):
        from model import model as their_model

        model = their_model.TDEEDModel.__new__(their_model.TDEEDModel)
        model.device, model._num_classes = "cpu", NUM_CLASSES + 1
        model._args = types.SimpleNamespace(num_classes=NUM_CLASSES)
        model._model = _Outputs(outputs)
        draws = iter(weights)
        their_model.random = types.SimpleNamespace(betavariate=lambda a, b: next(draws))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # their autocast("cuda") on a machine without CUDA
            result = model.epoch(_Loader(batch, radius, team))
    return float(result["loss"]) if isinstance(result, dict) else float(result)


def _batches(mixup: bool, team: bool, radius: int = 4, seed: int = 0):
    track = _track()
    settings = DenseClipSettings(clip_len=CLIP, clips=5, mixup_alpha=0.2 if mixup else 0.0, start_step=1,
                                 displacement_radius=radius, teams=team)
    dataset = DenseClipDataset([track], NUM_CLASSES, settings, seed=seed)
    inputs, targets = dataset.get_batch(range(5))
    batch = {"frame": torch.zeros(5, CLIP, 3, 2, 2)}
    keys = ("label", "labelD", "labelT")
    draws = [dataset.draw(i) for i in range(5)]
    first = [clip_targets(track, d.base, CLIP, radius) for d in draws]
    for k, key in enumerate(keys):
        batch[key] = torch.from_numpy(np.stack([t[k] for t in first]))
    weights = []
    if mixup:
        second = [clip_targets(track, d.partner.base, CLIP, radius) for d in draws]
        batch["frame2"] = torch.zeros(5, CLIP, 3, 2, 2)
        for k, key in enumerate(keys):
            batch[key + "2"] = torch.from_numpy(np.stack([t[k] for t in second]))
        weights = [float(np.float32(d.weight)) for d in draws]
    if not team:
        for key in ("labelT", "labelT2"):
            batch.pop(key, None)
    return targets, batch, weights


def _random_outputs(seed: int, team: bool):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(5, CLIP, NUM_CLASSES + 1, generator=generator) * 2
    displacement = torch.randn(5, CLIP, generator=generator) * 3
    team_logit = torch.randn(5, CLIP, generator=generator) if team else torch.zeros(5, CLIP)
    packed = torch.cat([logits, displacement[..., None], team_logit[..., None]], dim=-1)[None]
    theirs = {"im_feat": logits, "displ_feat": displacement}
    if team:
        theirs["team_feat"] = team_logit
    return packed, theirs


@pytest.mark.parametrize("mixup", [True, False])
def test_the_team_loss_is_sn_teamspottings(peer_code_root, mixup):
    root = peer_repo("SoccerNet/sn-teamspotting", peer_code_root)
    targets, batch, weights = _batches(mixup, team=True, seed=1)
    assert (targets[..., TEAM] != NO_TEAM).any() and (targets[..., TEAM] == NO_TEAM).any()
    assert (targets[..., TEAM + 1] == float(mixup)).all()  # the clips were mixed, or not
    packed, outputs = _random_outputs(2, team=True)
    ours = TDEEDLoss(NUM_CLASSES, 5.0, soft=mixup, displacement=True, team=True)(packed, targets)
    theirs = their_loss(root, outputs, batch, radius=4, team=True, weights=weights)
    assert ours.item() == pytest.approx(theirs, rel=1e-6, abs=1e-6)
    # train-dense's criterion tells mixed (training) from unmixed (validation) targets itself
    told = TDEEDLoss(NUM_CLASSES, 5.0, soft=None, displacement=True, team=True)(packed, targets)
    assert told.item() == pytest.approx(theirs, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("mixup", [True, False])
def test_the_loss_without_team_is_arturxe2s(peer_code_root, mixup):
    root = peer_repo("arturxe2/T-DEED", peer_code_root)
    targets, batch, weights = _batches(mixup, team=False, radius=3, seed=4)
    packed, outputs = _random_outputs(5, team=False)
    ours = TDEEDLoss(NUM_CLASSES, 5.0, soft=None, displacement=True, team=False)(packed, targets)
    theirs = their_loss(root, outputs, batch, radius=3, team=False, weights=weights)
    assert ours.item() == pytest.approx(theirs, rel=1e-6, abs=1e-6)


def test_sums_over_parts_of_a_batch_add_up_to_the_whole_batchs_loss():
    # the loop's exact-sum contract: parts' sums over the whole batch's counts give the batch's loss
    targets, _, _ = _batches(True, team=True, seed=7)
    packed, _ = _random_outputs(8, team=True)
    loss = TDEEDLoss(NUM_CLASSES, 5.0, soft=False, displacement=True, team=True)
    hard = torch.cat([torch.eye(NUM_CLASSES + 1)[targets[..., :NUM_CLASSES + 1].argmax(-1)],
                      targets[..., NUM_CLASSES + 1:TEAM + 1], torch.zeros_like(targets[..., :1])], -1)
    whole = loss(packed, hard)
    assert whole.item() == pytest.approx(TDEEDLoss(NUM_CLASSES, 5.0, soft=None, displacement=True, team=True)(
        packed, hard).item(), rel=1e-6)  # unmixed targets: the class-index form
    counts = loss.counts(hard).clamp(min=1)
    parts = sum((loss.sums(packed[:, rows], hard[rows]) / counts.to(torch.float32)).sum()
                for rows in (slice(0, 2), slice(2, 5)))
    assert parts.item() == pytest.approx(whole.item(), rel=1e-6)
    # mixed targets, split into parts of one clip each: every part takes the soft form from the mixed column
    told = TDEEDLoss(NUM_CLASSES, 5.0, soft=None, displacement=True, team=True)
    counts = sum(told.counts(targets[k:k + 1]) for k in range(5)).clamp(min=1)
    parts = sum((told.sums(packed[:, k:k + 1], targets[k:k + 1]) / counts.to(torch.float32)).sum() for k in range(5))
    soft = TDEEDLoss(NUM_CLASSES, 5.0, soft=True, displacement=True, team=True)(packed, targets)
    assert parts.item() == pytest.approx(soft.item(), rel=1e-6)
    # a batch without any team row: the team term is absent (theirs: `if len(labelT[labelT != -1]) > 0`)
    no_team = hard.clone()
    no_team[..., TEAM] = NO_TEAM
    without = TDEEDLoss(NUM_CLASSES, 5.0, soft=False, displacement=True, team=False)
    assert loss(packed, no_team).item() == pytest.approx(without(packed, no_team).item(), rel=1e-6)


# --- through the CLI: a tiny T-DEED with its team head on a tiny rendered ball season ---------------------

TINY_BALL = FrameRecipe(name="tiny-tdeed-ball", sample_fps=25, width=64, height=48, read_stride=2,
                        source="a test's small frames, read as T-DEED reads its Ball frames (every second)")


@pytest.fixture()
def tiny_ball_recipe(monkeypatch):
    """A frame recipe at the videos' 64x48, every second 25 fps frame, spotted as T-DEED's Ball models are."""
    monkeypatch.setitem(FRAME_RECIPES, TINY_BALL.name, TINY_BALL)
    monkeypatch.setitem(PEER_INFERENCE, ("T-DEED", TINY_BALL.name), PEER_INFERENCE[("T-DEED", "tdeed-ball")])


@pytest.fixture(scope="module")
def ball_season(tmp_path_factory) -> Path:
    from soccerspot.data.synthetic.ball_season import BallSeasonConfig, render_ball_season

    root = tmp_path_factory.mktemp("ball_season")
    render_ball_season(root, BallSeasonConfig(train_games=1, valid_games=1, test_games=1, minutes=1 / 3,
                                              width=64, height=48, seed=5))
    return root


@pytest.mark.slow
def test_tdeed_trains_on_a_ball_season_and_spots_with_teams(ball_season, tmp_path, tiny_ball_recipe, capsys):
    run = tmp_path / "run"
    args = ["train-dense", "--task", "ball", "--videos", str(ball_season), "--train-split",
            str(ball_season / "train.txt"), "--valid-split", str(ball_season / "valid.txt"), "--out", str(run),
            "--cache-dir", str(tmp_path / "cache"), "--frame-recipe", TINY_BALL.name, "--clip-len", "16",
            "--epoch-frames", "64", "--batch-size", "2", "--epochs", "2", "--warmup-epochs", "1",
            "--eval-every", "2", "--precision", "fp32", "--no-progress"]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["epochs"] == 2
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(m["train_loss"]) and np.isfinite(m["valid_loss"]) for m in metrics)
    assert "valid_a_mAP" in metrics[1] and "valid_mAP_no_team" in metrics[1]  # Team mAP@1 and mAP@1
    config = json.loads((run / "best" / "config.json").read_text())
    assert (config["model"], config["variant"], config["task"]) == ("tdeed-soccernetball-baseline", "T-DEED", "ball")
    assert config["settings"]["event_team"] and config["settings"]["radi_displacement"] == 4
    assert config["classes"] == class_setup("ball-2025").names

    # spot the test game with the trained folder: team-aware predictions, scored by evaluate --task ball
    test_game = (ball_season / "test.txt").read_text().split()[0]
    out = tmp_path / "spots"
    video = ball_season / test_game / "1_224p.mkv"
    assert main(["spot", str(video), "--model", str(run / "best"), "--out", str(out), "--device", "cpu",
                 "--no-progress"]) == 0
    predictions = json.loads((out / PREDICTIONS_FILE).read_text())["predictions"]
    assert predictions and {p["team"] for p in predictions} <= {"left", "right"}
    predicted = tmp_path / "predicted" / test_game
    predicted.mkdir(parents=True)
    (predicted / PREDICTIONS_FILE).write_text((out / PREDICTIONS_FILE).read_text())
    capsys.readouterr()
    assert main(["evaluate", "--task", "ball", "--labels", str(ball_season), "--predictions",
                 str(tmp_path / "predicted"), "--split", str(ball_season / "test.txt"), "--json",
                 str(tmp_path / "scores.json")]) == 0
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert 0.0 <= scores["mAP_no_team"] <= 1.0 and "mAP" in scores


def test_init_from_takes_every_tensor_but_the_class_and_team_heads(tmp_path):
    from soccerspot.errors import DataError
    from soccerspot.models.dense import create_dense_model
    from soccerspot.pipeline.training.dense import DenseSettings, export_dense_model, init_from_folder

    small = dict(clip_len=16, n_layers=1, pretrained=False)
    torch.manual_seed(0)
    source = create_dense_model("tdeed-soccernet-small", **small)  # v2: 17 classes, no team, radius 3
    export_dense_model(tmp_path / "v2", source, "tdeed-soccernet-small", small, [f"c{i}" for i in range(17)],
                       DenseSettings(), {})
    torch.manual_seed(1)
    target = create_dense_model("tdeed-soccernetball-baseline", **small)  # ball: 12 classes and teams
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    report = init_from_folder(target, tmp_path / "v2")
    after, before = target.state_dict(), source.state_dict()
    heads = ("temporal.class_head.", "temporal.team_head.")
    for key, tensor in after.items():
        if key.startswith(heads):
            assert torch.equal(tensor, fresh[key]), key  # left as built
        else:
            assert torch.equal(tensor, before[key]), key  # backbone, encoder-decoder, displacement head
    assert report["loaded"] == sum(1 for key in after if not key.startswith(heads))
    with pytest.raises(DataError, match="model.pt"):
        init_from_folder(target, tmp_path / "missing")


@pytest.mark.slow
def test_train_dense_init_from_records_what_it_loaded(ball_season, tmp_path, tiny_ball_recipe, capsys):
    # a model without teams on the 2024 classes, then the team model started from it
    common = ["--videos", str(ball_season), "--train-split", str(ball_season / "train.txt"), "--valid-split",
              "none", "--cache-dir", str(tmp_path / "cache"), "--frame-recipe", TINY_BALL.name, "--clip-len", "16",
              "--epoch-frames", "32", "--batch-size", "2", "--epochs", "1", "--warmup-epochs", "0",
              "--eval-every", "0", "--precision", "fp32", "--no-progress", "--select-on", "valid_loss",
              "--max-batches", "1"]
    first = tmp_path / "first"
    assert main(["train-dense", "--task", "ball", "--classes", "ball-2024", "--model-options",
                 '{"event_team": false}', "--out", str(first), *common]) == 0
    second = tmp_path / "second"
    assert main(["train-dense", "--task", "ball", "--init-from", str(first / "best"), "--out", str(second),
                 *common]) == 0
    capsys.readouterr()
    record = json.loads((second / "train_config.json").read_text())
    assert record["init_from"]["folder"] == str(first / "best") and record["init_from"]["loaded"] > 100
    assert all(name.startswith(("temporal.class_head.", "temporal.team_head."))
               for name in record["init_from"]["skipped"])


@pytest.mark.parametrize("preset, repo, path", [
    ("tdeed-ball", "SoccerNet/sn-teamspotting", "config/SoccerNetBall/SoccerNetBall_baseline.json"),
    ("tdeed-soccernetv2", "arturxe2/T-DEED", "config/SoccerNet/SoccerNet_small.json"),
])
def test_the_tdeed_presets_are_their_configs(peer_code_root, preset, repo, path):
    from soccerspot.models.dense.registry import dense_model_entry
    from soccerspot.pipeline.training.dense import DenseSettings, check_dense_settings
    from soccerspot.pipeline.training.presets import DENSE_PRESET_SETTINGS, get_dense_preset

    theirs = json.loads((peer_repo(repo, peer_code_root) / path).read_text())
    config = get_dense_preset(preset)
    settings = DenseSettings(**DENSE_PRESET_SETTINGS[preset])
    model = {**dense_model_entry(config.head).defaults, **config.head_options}
    assert (config.lr, config.batch_size, config.max_epochs, config.warmup_epochs) == (
        theirs["learning_rate"], theirs["batch_size"], theirs["num_epochs"], theirs["warm_up_epochs"])
    assert (config.mixup_alpha > 0) == theirs["mixup"] and config.select_on == "valid_a_mAP"
    for key in ("feature_arch", "clip_len", "radi_displacement", "n_layers", "sgp_ks", "sgp_r", "num_classes"):
        assert model[key] == theirs[key], key
    assert bool(model.get("event_team", False)) == theirs.get("event_team", False)
    assert settings.epoch_frames == theirs["epoch_num_frames"]
    assert settings.flip == (not theirs.get("event_team", False))  # sn-teamspotting comments the flip out
    check_dense_settings(config, settings)


def test_train_dense_refuses_a_team_model_on_classes_without_teams(tmp_path, capsys):
    base = ["train-dense", "--videos", str(tmp_path), "--out", str(tmp_path / "run"), "--no-progress"]
    assert main([*base, "--task", "ball", "--classes", "ball-2024"]) == 2
    assert "--classes" in capsys.readouterr().err
    assert main([*base, "--task", "ball", "--classes", "v2"]) == 2
    assert "class sets" in capsys.readouterr().err
    (tmp_path / "g").mkdir()
    assert main([*base, "--task", "ball", "--init-from", str(tmp_path / "nowhere")]) == 1
    assert "model.pt" in capsys.readouterr().err
