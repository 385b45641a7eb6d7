"""`soccerspot combine`: several feature sets of the same halves -> one combined feature set per half.

Every half below --features holding any of the parts gets `<half>_<NAME>.npy` + sidecar: each part
normalised (`--normalize`, see `soccerspot.data.combined_features`), concatenated in the order of
--parts. A half already combined from the same parts is skipped; one whose parts changed is redone. A bad
half (a part missing, rows that do not match) is one line and the batch goes on; exit 1 if any failed.
"""
from __future__ import annotations

import argparse
import sys

HELP = "combine several feature sets of the same halves into one (each part normalised, concatenated)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from soccerspot.data.combined_features import DEFAULT_NORMALIZE, NORMALIZERS

    parser.add_argument("--features", required=True, metavar="ROOT",
                        help="a game folder or a SoccerNet-layout tree holding <game>/<half>_<PART>.npy")
    parser.add_argument("--parts", required=True, metavar="NAME1,NAME2[,...]",
                        help="feature names to combine, in column order (e.g. resnet152,video_r2plus1d_18)")
    parser.add_argument("--name", required=True, metavar="OUT", help="name of the combined feature files")
    parser.add_argument("--normalize", default=DEFAULT_NORMALIZE, choices=sorted(NORMALIZERS),
                        help=f"how each part is normalised before concatenation (default {DEFAULT_NORMALIZE}: "
                             "each part's row to unit L2 norm)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from soccerspot.data.combined_features import CombineConfig, CombineSummary, combine_half, find_halves
    from soccerspot.errors import DataError

    config = CombineConfig(parts=[part.strip() for part in args.parts.split(",")], name=args.name,
                           normalize=args.normalize)
    problems = config.problems()
    if problems:
        field, reason = problems[0]
        print(f"soccerspot combine: error: --{field} {reason}", file=sys.stderr)
        return 2
    root = Path(args.features)
    if not root.is_dir():
        raise DataError(root, "--features: no such folder")
    jobs = find_halves(root, config.parts)
    if not jobs:
        raise DataError(root, f"no feature files of {', '.join(config.parts)} below this folder")
    summary = CombineSummary()
    for job in tqdm(jobs, desc=f"combining {config.name}", unit="half", disable=args.no_progress or len(jobs) < 2,
                    file=sys.stderr):
        try:
            result = combine_half(job.game_dir, job.half, config)
        except DataError as error:
            summary.failed.append((job.game_dir, str(error)))
            print(f"soccerspot combine: error: {error}", file=sys.stderr)
            continue
        (summary.skipped if result.skipped else summary.done).append(result)
    print(f"combined {len(summary.done)} half(s) into {config.name} ({'+'.join(config.parts)}, {config.normalize}); "
          f"skipped {len(summary.skipped)} already complete; {len(summary.failed)} failed")
    for game_dir, reason in summary.failed:
        print(f"  failed: {reason}")
    return 1 if summary.failed else 0
