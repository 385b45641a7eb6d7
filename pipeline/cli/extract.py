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
    from soccerspot.extract.precision import AUTO_HELP, PRECISIONS
    from soccerspot.extract.transforms import TRANSFORMS

    parser.add_argument("paths", nargs="+", metavar="PATH", help="video files, folders of videos, or SoccerNet trees")
    parser.add_argument("--out", required=True, help="output folder (mirrors the input tree)")
    parser.add_argument("--backbone", default=None,
                        help="resnet18..resnet152, timm:<model>, or a video model video:r3d_18|mc3_18|r2plus1d_18|s3d|"
                             "mvit_v1_b|mvit_v2_s|swin3d_t|swin3d_s|swin3d_b (one clip per row; default resnet152)")
    parser.add_argument("--weights", default="imagenet",
                        help="imagenet[:TAG] (video models: kinetics[:TAG]) | none | a checkpoint FILE (default imagenet)")
    parser.add_argument("--fps", type=float, default=None, help="samples per second, by timestamp (default 2)")
    parser.add_argument("--transform", default=None, choices=TRANSFORMS, help="frame geometry (default crop: SoccerNet's)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="backbone input size (default: the backbone's own: 224 for ResNets, 112 for r3d_18...)")
    parser.add_argument("--pca", default=None, metavar="FILE", help="apply a PCA (.npz, or SoccerNet's pca_512_TF2.pkl)")
    parser.add_argument("--batch-size", type=int, default=32, help="frames per forward pass (default 32)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    parser.add_argument("--decoder", default=None, choices=DECODERS, help=f"video decoder (default {DEFAULT_DECODER}: measured fastest when streaming)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help=f"{AUTO_HELP} (default auto)")
    parser.add_argument("--name", default=None, metavar="FEATURE_NAME", help="feature file name (default: the backbone's)")
    parser.add_argument("--start", type=float, default=0.0, help="skip the first S seconds of each video")
    parser.add_argument("--duration", type=float, default=None, help="extract only S seconds")
    parser.add_argument("--features", default=None, metavar="RECIPE",
                        help="a published feature recipe, exactly: ResNET_TF2 (SoccerNet's Keras ResNet152 features, "
                             "FrameCV's frames) or ResNET_TF2_PCA512 (with --pca pca_512_TF2.pkl); sets backbone, "
                             "weights (downloaded once into the cache; or --weights FILE.h5), frames, geometry, fps, "
                             "decoder, name: any of --backbone, --fps, --transform, --input-size, --decoder, --name "
                             "given must equal the recipe's")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def flag_text(field: str, value: object) -> str:
    """How the flag of an `ExtractConfig` field reads with `value` (`--fps 1`, `--name foo`)."""
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{FLAGS.get(field, '--' + field.replace('_', '-'))} {shown}"


def recipe_conflict(recipe_name: str, given: dict[str, object], weights: str) -> str | None:
    """Why the flags `given` (`ExtractConfig` fields, None: not given) and `--weights` cannot go with
    `--features recipe_name` (an unknown recipe, a flag that disagrees with the recipe), or None."""
    from soccerspot.extract.recipes import RECIPES, recipe_disagreements

    if recipe_name not in RECIPES:
        return f"--features {recipe_name}: unknown recipe; known: {', '.join(RECIPES)}"
    recipe = RECIPES[recipe_name]
    found = [f"{flag_text(field, value)} disagrees with --features {recipe_name}, which uses "
             f"{flag_text(field, fixed).split(' ', 1)[1]}" for field, value, fixed in recipe_disagreements(recipe, given)]
    if weights == "none":
        found.append(f"--weights none disagrees with --features {recipe_name}, which loads {recipe.weights.filename} "
                     "(the default, downloaded once into the cache) or the copy --weights FILE.h5 names")
    return "; ".join(found) or None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soccerspot.extract.extractor import ExtractConfig, Extractor, extract_paths
    from soccerspot.errors import DataError
    from soccerspot.models.backbones import BackboneWeightsError

    # the flags a --features recipe fixes default to None, so that a flag given can be told from its default:
    # one that disagrees with the recipe is a usage error, one equal to it is fine
    given = {"backbone": args.backbone, "fps": args.fps, "transform": args.transform, "input_size": args.input_size,
             "decoder": args.decoder, "feature_name": args.name}
    if args.features:
        conflict = recipe_conflict(args.features, given, args.weights)
        if conflict:
            print(f"soccerspot extract: error: {conflict}", file=sys.stderr)
            return 2
    config = ExtractConfig(
        **{name: value for name, value in given.items() if value is not None},  # else ExtractConfig's defaults
        weights=args.weights, batch_size=args.batch_size, device=args.device, precision=args.precision,
        pca=args.pca, start=args.start, duration=args.duration, progress=not args.no_progress,
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
            from soccerspot.extract.recipes import build_recipe_extractor

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
