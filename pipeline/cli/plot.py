"""`soccerspot plot`: a timeline PNG per half of one game's results (scores, spots, ground truth)."""
from __future__ import annotations

import argparse
from pathlib import Path

from soccerspot.data.tasks import action_task_names

HELP = "plot a game's spots over match time, per half (score curves, kept spots, ground truth)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=action_task_names(), default=None,
                        help="what the results spot (data/tasks.py): its labels file, classes, teams and hit "
                             "tolerance; ball (Ball Action Spotting) draws one lane per class, each team on its "
                             "side of the lane (default: read from the results' classes, else the labels files; "
                             "spotting when neither tells)")
    parser.add_argument("results", metavar="RESULTS_OR_GAME", type=Path,
                        help="a results_spotting.json, or the game folder holding it")
    parser.add_argument("--labels", metavar="ROOT", type=Path,
                        help="ground truth: a Labels-v2.json (the task's labels file), its game "
                             "folder, or a labels tree with the same "
                             "<league>/<season>/<game> folders")
    parser.add_argument("--scores", metavar="DIR", type=Path,
                        help="folder holding <half>_scores.npy from spot --save-scores (default: the results' folder)")
    parser.add_argument("--replays", metavar="Detection-replays.json", type=Path,
                        help="grounded replays to mark (default: the Detection-replays.json beside the results)")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="where <half>_timeline.png go (default: the results' folder)")


def run(args: argparse.Namespace) -> int:
    from soccerspot.pipeline.reports.timeline import write_timeline_plots
    from soccerspot.pipeline.reports.tree_task import task_of_tree

    task = args.task or task_of_tree(args.results, args.labels).name
    for path in write_timeline_plots(args.results, args.out, labels=args.labels, scores_dir=args.scores,
                                     replays=args.replays, task=task):
        print(f"wrote {path}")
    return 0
