"""`soccerspot train-dense`: train a dense frame model (E2E-Spot) end to end on labelled match videos.

    soccerspot train-dense --videos ROOT [--labels ROOT] --train-split train --valid-split valid \\
        [--preset e2e-spot-paper] [--model e2e-spot] [--feature-arch rny002_gsm] [--clip-len 100] --out RUN
    soccerspot train-dense --task ball --videos BALL_ROOT --out RUN    # T-DEED with its team head (tdeed-ball)
    soccerspot spot MATCH.mkv --model RUN/best

Each half video is decoded once into a frame cache of the model's frame recipe; clips, labels, mixup, loss
and schedule are the preset's (E2E-Spot's `e2e-spot-paper`, T-DEED's `tdeed-ball` and `tdeed-soccernetv2`;
`pipeline.training.dense`). `--task` picks the labels file and class set (`data.tasks`) and, without
`--preset`, the first dense preset for that task. Under torchrun or with `--nproc N` it trains on N ranks
(`--batch-size` the global batch; `--sync-bn` for BatchNorm statistics over the global batch, else per rank);
`--accumulate K` cuts each batch into K steps. Exit codes as `soccerspot train`: 1 for bad data, 2 for a flag
that cannot work.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from soccerspot.data.games import SPLIT_HELP
from soccerspot.pipeline.cli import HEAD_OPTION_FLAGS, UsageError

HELP = "train a dense frame model (E2E-Spot, T-DEED) end to end on labelled match videos, for spot --model RUN/best"
DEFAULT_PRESET = "e2e-spot-paper"
# TrainConfig fields a dense run does not use (the model's own settings go through --model-options; clips and
# NMS are the recipe's and its peer's), so they get no flag here
NOT_FLAGS = ("--head", "--dropout", "--window-seconds", "--sampling", "--head-options", "--nms", "--nms-window",
             "--nms-threshold", *("--" + name.replace("_", "-") for name in HEAD_OPTION_FLAGS))
MODEL_FLAGS = {"feature_arch": str, "temporal_arch": str, "clip_len": int}  # shortcuts into --model-options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from soccerspot.pipeline.cli.train import add_distributed_arguments, add_setting_arguments

    parser.add_argument("--videos", required=True, type=Path,
                        help="root of the SoccerNet-layout tree holding <game>/1_224p.mkv and 2_224p.mkv")
    parser.add_argument("--labels", type=Path, default=None,
                        help="where <game>/Labels-v2.json live (default: beside the videos)")
    parser.add_argument("--train-split", default="train", help=f"training games: {SPLIT_HELP}")
    parser.add_argument("--valid-split", default="valid", help=f"validation games: {SPLIT_HELP}")
    parser.add_argument("--task", default=None,
                        help="what the labels are: spotting (Labels-v2.json) or ball (Labels-ball.json, with teams); "
                             "default: the preset's")
    parser.add_argument("--preset", default=None,
                        help=f"the recipe to start from (default: the task's first dense preset, {DEFAULT_PRESET} "
                             "for spotting, tdeed-ball for ball)")
    parser.add_argument("--init-from", type=Path, default=None, metavar="RUN/best",
                        help="start from a train-dense model folder: every tensor of the same name and shape, except "
                             "the class and team heads (e.g. T-DEED pre-trained on SoccerNet-v2 actions)")
    parser.add_argument("--model", default=None, help="a registered dense model (default: the preset's, e2e-spot)")
    parser.add_argument("--model-options", default=None, metavar="JSON",
                        help="the model's settings, e.g. '{\"feature_arch\": \"rny008_gsm\", \"pretrained\": true}'")
    parser.add_argument("--feature-arch", default=None, help="model setting feature_arch (e.g. rny002_gsm, rny008_tsm)")
    parser.add_argument("--temporal-arch", default=None, help="model setting temporal_arch (gru, deeper_gru, mstcn)")
    parser.add_argument("--clip-len", default=None, type=int, help="model setting clip_len (frames per clip)")
    parser.add_argument("--frame-recipe", default=None,
                        help="the frames the model reads (extract.frame_recipes; default: the preset's)")
    parser.add_argument("--epoch-frames", type=int, default=None,
                        help="frames an epoch: epoch_frames // clip_len clips (default 500000, theirs)")
    parser.add_argument("--dilate-len", type=int, default=None, help="label the rows this close to an event too")
    parser.add_argument("--fg-upsample", type=float, default=None,
                        help="draw a clip around an event when a uniform draw is >= this (E2E-Spot's --fg_upsample)")
    parser.add_argument("--fg-weight", type=float, default=None,
                        help="cross-entropy weight of the classes (background 1; default 5)")
    parser.add_argument("--team-weight", type=float, default=None,
                        help="weight of a team head's BCE in the loss (default: the preset's; sn-teamspotting's 2)")
    parser.add_argument("--displacement-weight", type=float, default=None,
                        help="weight of a displacement head's MSE in the loss (default 1, T-DEED's)")
    parser.add_argument("--no-flip", action="store_true", help="no random horizontal flips of clips")
    parser.add_argument("--freeze-bn", action="store_true",
                        help="the model's BatchNorm layers stay in eval mode (running statistics fixed, scale and "
                             "shift still train); without it or --sync-bn, several ranks normalise each over its own "
                             "share of the batch, and --accumulate K over each step's B/K clips")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder (default runs/dense-<date>); never overwritten without --resume")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="frame caches (default: frame-cache/ beside the run folder, shared by the runs there)")
    parser.add_argument("--epochs", type=int, default=None, help="maximum number of epochs (max_epochs)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop each training epoch after this many batches (smoke tests, benchmarks)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_setting_arguments(parser, taken=NOT_FLAGS)
    add_distributed_arguments(parser)


def model_options(args: argparse.Namespace) -> dict:
    options = {}
    if args.model_options is not None:
        try:
            options = json.loads(args.model_options)
        except ValueError as error:
            raise UsageError(f"--model-options: not JSON ({error})") from None
        if not isinstance(options, dict):
            raise UsageError("--model-options: a JSON object of model settings is needed")
    for name in MODEL_FLAGS:
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return options


def preset_name(args: argparse.Namespace) -> str:
    """--preset, or the first dense preset for --task, or the default."""
    from soccerspot.pipeline.training.presets import DENSE_PRESET_SETTINGS

    if args.preset is not None:
        return args.preset
    if args.task is not None:
        for name, settings in DENSE_PRESET_SETTINGS.items():
            if settings.get("task", "spotting") == args.task:
                return name
    return DEFAULT_PRESET


def dense_settings(args: argparse.Namespace, config=None):
    """`DenseSettings`: its defaults, then the preset's (`DENSE_PRESET_SETTINGS`), then the flags."""
    from soccerspot.pipeline.training.dense import DenseSettings
    from soccerspot.pipeline.training.presets import DENSE_PRESET_SETTINGS

    preset = config.preset if config is not None and config.preset in DENSE_PRESET_SETTINGS else preset_name(args)
    values = dict(DENSE_PRESET_SETTINGS.get(preset, {}))
    flags = {"frame_recipe": args.frame_recipe, "epoch_frames": args.epoch_frames, "dilate_len": args.dilate_len,
             "fg_upsample": args.fg_upsample, "fg_weight": args.fg_weight, "task": args.task,
             "team_weight": args.team_weight, "displacement_weight": args.displacement_weight,
             "init_from": None if args.init_from is None else str(args.init_from)}
    values.update({name: value for name, value in flags.items() if value is not None})
    if args.no_flip:
        values["flip"] = False
    if args.freeze_bn:
        values["freeze_batchnorm"] = True
    return DenseSettings(**values)


