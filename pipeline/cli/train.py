"""`soccerspot train`: train a spotting head on extracted features.

Exit codes: 1 for bad or missing data (features, labels, games files, the run folder), 2 for a flag value
that cannot work (named with its value), each with one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from soccerspot.data.games import SPLIT_HELP
from soccerspot.data.tasks import task_names
from soccerspot.extract.precision import AUTO_HELP
from soccerspot.pipeline.cli import HEAD_OPTION_FLAGS, UsageError, flag_of

HELP = "train a spotting head (NetVLAD++, transformer, …) or a replay grounding head (--preset baidu-grounding / calf-grounding) on extracted features"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from soccerspot.pipeline.training.presets import PRESETS

    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="the recipe to start from (default netvladpp-paper; with --resume: the run's own)")
    parser.add_argument("--features-root", required=True, type=Path,
                        help="root of the SoccerNet-layout tree holding <game>/<half>_<NAME>.npy")
    parser.add_argument("--features", required=True, metavar="NAME",
                        help="feature file name without half and extension, e.g. ResNET_TF2 or resnet152")
    parser.add_argument("--labels-root", type=Path, default=None,
                        help="where <game>/Labels-v2.json live (default: beside the features)")
    parser.add_argument("--task", choices=task_names(), default=None,
                        help="what the head learns (data/tasks.py): its labels file, class set, validation metric "
                             "and grid; ball: Labels-ball.json, the 12 classes without teams (ball-2024: a feature "
                             "head has no team output; T-DEED's team head trains with train-dense --task ball), "
                             "mAP@1 at 25 fps on features extracted at 25 fps; grounding: a grounding preset "
                             "(default: the preset's, action spotting)")
    parser.add_argument("--train-split", default="train", help=f"training games: {SPLIT_HELP}")
    parser.add_argument("--valid-split", default="valid", help=f"validation games: {SPLIT_HELP}")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder (default runs/<preset>-<date>); never overwritten without --resume")
    parser.add_argument("--epochs", type=int, default=None, help="maximum number of epochs (max_epochs)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop each training epoch after this many batches (smoke tests, benchmarks)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_distributed_arguments(parser)
    add_setting_arguments(parser)


# help of the setting flags that say more than their type
SETTING_HELP = {"precision": f"autocast: fp32 | bf16 | fp16 (CUDA) | {AUTO_HELP} (default: the preset's)",
                "accumulate": "each batch in K steps of B/K rows, one optimizer step: the same step as one batch of "
                              "B, except for BatchNorm layers that train (each step's own statistics)",
                "sync_bn": "several ranks: BatchNorm layers that train normalise over the global batch (without it, "
                           "each rank over its own share)"}


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """`--nproc` and `--dist-timeout`: the run on several processes (README "Training on several GPUs /
    machines"); under torchrun the command needs neither."""
    group = parser.add_argument_group("several processes", "data-parallel training (torch.distributed); "
                                      "--batch-size stays the global batch, split over the ranks")
    group.add_argument("--nproc", type=int, default=None, metavar="N",
                       help="start N local processes (one per GPU; gloo on CPU), as torchrun --standalone "
                            "--nproc_per_node N would; leave it out under torchrun")
    group.add_argument("--dist-timeout", type=float, default=None, metavar="SECONDS",
                       help="how long a rank waits for the others at a training or validation step's "
                            "collective before the run ends with an error (default 1800; the waits for rank 0's "
                            "frame caches, validation Average-mAP and checkpoints allow 7 days)")


def check_distributed_arguments(args: argparse.Namespace) -> None:
    if args.nproc is not None and args.nproc < 1:
        raise UsageError(f"--nproc {args.nproc}: must be >= 1")
    if args.dist_timeout is not None and not args.dist_timeout > 0:
        raise UsageError(f"--dist-timeout {args.dist_timeout:g}: must be > 0 seconds")


def launches_ranks(args: argparse.Namespace) -> bool:
    """`--nproc N` (N > 1) outside a launcher: this process starts the ranks instead of training."""
    from soccerspot.pipeline.training.distributed import launched_world_size

    return args.nproc is not None and args.nproc > 1 and launched_world_size() == 1


def launch_ranks(args: argparse.Namespace) -> int:
    from soccerspot.pipeline.training.launch import launch_local, without_flag

    return launch_local(args.nproc, without_flag(args.argv, "--nproc"), None if args.out is None else str(args.out))


def start_ranks(args: argparse.Namespace, config):
    """Join the process group the launcher described (nothing without one); `config` with this rank's
    device (`cuda:LOCAL_RANK` on CUDA)."""
    import dataclasses

    from soccerspot.pipeline.training import distributed

    shard = distributed.start(config.device, args.dist_timeout or distributed.DEFAULT_TIMEOUT_S)
    if shard.active and shard.is_main:
        print(f"{shard.world_size} ranks ({shard.backend}): {config.batch_size} windows per batch, "
              f"{-(-config.batch_size // shard.world_size)} per rank", file=sys.stderr)
    return dataclasses.replace(config, device=distributed.rank_device(config.device)), shard


def add_setting_arguments(parser: argparse.ArgumentParser, taken: tuple[str, ...] = ()) -> None:
    """One flag per `TrainConfig` field (`--lr 1e-4`), overriding the preset, and one per head setting of
    `HEAD_OPTION_FLAGS` (`--clusters 16`); `taken` flags are left out."""
    from soccerspot.pipeline.training.config import override_fields

    group = parser.add_argument_group("settings", "override single fields of the preset")
    for field in override_fields():
        flag = "--" + field.name.replace("_", "-")
        if flag in ("--max-epochs", *taken):
            continue
        switch = {"nargs": "?", "const": "true"} if field.type in ("bool", bool) else {}  # --sync-bn alone: on
        group.add_argument(flag, dest=f"setting_{field.name}", default=None, metavar=str(field.type).upper()
                           .replace(" ", ""), help=SETTING_HELP.get(field.name, f"({field.type})"), **switch)
    for name, metavar in HEAD_OPTION_FLAGS.items():
        if flag_of(f"head_options.{name}") not in taken:
            group.add_argument(flag_of(f"head_options.{name}"), dest=f"head_option_{name}", default=None,
                               metavar=metavar, help=f"head_options.{name}, for the heads whose config has it")


def head_option_overrides(config, given: dict[str, str], head_options_given: bool) -> dict[str, str]:
    """The `HEAD_OPTION_FLAGS` values `given` as `head_options.NAME` overrides of `config`: those its head's
    config has (other heads ignore them) and `--head-options` does not name (it wins)."""
    from soccerspot.pipeline.training.config import HEAD_OPTION_PREFIX, head_fields

    if not given:
        return {}
    names = head_fields(config.head)
    return {HEAD_OPTION_PREFIX + name: value for name, value in given.items()
            if name in names and not (head_options_given and name in config.head_options)}


def with_flags(config, overrides: dict[str, str], head_options: dict[str, str]):
    """`config` with the flags' field `overrides`, then the `HEAD_OPTION_FLAGS` values of its (new) head."""
    from soccerspot.pipeline.training.config import apply_overrides

    config = apply_overrides(config, overrides)
    return apply_overrides(config, head_option_overrides(config, head_options, "head_options" in overrides))


def changed_settings(stored, given) -> list[str]:
    """The settings `given` changes in `stored` (a resumed run's), `max_epochs` aside: run fields by name, a
    head's own settings as `head_options.NAME` where they change the head's config (one given the value the
    run had from the head's defaults, e.g. in a run config written before it moved to head_options, does not)."""
    import dataclasses

    from soccerspot.pipeline.training.config import HEAD_FIELDS, HEAD_OPTION_PREFIX, head_config_for

    changed = [f.name for f in dataclasses.fields(stored) if f.name not in ("max_epochs", "head_options")
               and getattr(stored, f.name) != getattr(given, f.name)]
    if stored.head_options != given.head_options:
        if stored.head != given.head:
            changed.append("head_options")
        else:  # the run fields' own changes (dropout) are named above
            options = dataclasses.replace(given, **{name: getattr(stored, name) for name in HEAD_FIELDS})
            then, now = (head_config_for(c, input_dim=16, num_classes=17, window_frames=30).to_json()
                         for c in (stored, options))
            changed += [HEAD_OPTION_PREFIX + name for name in then if then[name] != now[name]]
    return sorted(changed)


def games_with_features(spec: str, features_root: Path, features_name: str) -> list[str]:
    """Training games (paths relative to `features_root`) named by `spec` (`data.games.SPLIT_HELP`); "all":
    every game with `1_<features_name>.npy`."""
    from soccerspot.data.games import feature_file_name, resolve_games

    return resolve_games(spec, features_root, feature_file_name(1, features_name), root_name="--features-root")


def check_features_present(games: list[str], features_root: Path, features_name: str, what: str,
                           halves: tuple[int, ...] = (1, 2)) -> None:
    """Every game has the features of `halves` (the task's: Ball's games are one video, half 1)."""
    from soccerspot.errors import DataError
    from soccerspot.data.features import feature_path
    from soccerspot.data.games import feature_names_in

    missing = [g for g in games if not all(feature_path(features_root / g, h, features_name).is_file() for h in halves)]
    if missing:
        shown = "; ".join(missing[:5]) + (f"; … ({len(missing) - 5} more)" if len(missing) > 5 else "")
        present = feature_names_in(features_root / missing[0])
        hint = f" (features in {missing[0]}: {', '.join(present)})" if present else ""
        files = " / ".join(f"{h}_{features_name}.npy" for h in halves)
        raise DataError(features_root, f"{len(missing)} of {len(games)} {what} games lack {files}: {shown}{hint}")


def settings_failure(error: Exception, overrides: dict[str, str], head_options: dict[str, str] | None = None
                     ) -> UsageError:
    """The usage error for a setting that cannot work, naming its flag (and the value given to it);
    `head_options` are the values given to `HEAD_OPTION_FLAGS` flags."""
    from soccerspot.errors import SettingsError
    from soccerspot.pipeline.training.config import HEAD_OPTION_PREFIX

    reason = error.reason if isinstance(error, SettingsError) else str(error).strip('"')
    setting = getattr(error, "setting", None)
    if setting in overrides:
        return UsageError(f"{flag_of(setting)} {overrides[setting]}: {reason}")
    if setting and setting.startswith(HEAD_OPTION_PREFIX):
        name = setting[len(HEAD_OPTION_PREFIX):]
        if name in (head_options or {}):
            return UsageError(f"{flag_of(setting)} {head_options[name]}: {reason}")
        if "head_options" in overrides:
            return UsageError(f"--head-options {overrides['head_options']}: {reason}")
    return UsageError(f"{flag_of(setting)}: {reason}" if setting else reason)


def stored_config(out: Path):
    """The TrainConfig a run in `out` started with."""
    from soccerspot.errors import DataError
    from soccerspot.pipeline.training.config import TrainConfig
    from soccerspot.pipeline.training.run_folder import RUN_CONFIG_FILE, read_run_config

    try:
        return TrainConfig.from_json(read_run_config(out)["config"]).validate()
    except (TypeError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(out / RUN_CONFIG_FILE, f"unreadable run settings ({error})") from None


# What a resumed run may change: its length, and how each batch is split into steps (the same batches).
RESUME_MAY_CHANGE = ("max_epochs", "accumulate")


def task_overrides(task: str, config, overrides: dict[str, str]) -> dict[str, str]:
    """`overrides` with what `--task` sets on a new run of `config`: the task's class set without teams (unless
    `--classes` names one of its sets) and its default metric. Raises UsageError where the preset's head or the
    class set cannot learn the task."""
    from soccerspot.data.classes import class_setup
    from soccerspot.data.tasks import task_spec
    from soccerspot.models.heads import head_entry, list_heads
    from soccerspot.pipeline.training.presets import PRESETS

    spec = task_spec(task)
    head = overrides.get("head", config.head)
    if head in list_heads(None) and head_entry(head).task != spec.head_task:  # an unknown head: named later
        fitting = sorted(name for name, preset in PRESETS.items() if head_entry(preset.head).task == spec.head_task)
        raise UsageError(f"--task {task}: the {head} head does not learn {spec.title}; presets whose head does: "
                         f"{', '.join(fitting)}")
    classes = overrides.get("classes")
    if classes is None:
        classes = next((name for name in spec.class_sets if not class_setup(name).teams), spec.default_class_set)
    elif classes not in spec.class_sets:
        raise UsageError(f"--classes {classes}: not a class set of --task {task} ({', '.join(spec.class_sets)})")
    if class_setup(classes).teams:
        raise UsageError(f"--classes {classes} scores teams, and a feature head has no team output: train T-DEED's "
                         f"team head with soccerspot train-dense --task {task}")
    metric = overrides.get("metric", config.metric if config.metric in spec.metrics else spec.default_metric)
    if metric not in spec.metrics:
        raise UsageError(f"--metric {metric}: not a metric of --task {task} ({', '.join(spec.metrics)})")
    return {**overrides, "classes": classes, "metric": metric}


def build_config(args: argparse.Namespace, default_preset: str = "netvladpp-paper"):
    """The preset with the flags' overrides, or with --resume the run's own settings (only --epochs and
    --accumulate may change). Raises UsageError naming the flag whose value cannot work."""
    from soccerspot.errors import DataError
    from soccerspot.data.tasks import task_spec
    from soccerspot.pipeline.training.config import head_config_for, with_head
    from soccerspot.pipeline.training.presets import get_preset
    from soccerspot.pipeline.training.loop import check_loop_settings
    from soccerspot.pipeline.training.run_folder import RUN_CONFIG_FILE, STATE_FILE

    overrides = {k[len("setting_"):]: v for k, v in vars(args).items() if k.startswith("setting_") and v is not None}
    if args.epochs is not None:
        overrides["max_epochs"] = str(args.epochs)
    head_options = {name: getattr(args, f"head_option_{name}") for name in HEAD_OPTION_FLAGS
                    if getattr(args, f"head_option_{name}", None) is not None}
    if args.resume and args.out is not None and (args.out / STATE_FILE).is_file():
        stored = stored_config(args.out)
        if args.preset is not None and args.preset != stored.preset:
            raise DataError(args.out / RUN_CONFIG_FILE, f"the run was trained with preset {stored.preset!r}, "
                                                    f"not {args.preset!r}")
        if getattr(args, "task", None) is not None and stored.classes not in task_spec(args.task).class_sets:
            raise DataError(args.out / RUN_CONFIG_FILE, f"the run learns class set {stored.classes!r}, not one of "
                                                    f"--task {args.task}'s")
        try:
            given = with_flags(stored, {k: v for k, v in overrides.items() if k not in RESUME_MAY_CHANGE},
                               head_options)
            differing = changed_settings(stored, given)
        except (ValueError, TypeError) as error:
            raise settings_failure(error, overrides, head_options) from None
        if differing:
            raise DataError(args.out / RUN_CONFIG_FILE, "--resume continues the run with its own settings; "
                                                    f"these differ: {', '.join(differing)}")
        base, overrides, head_options = stored, {k: v for k, v in overrides.items() if k in RESUME_MAY_CHANGE}, {}
    else:
        base = get_preset(args.preset or default_preset)
        if "head" in overrides:  # the preset's settings of its own head do not carry over to another
            base = with_head(base, overrides["head"])
        if getattr(args, "task", None) is not None:
            overrides = task_overrides(args.task, base, overrides)

    try:
        config = with_flags(base, overrides, head_options)
        check_loop_settings(config)
        head_config_for(config, input_dim=16, num_classes=17, window_frames=30)  # stand-in sizes: the real
    except (ValueError, TypeError) as error:                                    # window is checked on the data
        if isinstance(error, DataError):
            raise
        raise settings_failure(error, overrides, head_options) from None
    return config


def check_inputs(args: argparse.Namespace) -> None:
    """Flags and folders that can be checked before any data is read."""
    from soccerspot.errors import DataError
    from soccerspot.pipeline.training.run_folder import check_run_folder

    if args.max_batches is not None and args.max_batches < 1:
        raise UsageError(f"--max-batches {args.max_batches}: must be >= 1")
    check_distributed_arguments(args)
    if args.resume and args.out is None:
        raise UsageError("--resume needs --out (the run folder to continue)")
    for flag, folder in (("--features-root", args.features_root), ("--labels-root", args.labels_root)):
        if folder is not None and not folder.is_dir():
            raise DataError(folder, f"{'not a folder' if folder.exists() else 'folder not found'} ({flag})")
    if args.out is not None:
        check_run_folder(args.out, args.resume)


def load_data(config, args: argparse.Namespace, train_games: list[str], valid_games: list[str]):
    """The training data; halves skipped on the way are reported one line each on stderr."""
    from soccerspot.data.clips import SkippedHalfWarning
    from soccerspot.pipeline.training.tasks.features import load_train_data

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedHalfWarning)
        data = load_train_data(config, args.features_root, args.features, train_games, valid_games, args.labels_root)
    skipped = [w for w in caught if issubclass(w.category, SkippedHalfWarning)]
    for shown in skipped[:5]:
        print(f"warning: {shown.message}", file=sys.stderr)
    if len(skipped) > 5:
        print(f"warning: … and {len(skipped) - 5} more halves without feature rows skipped", file=sys.stderr)
    for other in caught:
        if not issubclass(other.category, SkippedHalfWarning):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    return data


def run(args: argparse.Namespace) -> int:
    return train_command(args)


def train_command(args: argparse.Namespace) -> int:
    from soccerspot.data.tasks import task_of_class_set, task_spec
    from soccerspot.errors import DataError
    from soccerspot.pipeline.training.tasks.features import head_config_for_data, train

    check_inputs(args)
    config = build_config(args)
    if args.out is None:
        args.out = Path("runs") / f"{config.preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    if launches_ranks(args):
        return launch_ranks(args)
    config, shard = start_ranks(args, config)
    train_games = games_with_features(args.train_split, args.features_root, args.features)
    valid_games = games_with_features(args.valid_split, args.features_root, args.features)
    if not train_games:
        raise DataError(args.features_root, f"no training games (--train-split {args.train_split})")
    halves = task_spec(task_of_class_set(config.classes)).halves
    check_features_present(train_games, args.features_root, args.features, "training", halves)
    check_features_present(valid_games, args.features_root, args.features, "validation", halves)
    data = load_data(config, args, train_games, valid_games)
    head_config_for_data(config, data)  # the real window length in rows, before the run folder is made
    if shard.is_main:
        print(f"training {config.head} ({config.preset}) on {len(train_games)} games / {len(data.train)} windows "
              f"of {data.train.length} frames; validation {len(valid_games)} games; run folder {args.out}")
    result = train(config, data, args.out, resume=args.resume, max_batches=args.max_batches,
                   progress=not args.no_progress)
    last = result.history[-1] if result.history else {}
    if shard.is_main:
        print(json.dumps({"out": str(result.out_dir), "epochs": result.epochs, "best_epoch": result.best_epoch,
                          "best_" + config.select_on: result.best_value, "stop_reason": result.stop_reason,
                          "last": last}))
    return 0
