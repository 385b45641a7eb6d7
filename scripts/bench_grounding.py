"""Replay grounding on a synthetic season with replays: Baidu's transformer and the CALF-based baseline of
SoccerNet-v2 against the training-free similarity baseline, scored on held-out games with the
official-equal Average-AP (loose and tight).

1. The season (made here, once, in `--work`): broadcasts with replays (`data.synthetic.replays`; roomier
   open play than the spotting demo so replays fit), `Labels-v2.json` + `Labels-cameras.json`. Default:
   24 training and 6 held-out games (more training games were the lever that lifted the transformer on
   the exploration seasons; more held-out replays make the figure less noisy).
2. Features: `timm:regnety_002` with random seeded weights at 2 fps (as the demo).
3. For each seed: the transformer trained with the `baidu-grounding` preset (`--epochs` at constant lr,
   last checkpoint) through the one training loop, then each held-out game grounded
   (`pipeline.inference.grounding.ground_game`) and scored (`pipeline.evaluation.grounding.evaluate_grounding`);
   on the first `--calf-seeds` seeds the same for the CALF-based baseline (`calf-grounding` preset,
   `--calf-epochs`).
4. The similarity baseline (no training, no seed) on the same held-out replays, same filtering.

Last line: one JSON object {"loose", "tight" (transformer, mean over seeds), "calf_loose", "calf_tight"
(mean over its seeds), "baseline_loose", "baseline_tight", "seeds", "minutes", ...}; the transformer's
and the similarity baseline's figures without the runner-up demotion (`rank_decay` 1, ours) under
"*_no_rank_decay".

    python scripts/bench_grounding.py [--seeds 2] [--train-games 24] [--test-games 6] [--half-seconds 300]
        [--epochs 60] [--calf-epochs 20] [--calf-seeds 1] [--video-fps 10] [--keep-before 100]
        [--season-seed 9000] [--work DIR] [--threads 2]
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


def make_season(season: Path, args) -> tuple[list[str], list[str]]:
    from soccerspot.data.synthetic.broadcast import BroadcastConfig, TimelineConfig, game_is_complete, plan_game, render_games, season_game_names
    from soccerspot.data.synthetic.replays import ReplayConfig

    train = season_game_names(args.train_games, "train")
    test = season_game_names(args.test_games, "test")
    broadcast = BroadcastConfig(duration_s=args.half_seconds, fps=args.video_fps, replays=ReplayConfig())
    timeline = TimelineConfig(min_gap_s=8.0, max_gap_s=30.0)
    plans = [plan_game(season / game, args.season_seed + index, broadcast, timeline, url=f"synthetic/{game}")
             for index, game in enumerate(train + test) if not game_is_complete(season / game)]
    render_games(plans, broadcast, timeline, workers=args.threads, progress=True)
    return train, test


def game_replays(season: Path, games: list[str]) -> dict:
    from soccerspot.data.cameras import CAMERAS_FILE, read_camera_labels, replays_of

    return {game: replays_of(read_camera_labels(season / game / CAMERAS_FILE)) for game in games}


def score(season: Path, out: Path, games: list[str], replays: dict, options, feature_name: str, model=None) -> dict:
    from soccerspot.data.cameras import DETECTIONS_FILE, write_replay_detections
    from soccerspot.pipeline.inference.grounding import ground_game
    from soccerspot.pipeline.evaluation.grounding import evaluate_grounding

    for game in games:
        found = ground_game(season / game, feature_name, replays[game], options, model)
        write_replay_detections(out / game / DETECTIONS_FILE, found, game=game)
    return {metric: evaluate_grounding(season, out, games, metric)["a_AP"] for metric in ("loose", "tight")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--train-games", type=int, default=24)
    parser.add_argument("--test-games", type=int, default=6)
    parser.add_argument("--half-seconds", type=float, default=300.0)
    parser.add_argument("--video-fps", type=float, default=10.0)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--calf-epochs", type=int, default=20,
                        help="epochs of the CALF-based baseline (calf-grounding preset; 0 leaves it out)")
    parser.add_argument("--calf-seeds", type=int, default=1,
                        help="the CALF-based baseline is trained on the first N seeds only (its epochs cost ~10x the "
                             "transformer's)")
    parser.add_argument("--season-seed", type=int, default=9000,
                        help="games are drawn with seeds from this one (the preset's choices were explored on the "
                             "seasons of seeds 7000 and 8000: the default season's held-out games were never "
                             "looked at before the figures)")
    parser.add_argument("--keep-before", type=float, default=100.0, help="keep_before_s (report: 100)")
    parser.add_argument("--work", type=Path, default=None, help="folder kept between runs (default: a temp one)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from soccerspot.pipeline.training.presets import get_preset
    from soccerspot.pipeline.demo import DemoConfig, extract_season
    from soccerspot.pipeline.inference.grounding import GroundingOptions
    from soccerspot.pipeline.training.loop import LAST
    from soccerspot.pipeline.training.tasks.features import load_train_data, train
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint

    torch.set_num_threads(1)  # one thread trains fastest on a loaded machine; --threads renders halves
    started = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-grounding-"))
    season = work / "season"
    train_games, test_games = make_season(season, args)
    made = time.perf_counter()
    feature_name, _ = extract_season(season, train_games + test_games, DemoConfig(), progress=True)
    extracted = time.perf_counter()
    replays = game_replays(season, train_games + test_games)
    test_replays = [r for game in test_games for r in replays[game]]
    gaps = [r.start - r.link.position_ms / 1000 for r in test_replays]
    print(f"season: {sum(len(replays[g]) for g in train_games)} training replays, {len(test_replays)} held-out; "
          f"{sum(g <= args.keep_before for g in gaps)} held-out within {args.keep_before:g} s of their action",
          file=sys.stderr)

    options = dataclasses.replace(GroundingOptions(), keep_before_s=args.keep_before)

    def train_and_score(preset_name: str, epochs: int, seed: int, tag: str) -> dict:
        preset = get_preset(preset_name)
        recipe = dataclasses.replace(
            preset, preset=f"bench-{preset_name}", max_epochs=epochs, scheduler="none", eval_every=0,
            seed=seed, head_options={**preset.head_options, "keep_before_s": args.keep_before},
            source=f"{preset.source} | bench_grounding: {epochs} epochs at constant lr, last checkpoint")
        data = load_train_data(recipe, season, feature_name, train_games, [])
        t0 = time.perf_counter()
        shutil.rmtree(work / f"{tag}run-{seed}", ignore_errors=True)  # the bench's own folder: a rerun redoes it
        train(recipe, data, work / f"{tag}run-{seed}", progress=False, epoch_bar=True)
        train_s = time.perf_counter() - t0
        head = load_checkpoint(work / f"{tag}run-{seed}" / LAST)
        head_options = GroundingOptions.of_head(head.config)
        scores = score(season, work / f"{tag}predictions-{seed}", test_games, replays, head_options, feature_name,
                       head.model)
        plain = score(season, work / f"{tag}predictions-{seed}-no-rank-decay", test_games, replays,
                      dataclasses.replace(head_options, rank_decay=1.0), feature_name, head.model)
        return {**scores, "loose_no_rank_decay": plain["loose"], "tight_no_rank_decay": plain["tight"],
                "train_s": round(train_s, 1)}

    runs, calf_runs = [], []
    for seed in range(args.seeds):
        runs.append(train_and_score("baidu-grounding", args.epochs, seed, ""))
        print(f"seed {seed}: {runs[-1]}", file=sys.stderr)
        if args.calf_epochs and seed < args.calf_seeds:
            calf_runs.append(train_and_score("calf-grounding", args.calf_epochs, seed, "calf-"))
            print(f"calf seed {seed}: {calf_runs[-1]}", file=sys.stderr)
    baseline = score(season, work / "predictions-similarity", test_games, replays, options, feature_name)
    baseline_plain = score(season, work / "predictions-similarity-no-rank-decay", test_games, replays,
                           dataclasses.replace(options, rank_decay=1.0), feature_name)
    summary = {
        "loose": statistics.mean(r["loose"] for r in runs), "tight": statistics.mean(r["tight"] for r in runs),
        "baseline_loose": baseline["loose"], "baseline_tight": baseline["tight"], "seeds": args.seeds,
        "minutes": round((time.perf_counter() - started) / 60, 2),
        "loose_no_rank_decay": statistics.mean(r["loose_no_rank_decay"] for r in runs),
        "tight_no_rank_decay": statistics.mean(r["tight_no_rank_decay"] for r in runs),
        "baseline_loose_no_rank_decay": baseline_plain["loose"], "baseline_tight_no_rank_decay": baseline_plain["tight"],
        "calf_loose": statistics.mean(r["loose"] for r in calf_runs) if calf_runs else None,
        "calf_tight": statistics.mean(r["tight"] for r in calf_runs) if calf_runs else None,
        "calf_epochs": args.calf_epochs, "calf_seeds": len(calf_runs), "calf_per_seed": calf_runs,
        "season_seed": args.season_seed, "per_seed": runs, "train_games": args.train_games, "test_games": args.test_games,
        "half_seconds": args.half_seconds, "epochs": args.epochs, "keep_before_s": args.keep_before,
        "training_replays": sum(len(replays[g]) for g in train_games), "test_replays": len(test_replays),
        "season_minutes": round((made - started) / 60, 2), "extract_minutes": round((extracted - made) / 60, 2),
        "features": feature_name, "work": str(work),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
