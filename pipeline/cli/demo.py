"""`soccerspot demo`: generate a synthetic season, extract, train a head (NetVLAD++ by default), spot and
score held-out games."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "run the whole chain on a synthetic season (minutes on a laptop, nothing downloaded)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from soccerspot.pipeline.demo import DemoConfig

    defaults = DemoConfig()
    parser.add_argument("--out", type=Path, default=Path("demo_out"),
                        help="demo folder (default demo_out); a folder the demo did not make must be empty")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the season and the training")
    parser.add_argument("--train-games", type=int, default=defaults.train_games, help="training games (2 halves each)")
    parser.add_argument("--test-games", type=int, default=defaults.test_games, help="held-out games")
    parser.add_argument("--half-seconds", type=float, default=defaults.half_seconds, help="length of each half")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="training epochs")
    parser.add_argument("--backbone", default=defaults.backbone,
                        help=f"feature backbone, random weights (default {defaults.backbone})")
    parser.add_argument("--head", default=defaults.head,
                        help=f"spotting head, trained from its preset (default {defaults.head}; any head a "
                             "training preset trains)")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="processes rendering video")
    parser.add_argument("--no-video-spot", action="store_true", help="skip spotting a raw video at the end")
    parser.add_argument("--no-report", action="store_true",
                        help="skip the held-out game's timeline plots and highlight reel")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from soccerspot.pipeline.cli import UsageError
    from soccerspot.pipeline.demo import DemoConfig, demo_heads, print_summary, run_demo

    if args.head not in demo_heads():
        raise UsageError(f"--head {args.head}: not a spotting head a training preset trains; choose from "
                         f"{', '.join(demo_heads())}")

    config = dataclasses.replace(
        DemoConfig(), seed=args.seed, train_games=args.train_games, test_games=args.test_games,
        half_seconds=args.half_seconds, epochs=args.epochs, backbone=args.backbone, head=args.head,
        workers=args.workers, spot_video=not args.no_video_spot, report=not args.no_report,
    )
    problems = config.problems()
    if problems:
        field, reason = problems[0]
        print(f"soccerspot demo: error: --{field.replace('_', '-')} {reason}", file=sys.stderr)
        return 2
    summary = run_demo(args.out, config, progress=not args.no_progress)
    print_summary(summary, args.out)
    video = summary.get("video_spot")
    return 1 if video and video.get("error") else 0
