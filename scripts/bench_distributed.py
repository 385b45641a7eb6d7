"""The same fine-tuning run on one process and on two ranks (torch.distributed, gloo on CPU), in one run.

The claim (issue 28): data-parallel training costs little beyond its all-reduce, so two ranks with one
thread each train about as many clips per second as one process with two threads (`ddp_sps / single_sps`
>= 0.85 on this 2-core machine), and end with the same parameters (`max_rel_diff`: the largest relative
difference, per tensor, of the last checkpoint's head and backbone; the tests bound it by 1e-4).

Both sides run `soccerspot finetune` (end-to-end recipe, `--freeze-bn`, fp32, dropout 0, no validation) on a
rendered synthetic season, the frame caches filled once beforehand: the single side with OMP_NUM_THREADS =
2 x threads, the ranks with `--nproc 2` and OMP_NUM_THREADS = threads each. Samples per second come from the
runs' own `metrics.jsonl`: training clips over training seconds of the epochs after the first (process
start-up, the rendezvous and the first epoch's warm-up are left out). Sides alternate for `--rounds`;
each side's figure is its median. On a machine with GPUs, `--device cuda --nproc N` compares 1 GPU with N.

    python scripts/bench_distributed.py [--backbone resnet18] [--input-size 112] [--batch-size 8]
                                        [--epochs 3] [--max-batches 6] [--rounds 1] [--threads 1]
                                        [--nproc 2] [--device cpu] [--work .bench/distributed]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

GAMES = ["league/season/train-a", "league/season/train-b"]


def render(root: Path) -> None:
    from soccerspot.data.synthetic.broadcast import BroadcastConfig, plan_game, render_games

    if (root / "train.txt").is_file():
        return
    config = BroadcastConfig(width=320, height=180, fps=25.0, duration_s=90.0)
    render_games([plan_game(root / game, seed=i + 1, config=config, url=game) for i, game in enumerate(GAMES)],
                 config)
    (root / "train.txt").write_text("\n".join(GAMES) + "\n")


def finetune_args(args: argparse.Namespace, videos: Path, out: Path, epochs: int) -> list[str]:
    return ["finetune", "--videos", str(videos), "--train-split", str(videos / "train.txt"), "--valid-split", "none",
            "--out", str(out), "--cache-dir", str(args.work / "cache"), "--backbone", args.backbone, "--weights",
            "none", "--input-size", str(args.input_size), "--window-seconds", "4", "--batch-size",
            str(args.batch_size), "--projection-dim", "32", "--clusters", "8", "--precision", "fp32", "--dropout",
            "0", "--freeze-bn", "--epochs", str(epochs), "--max-batches", str(args.max_batches), "--no-progress",
            "--device", args.device]


def run_side(args: argparse.Namespace, videos: Path, out: Path, nproc: int) -> float:
    """Samples per second of one run (epochs after the first)."""
    shutil.rmtree(out, ignore_errors=True)
    threads = args.threads * (args.nproc if nproc == 1 else 1)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "soccerspot", *finetune_args(args, videos, out, args.epochs)]
    if nproc > 1:
        command += ["--nproc", str(nproc)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench_distributed: the {nproc}-process run failed: {done.stderr.strip().splitlines()[-1:]}")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][1:]
    return sum(r["train_windows"] for r in records) / sum(r["epoch_s"] for r in records)


def max_relative_difference(a: Path, b: Path) -> float:
    import torch

    worst = 0.0
    for name in ("model.pt", "backbone.pt"):
        left = torch.load(a / "last" / name, weights_only=True)
        right = torch.load(b / "last" / name, weights_only=True)
        for key, tensor in left.items():
            if tensor.is_floating_point() and tensor.numel():
                scale = tensor.double().norm().clamp(min=1e-12)
                worst = max(worst, float((tensor.double() - right[key].double()).norm() / scale))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--input-size", type=int, default=112)
    parser.add_argument("--batch-size", type=int, default=8, help="the global batch (clips)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not timed)")
    parser.add_argument("--max-batches", type=int, default=6, help="batches per epoch")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="threads per rank (the single side: x nproc)")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", type=Path, default=Path(".bench/distributed"))
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch is not timed)")
    videos = args.work / "videos"
    render(videos)
    # fill the frame caches once, untimed
    shutil.rmtree(args.work / "warm", ignore_errors=True)
    warm = subprocess.run([sys.executable, "-m", "soccerspot", *finetune_args(args, videos, args.work / "warm", 1),
                           "--max-batches", "1"], capture_output=True, text=True)
    if warm.returncode != 0:
        sys.exit(f"bench_distributed: filling the frame caches failed: {warm.stderr.strip().splitlines()[-1:]}")
    single, ranks = [], []
    for _ in range(args.rounds):
        single.append(run_side(args, videos, args.work / "single", 1))
        ranks.append(run_side(args, videos, args.work / "ranks", args.nproc))
    single_sps, ddp_sps = statistics.median(single), statistics.median(ranks)
    print(f"1 process x {args.threads * args.nproc} threads: {single_sps:.2f} clips/s; {args.nproc} ranks x "
          f"{args.threads} thread(s): {ddp_sps:.2f} clips/s", file=sys.stderr)
    print(json.dumps({"single_sps": round(single_sps, 3), "ddp_sps": round(ddp_sps, 3),
                      "ratio": round(ddp_sps / single_sps, 3),
                      "max_rel_diff": max_relative_difference(args.work / "single", args.work / "ranks"),
                      "nproc": args.nproc, "threads_per_rank": args.threads, "device": args.device,
                      "backbone": args.backbone, "input_size": args.input_size, "batch_size": args.batch_size,
                      "epochs_timed": args.epochs - 1, "batches_per_epoch": args.max_batches,
                      "single_rounds": single, "ddp_rounds": ranks}))


if __name__ == "__main__":
    main()
