"""Training on torch.distributed (gloo on this machine): each rank's share of a batch, exact loss shares,
and whole runs under torchrun / `--nproc` equal to one process (feature head, fine-tuned backbone with
frozen BatchNorm, trained BatchNorm with --sync-bn), `--accumulate`, resume across world sizes, two
"nodes" on loopback, and a killed rank."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from soccerspot.models.heads.grounding import GroundingLoss
from soccerspot.models.heads.rmsnet import RMSNetLoss
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.training.batch_plan import contiguous_split, rank_parts, steps_per_batch
from soccerspot.pipeline.training.loop import batch_share, loss_counts

from test_train import write_season

TOLERANCE = 1e-4  # relative, per tensor (the bound)


# --- each rank's share of a batch ------------------------------------------------------------------------


@pytest.mark.parametrize("world_size", [1, 2, 3])
@pytest.mark.parametrize("accumulate", [1, 2, 4])
def test_the_ranks_parts_cover_each_batch_once_in_the_same_number_of_steps(world_size, accumulate):
    for rows in range(1, 23):
        batch = list(range(100, 100 + rows))
        parts = [rank_parts(batch, rank, world_size, accumulate) for rank in range(world_size)]
        assert {len(p) for p in parts} == {steps_per_batch(rows, world_size, accumulate)}
        real = [part.indices for rank_steps in parts for part in rank_steps if not part.padding]
        assert [i for indices in real for i in indices] == batch  # every row once, in order
        assert max(map(len, real)) - min(map(len, real)) <= 1 + (accumulate > 1)
        padded = [part for rank_steps in parts for part in rank_steps if part.padding]
        assert all(part.indices == [batch[0]] for part in padded)
        if rows >= world_size * accumulate:
            assert not padded


def test_contiguous_split_sizes_differ_by_at_most_one():
    assert [len(p) for p in contiguous_split(list(range(7)), 3)] == [2, 2, 3]
    assert contiguous_split([1], 2) == [[], [1]]


# --- exact shares of a global batch's loss ---------------------------------------------------------------


def shares_and_gradient(criterion, outputs, targets, sizes):
    """Sum of the parts' `batch_share` and its gradient, the batch cut in pieces of `sizes`."""
    leaf = outputs.clone().requires_grad_(True)
    bounds = torch.tensor([0, *sizes]).cumsum(0).tolist()
    pieces = [(leaf[a:b], targets[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    denominators = sum(loss_counts(criterion, t) for _, t in pieces)
    total = sum(batch_share(criterion, o, t, denominators) for o, t in pieces)
    total.backward()
    return float(total.detach()), leaf.grad


@pytest.mark.parametrize("name", ["bce", "rmsnet", "grounding"])
def test_the_parts_shares_add_up_to_the_whole_batch_loss_and_gradient(name):
    generator = torch.Generator().manual_seed(3)
    rows = 11
    if name == "bce":
        criterion = nn.BCELoss()
        outputs = torch.rand(rows, 5, generator=generator) * 0.9 + 0.05
        targets = (torch.rand(rows, 5, generator=generator) > 0.5).float()
    elif name == "rmsnet":  # mean cross-entropy + a mean over the foreground windows only
        criterion = RMSNetLoss(10.0)
        outputs = torch.randn(rows, 6, generator=generator)
        classes = torch.tensor([0, 3, 0, 0, 1, 0, 2, 0, 0, 4, 0]).float()
        targets = torch.stack([classes, torch.rand(rows, generator=generator)], dim=1)
    else:  # BCE + a mean over the positive candidates only
        criterion = GroundingLoss(2.0)
        outputs = torch.rand(rows, 2, generator=generator) * 0.9 + 0.05
        targets = torch.stack([torch.tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]).float(),
                               torch.rand(rows, generator=generator)], dim=1)
    whole = outputs.clone().requires_grad_(True)
    expected = criterion(whole, targets)
    expected.backward()
    expected = expected.detach()
    for sizes in ([11], [5, 6], [1, 3, 7], [2, 0, 9]):  # uneven shares, one rank without foreground rows
        value, gradient = shares_and_gradient(criterion, outputs, targets, sizes)
        assert value == pytest.approx(float(expected), rel=1e-6)
        torch.testing.assert_close(gradient, whole.grad, rtol=1e-5, atol=1e-7)
    if name != "bce":  # the plain mean of per-part means is not the batch's loss: the shares are needed
        naive = (criterion(outputs[:2], targets[:2]) + criterion(outputs[2:], targets[2:])) / 2
        assert abs(float(naive) - float(expected)) > 1e-3


# --- whole runs --------------------------------------------------------------------------------------------


def relative_differences(a: dict, b: dict) -> dict[str, float]:
    assert a.keys() == b.keys()
    return {k: float((a[k].double() - b[k].double()).norm() / a[k].double().norm().clamp(min=1e-12))
            for k in a if a[k].is_floating_point() and a[k].numel()}


def assert_same_weights(run_a: Path, run_b: Path, *files: str) -> float:
    worst = 0.0
    for name in files:
        diffs = relative_differences(torch.load(run_a / "last" / name, weights_only=True),
                                     torch.load(run_b / "last" / name, weights_only=True))
        worst = max(worst, max(diffs.values()))
        assert max(diffs.values()) <= TOLERANCE, sorted(diffs.items(), key=lambda kv: -kv[1])[:3]
    return worst


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rank_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def torchrun(args: list[str], *launcher: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m torch.distributed.run LAUNCHER -m soccerspot ARGS` (c10d rendezvous on 127.0.0.1)."""
    command = [sys.executable, "-m", "torch.distributed.run", *launcher, "-m", "soccerspot", *args]
    return subprocess.run(command, env=rank_env(), capture_output=True, text=True, timeout=timeout)


def one_machine(nproc: int = 2) -> list[str]:
    return ["--nnodes", "1", "--nproc_per_node", str(nproc), "--rdzv_backend", "c10d", "--rdzv_endpoint",
            f"127.0.0.1:{free_port()}", "--local_addr", "127.0.0.1"]


def soccerspot(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "soccerspot", *args], env=rank_env(), capture_output=True,
                          text=True, timeout=timeout)


def epochs_of(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("ddp_season")
    games = write_season(root, 3)
    (root / "train.txt").write_text("\n".join(games[:2]) + "\n")
    (root / "valid.txt").write_text(games[2] + "\n")
    return root, games


def train_args(root: Path, out: Path, *extra: str) -> list[str]:
    # 420 training windows in batches of 50: the last batch (20) is uneven over the ranks' shares too
    return ["train", "--features-root", str(root), "--features", "synth", "--train-split", str(root / "train.txt"),
            "--valid-split", str(root / "valid.txt"), "--out", str(out), "--no-progress", "--projection-dim", "8",
            "--clusters", "4", "--window-seconds", "4", "--batch-size", "50", "--eval-every", "1", "--dropout", "0",
            "--lr", "3e-3", *extra]


@pytest.mark.slow
def test_a_feature_head_on_two_ranks_equals_one_process_and_resumes_across_world_sizes(features, tmp_path, capsys):
    root, _ = features
    single = tmp_path / "single"
    assert main(train_args(root, single, "--epochs", "2")) == 0
    at_two = tmp_path / "single-at-2"
    shutil.copytree(single, at_two)
    capsys.readouterr()

    # --accumulate 2: two steps of 25 rows make the step one batch of 50 makes
    accumulated = tmp_path / "accumulated"
    assert main(train_args(root, accumulated, "--epochs", "2", "--accumulate", "2")) == 0
    assert_same_weights(single, accumulated, "model.pt")

    # two ranks (torchrun): the same weights after two epochs; rank 0 alone writes and prints
    ranks = tmp_path / "ranks"
    done = torchrun(train_args(root, ranks, "--epochs", "2"), *one_machine())
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same_weights(single, ranks, "model.pt")
    assert epochs_of(ranks) == [1, 2]  # one metrics line per epoch: not one per rank
    summaries = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and json.loads(summaries[0])["epochs"] == 2
    assert done.stdout.count("training netvlad++") == 1
    assert sorted(p.name for p in ranks.iterdir()) == ["best", "last", "metrics.jsonl", "state.pt",
                                                       "train_config.json"]
    layout = json.loads((ranks / "train_config.json").read_text())["distributed"]
    assert layout == {"world_size": 2, "backend": "gloo", "per_rank_batch": 25, "accumulate": 1, "step_batch": 25,
                      "sync_bn": False}
    metrics = [json.loads(line) for line in (ranks / "metrics.jsonl").read_text().splitlines()]
    single_metrics = [json.loads(line) for line in (single / "metrics.jsonl").read_text().splitlines()]
    assert all((m["world_size"], m["backend"], m["per_rank_batch"]) == (2, "gloo", 25) for m in metrics)
    for mine, theirs in zip(metrics, single_metrics):  # validation split over the ranks, then reduced
        assert mine["valid_loss"] == pytest.approx(theirs["valid_loss"], rel=1e-5)
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
        assert mine["train_windows"] == theirs["train_windows"] == 420

    # 2 ranks -> 1 process (epoch 3) -> two "nodes" of one rank each on loopback (epoch 4) = one process
    assert main(train_args(root, ranks, "--resume", "--epochs", "3")) == 0
    port = free_port()
    node = ["--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d", "--rdzv_endpoint", f"127.0.0.1:{port}",
            "--rdzv_id", f"nodes-{port}", "--local_addr", "127.0.0.1"]
    resumed = train_args(root, ranks, "--resume", "--epochs", "4")
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", *node, "-m", "soccerspot", *resumed],
                              env=rank_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [node.communicate(timeout=600) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [err[-1500:] for _, err in outputs]
    assert main(train_args(root, single, "--resume", "--epochs", "4")) == 0
    assert_same_weights(single, ranks, "model.pt")
    assert epochs_of(ranks) == [1, 2, 3, 4]
    assert [json.loads(line).get("world_size", 1) for line in (ranks / "metrics.jsonl").read_text().splitlines()] \
        == [2, 2, 1, 2]


def render_videos(root: Path) -> Path:
    from soccerspot.data.synthetic.broadcast import BroadcastConfig, plan_game, render_games

    games = ["league/season/train-a", "league/season/train-b"]
    config = BroadcastConfig(width=160, height=96, fps=10.0, duration_s=40.0)
    render_games([plan_game(root / game, seed=i + 1, config=config, url=game) for i, game in enumerate(games)], config)
    (root / "train.txt").write_text("\n".join(games) + "\n")
    return root


def finetune_args(videos: Path, out: Path, *extra: str) -> list[str]:
    return ["finetune", "--videos", str(videos), "--train-split", str(videos / "train.txt"), "--valid-split", "none",
            "--out", str(out), "--cache-dir", str(out.parent / "cache"), "--backbone", "resnet18", "--weights", "none",
            "--input-size", "64", "--window-seconds", "4", "--batch-size", "6", "--nms-window", "8",
            "--projection-dim", "16", "--clusters", "8", "--precision", "fp32", "--no-progress", "--dropout", "0",
            "--epochs", "2", "--max-batches", "2", "--lr", "1e-3", *extra]


@pytest.mark.slow
def test_a_fine_tuned_backbone_on_two_ranks_equals_one_process_frozen_or_synchronised_batchnorm(tmp_path, capsys):
    videos = render_videos(tmp_path / "videos")
    for name, extra in (("frozen", ["--freeze-bn"]), ("synced", ["--sync-bn"])):
        single, ranks = tmp_path / f"{name}-single", tmp_path / f"{name}-ranks"
        assert main(finetune_args(videos, single, *extra)) == 0
        capsys.readouterr()
        # --nproc 2: the command starts its own two ranks (rank 0 builds no cache here: the first run did)
        done = soccerspot(finetune_args(videos, ranks, *extra, "--nproc", "2"))
        assert done.returncode == 0, done.stderr[-2000:]
        assert_same_weights(single, ranks, "model.pt", "backbone.pt")
        assert json.loads((ranks / "train_config.json").read_text())["distributed"]["sync_bn"] == (name == "synced")
    # the trained BatchNorm statistics moved (this is not a frozen network), equally on both sides
    synced = torch.load(tmp_path / "synced-ranks" / "last" / "backbone.pt", weights_only=True)
    frozen = torch.load(tmp_path / "frozen-ranks" / "last" / "backbone.pt", weights_only=True)
    assert not torch.equal(synced["layer4.1.bn2.running_mean"], frozen["layer4.1.bn2.running_mean"])


def rank_pids(launcher: int, rank: int) -> list[int]:
    """Processes started (at any depth) by `launcher` whose environment says RANK=`rank`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if f"RANK={rank}".encode() in environ and b"SOCCERSPOT_TEST_RUN=kill" in environ:
            while parent > 1 and parent != launcher:
                try:
                    parent = int((Path("/proc") / str(parent) / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    break
            if parent == launcher:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc")
def test_a_killed_rank_ends_the_run_with_one_line_and_the_run_resumes(features, tmp_path):
    root, _ = features
    run = tmp_path / "run"
    args = train_args(root, run, "--epochs", "400", "--nproc", "2", "--dist-timeout", "30")
    launcher = subprocess.Popen([sys.executable, "-m", "soccerspot", *args], env={**rank_env(),
                                "SOCCERSPOT_TEST_RUN": "kill"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    deadline = time.monotonic() + 300
    while not ((run / "metrics.jsonl").is_file() and epochs_of(run)) and time.monotonic() < deadline:
        time.sleep(0.2)
    victims = rank_pids(launcher.pid, 1)
    assert victims, "rank 1 not found"
    os.kill(victims[0], signal.SIGKILL)
    killed_at = time.monotonic()
    _, stderr = launcher.communicate(timeout=120)
    assert time.monotonic() - killed_at < 60  # well within the timeout: the launcher stops the others
    assert launcher.returncode == 1
    last = stderr.strip().splitlines()[-1]
    assert "rank 1 of 2 was killed by signal SIGKILL" in last and "--resume" in last, stderr[-2000:]
    assert "Traceback" not in stderr
    done = epochs_of(run)[-1]
    assert main(train_args(root, run, "--resume", "--epochs", str(done + 1))) == 0
    assert epochs_of(run) == list(range(1, done + 2))


@pytest.mark.slow
def test_the_snippet_recipe_on_two_ranks_equals_one_process_and_gathers_its_accuracy(tmp_path, capsys):
    videos = render_videos(tmp_path / "videos")
    recipe = ["--recipe", "snippets", "--snippet-seconds", "3", "--batch-size", "5", "--freeze-bn"]
    single, ranks = tmp_path / "single", tmp_path / "ranks"
    # the training games held out as validation too: the held-out snippets are split over the ranks
    args = finetune_args(videos, single, *recipe)
    args[args.index("--valid-split") + 1] = str(videos / "train.txt")
    assert main(args) == 0
    capsys.readouterr()
    done = soccerspot([a if a != str(single) else str(ranks) for a in args] + ["--nproc", "2"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same_weights(single, ranks, "backbone.pt", "snippet_head.pt")
    for mine, theirs in zip(*(map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
                              for run in (ranks, single))):
        assert mine["valid_snippets"] == theirs["valid_snippets"] > 2  # every rank's tally, gathered
        assert mine["valid_accuracy"] == theirs["valid_accuracy"]
        assert mine["valid_per_class_accuracy"] == theirs["valid_per_class_accuracy"]
