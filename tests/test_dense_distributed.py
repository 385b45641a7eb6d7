"""`train-dense` on several ranks (gloo, torchrun) equal to one process: a tiny E2E-Spot (rny002_gsm + GRU,
8-frame clips of 64x48 frames, dropout off, flips on: each clip's flip is drawn from its own index), with
trained BatchNorm synchronised (`--sync-bn`; mixup off: class-index targets, the weighted mean), and with
frozen BatchNorm and `--accumulate 2` (mixup on, drawn per clip too: soft targets, the mean over frames).

What "equal" can mean in fp32 here: the sums of a batch split over ranks or steps are added in another order,
so gradients differ at the rounding level. Most tensors then agree within 1e-4 relative; the ones that start
at zero and barely move in four steps (timm's zero-initialised last BatchNorm scale of each block, GSM's gates,
the BatchNorm and squeeze-excitation biases) sit at the rounding floor, where one process with two threads
differs from the same process with one thread as much (measured: up to 7e-3 relative on a tensor of norm 1e-3,
element differences below 5e-6). Hence the bound per tensor: 1e-4 relative plus 1e-5 per element (root mean
square). Ranks without `--sync-bn` miss it by four orders of magnitude (measured: 0.87 relative, 0.28 on an
element). SGD, not the preset's AdamW: Adam's first steps move each element by about lr * sign(gradient), so an
element whose gradient is at the rounding floor moves by +lr or -lr either way."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from soccerspot.pipeline.cli import main

from test_dense_training import season, tiny_recipe, train_args  # noqa: F401 (fixtures)
from test_distributed import one_machine, rank_env

RELATIVE, PER_ELEMENT = 1e-4, 1e-5
ENTRY = Path(__file__).with_name("tiny_recipe_soccerspot.py")  # soccerspot with the tiny recipe, for the ranks


def exact_args(season: Path, out: Path, *extra: str) -> list[str]:
    # 8 clips an epoch in batches of 4: no rank or step is ever without clips (no padding rows)
    return train_args(season, out, "--epoch-frames", "64", "--batch-size", "4", "--mixup-alpha", "0",
                      "--model-options", '{"dropout": 0}', "--optimizer", "sgd", "--lr", "0.05", *extra)


def ranks(args: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", *one_machine(2), str(ENTRY), *args]
    return subprocess.run(command, env=rank_env(), capture_output=True, text=True, timeout=600)


def assert_same_weights(run_a: Path, run_b: Path) -> None:
    a = torch.load(run_a / "last" / "model.pt", weights_only=True)
    b = torch.load(run_b / "last" / "model.pt", weights_only=True)
    assert a.keys() == b.keys()
    worst = []
    for key in a:
        if not (a[key].is_floating_point() and a[key].numel()):
            continue
        x, y = a[key].double(), b[key].double()
        bound = RELATIVE * x.norm() + PER_ELEMENT * x.numel() ** 0.5
        worst.append((float((x - y).norm() / bound), key))
    assert max(worst)[0] <= 1.0, sorted(worst, reverse=True)[:3]


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_ranks_with_synchronised_batchnorm_equal_one_process_and_rank_0_writes_once(season, tmp_path,
                                                                                      tiny_recipe, capsys):
    single, ranked = tmp_path / "single", tmp_path / "ranked"
    # the ranks first, on an empty cache folder: rank 0 decodes the caches, rank 1 waits, then reads them
    done = ranks(exact_args(season, ranked, "--epochs", "2", "--sync-bn", "--cache-dir", str(tmp_path / "cache")))
    assert done.returncode == 0, done.stderr[-3000:]
    assert main(exact_args(season, single, "--epochs", "2", "--sync-bn", "--cache-dir", str(tmp_path / "cache"))) == 0
    capsys.readouterr()
    assert_same_weights(single, ranked)
    before = torch.load(single / "last" / "model.pt", weights_only=True)["features.regnet.stem.bn.running_mean"]
    assert before.abs().max() > 1e-3  # the BatchNorm statistics trained (zeros at the start)

    assert sorted(p.name for p in ranked.iterdir()) == ["best", "last", "metrics.jsonl", "state.pt",
                                                        "train_config.json"]
    assert sorted(p.name for p in (ranked / "last").iterdir()) == ["config.json", "model.pt"]
    summaries = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and json.loads(summaries[0])["epochs"] == 2
    assert done.stdout.count("training e2e-spot") == 1
    assert json.loads((ranked / "train_config.json").read_text())["distributed"] == {
        "world_size": 2, "backend": "gloo", "per_rank_batch": 2, "accumulate": 1, "step_batch": 2, "sync_bn": True}
    mine, theirs = metrics(ranked), metrics(single)
    assert [m["epoch"] for m in mine] == [1, 2]  # one line per epoch, not one per rank
    for a, b in zip(mine, theirs):
        assert a["train_windows"] == b["train_windows"] == 8
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["valid_loss"] == pytest.approx(b["valid_loss"], rel=1e-5)  # split over the ranks, reduced
    assert mine[1]["valid_a_mAP"] == pytest.approx(theirs[1]["valid_a_mAP"], abs=1e-9)  # rank 0's, broadcast


@pytest.mark.slow
def test_frozen_batchnorm_and_accumulate_on_two_ranks_equal_one_process_and_resume_on_one(season, tmp_path,
                                                                                         tiny_recipe, capsys):
    single, ranked = tmp_path / "single", tmp_path / "ranked"
    assert main(exact_args(season, single, "--epochs", "2", "--freeze-bn", "--mixup-alpha", "0.2")) == 0
    capsys.readouterr()
    # 2 ranks x 2 steps: every clip of a batch of 4 in its own step, one optimizer step per batch; mixup on (the
    # dataset's: each clip's partner and weight drawn from its index; soft targets, a mean over frames)
    done = ranks(exact_args(season, ranked, "--epochs", "2", "--freeze-bn", "--accumulate", "2", "--mixup-alpha",
                            "0.2"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_weights(single, ranked)
    layout = json.loads((ranked / "train_config.json").read_text())["distributed"]
    assert (layout["accumulate"], layout["step_batch"]) == (2, 1)
    model = torch.load(single / "last" / "model.pt", weights_only=True)
    assert torch.equal(model["features.regnet.stem.bn.running_mean"], torch.zeros(32))  # frozen statistics

    # the 2-rank run resumed on one process, in whole batches (--resume may change --accumulate) = the
    # one-process run resumed
    assert main(exact_args(season, ranked, "--epochs", "3", "--freeze-bn", "--mixup-alpha", "0.2", "--accumulate",
                           "1", "--resume")) == 0
    assert main(exact_args(season, single, "--epochs", "3", "--freeze-bn", "--mixup-alpha", "0.2", "--resume")) == 0
    capsys.readouterr()
    assert_same_weights(single, ranked)
    assert [m.get("world_size", 1) for m in metrics(ranked)] == [2, 2, 1]
    assert json.loads((ranked / "last" / "config.json").read_text())["train_config"]["accumulate"] == 1
