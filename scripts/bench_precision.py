"""How far do spots move when features are computed at bf16 instead of fp32?

`soccerspot spot` treats the extraction precision as not part of a feature's identity: a head trained on
fp32 features spots bf16 (or fp16) features, and the reverse, with a warning. This measures what that
costs, both sides in one run: one synthetic season (`soccerspot.pipeline.demo`'s functions) is rendered
once, its features extracted twice from the same frames (fp32, and bf16 autocast: native on CPUs with
AVX-512-BF16/AMX, emulated and slow elsewhere), a NetVLAD++ head trained on each, and each head spots the
held-out games from both feature sets.

Reported, per head: max / mean absolute difference of the per-frame class probabilities between the two
feature sets (held-out halves, every class, every frame), the features' relative L2 difference, and
the held-out Average-mAP (loose, tight) from each feature set. For scale, the same differences between
the two heads on the same features (two trainings that only saw different precisions).

Usage: python scripts/bench_precision.py [--work DIR] [--seed 0] [--train-games 4] [--test-games 2]
       [--half-seconds 180] [--epochs 100]
The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from soccerspot.data.features import load_features
from soccerspot.data.synthetic.broadcast import VIDEO_NAME
from soccerspot.pipeline.demo import (
    HALVES,
    DemoConfig,
    evaluate_season,
    generate_season,
    prepare_out_dir,
    spot_games,
    train_head,
)

PRECISIONS = ("fp32", "bf16")


def extract(season: Path, games: list[str], config: DemoConfig, precision: str) -> str:
    """Every half's features at `precision`, under a feature name of their own; returns the name."""
    from soccerspot.extract.extractor import ExtractConfig, Extractor

    extractor = Extractor(ExtractConfig(
        backbone=config.backbone, weights=config.weights, fps=config.feature_fps, transform=config.transform,
        precision=precision, batch_size=config.extract_batch, device="cpu", progress=False,
        feature_name=f"{config.backbone.split(':')[-1]}_{precision}",
    ))
    for game in games:
        for half in HALVES:
            extractor.extract(season / game / VIDEO_NAME.format(half=half), season / game, half)
    return extractor.name


def probabilities(checkpoint: Path, season: Path, feature_name: str, games: list[str]) -> np.ndarray:
    """Per-frame class probabilities of every held-out half, stacked (frames, classes)."""
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint
    from soccerspot.pipeline.inference.scores import frame_scores

    head = load_checkpoint(checkpoint)
    rows = [frame_scores(head.model, load_features(season / game, half, feature_name).array, head.config.window_frames)
            for game in games for half in HALVES]
    return np.concatenate(rows)


def feature_difference(season: Path, games: list[str], names: dict[str, str]) -> float:
    """Relative L2 difference of the bf16 features from the fp32 ones, over all held-out rows."""
    numerator = denominator = 0.0
    for game in games:
        for half in HALVES:
            exact = np.asarray(load_features(season / game, half, names["fp32"]).array, dtype=np.float64)
            rounded = np.asarray(load_features(season / game, half, names["bf16"]).array, dtype=np.float64)
            numerator += float(np.square(rounded - exact).sum())
            denominator += float(np.square(exact).sum())
    return (numerator / denominator) ** 0.5


def difference(a: np.ndarray, b: np.ndarray) -> dict:
    delta = np.abs(a - b)
    return {"max_abs": float(delta.max()), "mean_abs": float(delta.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-games", type=int, default=4)
    parser.add_argument("--test-games", type=int, default=2)
    parser.add_argument("--half-seconds", type=float, default=180.0)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()

    from soccerspot.extract.precision import cpu_has_native_bf16

    config = dataclasses.replace(DemoConfig(), seed=args.seed, train_games=args.train_games, test_games=args.test_games,
                                 half_seconds=args.half_seconds, epochs=args.epochs, spot_video=False)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_precision_"))
    began = time.perf_counter()
    try:
        prepare_out_dir(work, config)
        season = work / "season"
        train_games, test_games = generate_season(season, config, progress=False)
        timings, names, checkpoints = {}, {}, {}
        for precision in PRECISIONS:
            started = time.perf_counter()
            names[precision] = extract(season, train_games + test_games, config, precision)
            timings[f"extract_{precision}"] = round(time.perf_counter() - started, 1)
        for precision in PRECISIONS:
            run_dir = work / f"model-{precision}"
            shutil.rmtree(run_dir, ignore_errors=True)
            started = time.perf_counter()
            checkpoints[precision] = train_head(season, names[precision], train_games, run_dir, config, progress=False)
            timings[f"train_{precision}"] = round(time.perf_counter() - started, 1)

        heads, probs = {}, {}
        for trained in PRECISIONS:
            per_features = {}
            for spotted in PRECISIONS:
                predictions = work / f"predictions-{trained}-on-{spotted}"
                spot_games(checkpoints[trained], season, names[spotted], test_games, predictions)
                scores = evaluate_season(season, predictions, test_games)
                per_features[spotted] = {"a_mAP_loose": scores["loose"]["a_mAP"], "a_mAP_tight": scores["tight"]["a_mAP"]}
                probs[trained, spotted] = probabilities(checkpoints[trained], season, names[spotted], test_games)
            other = "bf16" if trained == "fp32" else "fp32"
            heads[f"trained_{trained}"] = {
                "spotting": per_features,
                "probability_difference_fp32_vs_bf16_features": difference(probs[trained, "fp32"], probs[trained, "bf16"]),
                "a_mAP_loose_change": per_features[other]["a_mAP_loose"] - per_features[trained]["a_mAP_loose"],
                "a_mAP_tight_change": per_features[other]["a_mAP_tight"] - per_features[trained]["a_mAP_tight"],
            }
        result = {
            "cpu_native_bf16": cpu_has_native_bf16(),
            "backbone": config.backbone, "head": config.head,
            "train_games": len(train_games), "test_games": len(test_games), "half_seconds": config.half_seconds,
            "held_out_frames": int(probs["fp32", "fp32"].shape[0]), "classes": int(probs["fp32", "fp32"].shape[1]),
            "feature_relative_l2_bf16_vs_fp32": feature_difference(season, test_games, names),
            **heads,
            "probability_difference_between_heads_on_fp32_features": difference(probs["fp32", "fp32"], probs["bf16", "fp32"]),
            "timings_s": {**timings, "total": round(time.perf_counter() - began, 1)},
        }
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    print(f"bf16 vs fp32 features ({result['backbone']}, native bf16: {result['cpu_native_bf16']}): relative L2 "
          f"{result['feature_relative_l2_bf16_vs_fp32']:.4f}; {result['held_out_frames']} held-out frames x "
          f"{result['classes']} classes")
    for trained in PRECISIONS:
        head = result[f"trained_{trained}"]
        diff = head["probability_difference_fp32_vs_bf16_features"]
        spots = head["spotting"]
        print(f"head trained on {trained}: per-frame probabilities fp32 vs bf16 features max |d| {diff['max_abs']:.2e}, "
              f"mean |d| {diff['mean_abs']:.2e}; Average-mAP loose fp32 {spots['fp32']['a_mAP_loose']:.4f} / "
              f"bf16 {spots['bf16']['a_mAP_loose']:.4f}, tight fp32 {spots['fp32']['a_mAP_tight']:.4f} / "
              f"bf16 {spots['bf16']['a_mAP_tight']:.4f}")
    scale = result["probability_difference_between_heads_on_fp32_features"]
    print(f"for scale, fp32-trained vs bf16-trained head on the same fp32 features: max |d| {scale['max_abs']:.2e}, "
          f"mean |d| {scale['mean_abs']:.2e}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
