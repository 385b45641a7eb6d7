"""Training dense frame models (`soccerspot train-dense`, `pipeline.training.dense`): E2E-Spot's schedule, clip
labels and loss against their definitions, and a tiny E2E-Spot trained through the CLI on a synthetic season,
resumed exactly, exported and spotted with `spot VIDEO --model RUN/best`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from soccerspot.data.dense_training_clips import DenseClipDataset, DenseClipSettings, clip_labels
from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.data.video_clips import FrameTrack
from soccerspot.extract.frame_recipes import FRAME_RECIPES, FrameRecipe
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.dense_models import PEER_INFERENCE
from soccerspot.pipeline.training import loop
from soccerspot.pipeline.training.dense import DenseLoss
from soccerspot.pipeline.training.schedule import warmup_cosine_factor


def test_warmup_cosine_is_their_chained_linear_and_cosine_schedulers():
    # jhong93/spot train_e2e.py get_lr_scheduler, stepped after every optimizer step (past T as well)
    steps_per_epoch, warmup_epochs, epochs = 4, 3, 8
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([parameter], lr=1e-3)
    warmup, cosine = warmup_epochs * steps_per_epoch, (epochs - warmup_epochs) * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.ChainedScheduler([
        torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, end_factor=1.0, total_iters=warmup),
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cosine)])
    theirs, ours = [], []
    for step in range(epochs * steps_per_epoch):
        theirs.append(optimizer.param_groups[0]["lr"])
        ours.append(1e-3 * warmup_cosine_factor(step, warmup, cosine))
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert max(ours) < 1e-3 and ours[0] == pytest.approx(1e-5)


class _Cache:
    def __init__(self, rows: int):
        self.array = np.arange(rows, dtype=np.uint8)[:, None, None, None].repeat(2, 1).repeat(3, 2).repeat(3, 3)
        self.path = Path("cache")


def _track(rows: int, events: list[tuple[int, int]]) -> FrameTrack:
    return FrameTrack("g", 1, _Cache(rows), np.array([r for r, _ in events]), np.array([c for _, c in events]))


def test_clip_labels_dilate_like_theirs_and_pad_rows_past_the_half():
    track = _track(20, [(3, 0), (9, 2), (12, 1)])
    assert clip_labels(track, 2, 8, 0).tolist() == [0, 1, 0, 0, 0, 0, 0, 3]
    assert clip_labels(track, 2, 8, 1).tolist() == [1, 1, 1, 0, 0, 0, 3, 3]  # row 12 dilates into row 9's clip end
    assert clip_labels(track, 13, 4, 1).tolist() == [2, 0, 0, 0]  # an event just before the clip dilates into it

    dataset = DenseClipDataset([track], 3, DenseClipSettings(clip_len=8, clips=64, pad_len=5), seed=1)
    (frames, valid), targets = dataset.get_batch(range(64))
    assert frames.shape == (64, 8, 3, 2, 3) and targets.shape == (64, 8, 4)
    bases = np.array([dataset.draw(i).base for i in range(64)])
    assert bases.min() >= -5 and bases.max() + 8 <= 20 + 5 and bases.min() < 0 < bases.max() + 8 - 20
    for clip, base in enumerate(bases.tolist()):
        rows = np.arange(base, base + 8)
        assert valid[clip].tolist() == ((rows >= 0) & (rows < 20)).tolist()
        assert frames[clip, valid[clip], 0, 0, 0].tolist() == rows[valid[clip].numpy()].tolist()  # the cache rows
        assert frames[clip, ~valid[clip]].eq(0).all()
    again = DenseClipDataset([track], 3, DenseClipSettings(clip_len=8, clips=64, pad_len=5), seed=1)
    again.set_epoch(3)
    dataset.set_epoch(3)
    assert [again.draw(i) for i in range(64)] == [dataset.draw(i) for i in range(64)]  # a function of (seed, epoch)
    assert [again.draw(i).base for i in range(64)] != bases.tolist()


def test_a_clip_is_drawn_from_the_seed_epoch_and_its_index_alone():
    # a rank of a data-parallel run cuts its share of a batch without drawing the other ranks' clips
    track = _track(40, [(5, 0), (17, 1), (30, 0)])
    settings = DenseClipSettings(clip_len=6, clips=12, mixup_alpha=0.2, flip=True, fg_upsample=0.5)
    whole = DenseClipDataset([track], 2, settings, seed=4)
    whole.set_epoch(2)
    inputs, targets = whole.get_batch(range(12))
    share = DenseClipDataset([track], 2, settings, seed=4)
    share.set_epoch(2)
    for indices in ([9, 10, 11], [3], [7, 0]):  # fetched alone, in another order
        part_inputs, part_targets = share.get_batch(indices)
        for mine, theirs in zip(part_inputs, inputs):
            assert torch.equal(mine, theirs[indices])
        assert torch.equal(part_targets, targets[indices])
    draws = [whole.draw(i) for i in range(12)]
    assert len({d.flip for d in draws}) == 2 and len({d.partner.base for d in draws}) > 1
    assert all(0.0 <= d.weight <= 1.0 for d in draws)
    held_out = DenseClipDataset([track], 2, settings, seed=4, train=False)
    held_out.set_epoch(5)  # validation clips: epoch 0's, never mixed nor flipped
    assert all(held_out.draw(i).partner is None and not held_out.draw(i).flip for i in range(12))


def test_mixup_targets_and_the_loss_are_their_soft_weighted_cross_entropy():
    track = _track(30, [(5, 0), (17, 1)])
    dataset = DenseClipDataset([track], 2, DenseClipSettings(clip_len=10, clips=6, mixup_alpha=0.2), seed=0)
    (frames, valid, partner, partner_valid, weight), targets = dataset.get_batch(range(6))
    assert partner.shape == frames.shape and weight.shape == (6,)
    np.testing.assert_allclose(targets.sum(-1).numpy(), 1.0, atol=1e-6)
    first = clip_labels(track, dataset.draw(0).base, 10, 0)
    second = clip_labels(track, dataset.draw(0).partner.base, 10, 0)
    expected = np.zeros((10, 3), dtype=np.float32)
    expected[np.arange(10), first] += weight[0].item()
    expected[np.arange(10), second] += 1 - weight[0].item()
    np.testing.assert_allclose(targets[0].numpy(), expected, atol=1e-6)

    logits = torch.randn(1, 6, 10, 3)
    weights = torch.tensor([1.0, 5.0, 5.0])
    theirs = F.cross_entropy(logits[0].reshape(-1, 3), targets.view(-1, 3), weight=weights)
    assert DenseLoss(2, 5.0, soft=True)(logits, targets).item() == pytest.approx(theirs.item(), rel=1e-6)
    hard = torch.eye(3)[torch.randint(0, 3, (6, 10))]
    theirs_hard = F.cross_entropy(logits[0].reshape(-1, 3), hard.argmax(-1).flatten(), weight=weights)
    assert DenseLoss(2, 5.0, soft=False)(logits, hard).item() == pytest.approx(theirs_hard.item(), rel=1e-6)


# --- through the CLI -------------------------------------------------------------------------------------

GAMES = ["league/season/train-a", "league/season/valid-a"]
TINY = FrameRecipe(name="tiny-test", sample_fps=2, width=64, height=48, source="a test's small frames")


@pytest.fixture()
def tiny_recipe(monkeypatch):
    """A registered frame recipe at 64x48 (the videos' size), spotted as E2E-Spot's SoccerNet-v2 models are."""
    monkeypatch.setitem(FRAME_RECIPES, TINY.name, TINY)
    monkeypatch.setitem(PEER_INFERENCE, ("E2E-Spot", TINY.name), PEER_INFERENCE[("E2E-Spot", "e2e-soccernetv2")])


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> Path:
    from soccerspot.data.synthetic.broadcast import BroadcastConfig, plan_game, render_games

    root = tmp_path_factory.mktemp("dense_season")
    config = BroadcastConfig(width=64, height=48, fps=10.0, duration_s=20.0)
    render_games([plan_game(root / game, seed=index + 1, config=config, url=game) for index, game in enumerate(GAMES)],
                 config)
    (root / "train.txt").write_text(GAMES[0] + "\n")
    (root / "valid.txt").write_text(GAMES[1] + "\n")
    return root


def train_args(season: Path, out: Path, *extra: str) -> list[str]:
    return ["train-dense", "--videos", str(season), "--train-split", str(season / "train.txt"), "--valid-split",
            str(season / "valid.txt"), "--out", str(out), "--cache-dir", str(out.parent / "cache"),
            "--frame-recipe", TINY.name, "--clip-len", "8", "--epoch-frames", "16", "--batch-size", "2",
            "--warmup-epochs", "1", "--eval-every", "2", "--precision", "fp32", "--no-progress", *extra]


@pytest.mark.slow
def test_train_dense_resumes_exactly_exports_and_spots(season, tmp_path, tiny_recipe, capsys, monkeypatch):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(train_args(season, straight, "--epochs", "2")) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["epochs"] == 2
    metrics = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert all("valid_loss" in m for m in metrics) and "valid_a_mAP" in metrics[1]
    assert metrics[0]["lr"] != metrics[1]["lr"]  # the per-step schedule moved

    # the same run interrupted after its first epoch's state is saved, then resumed (the schedule depends on
    # --epochs, so the interrupted run has the same --epochs)
    real_save_state = loop.save_state

    def save_then_stop(path, state):
        real_save_state(path, state)
        if state["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_state", save_then_stop)
    assert main(train_args(season, resumed, "--epochs", "2")) == 130
    monkeypatch.setattr(loop, "save_state", real_save_state)
    assert len((resumed / "metrics.jsonl").read_text().splitlines()) == 1
    assert main(train_args(season, resumed, "--epochs", "2", "--resume")) == 0
    capsys.readouterr()
    first = torch.load(straight / "last" / "model.pt", weights_only=True)
    second = torch.load(resumed / "last" / "model.pt", weights_only=True)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key

    config = json.loads((straight / "best" / "config.json").read_text())
    assert config["model"] == "e2e-spot" and config["settings"]["clip_len"] == 8
    assert config["frame_recipe"] == TINY.name and len(config["classes"]) == 17
    out = tmp_path / "spots"
    video = next((season / GAMES[1]).glob("1_*.mkv"))
    assert main(["spot", str(video), "--model", str(straight / "best"), "--out", str(out), "--save-scores",
                 "--device", "cpu", "--no-progress"]) == 0
    capsys.readouterr()
    results = json.loads((out / PREDICTIONS_FILE).read_text())
    assert isinstance(results["predictions"], list)
    assert (out / "1_scores.npy").is_file() or any(out.glob("1_*scores*.npy"))


def test_train_dense_refuses_bad_settings(tmp_path, capsys):
    base = ["train-dense", "--videos", str(tmp_path), "--out", str(tmp_path / "run"), "--no-progress"]
    assert main([*base, "--model-options", '{"feature_arch": "rny999"}']) == 2
    assert "--model-options" in capsys.readouterr().err
    assert main([*base, "--model-options", '{"colour": 1}']) == 2
    assert main([*base, "--frame-recipe", "nope"]) == 2
    assert main([*base, "--warmup-epochs", "60"]) == 2  # not below the preset's 50 epochs
    assert "--warmup-epochs" in capsys.readouterr().err


def test_the_e2e_spot_preset_is_their_recipe_and_builds():
    from soccerspot.pipeline.training.dense import DenseSettings, check_dense_settings
    from soccerspot.pipeline.training.presets import DENSE_PRESETS, PRESETS, get_dense_preset

    config = get_dense_preset("e2e-spot-paper")
    assert "e2e-spot-paper" not in PRESETS and set(DENSE_PRESETS) == {"e2e-spot-paper", "tdeed-ball", "tdeed-soccernetv2"}
    assert (config.optimizer, config.lr, config.batch_size, config.scheduler, config.warmup_epochs,
            config.max_epochs, config.mixup_alpha) == ("adamw", 1e-3, 8, "warmup-cosine", 3, 50, 0.2)
    assert config.head_options["clip_len"] == 100 and "ECCV 2022" in config.source
    check_dense_settings(config, DenseSettings())  # builds the model at its size
    assert DenseSettings().epoch_frames // config.head_options["clip_len"] == 5000  # their clips an epoch


@pytest.mark.parametrize("soft", [False, True])
def test_the_loss_shares_of_a_split_batch_add_up_to_the_whole_batch_loss_and_gradient(soft):
    # the loop's exact-sum contract: torch's weighted mean is sum(w_i l_i) / sum(w_i) with class indices (and
    # / frames with distributions), so a plain mean of the parts' means is not the batch's loss
    from soccerspot.pipeline.training.loop import batch_share, loss_counts

    generator = torch.Generator().manual_seed(5)
    criterion = DenseLoss(3, 5.0, soft=soft)
    stages, clips, frames = 2, 6, 7
    logits = torch.randn(stages, clips, frames, 4, generator=generator)
    labels = torch.randint(0, 4, (clips, frames), generator=generator) * (torch.rand(clips, frames, generator=generator) < 0.3)
    targets = torch.eye(4)[labels]
    if soft:
        targets = 0.7 * targets + 0.3 * torch.eye(4)[torch.randint(0, 4, (clips, frames), generator=generator)]
    whole = logits.clone().requires_grad_(True)
    expected = sum(F.cross_entropy(stage.reshape(-1, 4), targets.reshape(-1, 4) if soft else labels.flatten(),
                                   weight=torch.tensor([1.0, 5.0, 5.0, 5.0])) for stage in whole)
    assert criterion(whole, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    expected.backward()
    for sizes in ([6], [1, 5], [2, 0, 4], [3, 3]):
        leaf = logits.clone().requires_grad_(True)
        bounds = np.cumsum([0, *sizes]).tolist()
        pieces = [(leaf[:, a:b], targets[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        denominators = sum(loss_counts(criterion, t) for _, t in pieces)
        total = sum(batch_share(criterion, o, t, denominators) for o, t in pieces)
        total.backward()
        assert total.item() == pytest.approx(expected.item(), rel=1e-6)
        torch.testing.assert_close(leaf.grad, whole.grad, rtol=1e-5, atol=1e-8)
    if not soft:
        naive = (criterion(logits[:, :1], targets[:1]) + criterion(logits[:, 1:], targets[1:])) / 2
        assert abs(naive.item() - expected.item()) > 1e-3
