"""`soccerspot finetune`: train a backbone's last stage end to end with a spotting head on labelled videos.

    soccerspot finetune --videos ROOT [--labels ROOT] --train-split train --valid-split valid \\
        --backbone resnet152 --weights imagenet --trainable-stages 1 --head netvlad++ \\
        --preset rmsnet-finetune --out RUN

RUN/best/backbone.pt is then what `soccerspot extract --weights RUN/best/backbone.pt --transform short-side`
re-extracts the archive with, and `soccerspot spot MATCH.mkv --model RUN/best` spots raw video with the
fine-tuned backbone and head. Exit codes as `soccerspot train`: 1 for bad data, 2 for a flag that cannot work.

`--recipe snippets` (`pipeline.training.snippets`) fine-tunes the backbone as an 18-way classifier of
`--snippet-seconds` snippets instead, exporting RUN/best/backbone.pt and snippet_model.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from soccerspot.data.games import SPLIT_HELP
from soccerspot.pipeline.cli import UsageError

HELP = "fine-tune a backbone's last stage with a spotting head on labelled match videos (RMS-Net's recipe)"
FINETUNE_FLAGS = ("--backbone", "--weights", "--trainable-stages", "--fps", "--transform", "--input-size",
                  "--decoder", "--gradient-checkpointing", "--freeze-bn", "--no-balance", "--flip", "--color-jitter")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from soccerspot.extract.decode import DECODERS
    from soccerspot.extract.transforms import TRANSFORMS
    from soccerspot.pipeline.cli.train import add_distributed_arguments, add_setting_arguments
    from soccerspot.pipeline.training.presets import PRESETS

    parser.add_argument("--videos", required=True, type=Path,
                        help="root of the SoccerNet-layout tree holding <game>/1_224p.mkv and 2_224p.mkv")
    parser.add_argument("--labels", type=Path, default=None,
                        help="where <game>/Labels-v2.json live (default: beside the videos)")
    parser.add_argument("--train-split", default="train", help=f"training games: {SPLIT_HELP}")
    parser.add_argument("--valid-split", default="valid", help=f"validation games: {SPLIT_HELP}")
    parser.add_argument("--recipe", choices=("end-to-end", "snippets"), default="end-to-end",
                        help="end-to-end (default): the backbone's last stages with a spotting head on clips; "
                             "snippets: the backbone as an 18-way classifier of snippets centred on events and "
                             "on event-free stretches (Baidu's extractors), exported for extract --weights")
    parser.add_argument("--snippet-seconds", type=float, default=5.0,
                        help="snippet recipe: seconds per snippet (default 5)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="the recipe to start from (default rmsnet-finetune; with --resume: the run's own)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder (default runs/finetune-<date>); never overwritten without --resume")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="frame caches (uint8, ~270 kB per 398x224 frame: ~1.4 GB per 45-min half at 2 fps); "
                             "default: frame-cache/ beside the run folder, shared by the runs there, so each video "
                             "is decoded once")
    parser.add_argument("--backbone", default="resnet152",
                        help="resnet18..resnet152, timm:<model>, or video:<model> (with --recipe snippets)")
    parser.add_argument("--weights", default="imagenet", help="imagenet[:TAG] | none | a checkpoint FILE")
    parser.add_argument("--trainable-stages", type=int, default=1,
                        help="how many last stages train (1: ResNet's layer4, as RMS-Net; 0: the head only)")
    parser.add_argument("--fps", type=float, default=2.0, help="frames per second of the clips (default 2)")
    parser.add_argument("--transform", default="short-side", choices=TRANSFORMS,
                        help="frame geometry (default short-side: the whole 398x224 frame, as RMS-Net)")
    parser.add_argument("--input-size", type=int, default=224, help="short side / crop size (default 224)")
    parser.add_argument("--decoder", default="pyav", choices=DECODERS,
                        help="decoder filling the frame caches (default pyav: one sequential pass per half)")
    parser.add_argument("--gradient-checkpointing", action="store_true",
                        help="recompute the trainable blocks' activations in the backward pass (less memory)")
    parser.add_argument("--freeze-bn", action="store_true",
                        help="the trainable stages' BatchNorm layers stay in eval mode (their running statistics "
                             "fixed, their scale and shift still train)")
    parser.add_argument("--no-balance", action="store_true", help="shuffled batches instead of class-balanced ones")
    parser.add_argument("--flip", action="store_true", help="random horizontal flips of whole clips")
    parser.add_argument("--color-jitter", type=float, default=0.0, help="brightness/contrast jitter strength (0: off)")
    parser.add_argument("--epochs", type=int, default=None, help="maximum number of epochs (max_epochs)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop each training epoch after this many batches (smoke tests, benchmarks)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_distributed_arguments(parser)
    add_setting_arguments(parser, taken=FINETUNE_FLAGS)


def settings_from(args: argparse.Namespace):
    from soccerspot.pipeline.training.finetune import FineTuneSettings

    return FineTuneSettings(
        backbone=args.backbone, weights=args.weights, trainable_stages=args.trainable_stages, fps=args.fps,
        transform=args.transform, input_size=args.input_size, decoder=args.decoder,
        gradient_checkpointing=args.gradient_checkpointing, freeze_batchnorm=args.freeze_bn,
        balanced=not args.no_balance, flip=args.flip,
        color_jitter=args.color_jitter,
    ).validate()


def check_inputs(args: argparse.Namespace) -> None:
    from soccerspot.errors import DataError
    from soccerspot.pipeline.training.run_folder import check_run_folder

    from soccerspot.pipeline.cli.train import check_distributed_arguments

    if args.max_batches is not None and args.max_batches < 1:
        raise UsageError(f"--max-batches {args.max_batches}: must be >= 1")
    check_distributed_arguments(args)
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out (the run folder to continue)")
    for flag, folder in (("--videos", args.videos), ("--labels", args.labels)):
        if folder is not None and not folder.is_dir():
            raise DataError(folder, f"{'not a folder' if folder.exists() else 'folder not found'} ({flag})")
    if args.out is not None:
        check_run_folder(args.out, args.resume)


def check_backbone(name: str) -> None:
    """An unknown backbone is a usage error before any video is decoded."""
    from soccerspot.models.backbones import backbone_entry

    try:
        backbone_entry(name)
    except ValueError as error:
        raise UsageError(f"--backbone {name}: {error}") from None


def check_frame_backbone(name: str) -> None:
    """The end-to-end recipe feeds the backbone single frames; a video backbone needs clips (the snippet recipe)."""
    from soccerspot.models.backbones.video import is_video_backbone

    if is_video_backbone(name):
        raise UsageError(f"--backbone {name}: the end-to-end recipe runs the backbone on single frames; fine-tune "
                         "a video backbone with --recipe snippets")


def check_weights(settings) -> None:
    """Weights that cannot load (offline, a bad file) are refused before hours of decoding."""
    from soccerspot.errors import DataError
    from soccerspot.models.backbones import BackboneWeightsError, create_backbone

    try:
        create_backbone(settings.backbone, weights=settings.weights)
    except BackboneWeightsError as error:
        raise DataError(None, str(error)) from None


def run_games(args: argparse.Namespace, recipe: str) -> tuple[Path, list[str], list[str]]:
    """(labels root, training games, validation games) of a fine-tuning run; `--out` defaults to
    `runs/<recipe>-<date>`."""
    from soccerspot.errors import DataError
    from soccerspot.pipeline.training.finetune import videos_games

    if args.out is None:
        args.out = Path("runs") / f"{recipe}-{time.strftime('%Y%m%d-%H%M%S')}"
    train_games = videos_games(args.train_split, args.videos)
    valid_games = videos_games(args.valid_split, args.videos)
    if not train_games:
        raise DataError(args.videos, f"no training games (--train-split {args.train_split})")
    return args.labels or args.videos, train_games, valid_games


def run(args: argparse.Namespace) -> int:
    return finetune_command(args)


def finetune_command(args: argparse.Namespace) -> int:
    from soccerspot.pipeline.cli.train import build_config, launch_ranks, launches_ranks, start_ranks
    from soccerspot.pipeline.training.finetune import BACKBONE_FILE, check_finetune_head, finetune, load_finetune_data

    check_inputs(args)
    if args.recipe == "snippets":
        return snippets_command(args)
    config = build_config(args, default_preset="rmsnet-finetune")
    settings = settings_from(args)
    check_backbone(settings.backbone)
    check_frame_backbone(settings.backbone)
    check_finetune_head(config.head)
    check_weights(settings)
    labels_root, train_games, valid_games = run_games(args, "finetune")
    if launches_ranks(args):
        return launch_ranks(args)
    config, shard = start_ranks(args, config)
    data = load_finetune_data(config, settings, args.videos, labels_root, train_games, valid_games,
                              args.cache_dir or args.out.parent / "frame-cache", progress=not args.no_progress)
    if shard.is_main:
        print(f"fine-tuning {settings.backbone} (last {settings.trainable_stages} stage(s)) with {config.head} "
              f"({config.preset}) on {len(train_games)} games; validation {len(valid_games)} games; run folder "
              f"{args.out}")
    result = finetune(config, settings, data, args.out, resume=args.resume, max_batches=args.max_batches,
                      progress=not args.no_progress)
    last = result.history[-1] if result.history else {}
    if shard.is_main:
        print(json.dumps({"out": str(result.out_dir), "epochs": result.epochs, "best_epoch": result.best_epoch,
                          "best_" + config.select_on: result.best_value, "stop_reason": result.stop_reason,
                          "backbone": str(Path(result.out_dir) / "best" / BACKBONE_FILE), "last": last}))
    return 0


def snippets_command(args: argparse.Namespace) -> int:
    """`soccerspot finetune --recipe snippets` (the arguments of this command; inputs checked)."""
    import json
    from pathlib import Path

    from soccerspot.pipeline.cli.train import build_config, launch_ranks, launches_ranks, start_ranks
    from soccerspot.pipeline.training.finetune import BACKBONE_FILE
    from soccerspot.pipeline.training.loop import check_loop_settings
    from soccerspot.pipeline.training.snippets import (
        SnippetSettings, check_snippet_settings, load_snippet_data, run_snippets,
    )

    config = build_config(args, default_preset="rmsnet-finetune")
    settings = settings_from(args)
    snippet = SnippetSettings(snippet_seconds=args.snippet_seconds)
    check_backbone(settings.backbone)
    check_loop_settings(config)
    check_snippet_settings(config, settings, snippet)
    check_weights(settings)
    labels_root, train_games, valid_games = run_games(args, "snippets")
    if launches_ranks(args):
        return launch_ranks(args)
    config, shard = start_ranks(args, config)
    data = load_snippet_data(config, settings, args.videos, labels_root, train_games, valid_games,
                             args.cache_dir or args.out.parent / "frame-cache", progress=not args.no_progress)
    if shard.is_main:
        print(f"fine-tuning {settings.backbone} (last {settings.trainable_stages} stage(s)) as a "
              f"{len(data.classes) + 1}-way snippet classifier ({snippet.snippet_seconds:g} s snippets) on "
              f"{len(train_games)} games; validation {len(valid_games)} games; run folder {args.out}")
    result = run_snippets(config, settings, snippet, data, args.out, resume=args.resume, max_batches=args.max_batches,
                          progress=not args.no_progress)
    last = result.history[-1] if result.history else {}
    selected = "best_valid_accuracy" if data.valid else "best_train_loss"
    if shard.is_main:
        print(json.dumps({"out": str(result.out_dir), "recipe": "snippets", "epochs": result.epochs,
                          "best_epoch": result.best_epoch, selected: result.best_value,
                          "stop_reason": result.stop_reason,
                          "backbone": str(Path(result.out_dir) / "best" / BACKBONE_FILE), "last": last}))
    return 0
