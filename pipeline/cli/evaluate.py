"""`soccerspot evaluate`: SoccerNet Average-mAP of a predictions tree, identical to the official scorer."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = ("score results_spotting.json files against Labels-v2.json (SoccerNet Average-mAP), or with --task grounding "
        "Detection-replays.json against Labels-cameras.json (replay grounding Average-AP)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from soccerspot.pipeline.evaluation.average_map import METRICS

    parser.add_argument("--task", default="spotting", choices=("spotting", "grounding"),
                        help="spotting (default) or grounding: Detection-replays.json against Labels-cameras.json, "
                             "Average-AP as SoccerNet.Evaluation.ReplayGrounding (loose or tight)")
    parser.add_argument("--labels", required=True, type=Path, metavar="ROOT",
                        help="root of the labels tree: <league>/<season>/<game>/Labels-v2.json")
    parser.add_argument("--predictions", required=True, type=Path, metavar="ROOT",
                        help="root of the predictions tree: <league>/<season>/<game>/results_spotting.json")
    parser.add_argument("--split", metavar="SPLIT",
                        help="train, valid, test, challenge, or a text file with one game path per line "
                             "(default: every game under --labels that has labels)")
    parser.add_argument("--metric", default="loose", choices=METRICS,
                        help="tolerances: loose = 5..60 s, tight = 1..5 s, atN = N s (default: loose)")
    parser.add_argument("--prediction-file", default="results_spotting.json", metavar="NAME",
                        help="name of each game's predictions file (default: results_spotting.json)")
    parser.add_argument("--classes", metavar="NAMES",
                        help="comma-separated class names in column order, for seasons with their own "
                             "classes (default: the 17 SoccerNet-v2 classes)")
    parser.add_argument("--json", type=Path, metavar="OUT.json",
                        help="also write the official result keys (a_mAP, a_mAP_per_class, ...) to this file")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score games without a predictions file as having no predictions")
    parser.add_argument("--strict", action="store_true",
                        help="a label outside the classes or a half other than 1 or 2 is an error (default: "
                             "skipped, as the official evaluator skips it, with one warning per file)")
    parser.add_argument("--plots", type=Path, metavar="DIR",
                        help="also draw Average-mAP against tolerance and per-class AP bars (PNG) into DIR")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def format_table(results: dict, classes: list[str], metric: str) -> str:
    """Average-mAP overall, on visible and on unshown actions, then per class."""
    def cell(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:7.2f}"

    width = max(len("Average-mAP"), *(len(name) for name in classes))
    lines = [f"SoccerNet Average-mAP ({metric}), in %",
             f"{'':<{width}}  {'all':>7}  {'visible':>7}  {'unshown':>7}",
             f"{'Average-mAP':<{width}}  {cell(results['a_mAP'])}  {cell(results['a_mAP_visible'])}  "
             f"{cell(results['a_mAP_unshown'])}",
             "-" * (width + 29)]
    visible = results["a_mAP_per_class_visible"] or [None] * len(classes)
    unshown = results["a_mAP_per_class_unshown"] or [None] * len(classes)
    for name, score, score_visible, score_unshown in zip(classes, results["a_mAP_per_class"], visible, unshown):
        lines.append(f"{name:<{width}}  {cell(score)}  {cell(score_visible)}  {cell(score_unshown)}")
    return "\n".join(lines)


def check_writable_folder(folder: Path) -> None:
    """Before any work: `DataError` when plots cannot be written into `folder`."""
    from soccerspot.errors import DataError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".soccerspot-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise DataError(folder, f"cannot write plots here (--plots): {error.strerror or error}") from None


def run(args: argparse.Namespace) -> int:
    from soccerspot.data.atomic import write_json_atomic
    from soccerspot.data.classes import CLASS_NAMES_V2
    from soccerspot.pipeline.evaluation.average_map import deltas_for, evaluate_games, load_folders, resolve_games

    if args.json is not None and args.json.exists() and not args.force:
        print(f"soccerspot evaluate: error: {args.json} exists (add --force to overwrite it)", file=sys.stderr)
        return 2
    if args.task == "grounding":
        from soccerspot.pipeline.evaluation.grounding import run_grounding_command

        return run_grounding_command(args)
    if args.classes is not None:
        classes = [name.strip() for name in args.classes.split(",") if name.strip()]
        if not classes:
            print("soccerspot evaluate: error: --classes names no class", file=sys.stderr)
            return 2
        if len(set(classes)) != len(classes):
            print(f"soccerspot evaluate: error: --classes names a class twice: {args.classes}", file=sys.stderr)
            return 2
    else:
        classes = list(CLASS_NAMES_V2)
    if args.json is not None and args.json.exists() and not args.force:
        print(f"soccerspot evaluate: error: {args.json} exists (add --force to overwrite it)", file=sys.stderr)
        return 2
    if args.json is not None and (args.json.is_dir() or any(p.exists() and not p.is_dir() for p in args.json.parents)):
        print(f"soccerspot evaluate: error: --json {args.json}: not a file path that can be written", file=sys.stderr)
        return 2
    deltas_for(args.metric)
    if args.plots is not None:
        check_writable_folder(args.plots)
    games = resolve_games(args.labels, args.split)
    loaded = load_folders(args.labels, args.predictions, games, classes=classes,
                          prediction_file=args.prediction_file, allow_missing=args.allow_missing,
                          progress=not args.quiet, strict=args.strict)
    for path, skipped in loaded.skipped_entries():
        reasons = ", ".join(f"{count} with {why}" for why, count in sorted(skipped.items()))
        print(f"warning: {path}: skipped {sum(skipped.values())} entries as the official evaluator does ({reasons}); "
              "--strict makes this an error", file=sys.stderr)
    if loaded.missing_predictions:
        print(f"warning: {len(loaded.missing_predictions)} of {len(games)} games have no {args.prediction_file}; "
              "scored as having no predictions", file=sys.stderr)
    results = evaluate_games(loaded.labels, loaded.predictions, classes, args.metric, allow_missing=True)
    print(f"{len(games)} games")
    print(format_table(results, classes, args.metric))
    print(f"Average-mAP ({args.metric}): {results['a_mAP']:.5f}")
    if args.json is not None:
        write_json_atomic(args.json, results)
        print(f"wrote {args.json}")
    if args.plots is not None:
        from soccerspot.data.labels import GamePredictions
        from soccerspot.pipeline.reports.evaluation_plots import write_evaluation_plots

        predictions = {game: loaded.predictions.get(game, GamePredictions(url=game)) for game in loaded.labels}
        for path in write_evaluation_plots(loaded.labels, predictions, classes, args.plots):
            print(f"wrote {path}")
    return 0
