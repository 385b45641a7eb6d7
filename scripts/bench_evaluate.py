"""Our Average-mAP against the official `SoccerNet` evaluator on the 100 real test games, same run.

Both read the same folders (labels of the test split, the official NetVLAD baseline's predictions) and
score loose then tight; times cover the whole call, file reading included. The last line is one JSON
object: ours_s, official_s, speedup, max_abs_diff (over every field of both metrics), and the scores.

    .venv/bin/python scripts/bench_evaluate.py [--data ../shared/data/soccernet] [--repeat 3]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np


from soccerspot.data.shared_data import soccernet_root
from soccerspot.pipeline.evaluation.average_map import RESULT_KEYS, evaluate_folders

METRICS = ("loose", "tight")


def max_abs_diff(ours: dict, official: dict) -> float:
    worst = 0.0
    for key in RESULT_KEYS:
        a, b = np.asarray(ours[key], dtype=np.float64), np.asarray(official[key], dtype=np.float64)
        if a.shape != b.shape:
            return float("inf")
        worst = max(worst, float(np.max(np.abs(a - b))))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=soccernet_root(), help="folder holding labels/ and predictions/")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours per metric (the median is kept)")
    args = parser.parse_args()
    labels, predictions = args.data / "labels", args.data / "predictions" / "netvlad_v2_test"
    if not labels.is_dir() or not predictions.is_dir():
        sys.exit(f"real data not found: need {labels} and {predictions} (set SOCCERSPOT_SHARED_DATA)")
    from SoccerNet.Evaluation.ActionSpotting import evaluate

    ours_s, official_s, diffs, scores = 0.0, 0.0, [], {}
    for metric in METRICS:
        times = []
        for _ in range(max(1, args.repeat)):
            start = time.perf_counter()
            ours = evaluate_folders(labels, predictions, "test", metric, progress=False)
            times.append(time.perf_counter() - start)
        ours_s += float(np.median(times))
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):  # the official prints a tqdm bar per delta
            official = evaluate(str(labels), str(predictions), split="test", metric=metric)
        elapsed = time.perf_counter() - start
        official_s += elapsed
        diffs.append(max_abs_diff(ours, official))
        scores[f"{metric}_ours"] = round(ours["a_mAP"], 6)
        scores[f"{metric}_official"] = round(float(official["a_mAP"]), 6)
        print(f"{metric}: ours {np.median(times):.3f} s (median of {len(times)}), official {elapsed:.2f} s, "
              f"a_mAP {ours['a_mAP']:.5f} vs {official['a_mAP']:.5f}, max |diff| {diffs[-1]:.3g}")
    print(json.dumps({"ours_s": round(ours_s, 4), "official_s": round(official_s, 3),
                      "speedup": round(official_s / ours_s, 1), "max_abs_diff": max(diffs), **scores}))


if __name__ == "__main__":
    main()
