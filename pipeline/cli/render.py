"""`soccerspot render --task ball`: render a synthetic Ball Action Spotting season (videos + Labels-ball.json),
nothing else (`data.synthetic.ball_season`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "render a synthetic Ball Action Spotting season: 25 fps videos with their Labels-ball.json (minutes on 2 cores)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from soccerspot.data.synthetic.ball_season import BallSeasonConfig

    defaults = BallSeasonConfig()
    parser.add_argument("--task", required=True, choices=("ball",),
                        help="the season to render: ball (Ball Action Spotting, 12 classes with teams); the action "
                             "spotting season is rendered by `soccerspot demo`")
    parser.add_argument("--out", type=Path, required=True,
                        help="season root: <out>/synthetic_ball/season/<split>-game-NN/{1_224p.mkv,Labels-ball.json} "
                             "and <out>/{train,valid,test}.txt; games already rendered with the same settings are kept")
    parser.add_argument("--train-games", type=int, default=defaults.train_games, help=f"default {defaults.train_games}")
    parser.add_argument("--valid-games", type=int, default=defaults.valid_games, help=f"default {defaults.valid_games}")
    parser.add_argument("--test-games", type=int, default=defaults.test_games, help=f"default {defaults.test_games}")
    parser.add_argument("--minutes", type=float, default=defaults.minutes,
                        help=f"length of each game's one video (default {defaults.minutes:g})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the season")
    parser.add_argument("--width", type=int, default=defaults.width, help=f"video width (default {defaults.width})")
    parser.add_argument("--height", type=int, default=defaults.height, help=f"video height (default {defaults.height})")
    parser.add_argument("--workers", type=int, default=2, help="processes rendering games (default 2)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from soccerspot.data.synthetic.ball_season import BALL_SPLITS, BallSeasonConfig, render_ball_season
    from soccerspot.pipeline.cli import UsageError

    config = BallSeasonConfig(train_games=args.train_games, valid_games=args.valid_games, test_games=args.test_games,
                              minutes=args.minutes, seed=args.seed, width=args.width, height=args.height)
    config.validate()  # a SettingsError names its field, which `main` turns into the flag
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    names = render_ball_season(args.out, config, workers=args.workers, progress=not args.no_progress)
    counts = ", ".join(f"{len(names[split])} {split}" for split in BALL_SPLITS)
    print(f"soccerspot render: {counts} game(s) of {config.minutes:g} min under {args.out}; splits: "
          + ", ".join(str(args.out / f"{split}.txt") for split in BALL_SPLITS), file=sys.stdout)
    return 0
