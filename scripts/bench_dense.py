"""A dense frame model (E2E-Spot) trained from frames against the best feature head, on one synthetic season.

The season is `soccerspot demo`'s (`pipeline.demo.generate_season`: 398x224 H.264 broadcasts of ten SoccerNet
classes). Both sides use the same training and held-out games and the same seeds:

- dense: `pipeline.training.dense` (what `soccerspot train-dense` runs) on frame caches of E2E-Spot's
  SoccerNet-v2 frame rule (every int(fps / 2)-th frame) at this script's size (default 224x128, where theirs is
  398x224: a bench recipe, `bench-e2e-soccernetv2`, so that two seeds train in the time), the `e2e-spot-paper`
  recipe (rny002_gsm + GRU, AdamW, mixup, foreground weight 5, warm-up chained with a cosine) with this script's
  epochs, warm-up, clips and batch (below), the last checkpoint, then `spot`'s dense chain on each held-out
  game's videos (`pipeline.inference.dense_spot`);
- baselines: the best feature heads of `scripts/bench_heads.py` on the demo's features (`timm:regnety_002`
  random weights at 2 fps), each with the settings it was measured with there and spotted as it does: RMS-Net
  (the demo's recipe, 400 epochs: tight 0.977 there, the best) by default, CALF (`calf-short`, 200 epochs:
  tight 0.847) with `--baselines calf,rmsnet`, both with NMS over 10 s, one torch thread (`--baseline-epochs` overrides
  their epochs, for a quick check); `baseline_tight` /
  `baseline_loose` are the best of them by tight;
- Average-mAP, tight and loose, over the season's classes (`pipeline.demo.evaluate_season`), mean over seeds;
- `infer_ratio`: model frames a second of the whole chain on the first held-out half (raw video -> decode
  thread -> clips -> spots -> results_spotting.json) over the same model's inference on those frames already
  in memory (`pipeline.inference.dense_half.half_probabilities`), measured with the first seed's model, the best
  of `--infer-repeats` alternated runs of each.

Last line: one JSON object with `tight`, `loose`, `baseline_tight`, `baseline_loose`, `infer_ratio`,
`seeds`, `minutes` and the settings.

    python scripts/bench_dense.py [--seeds 2] [--train-games 4] [--test-games 2] [--half-seconds 180]
        [--epochs 12] [--warmup-epochs 1] [--width 224] [--height 128] [--clip-len 25] [--epoch-frames 3000]
        [--batch-size 4] [--baselines rmsnet] [--work DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


# The feature heads compared with (data): head -> (epochs, NMS window s), as `bench_heads.py` measured them
# (README "Heads at tight tolerances", `--epochs 400 --nms-window 10`: CALF's calf-short fixes 200 epochs).
BASELINES: dict[str, tuple[int, float]] = {"calf": (200, 10.0), "rmsnet": (400, 10.0)}


@contextlib.contextmanager
def torch_threads(count: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def frames_in_memory(cache, size: int = 16):
    frames, times = np.array(cache.array), np.asarray(cache.meta.timestamps, dtype=np.float64)
    for start in range(0, len(frames), size):
        yield types.SimpleNamespace(frames=frames[start:start + size], times=times[start:start + size])


def register_bench_recipe(width: int, height: int):
    """`bench-e2e-soccernetv2`: E2E-Spot's SoccerNet-v2 frame rule at `width` x `height`, registered in this
    process with its peer's inference (a model trained here loads only where it is registered)."""
    from soccerspot.extract.frame_recipes import FRAME_RECIPES
    from soccerspot.pipeline.inference.dense_models import PEER_INFERENCE

    base = FRAME_RECIPES["e2e-soccernetv2"]
    recipe = dataclasses.replace(base, name="bench-e2e-soccernetv2", width=width, height=height,
                                 source="bench_dense.py: E2E-Spot's SoccerNet-v2 frame rule at this script's size")
    FRAME_RECIPES[recipe.name] = recipe
    PEER_INFERENCE[("E2E-Spot", recipe.name)] = PEER_INFERENCE[("E2E-Spot", base.name)]
    return recipe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--train-games", type=int, default=4)
    parser.add_argument("--test-games", type=int, default=2)
    parser.add_argument("--half-seconds", type=float, default=180.0)
    parser.add_argument("--epochs", type=int, default=12, help="dense epochs")
    parser.add_argument("--warmup-epochs", type=int, default=1, help="of them, the linear warm-up (E2E-Spot: 3 of 50)")
    parser.add_argument("--width", type=int, default=224, help="frame size the model reads (E2E-Spot: 398x224)")
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--clip-len", type=int, default=25)
    parser.add_argument("--epoch-frames", type=int, default=3000, help="frames an epoch (clips = this // clip-len)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--baselines", default="rmsnet",
                        help="feature heads to compare with, from BASELINES (comma-separated; empty: none)")
    parser.add_argument("--baseline-epochs", type=int, default=None, help="override the baselines' epochs")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--infer-repeats", type=int, default=3, help="alternated timings of each side (the best)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="keep the season here (default: a temp folder)")
    args = parser.parse_args()
    unknown = [head for head in args.baselines.split(",") if head and head not in BASELINES]
    if unknown:
        parser.error(f"--baselines: unknown {', '.join(unknown)} (known: {', '.join(BASELINES)})")

    import torch

    from bench_heads import HEAD_SETTINGS, head_recipe, train_bench_head
    from soccerspot.data.games import half_videos
    from soccerspot.extract.precision import resolve_precision
    from soccerspot.pipeline.demo import DemoConfig, evaluate_season, extract_season, generate_season, spot_games
    from soccerspot.pipeline.inference.dense_half import half_probabilities
    from soccerspot.pipeline.inference.dense_models import load_dense_spotter
    from soccerspot.pipeline.inference.dense_spot import spot_dense_video
    from soccerspot.pipeline.training.dense import DenseSettings, load_dense_data, run_dense
    from soccerspot.pipeline.training.presets import get_dense_preset
    from soccerspot.pipeline.training.run_folder import LAST

    torch.set_num_threads(args.threads)
    began_all = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_dense_train_"))
    season = work / "season"
    demo = DemoConfig(train_games=args.train_games, test_games=args.test_games, half_seconds=args.half_seconds,
                      workers=2)
    train_games, test_games = generate_season(season, demo, progress=False)
    precision = resolve_precision(args.precision, torch.device("cpu"))

    recipe = register_bench_recipe(args.width, args.height)
    settings = DenseSettings(epoch_frames=args.epoch_frames, frame_recipe=recipe.name)
    preset = get_dense_preset("e2e-spot-paper")
    warmup = args.warmup_epochs
    dense_runs, infer = [], {}
    for seed in range(args.seeds):
        config = dataclasses.replace(
            preset, preset="bench-e2e-spot", max_epochs=args.epochs, warmup_epochs=warmup, batch_size=args.batch_size,
            lr=args.lr, head_options={**preset.head_options, "clip_len": args.clip_len}, select_on="valid_loss",
            eval_every=0, precision=precision, seed=seed)
        data = load_dense_data(config, settings, season, season, train_games, [], work / "frame-cache", progress=False)
        folder = work / "runs" / f"dense-{seed}"
        shutil.rmtree(folder, ignore_errors=True)
        began = time.perf_counter()
        run_dense(config, settings, data, folder / "model", progress=False)
        seconds = time.perf_counter() - began
        spotter = load_dense_spotter(folder / "model" / LAST)
        for game in test_games:
            spot_dense_video(season / game, spotter, out_dir=folder / "predictions" / game, overwrite=True,
                             precision=precision, progress=False)
        scored = evaluate_season(season, folder / "predictions", test_games)
        dense_runs.append({"loose": scored["loose"]["a_mAP"], "tight": scored["tight"]["a_mAP"], "train_s": seconds})
        print(f"dense seed {seed}: loose {dense_runs[-1]['loose']:.3f} tight {dense_runs[-1]['tight']:.3f} "
              f"({seconds:.0f} s)", file=sys.stderr)
        if seed == 0:  # the chain against the model on the same frames in memory
            video = half_videos(season / test_games[0])[1]
            test = load_dense_data(config, settings, season, season, [test_games[0]], [], work / "frame-cache",
                                   progress=False)
            cache = test.train[0].cache
            options = dict(clip_len=spotter.model.clip_len, rule=spotter.rule, spec=spotter.model.input_spec,
                           precision=precision)
            model_s, chain_s = math.inf, math.inf
            for _ in range(args.infer_repeats):  # alternated, the best of each: first calls pay one-off set-up
                start = time.perf_counter()
                half_probabilities(spotter.model, frames_in_memory(cache), **options)
                model_s = min(model_s, time.perf_counter() - start)
                start = time.perf_counter()
                spot_dense_video(video, spotter, out_dir=work / "chain", overwrite=True, precision=precision,
                                 progress=False)
                chain_s = min(chain_s, time.perf_counter() - start)
            frames = int(cache.array.shape[0])
            infer = {"frames": frames, "model_fps": round(frames / model_s, 2), "chain_fps": round(frames / chain_s, 2),
                     "infer_ratio": round(model_s / chain_s, 3)}

    baselines: dict[str, list[dict]] = {}
    heads = [head for head in args.baselines.split(",") if head]
    if heads:
        name, _ = extract_season(season, train_games + test_games, demo, progress=False)
    for head in heads:
        epochs, nms_window = BASELINES[head]
        epochs = args.baseline_epochs or epochs
        baselines[head] = []
        for seed in range(args.seeds):
            config = dataclasses.replace(demo, head=head, seed=seed, epochs=epochs, nms_window=nms_window)
            recipe = head_recipe(config, {**HEAD_SETTINGS.get(head, {}), "max_epochs": epochs})
            folder = work / "runs" / f"{head}-{seed}"
            shutil.rmtree(folder, ignore_errors=True)
            began = time.perf_counter()
            with torch_threads(1):  # bench_heads' setting (more threads thrash on 2 shared cores)
                checkpoint = train_bench_head(season, name, train_games, folder / "model", recipe)
            seconds = time.perf_counter() - began
            spot_games(checkpoint, season, name, test_games, folder / "predictions")
            scored = evaluate_season(season, folder / "predictions", test_games)
            baselines[head].append({"loose": scored["loose"]["a_mAP"], "tight": scored["tight"]["a_mAP"],
                                    "train_s": round(seconds, 1)})
            print(f"{head} seed {seed}: loose {baselines[head][-1]['loose']:.3f} "
                  f"tight {baselines[head][-1]['tight']:.3f} ({seconds:.0f} s)", file=sys.stderr)

    def mean(runs: list[dict], key: str):
        return round(statistics.mean(r[key] for r in runs), 4) if runs else None

    best = max(baselines, key=lambda head: mean(baselines[head], "tight"), default=None)
    baseline = baselines[best] if best else []

    print(json.dumps({
        "tight": mean(dense_runs, "tight"), "loose": mean(dense_runs, "loose"),
        "baseline_tight": mean(baseline, "tight"), "baseline_loose": mean(baseline, "loose"), "baseline_head": best,
        "infer_ratio": infer.get("infer_ratio"), "seeds": args.seeds,
        "minutes": round((time.perf_counter() - began_all) / 60, 2),
        "dense_runs": dense_runs, "baseline_runs": baselines, "inference": infer,
        "baselines": {head: {"tight": mean(runs, "tight"), "loose": mean(runs, "loose"),
                             "epochs": args.baseline_epochs or BASELINES[head][0],
                             "nms_window": BASELINES[head][1]} for head, runs in baselines.items()},
        "settings": {"train_games": args.train_games, "test_games": args.test_games, "half_seconds": args.half_seconds,
                     "epochs": args.epochs, "warmup_epochs": warmup,
                     "frame_size": [args.width, args.height], "clip_len": args.clip_len,
                     "epoch_frames": args.epoch_frames, "batch_size": args.batch_size, "lr": args.lr,
                     "baselines": heads, "precision": precision, "threads": args.threads},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
