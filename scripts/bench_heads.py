"""Every spotting head on the same synthetic season and features: loose and tight Average-mAP.

The demo's season (`pipeline.demo`: rendered broadcasts, `timm:regnety_002` with random weights, 2 fps)
is made once in `--work`; then each head is trained with the demo's recipe (its preset, `--window-seconds`
windows, event-centred sampling, `--epochs` at constant lr) for each seed, spots the held-out games, and
is scored over the season's classes (loose, tight, per-class tight AP), with its training time.

Last line: one JSON object `{head: {"loose": .., "tight": .., "train_s": .., "tight_per_class": ..}, ...,
"best_tight_head": .., "best_tight": .., "seeds": ..}` (means over seeds).

    python scripts/bench_heads.py [--heads netvlad,netvlad++,maxpool++,transformer,rmsnet] [--seeds 2]
        [--train-games 4] [--test-games 2] [--half-seconds 180] [--epochs 100] [--nms-window 20] [--work DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from soccerspot.pipeline.demo import DemoConfig, evaluate_season, extract_season, generate_season, spot_games, train_head

DEFAULT_HEADS = "netvlad,netvlad++,maxpool++,transformer,rmsnet,calf"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heads", default=DEFAULT_HEADS, help="comma-separated; heads not registered are skipped")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--train-games", type=int, default=4)
    parser.add_argument("--test-games", type=int, default=2)
    parser.add_argument("--half-seconds", type=float, default=180.0)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--window-seconds", type=float, default=10.0)
    parser.add_argument("--nms-window", type=float, default=20.0)
    parser.add_argument("--work", type=Path, default=None, help="keep the season here (default: a temp folder)")
    args = parser.parse_args()
    from soccerspot.models.heads import head_kinds

    heads = [h for h in args.heads.split(",") if h in head_kinds()]
    skipped = [h for h in args.heads.split(",") if h not in head_kinds()]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_heads_"))
    season = work / "season"
    demo = DemoConfig(train_games=args.train_games, test_games=args.test_games, half_seconds=args.half_seconds,
                      epochs=args.epochs, window_seconds=args.window_seconds, nms_window=args.nms_window, workers=2)
    train_games, test_games = generate_season(season, demo, progress=False)
    name, _ = extract_season(season, train_games + test_games, demo, progress=False)
    results: dict[str, dict] = {}
    for head in heads:
        runs = []
        for seed in range(args.seeds):
            config = dataclasses.replace(demo, head=head, seed=seed)
            folder = work / "runs" / f"{head.replace('+', 'p')}-{seed}"
            shutil.rmtree(folder, ignore_errors=True)  # this benchmark's own runs of an earlier invocation
            began = time.perf_counter()
            checkpoint = train_head(season, name, train_games, folder / "model", config, progress=False)
            seconds = time.perf_counter() - began
            spot_games(checkpoint, season, name, test_games, folder / "predictions")
            scored = evaluate_season(season, folder / "predictions", test_games)
            runs.append({"loose": scored["loose"]["a_mAP"], "tight": scored["tight"]["a_mAP"], "train_s": seconds,
                         "tight_per_class": scored["tight"]["per_class"]})
            print(f"{head} seed {seed}: loose {runs[-1]['loose']:.3f} tight {runs[-1]['tight']:.3f} "
                  f"({seconds:.0f} s)", file=sys.stderr)
        classes = runs[0]["tight_per_class"]
        results[head] = {
            "loose": round(statistics.mean(r["loose"] for r in runs), 4),
            "tight": round(statistics.mean(r["tight"] for r in runs), 4),
            "train_s": round(statistics.mean(r["train_s"] for r in runs), 1),
            "tight_per_class": {c: round(statistics.mean(r["tight_per_class"][c] for r in runs), 3) for c in classes},
        }
    best = max(results, key=lambda h: results[h]["tight"])
    for head, figures in results.items():
        print(f"{head:12s} loose {figures['loose']:.3f} tight {figures['tight']:.3f} train {figures['train_s']:.0f} s")
    print(json.dumps({**results, "best_tight_head": best, "best_tight": results[best]["tight"], "seeds": args.seeds,
                      "skipped_heads": skipped, "nms_window": args.nms_window, "epochs": args.epochs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
