"""`soccerspot evaluate`: SoccerNet Average-mAP of a predictions tree, identical to the official scorer."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from soccerspot.data.tasks import TASK_SPECS, task_spec
from soccerspot.pipeline.cli import UsageError

HELP = ("score predictions against labels, per task (--task): SoccerNet-v2 action spotting Average-mAP "
        "(results_spotting.json against Labels-v2.json), replay grounding Average-AP (Detection-replays.json "
        "against Labels-cameras.json), Ball Action Spotting Team mAP@1 and mAP@1 (results_spotting.json against "
        "Labels-ball.json)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    metrics = tuple(dict.fromkeys(m for spec in TASK_SPECS.values() for m in spec.metrics))
    class_sets = tuple(dict.fromkeys(c for spec in TASK_SPECS.values() for c in spec.class_sets))
    tasks = "; ".join(f"{spec.name}: {spec.title} ({spec.labels_file}; metrics {', '.join(spec.metrics)}; "
                      f"class sets {', '.join(spec.class_sets)})" for spec in TASK_SPECS.values())
    parser.add_argument("--task", default="spotting", choices=tuple(TASK_SPECS),
                        help=f"what is scored (default: spotting). {tasks}")
    parser.add_argument("--labels", required=True, type=Path, metavar="ROOT",
                        help="root of the labels tree: <league>/<season>/<game>/<the task's labels file>")
    parser.add_argument("--predictions", required=True, type=Path, metavar="ROOT",
                        help="root of the predictions tree: <league>/<season>/<game>/<predictions file>; for "
                             "spotting and ball also a zip file of that tree (a Codabench submission)")
    parser.add_argument("--split", metavar="SPLIT",
                        help="train, valid, test, challenge (the task's official games: SoccerNet-v2's, or "
                             "Ball Action Spotting's nine), or a text file with one game path per line "
                             "(default: every game under --labels that has labels)")
    parser.add_argument("--metric", choices=metrics,
                        help="tolerances: loose = 5..60 s, tight = 1..5 s, atN = N s (default: the task's first: "
                             "loose for spotting and grounding, at1 for ball)")
    parser.add_argument("--prediction-file", metavar="NAME",
                        help="name of each game's predictions file (default: the task's, results_spotting.json "
                             "or Detection-replays.json)")
    parser.add_argument("--class-set", choices=class_sets,
                        help="the task's class set (default: its first: v2 for spotting, ball-2025 for ball, "
                             "which scores teams; ball-2024 and ball-2023 do not)")
    parser.add_argument("--classes", metavar="NAMES",
                        help="comma-separated class names in column order, for seasons with their own "
                             "classes (default: the class set's)")
    parser.add_argument("--json", type=Path, metavar="OUT.json",
                        help="also write the official result keys (a_mAP, a_mAP_per_class, ...; ball with teams: "
                             "mAP, mAP_no_team, mAP_per_class, ...) to this file")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score games without a predictions file as having no predictions")
    parser.add_argument("--strict", action="store_true",
                        help="a label outside the classes or a half other than 1 or 2 is an error (default: "
                             "skipped, as the official evaluator skips it, with one warning per file)")
    parser.add_argument("--plots", type=Path, metavar="DIR",
                        help="also draw Average-mAP against tolerance and per-class AP bars (PNG) into DIR "
                             "(spotting)")
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


def format_team_table(results: dict, classes: list[str], metric: str) -> str:
    """Team mAP and mAP (teams ignored), then per class."""
    def cell(value: float) -> str:
        return f"{100 * value:7.2f}"

    width = max(len("mAP"), *(len(name) for name in classes))
    lines = [f"Ball Action Spotting ({metric}): AP with teams and without, in %",
             f"{'':<{width}}  {'team':>7}  {'no team':>7}",
             f"{'mAP':<{width}}  {cell(results['mAP'])}  {cell(results['mAP_no_team'])}",
             "-" * (width + 18)]
    for name, with_team, without in zip(classes, results["mAP_per_class"], results["mAP_per_class_no_team"]):
        lines.append(f"{name:<{width}}  {cell(with_team)}  {cell(without)}")
    return "\n".join(lines)


def json_ready(value):
    """`value` with NaN and infinities as null (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


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


def check_json_path(args: argparse.Namespace) -> None:
    if args.json is None:
        return
    if args.json.exists() and not args.force and not args.json.is_dir():
        raise UsageError(f"{args.json} exists (add --force to overwrite it)")
    if args.json.is_dir() or any(p.exists() and not p.is_dir() for p in args.json.parents):
        raise UsageError(f"--json {args.json}: not a file path that can be written")


def class_names_of(args: argparse.Namespace, names: list[str]) -> list[str]:
    if args.classes is None:
        return list(names)
    classes = [name.strip() for name in args.classes.split(",") if name.strip()]
    if not classes:
        raise UsageError("--classes names no class")
    if len(set(classes)) != len(classes):
        raise UsageError(f"--classes names a class twice: {args.classes}")
    return classes


def print_skipped(loaded, games: list[str], prediction_file: str) -> None:
    for path, skipped in loaded.skipped_entries():
        reasons = ", ".join(f"{count} with {why}" for why, count in sorted(skipped.items()))
        print(f"warning: {path}: skipped {sum(skipped.values())} entries as the official evaluator does ({reasons}); "
              "--strict makes this an error", file=sys.stderr)
    if loaded.missing_predictions:
        print(f"warning: {len(loaded.missing_predictions)} of {len(games)} games have no {prediction_file}; "
              "scored as having no predictions", file=sys.stderr)


def run_average_map(args: argparse.Namespace, spec, metric: str, class_set: str) -> int:
    """Average-mAP (SoccerNet's `ActionSpotting.evaluate`), or with a class set that has teams, Team mAP
    (sn-teamspotting's `mAPevaluateCodabench`)."""
    from soccerspot.data.atomic import write_json_atomic
    from soccerspot.data.classes import class_setup
    from soccerspot.pipeline.evaluation.average_map import evaluate_games, load_folders, resolve_games
    from soccerspot.pipeline.evaluation.ball import classes_without_weight, evaluate_ball_teams

    setup = class_setup(class_set)
    classes = class_names_of(args, setup.names)
    prediction_file = args.prediction_file or spec.predictions_file
    if args.plots is not None:
        if not spec.plots:
            raise UsageError(f"--plots draws SoccerNet-v2's loose and tight curves; not for --task {spec.name}")
        check_writable_folder(args.plots)
    games = resolve_games(args.labels, args.split, setup.labels_file, spec.game_lists)
    teams = bool(setup.teams)
    loaded = load_folders(args.labels, args.predictions, games, classes=classes, labels_file=setup.labels_file,
                          prediction_file=prediction_file, allow_missing=args.allow_missing,
                          version=setup.version, progress=not args.quiet, strict=args.strict, any_label=teams,
                          ignore_prediction_half=teams)
    print_skipped(loaded, games, prediction_file)
    print(f"{len(games)} games")
    if teams:
        results = evaluate_ball_teams(loaded.labels, loaded.predictions, classes, metric, teams=setup.teams,
                                      framerate=spec.framerate, allow_missing=True)
        print(format_team_table(results, classes, metric))
        without = classes_without_weight(results, classes)
        if without:
            print(f"warning: the label sums of the two sides of {', '.join(without)} add to 0 (no labels, or a "
                  "\"not shown\" label counting -1): the official evaluator divides by 0 there (Team AP NaN or "
                  "infinite), and Team mAP with it", file=sys.stderr)
        print(f"Team mAP ({metric}): {results['mAP']:.5f}  mAP ({metric}): {results['mAP_no_team']:.5f}")
    else:
        results = evaluate_games(loaded.labels, loaded.predictions, classes, metric, framerate=spec.framerate,
                                 allow_missing=True, version=setup.version)
        print(format_table(results, classes, metric))
        print(f"Average-mAP ({metric}): {results['a_mAP']:.5f}")
    if args.json is not None:
        write_json_atomic(args.json, json_ready(results))
        print(f"wrote {args.json}")
    if args.plots is not None:
        from soccerspot.data.labels import GamePredictions
        from soccerspot.pipeline.reports.evaluation_plots import write_evaluation_plots

        predictions = {game: loaded.predictions.get(game, GamePredictions(url=game)) for game in loaded.labels}
        for path in write_evaluation_plots(loaded.labels, predictions, classes, args.plots, version=setup.version):
            print(f"wrote {path}")
    return 0


def run_grounding(args: argparse.Namespace, spec, metric: str, class_set: str) -> int:
    from soccerspot.pipeline.evaluation.grounding import run_grounding_command

    return run_grounding_command(args, metric, args.prediction_file or spec.predictions_file, spec.labels_file)


# `TaskSpec.evaluation` -> how `evaluate` scores it.
EVALUATIONS = {"average_map": run_average_map, "grounding": run_grounding}


def run(args: argparse.Namespace) -> int:
    spec = task_spec(args.task)
    metric = args.metric or spec.default_metric
    if metric not in spec.metrics:
        raise UsageError(f"--metric {metric}: {spec.title} is scored {', '.join(spec.metrics)}")
    class_set = args.class_set or spec.default_class_set
    if class_set not in spec.class_sets:
        raise UsageError(f"--class-set {class_set}: {spec.title}'s class sets are {', '.join(spec.class_sets)}")
    check_json_path(args)
    return EVALUATIONS[spec.evaluation](args, spec, metric, class_set)
