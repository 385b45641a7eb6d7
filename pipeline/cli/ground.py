"""`soccerspot ground`: replay grounding -> Detection-replays.json per game (SoccerNet's format).

Input: a game folder (its Labels-cameras.json, or --replays, and its features), a tree of game folders
(every game with Labels-cameras.json; games without are listed), or a raw video / game folder of half
videos (the checkpoint's features are extracted first, as `spot` does). Baidu's fusion with the game's
results_spotting.json is on by default (`--fusion`); `--merge-with` merges more grounding heads. Bad option values exit 2 naming
the flag; bad or missing data exits 1 naming the file; in a tree each bad game is one line and the rest goes on.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "link each replay to the action it shows (replay grounding): Detection-replays.json per game"


class UsageError(ValueError):
    """A bad option value: one line naming the flag, exit 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="GAME_OR_TREE_OR_VIDEO",
                        help="a game folder, a tree of game folders, or a raw video / game folder of half videos")
    parser.add_argument("--model", required=True, metavar="CKPT",
                        help="a trained grounding head (soccerspot train --preset baidu-grounding or calf-grounding), "
                             "or 'similarity' "
                             "for the training-free baseline (cosine similarity to the replay's mean feature)")
    parser.add_argument("--replays", type=Path, metavar="Labels-cameras.json",
                        help="the camera labels holding the replays (default: the game folder's Labels-cameras.json)")
    parser.add_argument("--features", metavar="NAME", help="feature name (default: the checkpoint's)")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help="a game: the file to write; a tree: the root of the results tree (default: beside the "
                             "features)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing Detection-replays.json files")
    parser.add_argument("--keep-before", type=float, metavar="SECONDS",
                        help="drop detections more than this before the replay's end (default: the head's, report 100)")
    parser.add_argument("--search-before", type=float, metavar="SECONDS",
                        help="look for the action this far before the replay (default: the head's, report 120)")
    parser.add_argument("--fusion", metavar="baidu|off|W,S,BETA1,BETA2",
                        help="fusion with the game's results_spotting.json (Baidu's report; default: the head's "
                             "setting, on with the report's values, where the game has that file): of its Foul, "
                             "Goal and Shots off target spots scoring above S within W seconds before the "
                             "replay's start, the nearest becomes a detection scored confidence x BETA1, the "
                             "second-nearest confidence x BETA2; 'baidu' = 42,0.02,1.25,0.8; 'off' turns it off")
    parser.add_argument("--merge-with", action="append", default=[], metavar="CKPT",
                        help="merge the detections of this grounding head (or 'similarity') with --model's, as "
                             "the report merges its CALF-based and transformer results: each method's scores "
                             "of a game normalised to [0, 1], then NMS; repeatable")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def parse_overrides(args: argparse.Namespace) -> dict:
    overrides = {"keep_before_s": args.keep_before, "search_before_s": args.search_before}
    for flag, value in (("--keep-before", args.keep_before), ("--search-before", args.search_before)):
        if value is not None and not value > 0:
            raise UsageError(f"{flag} {value:g}: must be > 0 seconds")
    if args.fusion is not None:
        overrides.update(fusion_overrides(args.fusion))
    return overrides


def fusion_overrides(value: str, flag: str = "--fusion") -> dict:
    """`--fusion baidu|off|W,S,BETA1,BETA2` as grounding options (UsageError naming `flag`)."""
    from soccerspot.pipeline.inference.grounding import fusion_options

    try:
        return fusion_options(value)
    except ValueError as error:
        raise UsageError(f"{flag} {value}: {error}") from None


def run(args: argparse.Namespace) -> int:
    try:
        return ground_command(args)
    except UsageError as error:
        print(f"soccerspot ground: error: {error}", file=sys.stderr)
        return 2


def ground_command(args: argparse.Namespace) -> int:
    from soccerspot.data.cameras import CAMERAS_FILE, DETECTIONS_FILE
    from soccerspot.errors import DataError
    from soccerspot.data.games import LABELS_FILE
    from soccerspot.data.games import find_games
    from soccerspot.pipeline.inference.grounding import GroundResult, extract_video_features, ground_folder, load_grounder
    from soccerspot.pipeline.inference.video_spot import is_video_input

    overrides = parse_overrides(args)
    source = Path(args.input)
    if not source.exists():
        raise DataError(source, "not found")
    from soccerspot.pipeline.inference.released_models import resolve_model

    grounder = load_grounder(resolve_model(args.model, task="grounding", progress=not args.no_progress), args.features,
                             overrides, args.merge_with)
    warnings: list[str] = []
    results: list[GroundResult] = []
    single = is_video_input(source) or (source / CAMERAS_FILE).is_file() or args.replays is not None
    if single:
        game_dir, halves = source, None
        if is_video_input(source):
            game_dir, halves = extract_video_features(source, grounder, None, progress=not args.no_progress)
        out = args.out or game_dir / DETECTIONS_FILE
        results.append(ground_folder(game_dir, grounder, out, args.replays, args.overwrite, warnings, halves=halves))
    else:
        games = find_games(source, CAMERAS_FILE)
        without = [g for g in find_games(source, LABELS_FILE) if g not in set(games)]
        if not games:
            raise DataError(source, f"no {CAMERAS_FILE} here or below: nothing to ground (pass --replays for a "
                                    "game folder)")
        from tqdm import tqdm

        for game in tqdm(games, desc="ground", unit="game", disable=args.no_progress):
            out = (args.out or source) / game / DETECTIONS_FILE
            try:
                results.append(ground_folder(source / game, grounder, out, None, args.overwrite, warnings, game))
            except DataError as error:
                results.append(GroundResult(game, out, "failed", reason=str(error)))
        results += [GroundResult(game, None, "no camera labels") for game in without]
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    failed = 0
    for result in results:
        if result.status == "grounded":
            print(f"{result.path}: {result.replays} replays grounded")
        elif result.status == "skipped":
            print(f"{result.path}: skipped ({result.reason})")
        elif result.status == "no camera labels":
            print(f"warning: {source / result.game}: no {CAMERAS_FILE}; not grounded", file=sys.stderr)
        else:
            failed += 1
            print(f"error: {result.reason}", file=sys.stderr)
    return 1 if failed else 0
