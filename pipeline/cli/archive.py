"""`soccerspot archive`: spot a whole archive of match videos, resumably, on this machine or on Ray.

ROOT is a SoccerNet tree (game folders holding 1_224p.mkv / 2_224p.mkv) or any tree of videos. Per game,
the features the checkpoint was trained on are extracted (complete ones with the same settings are
reused) and spotted into `<out>/<game>/results_spotting.json`; a dense frame model's folder (E2E-Spot, T-DEED,
train-dense's) spots the half videos themselves, as `spot VIDEO --model DIR` does. `<out>/archive_manifest.jsonl`
records every game's status; a new run skips what is done and redoes what was interrupted or failed.
"""
from __future__ import annotations

import argparse
import sys

from soccerspot.data.tasks import action_task_names
from soccerspot.extract.precision import AUTO_HELP, PRECISIONS
from soccerspot.pipeline.archive.engines import list_engines
from soccerspot.pipeline.inference.nms import NMS_KINDS

HELP = "spot every game of an archive of match videos (resumable; --jobs N locally, or --engine ray)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", metavar="ROOT", help="a SoccerNet tree of game folders, a folder of videos, or one video")
    parser.add_argument("--model", required=True, metavar="CKPT",
                        help="checkpoint folder (model.pt + config.json), a peer model.pth.tar, or a released model's "
                             "name (as spot: downloaded once into the cache); or a dense frame model's folder "
                             "(E2E-Spot, T-DEED, train-dense's RUN/best) or released name, which spots the videos' "
                             "frames with its peers' clips and NMS")
    parser.add_argument("--task", choices=action_task_names(), default=None,
                        help="what the model spots (data/tasks.py), read from it where it says so (a dense model "
                             "with a team head or Ball classes: ball, whose results carry each spot's team); given, "
                             "it must agree")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder: <game>/ features + results_spotting.json, the manifest, the summary")
    parser.add_argument("--labels", metavar="ROOT", default=None,
                        help="a labels tree (<game>/Labels-v2.json, Labels-ball.json for ball; may be ROOT itself): "
                             "the finished games that have labels are scored by the task's metric (ball with a team "
                             "model: Team mAP@1 and mAP@1) into archive_summary.json's evaluation")
    parser.add_argument("--jobs", type=int, default=1, help="games at a time (default 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per job (default: cores // jobs, so threads x jobs <= cores)")
    parser.add_argument("--engine", choices=list_engines(), default="local",
                        help="local processes, or Ray (needs soccerspot[ray]; a local Ray without --address)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start Ray on this machine)")
    parser.add_argument("--retries", type=int, default=2, help="Ray: times a game is retried after its worker died")
    parser.add_argument("--features-only", action="store_true", help="extract features, do not spot")
    parser.add_argument("--ground", metavar="CKPT", default=None,
                        help="also ground the replays of games with a Labels-cameras.json (beside their videos) into "
                             "Detection-replays.json: a grounding checkpoint trained on the same features, or "
                             "'similarity'")
    parser.add_argument("--ground-fusion", metavar="baidu|off|W,S,BETA1,BETA2", default=None,
                        help="with --ground: fusion with the game's own spots, as `ground --fusion` (default: the "
                             "grounding head's setting, on with Baidu's values; 'off' turns it off)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help=f"of the features extracted (default auto; {AUTO_HELP}); features already "
                             "in --out at another precision are reused")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="frames per backbone forward pass (default 32); clips per pass of a dense model (default 4)")
    parser.add_argument("--weights", default=None, metavar="FILE", action="append",
                        help="the backbone weights file, for a head trained on features of weights from a file; "
                             "repeat it for combined features whose parts use several files")
    parser.add_argument("--pca", default=None, metavar="FILE", help="the PCA file, for a head trained on PCA features")
    parser.add_argument("--nms", choices=NMS_KINDS, help="NMS kind (default: the checkpoint's)")
    parser.add_argument("--nms-window", type=float, metavar="SECONDS", help="NMS window (default: the checkpoint's)")
    parser.add_argument("--threshold", type=float, help="minimum confidence kept (default: the checkpoint's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _usage_error(message: str) -> int:
    print(f"soccerspot archive: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soccerspot.pipeline.archive.run import ArchiveRequest, default_threads, run_archive
    from soccerspot.pipeline.archive.settings import ArchiveSettings

    if (args.jobs < 1 or (args.threads is not None and args.threads < 1) or (args.batch_size is not None and args.batch_size < 1)
            or args.retries < 0):
        return _usage_error("--jobs, --threads and --batch-size must be >= 1, --retries >= 0")
    if args.address and args.engine != "ray":
        return _usage_error("--address is for --engine ray")
    if args.ground_fusion is not None:
        from soccerspot.pipeline.inference.grounding import fusion_options

        if args.ground is None:
            return _usage_error("--ground-fusion is for --ground")
        try:
            fusion_options(args.ground_fusion)
        except ValueError as error:
            return _usage_error(f"--ground-fusion {args.ground_fusion}: {error}")
    multi_process = args.jobs > 1 or args.engine == "ray"
    from soccerspot.pipeline.inference.released_models import resolve_model

    # names become local paths here, once, before any worker starts (workers only read the cache)
    grounding_model = (None if args.ground is None else
                       resolve_model(args.ground, task="grounding", flag="--ground", progress=not args.no_progress))
    model = resolve_model(args.model, progress=not args.no_progress)
    settings = ArchiveSettings(
        model=model, device=args.device, precision=args.precision, batch_size=args.batch_size, weights_file=tuple(args.weights) if args.weights else None,
        pca_file=args.pca, nms=args.nms, nms_window=args.nms_window, threshold=args.threshold,
        features_only=args.features_only, grounding_model=grounding_model, grounding_fusion=args.ground_fusion,
        torch_threads=args.threads or default_threads(args.jobs),
        progress=not args.no_progress and not multi_process,  # frame bars of several processes would garble
        task=args.task,
    )
    request = ArchiveRequest(root=Path(args.root), out=Path(args.out), settings=settings, jobs=args.jobs,
                             engine=args.engine, address=args.address, retries=args.retries,
                             progress=not args.no_progress, labels=Path(args.labels) if args.labels else None)
    try:
        summary = run_archive(request)
    except ValueError as error:
        if type(error) is not ValueError:
            raise  # DataError: the CLI prints it and exits 1
        return _usage_error(str(error))
    print(f"archive: {summary['done']} done, {summary['failed']} failed, {summary['skipped']} skipped "
          f"(done before); {summary['spots']} spots in {args.out}/archive_spots.csv")
    if summary["video_hours_per_compute_hour"]:
        print(f"  {summary['video_hours_per_compute_hour']:g} hours of video per hour of compute, "
              f"{summary['games_per_hour']} games/hour")
    for game, error in summary["failures"].items():
        print(f"  failed: {game}: {error}")
    evaluation = summary.get("evaluation")
    if evaluation is not None:
        if "error" in evaluation:
            print(f"soccerspot archive: warning: not evaluated: {evaluation['error']}", file=sys.stderr)
        else:
            scores = ", ".join(f"{key} {value:.4f}" if value is not None else f"{key} -"
                               for key, value in evaluation["headline"].items())
            print(f"  evaluation ({evaluation['task']}, {evaluation['class_set']}, {evaluation['metric']}, "
                  f"{evaluation['games']} game(s) with labels): {scores}")
    return 1 if summary["failed"] else 0
