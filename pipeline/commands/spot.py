"""`soccerspot spot`: frame features -> results_spotting.json per game, with a trained head."""
from __future__ import annotations

import argparse
import sys

HELP = "spot actions in frame features with a trained head (ours or a SoccerNet baseline's model.pth.tar)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="FEATURES_OR_TREE",
                        help="a feature file (<half>_<name>.npy), a game folder, or a tree of game folders; or a raw "
                             "video / game folder of half videos (the head's features are extracted first)")
    parser.add_argument("--model", required=True, metavar="CKPT",
                        help="checkpoint folder (model.pt + config.json) or a peer model.pth.tar")
    parser.add_argument("--features", metavar="NAME",
                        help="feature name, e.g. ResNET_TF2_PCA512 (needed for a tree unless the checkpoint names it)")
    parser.add_argument("--out", metavar="DIR",
                        help="write results here (a tree keeps its layout); default: beside the features")
    parser.add_argument("--nms", choices=["hard", "soft"], help="NMS kind (default: the checkpoint's, else hard)")
    parser.add_argument("--nms-window", type=float, metavar="SECONDS", help="NMS window (default: the checkpoint's)")
    parser.add_argument("--threshold", type=float, help="minimum confidence kept by NMS (default: the checkpoint's)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing results_spotting.json files (default: skip those games)")
    parser.add_argument("--method", choices=["auto", "fast", "per-window"], default="auto",
                        help="inference path: fast prefix sums for pooling heads, or every window separately")
    parser.add_argument("--window", type=int, metavar="FRAMES",
                        help="window length in frames for a peer checkpoint without training.log")


def run(args: argparse.Namespace) -> int:
    from soccerspot.pipeline.checkpoints import load_checkpoint
    from soccerspot.pipeline.spot import SpotOptions, spot_paths

    head = load_checkpoint(args.model, window_frames=args.window)
    options = SpotOptions(nms=args.nms, nms_window=args.nms_window, threshold=args.threshold,
                          overwrite=args.overwrite, method=args.method)
    try:
        from soccerspot.pipeline.video_spot import is_video_input, spot_video  # raw video: extract the head's features first

        if is_video_input(args.input):
            report = spot_video(args.input, head, out_dir=args.out, options=options)
        else:
            report = spot_paths(args.input, head, feature_name=args.features, out_dir=args.out, options=options)
    except ValueError as error:
        if type(error) is not ValueError:
            raise
        print(f"soccerspot spot: error: {error}", file=sys.stderr)
        return 2
    spotted, skipped, errors = report.count("spotted"), report.count("skipped"), report.errors
    total = sum(r.predictions for r in report.results)
    print(f"spotted {spotted} game(s), {total} predictions; {skipped} skipped (results exist: --overwrite "
          f"to replace); {len(errors)} error(s)")
    for result in report.results:
        if result.status == "spotted" and spotted <= 5:
            print(f"  {result.output} ({result.predictions} predictions, halves {result.halves})")
    for result in errors:
        print(f"  error: {result.error}")
    return 1 if errors else 0
