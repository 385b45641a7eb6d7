"""Does fine-tuning the last stage give better features? Frozen vs fine-tuned backbone, same head recipe.

On a synthetic season (`data.synthetic`, the demo's broadcasts), with a small backbone from random
initialisation (no pretrained weights can be downloaded here):

- frozen: features of the random backbone -> NetVLAD++ trained on the training games -> spot the held-out
  games -> loose and tight Average-mAP over the season's classes;
- fine-tuned: `pipeline.training.finetune.finetune` (last stage + NetVLAD++ on clips of the training games' videos)
  -> the exported `backbone.pt` re-extracts every game (`Extractor(weights=backbone.pt)`) -> the SAME
  head recipe as the frozen side on those features -> the same held-out scoring.
- `--recipe snippets`: the fine-tuning stage is the snippet recipe instead (`pipeline.training.snippets`: the
  backbone's last stage as an 18-way classifier of `--snippet-seconds` snippets of the training games,
  Adam `--lr`, `--clips` snippets a batch); the rest (extraction with the exported weights, the head recipe,
  the scoring) is the same.

Each seed changes the fine-tuning and head-training seeds (the random backbone itself is the same seeded
initialisation on both sides). The season and the frozen features are made once and kept in `--work`.
Last line: one JSON object (means over seeds, and each seed's figures).

    python scripts/bench_finetune_gain.py [--seeds 2] [--train-games 4] [--test-games 2]
        [--half-seconds 120] [--backbone timm:regnety_002] [--finetune-epochs 8] [--head-epochs 60]
        [--recipe end-to-end|snippets] [--snippet-seconds 5] [--work DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from soccerspot.data.games import HALVES
from soccerspot.data.synthetic.broadcast import VIDEO_NAME
from soccerspot.pipeline.demo import DemoConfig, evaluate_season, generate_season, spot_games, train_head


def extract(season: Path, games: list[str], backbone: str, weights: str, name: str, args) -> None:
    from soccerspot.extract.extractor import ExtractConfig, Extractor

    extractor = Extractor(ExtractConfig(backbone=backbone, weights=weights, fps=2.0, transform=args.transform,
                                        input_size=args.input_size, precision="fp32", batch_size=32, device="cpu",
                                        feature_name=name, progress=False))
    for game in games:
        for half in HALVES:
            extractor.extract(season / game / VIDEO_NAME.format(half=half), season / game, half)


def head_scores(season: Path, name: str, train_games: list[str], test_games: list[str], work: Path,
                demo: DemoConfig) -> dict:
    run = work / "head"
    checkpoint = train_head(season, name, train_games, run, demo, progress=False)
    spot_games(checkpoint, season, name, test_games, work / "predictions")
    scored = evaluate_season(season, work / "predictions", test_games)
    return {"loose": scored["loose"]["a_mAP"], "tight": scored["tight"]["a_mAP"],
            "tight_per_class": scored["tight"]["per_class"]}


def fine_tune(season: Path, train_games: list[str], run: Path, seed: int, args) -> Path:
    from soccerspot.pipeline.training.presets import get_preset
    from soccerspot.pipeline.training.finetune import FineTuneSettings, finetune, load_finetune_data

    preset = get_preset("rmsnet-finetune")
    config = dataclasses.replace(
        preset, window_seconds=args.window_seconds, batch_size=args.clips, optimizer="adam",
        lr=args.lr, weight_decay=0.0, scheduler="none", max_epochs=args.finetune_epochs, eval_every=0,
        head_options={**preset.head_options, "projection_dim": 128, "clusters": 16}, nms_window=20.0,
        precision="auto", seed=seed)
    settings = FineTuneSettings(backbone=args.backbone, weights="none", trainable_stages=args.trainable_stages,
                                transform=args.transform, input_size=args.input_size)
    data = load_finetune_data(config, settings, season, season, train_games, [], run.parent / "frame-cache",
                              progress=False)
    finetune(config, settings, data, run, progress=False)
    return run / "last" / "backbone.pt"


def fine_tune_snippets(season: Path, train_games: list[str], run: Path, seed: int, args) -> Path:
    from soccerspot.pipeline.training.presets import get_preset
    from soccerspot.pipeline.training.finetune import FineTuneSettings
    from soccerspot.pipeline.training.snippets import SnippetSettings, load_snippet_data, run_snippets

    config = dataclasses.replace(get_preset("rmsnet-finetune"), batch_size=args.clips, optimizer="adam", lr=args.lr,
                                 weight_decay=0.0, scheduler="none", max_epochs=args.finetune_epochs, precision="auto", seed=seed)
    settings = FineTuneSettings(backbone=args.backbone, weights="none", trainable_stages=args.trainable_stages,
                                transform=args.transform, input_size=args.input_size)
    data = load_snippet_data(config, settings, season, season, train_games, [], run.parent / "frame-cache",
                             progress=False)
    run_snippets(config, settings, SnippetSettings(args.snippet_seconds), data, run, progress=False)
    return run / "last" / "backbone.pt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--train-games", type=int, default=4)
    parser.add_argument("--test-games", type=int, default=2)
    parser.add_argument("--half-seconds", type=float, default=120.0)
    parser.add_argument("--backbone", default="timm:regnety_002")
    parser.add_argument("--trainable-stages", type=int, default=1)
    parser.add_argument("--transform", default="short-side")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--finetune-epochs", type=int, default=8)
    parser.add_argument("--window-seconds", type=float, default=10.0)
    parser.add_argument("--clips", type=int, default=8, help="clips per fine-tuning batch")
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tuning lr (Adam)")
    parser.add_argument("--head-epochs", type=int, default=60)
    parser.add_argument("--recipe", choices=("end-to-end", "snippets"), default="end-to-end",
                        help="the fine-tuning stage: end-to-end (last stage + NetVLAD++ on clips) or snippets")
    parser.add_argument("--snippet-seconds", type=float, default=5.0, help="snippet recipe: seconds per snippet")
    parser.add_argument("--work", type=Path, default=None, help="keep the season and runs here (default: a temp folder)")
    args = parser.parse_args()
    began = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_finetune_gain_"))
    season = work / "season"
    demo = DemoConfig(train_games=args.train_games, test_games=args.test_games, half_seconds=args.half_seconds,
                      epochs=args.head_epochs, workers=2)
    train_games, test_games = generate_season(season, demo, progress=False)
    games = train_games + test_games
    print(f"season: {len(train_games)} training + {len(test_games)} held-out games of 2 x {args.half_seconds:g} s "
          f"in {season}", file=sys.stderr)
    extract(season, games, args.backbone, "none", "frozen", args)
    per_seed = []
    for seed in range(args.seeds):
        head_demo = dataclasses.replace(demo, seed=seed)
        frozen = head_scores(season, "frozen", train_games, test_games, work / f"frozen-{seed}", head_demo)
        tune = fine_tune_snippets if args.recipe == "snippets" else fine_tune
        backbone = tune(season, train_games, work / f"{args.recipe}-{seed}", seed, args)
        name = f"finetuned{seed}"
        extract(season, games, args.backbone, str(backbone), name, args)
        tuned = head_scores(season, name, train_games, test_games, work / f"tuned-{seed}", head_demo)
        per_seed.append({"seed": seed, "frozen": frozen, "finetuned": tuned})
        print(f"seed {seed}: frozen loose {frozen['loose']:.3f} tight {frozen['tight']:.3f} | fine-tuned loose "
              f"{tuned['loose']:.3f} tight {tuned['tight']:.3f}", file=sys.stderr)
    mean = lambda side, metric: statistics.mean(s[side][metric] for s in per_seed)  # noqa: E731
    result = {
        "frozen_amap": round(mean("frozen", "loose"), 4), "finetuned_amap": round(mean("finetuned", "loose"), 4),
        "frozen_tight": round(mean("frozen", "tight"), 4), "finetuned_tight": round(mean("finetuned", "tight"), 4),
    }
    result["gain"] = round(result["finetuned_amap"] - result["frozen_amap"], 4)
    result["gain_tight"] = round(result["finetuned_tight"] - result["frozen_tight"], 4)
    result.update(seeds=args.seeds, minutes=round((time.perf_counter() - began) / 60, 2), backbone=args.backbone,
                  trainable_stages=args.trainable_stages, recipe=args.recipe,
                  **({"snippet_seconds": args.snippet_seconds} if args.recipe == "snippets" else {}), per_seed=per_seed)
    print(f"fine-tuned vs frozen: loose {result['finetuned_amap']:.3f} vs {result['frozen_amap']:.3f} "
          f"(gain {result['gain']:+.3f}), tight {result['finetuned_tight']:.3f} vs {result['frozen_tight']:.3f} "
          f"(gain {result['gain_tight']:+.3f})")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
