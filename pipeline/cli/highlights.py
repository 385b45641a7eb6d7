"""`soccerspot highlights`: a highlight reel of the spotted actions, with chapters."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "cut a highlight reel (with chapters) around the spotted actions of a match video"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", metavar="VIDEO_OR_GAME", type=Path,
                        help="a match video, or a SoccerNet game folder holding 1_224p.mkv and 2_224p.mkv")
    parser.add_argument("--predictions", metavar="results_spotting.json", type=Path,
                        help="the spots (default: the game folder's results_spotting.json)")
    parser.add_argument("--classes", metavar="NAMES", help="comma-separated classes, e.g. Goal,Penalty (default: all)")
    parser.add_argument("--min-confidence", type=float, default=0.0, metavar="X",
                        help="keep spots with at least this confidence (default: 0)")
    parser.add_argument("--before", type=float, default=15.0, metavar="SECONDS",
                        help="seconds of match before each spot (default: 15)")
    parser.add_argument("--after", type=float, default=20.0, metavar="SECONDS",
                        help="seconds of match after each spot (default: 20)")
    parser.add_argument("-o", "--out", required=True, type=Path, metavar="REEL.mp4",
                        help="the reel (.mp4, .mkv, .mov); chapter lists go beside it (.chapters.json/.txt)")
    parser.add_argument("--with-replays", nargs="?", const="", default=None, metavar="Detection-replays.json",
                        help="put each replay right after its action (replays grounded by soccerspot ground; "
                             "default: the game folder's Detection-replays.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from soccerspot.pipeline.reports.highlights import make_highlight_reel
    from soccerspot.pipeline.reports.windows import HighlightOptions

    try:
        classes = None
        if args.classes is not None:
            classes = tuple(name.strip() for name in args.classes.split(",") if name.strip())
            if not classes:
                raise ValueError("--classes names no class")
        options = HighlightOptions(classes, args.min_confidence, args.before, args.after)
        replays = None
        if args.with_replays is not None:
            from soccerspot.data.cameras import DETECTIONS_FILE

            if args.with_replays == "" and not args.video.is_dir():
                raise ValueError("--with-replays needs the Detection-replays.json for a video file")
            replays = Path(args.with_replays) if args.with_replays else args.video / DETECTIONS_FILE
        reel = make_highlight_reel(args.video, args.predictions, args.out, options, progress=not args.quiet,
                                   replays=replays)
    except ValueError as error:
        if type(error) is not ValueError:
            raise
        print(f"soccerspot highlights: error: {error}", file=sys.stderr)
        return 2
    copied = sum(segment.copy for segment in reel.segments)
    print(f"wrote {reel.path} ({reel.duration:.1f} s, {len(reel.chapters)} chapters; {copied} of "
          f"{len(reel.segments)} segments stream-copied, the rest re-encoded to start on time)")
    print(f"chapters: {reel.chapters_json}, {reel.chapters_text}")
    if reel.skipped_spots:
        print(f"warning: {reel.skipped_spots} chosen spot(s) lie outside the video(s) and were left out",
              file=sys.stderr)
    return 0