def build_dense_config(args: argparse.Namespace):
    """The preset (or, with --resume, the run's own settings: only --epochs and --accumulate may change) with
    the flags."""
    import dataclasses

    from soccerspot.errors import DataError, SettingsError
    from soccerspot.pipeline.cli.train import RESUME_MAY_CHANGE, stored_config
    from soccerspot.pipeline.training.config import apply_overrides
    from soccerspot.pipeline.training.presets import DENSE_PRESETS, get_dense_preset
    from soccerspot.pipeline.training.run_folder import RUN_CONFIG_FILE, STATE_FILE

    overrides = {k[len("setting_"):]: v for k, v in vars(args).items() if k.startswith("setting_") and v is not None}
    if args.epochs is not None:
        overrides["max_epochs"] = str(args.epochs)
    options = model_options(args)
    if args.preset is not None and args.preset not in DENSE_PRESETS:
        raise UsageError(f"--preset {args.preset}: unknown; dense presets: {', '.join(sorted(DENSE_PRESETS))}")
    if args.task is not None:
        from soccerspot.data.tasks import TASK_SPECS

        if args.task not in TASK_SPECS:
            raise UsageError(f"--task {args.task}: unknown; tasks: {', '.join(TASK_SPECS)}")
        spec = TASK_SPECS[args.task]  # its class set and metric unless the flags or the task's preset say
        if (args.preset is not None and get_dense_preset(args.preset).classes not in spec.class_sets):
            overrides.setdefault("classes", spec.default_class_set)
            overrides.setdefault("metric", spec.default_metric)
    try:
        if args.resume and args.out is not None and (args.out / STATE_FILE).is_file():
            stored = stored_config(args.out)
            given = apply_overrides(stored, {k: v for k, v in overrides.items() if k not in RESUME_MAY_CHANGE})
            given = dataclasses.replace(given, head=args.model or given.head,
                                        head_options={**given.head_options, **options})
            differing = [f.name for f in dataclasses.fields(stored)
                         if f.name not in RESUME_MAY_CHANGE and getattr(stored, f.name) != getattr(given, f.name)]
            if differing:
                raise DataError(args.out / RUN_CONFIG_FILE, "--resume continues the run with its own settings; "
                                                            f"these differ: {', '.join(differing)}")
            return apply_overrides(stored, {k: v for k, v in overrides.items() if k in RESUME_MAY_CHANGE})
        base = get_dense_preset(preset_name(args))
        if args.model is not None and args.model != base.head:
            base = dataclasses.replace(base, head=args.model, head_options={})
        config = apply_overrides(base, overrides)
        return dataclasses.replace(config, head_options={**config.head_options, **options})
    except SettingsError as error:
        if error.setting in overrides:
            from soccerspot.pipeline.cli import flag_of

            raise UsageError(f"{flag_of(error.setting)} {overrides[error.setting]}: {error.reason}") from None
        raise


