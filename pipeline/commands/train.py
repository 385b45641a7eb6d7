"""`soccerspot train`: train a spotting head on extracted features."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HELP = "train a spotting head (NetVLAD++, transformer, …) on extracted features"

SPLIT_HELP = ("an official split (train, valid, test, challenge), a text file listing game paths, a folder "
              "inside --features-root (its games), 'all' (every game under --features-root) or 'none'")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from soccerspot.pipeline.config import PRESETS, override_fields

    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="the recipe to start from (default netvladpp-paper; with --resume: the run's own)")
    parser.add_argument("--features-root", required=True, type=Path,
                        help="root of the SoccerNet-layout tree holding <game>/<half>_<NAME>.npy")
    parser.add_argument("--features", required=True, metavar="NAME",
                        help="feature file name without half and extension, e.g. ResNET_TF2 or resnet152")
    parser.add_argument("--labels-root", type=Path, default=None,
                        help="where <game>/Labels-v2.json live (default: beside the features)")
    parser.add_argument("--train-split", default="train", help=f"training games: {SPLIT_HELP}")
    parser.add_argument("--valid-split", default="valid", help=f"validation games: {SPLIT_HELP}")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder (default runs/<preset>-<date>); never overwritten without --resume")
    parser.add_argument("--epochs", type=int, default=None, help="maximum number of epochs (max_epochs)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop each training epoch after this many batches (smoke tests, benchmarks)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    group = parser.add_argument_group("settings", "override single fields of the preset")
    for field in override_fields():
        flag = "--" + field.name.replace("_", "-")
        if flag in ("--max-epochs",):
            continue
        group.add_argument(flag, dest=f"setting_{field.name}", default=None, metavar=str(field.type).upper()
                           .replace(" ", ""), help=f"({field.type})")


def resolve_games(spec: str, features_root: Path, features_name: str) -> list[str]:
    """Game paths relative to `features_root` named by a split, a games file or a folder."""
    from soccerspot.data.errors import DataError
    from soccerspot.data.layout import find_games, split_games

    marker = f"1_{features_name}.npy"
    if spec.lower() == "none":
        return []
    if spec == "all":
        return find_games(features_root, marker)
    folder = Path(spec)
    if folder.is_dir():
        try:
            prefix = folder.resolve().relative_to(features_root.resolve())
        except ValueError:
            raise DataError(folder, f"a games folder must lie inside --features-root {features_root}") from None
        games = [(prefix / game).as_posix() if str(prefix) != "." else game for game in find_games(folder, marker)]
        if not games:
            raise DataError(folder, f"no games with {marker} below this folder")
        return games
    return split_games(spec)


def check_features_present(games: list[str], features_root: Path, features_name: str, what: str) -> None:
    from soccerspot.data.errors import DataError

    missing = [g for g in games if not all((features_root / g / f"{h}_{features_name}.npy").is_file() for h in (1, 2))]
    if missing:
        shown = "; ".join(missing[:5]) + (f"; … ({len(missing) - 5} more)" if len(missing) > 5 else "")
        raise DataError(features_root, f"{len(missing)} of {len(games)} {what} games lack "
                                       f"1_{features_name}.npy / 2_{features_name}.npy: {shown}")


def build_config(args: argparse.Namespace):
    from soccerspot.data.errors import DataError
    from soccerspot.pipeline.config import TrainConfig, apply_overrides, get_preset
    from soccerspot.pipeline.train import CONFIG_FILE, head_config_for

    overrides = {k[len("setting_"):]: v for k, v in vars(args).items() if k.startswith("setting_") and v is not None}
    if args.epochs is not None:
        overrides["max_epochs"] = args.epochs
    stored = None
    if args.resume and args.out is not None and (args.out / CONFIG_FILE).is_file():
        stored = TrainConfig.from_json(json.loads((args.out / CONFIG_FILE).read_text())["config"])
    try:
        if stored is not None:
            if args.preset is not None and args.preset != stored.preset:
                raise DataError(args.out / CONFIG_FILE, f"the run was trained with preset {stored.preset!r}, "
                                                        f"not {args.preset!r}")
            changed = {k: v for k, v in overrides.items() if k != "max_epochs"}
            differing = {k for k, v in changed.items() if apply_overrides(stored, {k: v}) != stored}
            if differing:
                raise DataError(args.out / CONFIG_FILE, "--resume continues the run with its own settings; "
                                                        f"these differ: {', '.join(sorted(differing))}")
            return apply_overrides(stored, {k: v for k, v in overrides.items() if k == "max_epochs"})
        config = apply_overrides(get_preset(args.preset or "netvladpp-paper"), overrides)
        head_config_for(config, input_dim=16, num_classes=17, window_frames=30)  # head settings valid?
        return config
    except (KeyError, ValueError) as error:
        raise DataError(None, str(error).strip('"')) from None


def run(args: argparse.Namespace) -> int:
    from soccerspot.data.errors import DataError
    from soccerspot.pipeline.train import load_train_data, train

    config = build_config(args)
    if args.out is None:
        if args.resume:
            raise DataError(None, "--resume needs --out (the run folder to continue)")
        args.out = Path("runs") / f"{config.preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    train_games = resolve_games(args.train_split, args.features_root, args.features)
    valid_games = resolve_games(args.valid_split, args.features_root, args.features)
    if not train_games:
        raise DataError(args.features_root, f"no training games (--train-split {args.train_split})")
    check_features_present(train_games, args.features_root, args.features, "training")
    check_features_present(valid_games, args.features_root, args.features, "validation")
    data = load_train_data(config, args.features_root, args.features, train_games, valid_games, args.labels_root)
    print(f"training {config.head} ({config.preset}) on {len(train_games)} games / {len(data.train)} windows of "
          f"{data.train.length} frames; validation {len(valid_games)} games; run folder {args.out}")
    result = train(config, data, args.out, resume=args.resume, max_batches=args.max_batches,
                   progress=not args.no_progress)
    last = result.history[-1] if result.history else {}
    print(json.dumps({"out": str(result.out_dir), "epochs": result.epochs, "best_epoch": result.best_epoch,
                      "best_" + config.select_on: result.best_value, "stop_reason": result.stop_reason,
                      "last": last}))
    return 0
