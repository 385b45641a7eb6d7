"""`soccerspot spot`: frame features (or raw video) -> results_spotting.json per game, with a trained head.

Every bad input is one stderr line: a bad option value exits 2 naming the flag, bad or missing data
(checkpoint, feature file, video) exits 1 naming the file; in a batch each bad game is one line and the
batch goes on.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter

from soccerspot.data.tasks import action_task_names
from soccerspot.extract.precision import AUTO_HELP, PRECISIONS
from soccerspot.pipeline.cli import UsageError
from soccerspot.pipeline.inference.nms import NMS_KINDS

HELP = "spot actions in frame features with a trained head (ours or a SoccerNet baseline's model.pth.tar)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="FEATURES_OR_TREE",
                        help="a feature file (<half>_<name>.npy), a game folder, or a tree of game folders; or a raw "
                             "video / game folder of half videos (the head's features are extracted first)")
    parser.add_argument("--model", required=True, metavar="CKPT",
                        help="checkpoint folder (model.pt + config.json), a peer model.pth.tar, or a released model's "
                             "name (NetVLAD++, MAXPOOL_v2, NETVLAD_v2, MAXPOOL_v1, NETVLAD_v1: downloaded once into the cache); "
                             "or a dense frame model's folder as its authors publish it (E2E-Spot, T-DEED), for raw video")
    parser.add_argument("--task", choices=action_task_names(), default=None,
                        help="what the model spots (data/tasks.py): read from the model where it says so (a dense "
                             "model with a team head or Ball classes spots ball; a feature head spots spotting); "
                             "given, it must agree (a mismatch is refused, naming both); it decides the results' "
                             "evaluation grid (ball: one spot per class and team per 25 fps frame) and the labels "
                             "file --plots reads")
    parser.add_argument("--features", metavar="NAME",
                        help="feature name, e.g. ResNET_TF2_PCA512 (needed for a tree unless the checkpoint names it); "
                             "for video input, the name of the feature files written, and for a SoccerNet head the "
                             "feature recipe extracted (ResNET_TF2 or ResNET_TF2_PCA512, default: its training.log's); "
                             "a recipe's name for a checkpoint whose features were made otherwise is refused")
    parser.add_argument("--out", metavar="DIR",
                        help="write results here (a tree keeps its layout); default: beside the features")
    parser.add_argument("--nms", choices=NMS_KINDS, help="NMS kind (default: the checkpoint's, else hard)")
    parser.add_argument("--nms-window", type=float, metavar="SECONDS", help="NMS window (default: the checkpoint's)")
    parser.add_argument("--threshold", type=float,
                        help="minimum confidence kept by NMS, in [0, 1] (default: the checkpoint's)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing results_spotting.json files (default: skip those games)")
    parser.add_argument("--method", choices=["auto", "fast", "per-window"], default="auto",
                        help="inference path: fast window sums for pooling heads, or every window separately")
    parser.add_argument("--batch-size", type=int, metavar="N",
                        help="windows per forward pass on the per-window path (default 256); frames per backbone "
                             "pass when extracting from video (default 32); clips per pass of a dense frame "
                             "model (default 4)")
    parser.add_argument("--device", default="auto",
                        help="auto | cpu | cuda[:N]: where the head (and, for video input, the backbone) runs")
    parser.add_argument("--save-scores", action="store_true",
                        help="also write each half's per-frame class probabilities beside its results "
                             "(<half>_scores.npy + <half>_scores.json with the rows' timestamps)")
    parser.add_argument("--plots", action="store_true",
                        help="also draw each half's timeline (<half>_timeline.png beside its results: score curves, "
                             "spots, and the ground truth where the game folder holds Labels-v2.json); implies "
                             "--save-scores")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    peer = parser.add_argument_group("peer checkpoints (SoccerNet baselines' model.pth.tar)")
    peer.add_argument("--window", type=int, metavar="FRAMES",
                      help="window length in frames for a peer checkpoint without training.log")
    peer.add_argument("--classes", metavar="NAME,NAME,...",
                      help="the head's class names, in output order, for a peer checkpoint whose classes cannot be "
                           "inferred from its number of outputs")
    video = parser.add_argument_group("raw video input (features extracted with the checkpoint's settings)")
    video.add_argument("--weights", metavar="FILE", action="append",
                       help="the backbone weights file the head's features were made with (when the checkpoint "
                            "records weights from a file); repeat it for combined features whose parts use "
                            "several files (each is matched to its part by its identity)")
    video.add_argument("--pca", metavar="FILE", help="the PCA the head's features were reduced with (.npz or .pkl)")
    video.add_argument("--precision", choices=PRECISIONS,
                       help=f"extraction precision (default auto; {AUTO_HELP}); the head need not have been "
                            "trained at the same precision")


def parse_classes(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise UsageError(f"--classes {text!r}: expected comma-separated non-empty class names")
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        raise UsageError(f"--classes: {', '.join(repeated)} given more than once")
    return names


def check_values(args: argparse.Namespace) -> None:
    """Option values that cannot be right whatever the input (`UsageError` naming the flag)."""
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.nms_window is not None and not args.nms_window > 0:
        raise UsageError(f"--nms-window must be a positive number of seconds, got {args.nms_window:g}")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1], got {args.threshold:g}")
    if args.window is not None and args.window < 1:
        raise UsageError(f"--window must be at least 1 frame, got {args.window}")
    from soccerspot.data.scores import SCORES_NAME

    if args.features == SCORES_NAME:
        raise UsageError(f"--features {SCORES_NAME}: that name holds the scores --save-scores writes, not features")


def resolve_device(device: str):
    from soccerspot.extract.extractor import resolve_device as resolve

    try:
        return resolve(device)
    except (ValueError, RuntimeError) as error:
        raise UsageError(f"--device {device}: {error}") from None


def check_video_options(args: argparse.Namespace, device) -> None:
    from pathlib import Path

    from soccerspot.extract.extractor import resolve_precision

    from soccerspot.errors import DataError

    for flag, value in [*(("--weights", file) for file in args.weights or ()), ("--pca", args.pca)]:
        if value is not None and not Path(value).is_file():
            raise DataError(value, f"{flag} file not found")
    try:
        resolve_precision(args.precision or "auto", device)
    except ValueError as error:
        raise UsageError(f"--precision {args.precision}: {error}") from None


def feature_only_flags(args: argparse.Namespace) -> list[str]:
    """Options given that only mean something for raw-video input."""
    given = {"--weights": args.weights, "--pca": args.pca, "--precision": args.precision}
    return [flag for flag, value in given.items() if value is not None]


def check_classes_fit(head, classes: list[str] | None) -> None:
    if classes is not None and head.peer is None and classes != head.classes:
        raise UsageError(f"--classes is for peer checkpoints; {head.path} names its own classes "
                         f"({', '.join(head.classes)})")


def run(args: argparse.Namespace) -> int:
    from soccerspot.errors import DataError

    try:
        return spot(args)
    except DataError:
        raise  # the CLI prints it as one line, exit 1
    except ValueError as error:  # UsageError, or an option value the library refused
        print(f"soccerspot spot: error: {error}", file=sys.stderr)
        return 2


def spot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soccerspot.pipeline.inference.checkpoints import load_checkpoint
    from soccerspot.pipeline.inference.dense_models import is_dense_model_folder
    from soccerspot.pipeline.inference.released_models import resolve_model
    from soccerspot.pipeline.inference.scores import DEFAULT_BATCH, supports_fast_path
    from soccerspot.pipeline.inference.spot import SpotOptions, spot_paths
    from soccerspot.pipeline.inference.video_spot import is_video_input, spot_video

    check_values(args)
    classes = parse_classes(args.classes)
    device = resolve_device(args.device)
    video = is_video_input(args.input)
    if video:
        check_video_options(args, device)
    elif feature_only_flags(args) and Path(args.input).exists():
        raise UsageError(f"{', '.join(feature_only_flags(args))}: only for raw-video input, and {args.input} "
                         "is not a video or a game folder of half videos")
    model_path = resolve_model(args.model, progress=not args.no_progress)
    if is_dense_model_folder(model_path):
        return spot_dense(args, model_path, device, video)
    head = load_checkpoint(model_path, window_frames=args.window, classes=classes)
    check_classes_fit(head, classes)
    task = check_head_task(head, args.task)
    if args.method == "fast" and not supports_fast_path(head.model):
        raise UsageError(f"--method fast: the head {head.path} ({head.config.kind}) has no fast path; "
                         "use --method auto or per-window")
    head.model.to(device)
    options = SpotOptions(nms=args.nms, nms_window=args.nms_window, threshold=args.threshold,
                          overwrite=args.overwrite, method=args.method, save_scores=args.save_scores or args.plots,
                          batch_size=args.batch_size or DEFAULT_BATCH)
    progress = not args.no_progress
    if video:
        report = spot_video(args.input, head, out_dir=args.out, options=options, device=str(device),
                            precision=args.precision or "auto", batch_size=args.batch_size or 32,
                            weights_file=args.weights, pca_file=args.pca, feature_name=args.features,
                            progress=progress)
    else:
        report = spot_paths(args.input, head, feature_name=args.features, out_dir=args.out, options=options,
                            progress=progress)
    print_report(report)
    if args.plots:
        plot_results(report, task)
    return 1 if report.errors else 0


def check_head_task(head, task: str | None) -> str:
    """The task a feature head spots (its registered kind's), which `--task` must be when given."""
    from soccerspot.models.heads import head_entry

    spots = head_entry(head.config.kind).task
    if task is not None and task != spots:
        raise UsageError(f"--task {task}: the head {head.path} ({head.config.kind}) spots {spots}, not {task}")
    return spots


# flags of the feature heads' spotting that a dense model's peer inference fixes
DENSE_REFUSED = {"--features": "features", "--nms": "nms", "--nms-window": "nms_window", "--threshold": "threshold",
                 "--window": "window", "--classes": "classes", "--weights": "weights", "--pca": "pca", "--plots": "plots"}


def spot_dense(args: argparse.Namespace, model_path: str, device, video: bool) -> int:
    """`spot VIDEO --model DIR` for a dense frame model folder (E2E-Spot, T-DEED): frames, clips and NMS as
    the model's peers do them (`pipeline.inference.dense_spot`)."""
    from pathlib import Path

    from soccerspot.errors import DataError
    from soccerspot.extract.extractor import resolve_precision
    from soccerspot.data.tasks import task_spec
    from soccerspot.pipeline.inference.dense_models import load_dense_spotter
    from soccerspot.pipeline.inference.dense_spot import spot_dense_video

    given = [flag for flag, name in DENSE_REFUSED.items() if getattr(args, name) not in (None, False)]
    if args.method != "auto":
        given.append("--method")
    if given:
        raise UsageError(f"{', '.join(given)}: not for a dense frame model ({args.model}), whose frames, clips "
                         "and NMS are its peers'")
    if not video:
        raise DataError(args.input, "a dense frame model spots raw video: give a video file or a game folder of "
                                    "half videos" + ("" if Path(args.input).exists() else " (not found)"))
    try:
        precision = resolve_precision(args.precision or "auto", device)
    except ValueError as error:
        raise UsageError(f"--precision {args.precision}: {error}") from None
    spotter = load_dense_spotter(model_path, task=args.task)
    spotter.model.to(device)
    print(f"{spotter.kind} model, {len(spotter.classes)} classes{' with teams' if spotter.team else ''}: "
          f"{task_spec(spotter.task).title} (task {spotter.task}{'' if args.task else ', read from the model'})")
    report = spot_dense_video(args.input, spotter, out_dir=args.out, overwrite=args.overwrite,
                              save_scores=args.save_scores, clips_per_batch=args.batch_size or 4,
                              precision=precision, progress=not args.no_progress)
    print_report(report)
    return 1 if report.errors else 0


def plot_results(report, task: str) -> None:
    """Timeline plots of every game spotted now (with the task's labels file where the game folder holds
    one); a game that cannot be drawn is one warning, not a failure."""
    from soccerspot.errors import DataError
    from soccerspot.data.tasks import task_spec
    from soccerspot.pipeline.reports.timeline import write_timeline_plots

    labels_file = task_spec(task).labels_file
    drawn = 0
    for result in report.results:
        if result.status != "spotted":
            continue
        game_dir = result.output.parent
        labels = game_dir / labels_file if (game_dir / labels_file).is_file() else None
        try:
            drawn += len(write_timeline_plots(result.output, labels=labels, task=task))
        except DataError as error:
            print(f"soccerspot spot: warning: no timeline plot: {error}", file=sys.stderr)
    print(f"drew {drawn} timeline plot(s) (<half>_timeline.png beside each results_spotting.json)")


def print_report(report) -> None:
    """A summary on stdout; each warning once (with how many halves it concerns), each bad game, on stderr."""
    spotted, skipped, errors = report.count("spotted"), report.count("skipped"), report.errors
    total = sum(r.predictions for r in report.results)
    warnings = Counter(w for r in report.results for w in r.warnings)
    for warning, count in warnings.items():
        print(f"soccerspot spot: warning: {warning}" + (f" ({count} games)" if count > 1 else ""), file=sys.stderr)
    for result in errors:
        print(f"soccerspot spot: error: {result.error}", file=sys.stderr)
    print(f"spotted {spotted} game(s), {total} predictions; {skipped} skipped (results exist: --overwrite "
          f"to replace); {len(errors)} error(s)")
    for result in report.results:
        if result.status == "spotted" and spotted <= 5:
            print(f"  {result.output} ({result.predictions} predictions, halves {result.halves})")