def run(args: argparse.Namespace) -> int:
    from soccerspot.errors import DataError, SettingsError
    from soccerspot.pipeline.cli.finetune import check_inputs
    from soccerspot.pipeline.cli.train import launch_ranks, launches_ranks, start_ranks
    from soccerspot.pipeline.training.dense import check_dense_settings, load_dense_data, run_dense
    from soccerspot.pipeline.training.finetune import videos_games

    check_inputs(args)
    config = build_dense_config(args)
    settings = dense_settings(args, config)
    try:
        check_dense_settings(config, settings)
    except SettingsError as error:
        setting = error.setting or ""
        if setting.startswith("head_options"):
            raise UsageError(f"--model-options: {error.reason}") from None
        if setting in {f for f in vars(settings)}:
            raise UsageError(f"--{setting.replace('_', '-')}: {error.reason}") from None
        raise
    if settings.init_from is not None and not (Path(settings.init_from) / "model.pt").is_file():
        raise DataError(Path(settings.init_from) / "model.pt", "missing: --init-from takes a train-dense model "
                                                               "folder (RUN/best)")
    if args.out is None:
        args.out = Path("runs") / f"dense-{time.strftime('%Y%m%d-%H%M%S')}"
    train_games = videos_games(args.train_split, args.videos)
    valid_games = videos_games(args.valid_split, args.videos)
    if not train_games:
        raise DataError(args.videos, f"no training games (--train-split {args.train_split})")
    if launches_ranks(args):
        return launch_ranks(args)
    config, shard = start_ranks(args, config)
    data = load_dense_data(config, settings, args.videos, args.labels or args.videos, train_games, valid_games,
                           args.cache_dir or args.out.parent / "frame-cache", progress=not args.no_progress)
    if shard.is_main:
        print(f"training {config.head} {json.dumps(config.head_options)} ({config.preset}) on {len(train_games)} "
              f"games; validation {len(valid_games)} games; run folder {args.out}")
    result = run_dense(config, settings, data, args.out, resume=args.resume, max_batches=args.max_batches,
                       progress=not args.no_progress)
    last = result.history[-1] if result.history else {}
    if shard.is_main:
        print(json.dumps({"out": str(result.out_dir), "epochs": result.epochs, "best_epoch": result.best_epoch,
                          "best_" + config.select_on: result.best_value, "stop_reason": result.stop_reason,
                          "model": str(Path(result.out_dir) / "best"), "last": last}))
    return 0
