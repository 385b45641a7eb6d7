"""Does temporal awareness help? NetVLAD vs NetVLAD++ (and MaxPool vs MaxPool++) on synthetic broadcasts.

The synthetic generator (`data.synthetic`) builds classes whose lead-up is shared (Goal, Shots on target,
Shots off target: the same run at goal, different aftermaths) and classes whose aftermath is shared
(Penalty and Goal: the same celebration, different lead-ups), the situation the NetVLAD++ paper
(Giancola & Ghanem, CVPR-W 2021) argues a temporally-aware pooling handles better. For each seed, one
season is rendered and its features extracted once; every head is then trained with the same recipe
(`soccerspot.pipeline.demo.train_config`, only the pooling differs) and scored on the held-out games.

Usage: python scripts/bench_temporal_awareness.py [--seeds 0 1 2] [--work DIR] [--half-seconds 180]
Prints per seed and head the loose/tight Average-mAP and the per-class loose AP of the shared-lead-up and
shared-aftermath classes, then the means; the last line is one JSON object with `netvlad_amap`,
`netvladpp_amap`, `gain`, `seeds` (and the MaxPool pair, tight metric and per-class means).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from soccerspot.pipeline.demo import (
    DemoConfig,
    evaluate_season,
    extract_season,
    generate_season,
    prepare_out_dir,
    spot_games,
    train_head,
)

HEADS = ("netvlad", "netvlad++", "maxpool", "maxpool++")
SHARED_LEAD_UP = ("Goal", "Shots on target", "Shots off target")
SHARED_AFTERMATH = ("Penalty", "Goal")


def run_seed(seed: int, work: Path, base: DemoConfig) -> dict:
    config = dataclasses.replace(base, seed=seed, spot_video=False)
    out = work / f"seed-{seed}"
    prepare_out_dir(out, config)
    season = out / "season"
    started = time.perf_counter()
    train_games, test_games = generate_season(season, config, progress=False)
    feature_name, _ = extract_season(season, train_games + test_games, config, progress=False)
    prepared = time.perf_counter() - started
    results = {}
    for head in HEADS:
        head_config = dataclasses.replace(config, head=head)
        run_dir = out / f"model-{head.replace('+', 'p')}"
        shutil.rmtree(run_dir, ignore_errors=True)
        began = time.perf_counter()
        checkpoint = train_head(season, feature_name, train_games, run_dir, head_config, progress=False)
        predictions = out / f"predictions-{head.replace('+', 'p')}"
        shutil.rmtree(predictions, ignore_errors=True)
        spot_games(checkpoint, season, feature_name, test_games, predictions)
        scores = evaluate_season(season, predictions, test_games)
        results[head] = {"loose": scores["loose"]["a_mAP"], "tight": scores["tight"]["a_mAP"],
                         "per_class_loose": scores["loose"]["per_class"],
                         "per_class_tight": scores["tight"]["per_class"],
                         "train_s": round(time.perf_counter() - began, 1)}
        shared = ", ".join(f"{c} {scores['loose']['per_class'][c]:.2f}" for c in dict.fromkeys(SHARED_LEAD_UP + SHARED_AFTERMATH))
        print(f"seed {seed} {head:10s} loose {scores['loose']['a_mAP']:.3f} tight {scores['tight']['a_mAP']:.3f} "
              f"| {shared} | {results[head]['train_s']} s", flush=True)
    return {"seed": seed, "prepare_s": round(prepared, 1), "heads": results}


def mean(values: list[float]) -> float:
    return float(statistics.fmean(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one, removed)")
    parser.add_argument("--half-seconds", type=float, default=DemoConfig.half_seconds)
    parser.add_argument("--train-games", type=int, default=DemoConfig.train_games)
    parser.add_argument("--test-games", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=DemoConfig.epochs)
    args = parser.parse_args()
    base = DemoConfig(half_seconds=args.half_seconds, train_games=args.train_games, test_games=args.test_games,
                      epochs=args.epochs)
    temporary = args.work is None
    work = Path(tempfile.mkdtemp(prefix="bench_temporal_")) if temporary else args.work
    print(f"synthetic seasons: {base.train_games} training + {base.test_games} held-out games of 2 x "
          f"{base.half_seconds:.0f} s, features {base.backbone} (random weights), {base.epochs} epochs, "
          f"window {base.window_seconds} s; machine shared and noisy, timings indicative only", flush=True)
    try:
        runs = [run_seed(seed, work, base) for seed in args.seeds]
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)

    def head_mean(head: str, key: str) -> float:
        return mean([run["heads"][head][key] for run in runs])

    def class_mean(head: str, cls: str, metric: str = "loose") -> float:
        return mean([run["heads"][head][f"per_class_{metric}"][cls] for run in runs])

    summary = {}
    for head in HEADS:
        summary[head] = {"loose": head_mean(head, "loose"), "tight": head_mean(head, "tight"),
                         "shared_classes_loose": {c: class_mean(head, c) for c in dict.fromkeys(SHARED_LEAD_UP + SHARED_AFTERMATH)},
                         "shared_classes_tight": {c: class_mean(head, c, "tight") for c in dict.fromkeys(SHARED_LEAD_UP + SHARED_AFTERMATH)}}
        print(f"mean over seeds {head:10s} loose {summary[head]['loose']:.3f} tight {summary[head]['tight']:.3f} | "
              + ", ".join(f"{c} {v:.2f}" for c, v in summary[head]["shared_classes_loose"].items()))
    ratio = summary["netvlad++"]["loose"] / max(summary["netvlad"]["loose"], 1e-9)
    print(f"NetVLAD++ / NetVLAD loose Average-mAP ratio: {ratio:.3f}; "
          f"MaxPool++ / MaxPool: {summary['maxpool++']['loose'] / max(summary['maxpool']['loose'], 1e-9):.3f}")
    print(json.dumps({
        "netvlad_amap": round(summary["netvlad"]["loose"], 4),
        "netvladpp_amap": round(summary["netvlad++"]["loose"], 4),
        "gain": round(summary["netvlad++"]["loose"] - summary["netvlad"]["loose"], 4),
        "seeds": args.seeds,
        "metric": "loose",
        "netvlad_amap_tight": round(summary["netvlad"]["tight"], 4),
        "netvladpp_amap_tight": round(summary["netvlad++"]["tight"], 4),
        "maxpool_amap": round(summary["maxpool"]["loose"], 4),
        "maxpoolpp_amap": round(summary["maxpool++"]["loose"], 4),
        "maxpool_gain": round(summary["maxpool++"]["loose"] - summary["maxpool"]["loose"], 4),
        "shared_classes_loose": {head: {c: round(v, 4) for c, v in summary[head]["shared_classes_loose"].items()} for head in HEADS},
        "per_seed": {str(run["seed"]): {head: round(run["heads"][head]["loose"], 4) for head in HEADS} for run in runs},
    }))


if __name__ == "__main__":
    main()
