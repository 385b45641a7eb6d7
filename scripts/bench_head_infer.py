"""Whole-half inference of a NetVLAD++ head: fast path (window sums of per-frame terms) vs evaluating every window, same run.

Setting of the NetVLAD++ paper (Giancola & Ghanem, CVPR-W 2021): 2048-d features, learned projection to
512, K = 64 clusters (32 past + 32 future), T = 15 s at 2 fps (30 frames), 17 classes. Input: a 45-minute
half (5400 x 2048 random features). The per-window path is how the peers infer (the model once per frame,
batches of 256 windows).

Last line: JSON with fast_s, per_window_s, speedup, max_abs_diff, game_s (both halves, fast path), first_s
(the fast path's first half in the process, before glibc's heap has grown to its buffers).

    .venv/bin/python scripts/bench_head_infer.py [--frames 5400] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time


import numpy as np
import torch

from soccerspot.models.heads import create_head, head_config
from soccerspot.pipeline.inference.scores import window_probabilities


def fast_probabilities(model, features, window_frames):
    """The head's own whole-half path (window sums), as `soccerspot spot` runs it."""
    return window_probabilities(model, features, window_frames, method="fast")


def per_window_probabilities(model, features, window_frames):
    """Every window evaluated separately, 256 a batch (the peers' way)."""
    return window_probabilities(model, features, window_frames, method="per-window")


def timed(function) -> tuple[float, object]:
    begin = time.perf_counter()
    result = function()
    return time.perf_counter() - begin, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5400, help="rows per half (45 min at 2 fps)")
    parser.add_argument("--repeats", type=int, default=3, help="fast-path repeats (median reported)")
    parser.add_argument("--per-window-repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default). On a shared, overloaded machine OpenMP "
                             "regions wait for descheduled threads: --threads 1 measures the work, not the queue")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = head_config("netvlad++", input_dim=2048, num_classes=17, window_frames=30)  # the paper's K=64, 512-d
    model = create_head(config).eval()
    with torch.no_grad():  # a trained head's fc is far from zero: make the outputs sensitive to the pooling
        model.fc.weight.mul_(50.0)
    rng = np.random.default_rng(0)
    halves = [rng.standard_normal((args.frames, 2048), dtype=np.float32) for _ in range(2)]

    # warm-up: the first whole half also grows glibc's heap to the fast path's buffers (its mmap threshold
    # adapts to freed blocks), which every later half of a `spot` run reuses; reported as first_s
    first_s, _ = timed(lambda: fast_probabilities(model, halves[1], config.window_frames))
    fast_times, fast = [], None
    for _ in range(args.repeats):
        seconds, fast = timed(lambda: fast_probabilities(model, halves[0], config.window_frames))
        fast_times.append(seconds)
    window_times, reference = [], None
    for _ in range(args.per_window_repeats):
        seconds, reference = timed(lambda: per_window_probabilities(model, halves[0], config.window_frames))
        window_times.append(seconds)
    game_times = []
    for _ in range(args.repeats):
        seconds, _ = timed(lambda: [fast_probabilities(model, half, config.window_frames) for half in halves])
        game_times.append(seconds)

    fast_s = statistics.median(fast_times)
    per_window_s = statistics.median(window_times)
    result = {
        "frames": args.frames,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "fast_s": round(fast_s, 4),
        "per_window_s": round(per_window_s, 4),
        "speedup": round(per_window_s / fast_s, 2),
        "max_abs_diff": float(np.abs(fast - reference).max()),
        "score_range": [float(reference.min()), float(reference.max())],
        "game_s": round(statistics.median(game_times), 4),
        "first_s": round(first_s, 4),
    }
    print(f"fast path {fast_s:.3f} s, per-window {per_window_s:.3f} s, speedup {result['speedup']}x, "
          f"max |diff| {result['max_abs_diff']:.2e}, both halves {result['game_s']:.3f} s, first half of the run {first_s:.3f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
