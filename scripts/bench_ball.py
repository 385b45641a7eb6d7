"""T-DEED with its team head trained from frames on a synthetic Ball Action Spotting season: Team mAP@1 and
mAP@1 on held-out games, against the same model's class predictions with teams drawn at random.

The season is `soccerspot render --task ball`'s (`data.synthetic.ball_season`: 25 fps play whose
`Labels-ball.json` is the drawn ball's truth, `ball-2025` classes, teams left/right). Per seed:

- T-DEED: `pipeline.training.dense` (what `soccerspot train-dense --task ball` runs) with the `tdeed-ball`
  preset (their clips, targets, class CE + displacement MSE + 2 x team BCE, AdamW, warm-up + cosine) and this
  script's epochs, clip length, clips and batch; frames: T-DEED's Ball frame rule (every second 25 fps
  frame), at the rendered video's size instead of their 796x448 (a bench recipe, `bench-tdeed-ball`, spotted
  as their Ball models are: soft NMS over 12 frames); the last checkpoint, then `spot`'s dense chain on each
  held-out game (`pipeline.inference.dense_spot`);
- baseline: the same predictions with each prediction's team drawn uniformly from left/right (seeded);
- scores: `pipeline.evaluation.ball.evaluate_ball_teams` (sn-teamspotting's `mAPevaluateCodabench`): Team
  mAP@1 (`team_map`; NaN as theirs when a class has no label in the held-out games, so the mean over the
  classes with labels is printed beside it, `team_map_labelled`) and mAP@1 without teams (`map`); mean over
  seeds.

Last line: one JSON object with `team_map`, `map`, `baseline_team_map`, `seeds`, `minutes` and the settings.

    python scripts/bench_ball.py [--seeds 2] [--train-games 4] [--test-games 2] [--minutes 3] [--width 224]
        [--height 128] [--epochs 8] [--warmup-epochs 1] [--clip-len 50] [--epoch-frames 5000] [--batch-size 4]
        [--work DIR]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def finite(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)  # JSON has no NaN


def labelled_mean(per_class) -> float:
    values = np.asarray(per_class, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--train-games", type=int, default=4)
    parser.add_argument("--test-games", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=3.0, help="each game's length")
    parser.add_argument("--width", type=int, default=224, help="the rendered videos' size, the frames the model reads")
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--warmup-epochs", type=int, default=1, help="of them, the linear warm-up (theirs: 3 of 35)")
    parser.add_argument("--clip-len", type=int, default=50)
    parser.add_argument("--epoch-frames", type=int, default=5000, help="frames an epoch (clips = this // clip-len)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=8e-4)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="keep the season here (default: a temp folder)")
    args = parser.parse_args()

    import torch

    from soccerspot.data.classes import class_setup
    from soccerspot.data.games import LABELS_FILE_BALL, PREDICTIONS_FILE
    from soccerspot.data.labels import GamePredictions, read_labels, read_predictions
    from soccerspot.data.synthetic.ball_season import BallSeasonConfig, render_ball_season
    from soccerspot.extract.frame_recipes import FRAME_RECIPES, FrameRecipe
    from soccerspot.extract.precision import resolve_precision
    from soccerspot.pipeline.evaluation.ball import evaluate_ball_teams
    from soccerspot.pipeline.inference.dense_models import PEER_INFERENCE, load_dense_spotter
    from soccerspot.pipeline.inference.dense_spot import spot_dense_video
    from soccerspot.pipeline.training.dense import DenseSettings, load_dense_data, run_dense
    from soccerspot.pipeline.training.presets import DENSE_PRESET_SETTINGS, get_dense_preset
    from soccerspot.pipeline.training.run_folder import LAST

    torch.set_num_threads(args.threads)
    began_all = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_ball_"))
    season = work / "season"
    names = render_ball_season(season, BallSeasonConfig(train_games=args.train_games, valid_games=0,
                                                        test_games=args.test_games, minutes=args.minutes,
                                                        width=args.width, height=args.height), workers=2)
    train_games, test_games = names["train"], names["test"]
    recipe = FrameRecipe(name="bench-tdeed-ball", sample_fps=25, width=args.width, height=args.height, read_stride=2,
                         source="bench_ball.py: T-DEED's Ball frame rule at the rendered video's size")
    FRAME_RECIPES[recipe.name] = recipe
    PEER_INFERENCE[("T-DEED", recipe.name)] = PEER_INFERENCE[("T-DEED", "tdeed-ball")]
    precision = resolve_precision(args.precision, torch.device("cpu"))
    setup = class_setup("ball-2025")
    labels = {game: read_labels(season / game / LABELS_FILE_BALL) for game in test_games}

    preset = get_dense_preset("tdeed-ball")
    settings = DenseSettings(**{**DENSE_PRESET_SETTINGS["tdeed-ball"], "frame_recipe": recipe.name,
                                "epoch_frames": args.epoch_frames})
    warmup = args.warmup_epochs
    runs = []
    for seed in range(args.seeds):
        config = dataclasses.replace(
            preset, preset="bench-tdeed-ball", max_epochs=args.epochs, warmup_epochs=warmup,
            batch_size=args.batch_size, lr=args.lr, head_options={**preset.head_options, "clip_len": args.clip_len},
            select_on="valid_loss", eval_every=0, precision=precision, seed=seed)
        data = load_dense_data(config, settings, season, season, train_games, [], work / "frame-cache", progress=False)
        folder = work / "runs" / f"tdeed-{seed}"
        shutil.rmtree(folder, ignore_errors=True)
        began = time.perf_counter()
        run_dense(config, settings, data, folder / "model", progress=False)
        seconds = time.perf_counter() - began
        spotter = load_dense_spotter(folder / "model" / LAST)
        predictions = {}
        for game in test_games:
            out = folder / "predictions" / game
            spot_dense_video(season / game, spotter, out_dir=out, overwrite=True, precision=precision, progress=False)
            predictions[game] = read_predictions(out / PREDICTIONS_FILE, ignore_half=True)
        scored = evaluate_ball_teams(labels, predictions, setup.names, "at1", teams=setup.teams)
        rng = np.random.default_rng([seed, 29])
        shuffled = {game: GamePredictions(url=p.url, predictions=[
            dataclasses.replace(entry, team=str(rng.choice(setup.teams))) for entry in p.predictions])
            for game, p in predictions.items()}
        baseline = evaluate_ball_teams(labels, shuffled, setup.names, "at1", teams=setup.teams)
        runs.append({"team_map": float(scored["mAP"]), "team_map_labelled": labelled_mean(scored["mAP_per_class"]),
                     "map": float(scored["mAP_no_team"]), "baseline_team_map": float(baseline["mAP"]),
                     "baseline_team_map_labelled": labelled_mean(baseline["mAP_per_class"]),
                     "team_map_per_class": [finite(float(v)) for v in scored["mAP_per_class"]],
                     "predictions": sum(len(p.predictions) for p in predictions.values()),
                     "train_s": round(seconds, 1)})
        print(f"seed {seed}: Team mAP@1 {runs[-1]['team_map']:.3f} (labelled classes "
              f"{runs[-1]['team_map_labelled']:.3f}) mAP@1 {runs[-1]['map']:.3f}; random teams "
              f"{runs[-1]['baseline_team_map']:.3f} ({seconds:.0f} s)", file=sys.stderr)

    def mean(key: str):
        return finite(statistics.mean(r[key] for r in runs))

    print(json.dumps({
        "team_map": mean("team_map"), "map": mean("map"), "baseline_team_map": mean("baseline_team_map"),
        "team_map_labelled": mean("team_map_labelled"),
        "baseline_team_map_labelled": mean("baseline_team_map_labelled"),
        "seeds": args.seeds, "minutes": round((time.perf_counter() - began_all) / 60, 2),
        "runs": [{k: finite(v) if isinstance(v, float) else v for k, v in r.items()} for r in runs],
        "settings": {"train_games": args.train_games, "test_games": args.test_games, "minutes": args.minutes,
                     "size": [args.width, args.height], "epochs": args.epochs, "warmup_epochs": warmup,
                     "clip_len": args.clip_len, "epoch_frames": args.epoch_frames, "batch_size": args.batch_size,
                     "lr": args.lr, "precision": precision, "threads": args.threads},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
