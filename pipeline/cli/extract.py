"""`soccerspot extract`: frame features from match videos (one `.npy` + JSON sidecar per half).

PATH is a video, a folder of videos, or a SoccerNet tree (game folders holding 1_224p.mkv / 2_224p.mkv);
outputs mirror the tree under --out. A lone video `match.mp4` becomes `<out>/match/1_<name>.npy`; see
extract/jobs.py for the exact mapping. Halves already extracted with the same settings are skipped.
"""
from __future__ import annotations

import argparse
import sys

FLAGS = {"feature_name": "--name"}  # ExtractConfig fields whose flag is not the field's own name
HELP = "extract frame features (ResNet-152 at 2 fps by default) from match videos"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from soccerspot.extract.decode import DECODERS, DEFAULT_DECODER
    from soccerspot.extract.transforms import TRANSFORMS

    parser.add_argument("paths", nargs="+", metavar="PATH", help="video files, folders of videos, or SoccerNet trees")
    parser.add_argument("--out", required=True, help="output folder (mirrors the input tree)")
    parser.add_argument("--backbone", default="resnet152",
                        help="resnet18..resnet152, timm:<model>, or a video model video:r3d_18|mc3_18|r2plus1d_18|s3d|"
                             "mvit_v1_b|mvit_v2_s|swin3d_t|swin3d_s|swin3d_b (one clip per row; default resnet152)")
    parser.add_argument("--weights", default="imagenet",
                        help="imagenet[:TAG] (video models: kinetics[:TAG]) | none | a checkpoint FILE (default imagenet)")
    parser.add_argument("--fps", type=float, default=2.0, help="samples per second, by timestamp (default 2)")
    parser.add_argument("--transform", default="crop", choices=TRANSFORMS, help="frame geometry (default crop: SoccerNet's)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="backbone input size (default: the backbone's own: 224 for ResNets, 112 for r3d_18...)")
    parser.add_argument("--pca", default=None, metavar="FILE", help="apply a PCA (.npz, or SoccerNet's pca_512_TF2.pkl)")
    parser.add_argument("--batch-size", type=int, default=32, help="frames per forward pass (default 32)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    parser.add_argument("--decoder", default=DEFAULT_DECODER, choices=DECODERS, help=f"video decoder (default {DEFAULT_DECODER}: measured fastest when streaming)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                        help="auto: bf16 on CPUs with native bf16, else fp32; fp16 on CUDA (default auto)")
    parser.add_argument("--name", default=None, metavar="FEATURE_NAME", help="feature file name (default: the backbone's)")
    parser.add_argument("--start", type=float, default=0.0, help="skip the first S seconds of each video")
    parser.add_argument("--duration", type=float, default=None, help="extract only S seconds")
    parser.add_argument("--features", default=None, metavar="RECIPE",
                        help="a published feature recipe, exactly: ResNET_TF2 (SoccerNet's Keras ResNet152 features, "
                             "FrameCV's frames) or ResNET_TF2_PCA512 (with --pca pca_512_TF2.pkl); sets backbone, "
                             "weights (downloaded once into the cache; or --weights FILE.h5), frames, geometry, fps, name")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soccerspot.extract.extractor import ExtractConfig, Extractor, extract_paths
    from soccerspot.errors import DataError
    from soccerspot.models.backbones import BackboneWeightsError

    config = ExtractConfig(
        backbone=args.backbone, weights=args.weights, fps=args.fps, transform=args.transform,
        input_size=args.input_size, batch_size=args.batch_size, device=args.device, precision=args.precision,
        decoder=args.decoder, pca=args.pca, feature_name=args.name, start=args.start, duration=args.duration,
        progress=not args.no_progress,
    )
    problems = config.problems()
    if problems:
        field, reason = problems[0]
        flag = FLAGS.get(field, "--" + field.replace("_", "-"))
        print(f"soccerspot extract: error: {flag} {reason}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DataError(out, "--out exists and is not a folder; choose another")

    def report(path: Path, reason: str) -> None:
        print(f"soccerspot extract: error: {path}: {reason}", file=sys.stderr)

    try:
        if args.features:
            from soccerspot.extract.recipes import RECIPES, build_recipe_extractor

            if args.features not in RECIPES:
                print(f"soccerspot extract: error: --features {args.features}: unknown recipe; known: "
                      f"{', '.join(RECIPES)}", file=sys.stderr)
                return 2
            extractor = build_recipe_extractor(
                args.features, weights_file=None if args.weights == "imagenet" else args.weights, pca_file=args.pca,
                batch_size=args.batch_size, device=args.device, precision=args.precision, start=args.start,
                duration=args.duration, progress=not args.no_progress)
            config = extractor.config
        else:
            extractor = Extractor(config)
    except DataError:
        raise
    except (BackboneWeightsError, ValueError) as error:
        print(f"soccerspot extract: error: {error}", file=sys.stderr)
        return 1
    print(
        f"extracting {extractor.name}: {extractor.backbone.name} ({extractor.backbone.weights_id}), "
        f"{config.fps:g} fps, {config.transform} {extractor.input_size}, {extractor.precision} on {extractor.device}"
        + (f", clips of {extractor.backbone.clip_frames} frames at {extractor.backbone.clip_fps:g} fps" if extractor.is_clip else ""),
        file=sys.stderr,
    )
    summary = extract_paths(args.paths, args.out, config, extractor=extractor, report=report)
    rate = summary.frames / summary.seconds if summary.seconds > 0 else 0.0
    print(
        f"extracted {len(summary.done)} half(s), {summary.frames} frames in {summary.seconds:.1f} s "
        f"({rate:.1f} frames/s); skipped {len(summary.skipped)} already complete; {len(summary.failed)} failed"
    )
    for path, reason in summary.failed:
        print(f"  failed: {path}: {reason}")
    return 1 if summary.failed else 0
