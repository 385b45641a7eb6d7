"""The replay grounding heads on torch.distributed (gloo on this machine): their epochs are batch plans, so
two ranks (torchrun / `--nproc 2`) and `--accumulate 2` give the parameters one process gives (the
augmentations of `baidu-grounding` on; `calf-grounding`'s trained BatchNorm over the global batch with
`--sync-bn`; its `--accumulate` is two ranks' without it), and `--resume` goes across world sizes
(the loop's own, shown on `baidu-grounding`). See tests/test_distributed.py for the other trainers."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from grounding_helpers import FEATURES, planted_season
from soccerspot.data.cameras import Replay, ReplayLink
from soccerspot.models.heads import head_config
from soccerspot.models.heads.calf_grounding import CALFGroundingLoss
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.grounding import HalfTrack
from soccerspot.pipeline.training.loop import batch_share, loss_counts
from soccerspot.pipeline.training.tasks.calf_grounding import CALFReplaySamples
from soccerspot.pipeline.training.tasks.grounding import ReplaySet

from test_distributed import (
    TOLERANCE, assert_same_weights, epochs_of, one_machine, relative_differences, soccerspot, torchrun,
)


def test_the_calf_grounding_loss_is_a_mean_over_chunks_that_the_parts_shares_add_up_to():
    config = head_config("calf-grounding", input_dim=4, num_classes=17, window_frames=60)
    criterion = CALFGroundingLoss(config, fps=2.0)
    generator = torch.Generator().manual_seed(5)
    rows = 7
    outputs = torch.rand(rows, 62, generator=generator, dtype=torch.float64) * 0.98 + 0.01
    shifts = torch.arange(60, dtype=torch.float64)[None, :] - torch.tensor([[30.0], [200], [5], [59], [-40], [12], [0]])
    slots = torch.tensor([[1, 0.5], [0, 0], [1, 0.1], [1, 1.0], [0, 0], [1, 0.2], [1, 0.0]], dtype=torch.float64)
    targets = torch.cat([shifts, slots], dim=1)
    whole = outputs.clone().requires_grad_(True)
    expected = criterion(whole, targets)
    expected.backward()
    for sizes in ([7], [3, 4], [1, 2, 4], [0, 7]):  # ranks' and accumulation steps' pieces, one of them empty
        leaf = outputs.clone().requires_grad_(True)
        bounds = torch.tensor([0, *sizes]).cumsum(0).tolist()
        pieces = [(leaf[a:b], targets[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        denominators = sum(loss_counts(criterion, t) for _, t in pieces)
        total = sum(batch_share(criterion, o, t, denominators) for o, t in pieces)
        total.backward()
        assert float(total.detach()) == pytest.approx(float(expected.detach()), rel=1e-9)
        torch.testing.assert_close(leaf.grad, whole.grad, rtol=1e-9, atol=1e-12)


def test_calf_grounding_rows_are_built_from_their_indices_alone():
    rng = np.random.default_rng(0)
    track = HalfTrack(rng.normal(size=(300, 4)).astype(np.float32), np.arange(300) * 0.5)
    replays = [(0, Replay(1, 100, 105, ReplayLink("Goal", 1, "01:00", 60000))),
               (0, Replay(1, 140, 146, ReplayLink("Foul", 1, "01:50", 110000)))]
    data = ReplaySet([track], replays, [[120, 220]])
    samples = [(0, 0, 90), (1, 0, 0), (0, 0, 250), (1, 0, 200), (0, 0, 100)]
    whole = CALFReplaySamples(data, samples, 40)[range(5)]
    for pieces in ([[0, 1], [2, 3, 4]], [[4], [3], [0, 2, 1]]):
        for piece in pieces:
            (chunks, replay_rows), targets = CALFReplaySamples(data, samples, 40)[piece]
            assert torch.equal(chunks, whole[0][0][piece]) and torch.equal(replay_rows, whole[0][1][piece])
            assert torch.equal(targets, whole[1][piece])
    (_, _), targets = whole
    assert targets[0, 40:].tolist() == [1.0, pytest.approx(30 / 39)]  # action row 120 at row 30 of the chunk
    assert targets[1, 40:].tolist() == [0.0, 0.0] and targets[1, :40].tolist() == list(range(-220, -180))
    plan = CALFReplaySamples(data, samples, 40).plan(2)
    assert plan.batches == [[0, 1], [2, 3], [4]] and not plan.use_loader


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ddp_grounding")
    (root / "train.txt").write_text("\n".join(planted_season(root, 2, "train")) + "\n")
    (root / "valid.txt").write_text("\n".join(planted_season(root, 1, "test")) + "\n")
    return root


def grounding_args(root: Path, out: Path, preset: str, head_options: dict, *extra: str) -> list[str]:
    return ["train", "--preset", preset, "--features-root", str(root), "--features", FEATURES,
            "--train-split", str(root / "train.txt"), "--valid-split", str(root / "valid.txt"), "--out", str(out),
            "--no-progress", "--dropout", "0", "--eval-every", "1", "--head-options", json.dumps(head_options),
            *extra]


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def without_key_biases(weights: dict) -> dict:
    """The weights with each attention layer's key bias left out of `in_proj_bias` (query, key, value thirds).
    Its gradient is zero in exact arithmetic (a softmax ignores a shift of every key's score), so Adam scales
    each run's rounding noise of that zero into steps of the lr's size, which no two orders of summation
    share; it changes no output."""
    kept = {}
    for name, tensor in weights.items():
        if name.endswith("self_attn.in_proj_bias"):
            query, _, value = tensor.chunk(3)
            tensor = torch.cat([query, value])
        kept[name] = tensor
    return kept


def assert_same_grounding_weights(run_a: Path, run_b: Path) -> None:
    a, b = (without_key_biases(torch.load(run / "last" / "model.pt", weights_only=True)) for run in (run_a, run_b))
    diffs = relative_differences(a, b)
    assert max(diffs.values()) <= TOLERANCE, sorted(diffs.items(), key=lambda kv: -kv[1])[:3]


def assert_same_losses(run: Path, single: Path) -> None:
    for mine, theirs in zip(metrics(run), metrics(single), strict=True):
        assert mine["train_windows"] == theirs["train_windows"]
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        assert mine["valid_loss"] == pytest.approx(theirs["valid_loss"], rel=1e-5)  # split over ranks, reduced


# Small, dropout off, the training augmentations on (each sample draws its own from (seed, epoch, index)).
BAIDU_OPTIONS = {"num_layers": 2, "feedforward_dim": 32, "attention_dropout": 0.0, "hard_negatives": 0.5,
                 "replay_jitter": 0.2, "feature_noise": 0.1}


@pytest.mark.slow
def test_baidu_grounding_on_two_ranks_and_accumulated_equals_one_process_and_resumes_across_world_sizes(
        season, tmp_path, capsys):
    def args(out: Path, *extra: str) -> list[str]:
        # batches of 12 over the epoch's samples (8 per replay): the last batch is smaller
        return grounding_args(season, out, "baidu-grounding", BAIDU_OPTIONS, "--batch-size", "12", *extra)

    single = tmp_path / "single"
    assert main(args(single, "--epochs", "2")) == 0
    assert metrics(single)[0]["train_windows"] % 12  # an uneven last batch is part of the check
    assert all("valid_a_AP" in record for record in metrics(single))  # validation Average-AP on rank 0

    accumulated = tmp_path / "accumulated"
    assert main(args(accumulated, "--epochs", "2", "--accumulate", "2")) == 0
    assert_same_grounding_weights(single, accumulated)
    assert_same_losses(accumulated, single)
    capsys.readouterr()

    ranks = tmp_path / "ranks"
    done = torchrun(args(ranks, "--epochs", "2"), *one_machine())
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same_grounding_weights(single, ranks)
    assert_same_losses(ranks, single)
    assert [record["valid_a_AP"] for record in metrics(ranks)] == pytest.approx(
        [record["valid_a_AP"] for record in metrics(single)], rel=1e-4)
    assert json.loads((ranks / "train_config.json").read_text())["distributed"]["world_size"] == 2

    # 2 ranks -> 1 process (epoch 3) -> 2 ranks with --accumulate 2 (epoch 4) = one process throughout
    assert main(args(ranks, "--resume", "--epochs", "3")) == 0
    done = soccerspot(args(ranks, "--resume", "--epochs", "4", "--accumulate", "2", "--nproc", "2"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert main(args(single, "--resume", "--epochs", "4")) == 0
    assert_same_grounding_weights(single, ranks)
    assert epochs_of(ranks) == [1, 2, 3, 4]
    assert [record.get("world_size", 1) for record in metrics(ranks)] == [2, 2, 1, 2]


def assert_same_tensors(run_a: Path, run_b: Path, names: list[str]) -> None:
    a, b = (torch.load(run / "last" / "model.pt", weights_only=True) for run in (run_a, run_b))
    diffs = relative_differences({n: a[n] for n in names}, {n: b[n] for n in names})
    assert max(diffs.values()) <= TOLERANCE, sorted(diffs.items(), key=lambda kv: -kv[1])[:3]


# 40 s chunks (80 rows, receptive field 26 rows), small frame layers.
CALF_OPTIONS = {"frame_hidden": 32, "frame_reduced": 16, "chunks_per_replay": 4, "stride_s": 20.0}


@pytest.mark.slow
def test_calf_grounding_on_two_ranks_with_sync_bn_equals_one_process(season, tmp_path, capsys):
    def args(out: Path, *extra: str) -> list[str]:
        return grounding_args(season, out, "calf-grounding", CALF_OPTIONS, "--window-seconds", "40",
                              "--batch-size", "12", *extra)

    single = tmp_path / "single"
    assert main(args(single, "--epochs", "2")) == 0
    capsys.readouterr()

    # its BatchNorm trains: two ranks normalise over the global batch (--sync-bn) to be one process
    ranks = tmp_path / "ranks"
    done = soccerspot(args(ranks, "--epochs", "2", "--sync-bn", "--nproc", "2"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same_weights(single, ranks, "model.pt")
    assert_same_losses(ranks, single)

    # --accumulate 2 on one process: its BatchNorm normalises over each step's rows, so it is not one process's
    # run (README); it is two ranks' without --sync-bn, each normalising over its share (the same rows), in every
    # parameter (the running statistics are rank 0's there, both steps' here)
    accumulated, unsynced = tmp_path / "accumulated", tmp_path / "unsynced"
    assert main(args(accumulated, "--epochs", "2", "--accumulate", "2")) == 0
    done = soccerspot(args(unsynced, "--epochs", "2", "--nproc", "2"))
    assert done.returncode == 0, done.stderr[-2000:]
    running = ("running_mean", "running_var", "num_batches_tracked")
    parameters = [name for name in torch.load(single / "last" / "model.pt", weights_only=True)
                  if not name.endswith(running)]
    assert_same_tensors(accumulated, unsynced, parameters)
    apart = relative_differences(*(torch.load(run / "last" / "model.pt", weights_only=True)
                                   for run in (accumulated, single)))
    assert max(apart[name] for name in parameters) > 1e-2  # and one process with the whole batch is another run
