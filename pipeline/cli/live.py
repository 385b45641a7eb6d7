"""`soccerspot live`: spot a match while it is broadcast (a growing recording, an HLS playlist, a stream URL).

Bad option values exit 2 naming the flag; bad or missing data (checkpoint, source) exit 1 naming it.
Ctrl-C / SIGTERM end the run cleanly: the half's features and results_spotting.json are written for
the part seen. `kill -9` and the same command again continue where the run stopped.
"""
from __future__ import annotations

import argparse
import sys

HELP = "spot actions live: follow a recording / HLS playlist / stream URL, emit events as they become certain"


class UsageError(ValueError):
    """A bad option value: one line naming the flag, exit 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="a recording still being written (.ts, .mkv), an HLS playlist (.m3u8, a path or "
                             "http(s) URL), or a stream URL PyAV opens (udp://, srt://, rtmp://, rtsp://)")
    parser.add_argument("--model", required=True, metavar="CKPT|NAME",
                        help="head checkpoint folder (model.pt + config.json), a peer model.pth.tar, a dense frame "
                             "model's folder (E2E-Spot, T-DEED: events about a clip's duration behind), or a released "
                             "model's name (resolved as spot does); for features of SoccerNet's FrameCV frame rule "
                             "(ResNET_TF2, the released heads') frames are kept by its counter, and at the end rows "
                             "are re-made from the finished file where its frame-rate check changes them")
    parser.add_argument("--out", metavar="DIR",
                        help="where the features, results_spotting.json and the events log go (default for a file: "
                             "what `spot` uses; required for a URL)")
    parser.add_argument("--half", type=int, default=1, choices=(1, 2), help="which half this source is (default 1)")
    parser.add_argument("--events", metavar="FILE|-", help="also write each event line (JSON) to FILE, or - for stdout")
    parser.add_argument("--webhook", metavar="URL", help="POST each event line as JSON to URL (retried; never blocks)")
    parser.add_argument("--idle", type=float, default=10.0, metavar="SECONDS",
                        help="end when the source delivered nothing for this long (default 10)")
    parser.add_argument("--max-latency", type=float, metavar="SECONDS",
                        help="emit an event NMS may still overturn once its frame arrived this long ago or it is this "
                             "old in stream time (default: the head's own bound + 2 s; a correction line follows if "
                             "it is overturned)")
    parser.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                        help="emit only events at least this confident (the final file keeps every spot)")
    parser.add_argument("--nms", choices=("hard", "soft"), help="NMS kind (default: the checkpoint's)")
    parser.add_argument("--nms-window", type=float, metavar="SECONDS", help="NMS window (default: the checkpoint's)")
    parser.add_argument("--threshold", type=float, help="NMS threshold in [0, 1] (default: the checkpoint's)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    from soccerspot.extract.precision import AUTO_HELP, PRECISIONS

    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help=f"extraction precision (default auto; {AUTO_HELP})")
    parser.add_argument("--batch-size", type=int, metavar="N",
                        help="the extraction batch size of the `spot` run to be equal to (default 32, spot's); for a "
                             "dense frame model, its clips per pass (default 4, spot's)")
    parser.add_argument("--weights", metavar="FILE", help="the backbone weights file, when the head's features used one")
    parser.add_argument("--pca", metavar="FILE", help="the PCA the head's features were reduced with")
    parser.add_argument("--features", metavar="NAME",
                        help="name of the feature files written (a recipe's name, e.g. ResNET_TF2, only for the "
                             "features that recipe makes)")
    parser.add_argument("--status-every", type=float, default=2.0, metavar="SECONDS",
                        help="status line period on stderr (0: none)")


def check_values(args: argparse.Namespace) -> None:
    for flag, value, low in (("--idle", args.idle, 0.0), ("--max-latency", args.max_latency, 0.0),
                             ("--status-every", args.status_every, -1e-9)):
        if value is not None and not value > low:
            raise UsageError(f"{flag} must be {'positive' if low == 0 else '>= 0'}, got {value:g}")
    if not 0.0 <= args.min_confidence <= 1.0:
        raise UsageError(f"--min-confidence must be in [0, 1], got {args.min_confidence:g}")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1], got {args.threshold:g}")
    if args.nms_window is not None and not args.nms_window > 0:
        raise UsageError(f"--nms-window must be a positive number of seconds, got {args.nms_window:g}")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.webhook is not None and not args.webhook.startswith(("http://", "https://")):
        raise UsageError(f"--webhook {args.webhook}: expected an http:// or https:// URL")


def default_out(source: str):
    from pathlib import Path

    from soccerspot.pipeline.live.sources import source_kind

    if source_kind(source) != "file":
        raise UsageError("--out DIR is required when SOURCE is a playlist or stream URL")
    from soccerspot.pipeline.inference.video_spot import plan_video_input

    path = Path(source)
    if not path.is_file():
        from soccerspot.errors import DataError

        raise DataError(path, "file not found (a live recording must exist when live starts)")
    return plan_video_input(path, None)[0]


def run(args: argparse.Namespace) -> int:
    from soccerspot.errors import DataError

    try:
        return live(args)
    except DataError:
        raise
    except ValueError as error:
        print(f"soccerspot live: error: {error}", file=sys.stderr)
        return 2


def live(args: argparse.Namespace) -> int:
    import signal
    import threading
    from pathlib import Path

    check_values(args)
    out = Path(args.out) if args.out else default_out(args.source)
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint
    from soccerspot.pipeline.inference.dense_models import is_dense_model_folder
    from soccerspot.pipeline.inference.released_models import resolve_model
    from soccerspot.pipeline.live.session import LiveOptions, run_live
    from soccerspot.pipeline.inference.spot import SpotOptions

    model_path = resolve_model(args.model)
    if is_dense_model_folder(model_path):
        return live_dense(args, model_path, out)
    head = load_checkpoint(model_path)
    options = LiveOptions(
        source=args.source, out_dir=out, half=args.half, idle_s=args.idle, max_latency_s=args.max_latency,
        min_confidence=args.min_confidence, events=args.events, webhook=args.webhook,
        status_every_s=args.status_every, device=args.device, precision=args.precision, batch_size=args.batch_size or 32,
        weights_file=args.weights, pca_file=args.pca, feature_name=args.features,
        spot=SpotOptions(nms=args.nms, nms_window=args.nms_window, threshold=args.threshold),
    )
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        report = run_live(head, options, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    gaps = f"; {len(report.gaps)} gap(s) recorded in the features' sidecar" if report.gaps else ""
    resumed = f" ({report.resumed_rows} rows from the interrupted run)" if report.resumed_rows else ""
    remade = f"; {report.remade_rows} rows re-made at FrameCV's rate" if report.remade_rows else ""
    print(f"live: {report.rows + report.resumed_rows} rows{resumed}{remade}, {report.stream_s:.1f} s of stream in "
          f"{report.wall_s:.1f} s (processed at {report.realtime_factor:.2f}x real time), {report.events} events, "
          f"{report.corrections} corrections{gaps}", file=sys.stderr)
    # with --events - stdout carries only event lines
    print(f"wrote {report.features} and {report.results}", file=sys.stderr if args.events == "-" else sys.stdout)
    return 0


# flags of the feature heads' live run that a dense model's peer inference fixes (as `spot`'s DENSE_REFUSED)
DENSE_REFUSED = {"--features": "features", "--nms": "nms", "--nms-window": "nms_window", "--threshold": "threshold",
                 "--weights": "weights", "--pca": "pca"}


def live_dense(args: argparse.Namespace, model_path: str, out) -> int:
    """`live SOURCE --model DIR` for a dense frame model folder (`pipeline.live.dense_session`)."""
    import signal
    import threading

    from soccerspot.pipeline.inference.dense_models import load_dense_spotter
    from soccerspot.pipeline.live.dense_session import DENSE_CLIPS_PER_BATCH, run_dense_live
    from soccerspot.pipeline.live.session import LiveOptions

    given = [flag for flag, name in DENSE_REFUSED.items() if getattr(args, name) is not None]
    if given:
        raise UsageError(f"{', '.join(given)}: not for a dense frame model ({args.model}), whose frames, clips "
                         "and NMS are its peers'")
    spotter = load_dense_spotter(model_path)
    options = LiveOptions(
        source=args.source, out_dir=out, half=args.half, idle_s=args.idle, max_latency_s=args.max_latency,
        min_confidence=args.min_confidence, events=args.events, webhook=args.webhook,
        status_every_s=args.status_every, device=args.device, precision=args.precision)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        report = run_dense_live(spotter, options, stop, clips_per_batch=args.batch_size or DENSE_CLIPS_PER_BATCH)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"live: {report.rows} frames of the model, {report.stream_s:.1f} s of stream in {report.wall_s:.1f} s, "
          f"{report.events} events, {report.corrections} corrections", file=sys.stderr)
    print(f"wrote {report.features} and {report.results}", file=sys.stderr if args.events == "-" else sys.stdout)
    return 0
