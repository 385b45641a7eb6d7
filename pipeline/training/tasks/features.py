"""The features task: a spotting head trained on windows of memory-mapped features (`soccerspot train`).

The recipe is the NetVLAD++ paper's (Giancola & Ghanem, CVPR-W 2021) unless the config says otherwise:
binary cross-entropy over the C+1 sigmoid outputs (column 0 = background), validation Average-mAP every
`eval_every` epochs through the real inference path (whole-half frame scores, NMS, the in-memory SoccerNet
evaluator). The peers' criterion is a hand-written `mean(-y·log p - (1-y)·log(1-p))`: that is
`nn.BCELoss()` (mean over batch and columns); `BCELoss` clamps the logarithms at -100 where the
hand-written one would return inf, the only difference.

Heads with their own targets and loss register their own task in this package (`@register_task`);
`--resume` continues only on the data the run started with: other features, labels or games are refused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn
from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

from soccerspot.data.classes import class_setup
from soccerspot.data.clips import Track, WindowDataset, build_window_dataset
from soccerspot.data.features import feature_identity
from soccerspot.data.labels import (
    EVALUATION_FRAMERATE, GameLabels, GamePredictions, Prediction, deduplicate_bins, read_labels,
)
from soccerspot.data.tasks import task_of_class_set, task_spec
from soccerspot.errors import DataError, SettingsError
from soccerspot.models.heads import BaseHeadConfig, create_head
from soccerspot.pipeline.evaluation.average_map import evaluate_games
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.inference.spot import half_spots
from soccerspot.pipeline.training.batch_plan import BatchPlan
from soccerspot.pipeline.training.config import TrainConfig, head_config_for
from soccerspot.pipeline.training.loop import LoopTask, TrainResult, check_loop_settings, run
from soccerspot.pipeline.training.run_folder import same_folder
from soccerspot.pipeline.training.tasks import registered_task


@dataclass
class TrainData:
    """Windows for training and validation, plus what validation Average-mAP needs."""

    train: WindowDataset
    valid: WindowDataset | None
    valid_labels: dict[str, GameLabels]
    classes: list[str]
    feature_settings: dict
    fps: float
    description: dict = field(default_factory=dict)
    train_games: list[str] = field(default_factory=list)
    valid_games: list[str] = field(default_factory=list)


def load_train_data(
    config: TrainConfig,
    features_root: str | Path,
    features_name: str,
    train_games: Sequence[str],
    valid_games: Sequence[str] = (),
    labels_root: str | Path | None = None,
) -> TrainData:
    """Memory-map the features of both game lists and build their windows (validation: the paper's chunks)."""
    setup = class_setup(config.classes)
    common = dict(window_seconds=config.window_seconds, labels_root=labels_root, labels_file=setup.labels_file,
                  halves=task_spec(task_of_class_set(config.classes)).halves)
    train = build_window_dataset(train_games, features_root, features_name, setup.dictionary,
                                 sampling=config.sampling, seed=config.seed, **common)
    valid = None
    valid_labels: dict[str, GameLabels] = {}
    if valid_games:
        valid = build_window_dataset(valid_games, features_root, features_name, setup.dictionary,
                                     sampling="chunks", seed=config.seed, **common)
        root = Path(features_root if labels_root is None else labels_root)
        valid_labels = {game: read_labels(root / game / setup.labels_file) for game in valid_games}
    settings = train.tracks[0].features.meta.settings()
    identity = feature_identity(settings)  # halves at another precision are the same features (see spot)
    for dataset in (train, valid):
        for track in dataset.tracks if dataset else ():
            if track.features.meta.identity() != identity:
                raise DataError(track.features.path, f"made with other feature settings than "
                                f"{train.tracks[0].features.path}: {track.features.meta.identity()} vs {identity}")
    fps = float(train.tracks[0].features.meta.fps)  # the settings (fps included) agree, checked above
    description = {
        "features_root": str(Path(features_root).resolve()), "features": features_name,
        "labels_root": None if labels_root is None else str(Path(labels_root).resolve()),
        "train_games": len(train_games), "valid_games": len(valid_games),
        "train_windows": len(train), "valid_windows": 0 if valid is None else len(valid),
        "window_frames": train.length, "dropped_events": train.dropped_events,
        "skipped_halves": train.skipped_halves + (valid.skipped_halves if valid else []),
    }
    return TrainData(train, valid, valid_labels, setup.names, settings, fps, description,
                     list(train_games), list(valid_games))


def head_config_for_data(config: TrainConfig, data: TrainData) -> BaseHeadConfig:
    """The head's config with the real window length in rows (`window_seconds` x the features' fps).

    A head that cannot work with that length (a "++" head splits the window in two, so it needs 2 rows)
    raises a `SettingsError` naming `window_seconds`; another invalid head setting one naming its field."""
    rows, dims, classes = data.train.length, data.train.feature_dim, len(data.classes)
    try:
        return head_config_for(config, dims, classes, rows)
    except SettingsError as error:
        if error.setting == "window_seconds":
            raise SettingsError("window_seconds", f"{config.window_seconds:g} s at {data.fps:g} fps is {rows} "
                                                  f"feature row(s) per window, too short for the {config.head} "
                                                  f"head: {error.reason}") from None
        raise SettingsError(error.setting, f"invalid head settings: {error.reason}") from None


def build_model(config: TrainConfig, head_config: BaseHeadConfig) -> nn.Module:
    try:
        return create_head(head_config).to(torch.device(config.device))
    except ValueError as error:
        raise SettingsError(None, f"invalid head settings: {error}") from None


def batch_loader(dataset: WindowDataset, batch_size: int, num_workers: int = 0,
                 shuffle: torch.Generator | None = None) -> BatchPlan:
    """Whole batches fetched by the dataset (`WindowDataset.get_batch`), shuffled by `shuffle` if given: the
    epoch's plan, which the loop splits over ranks and accumulation steps."""
    sampler = SequentialSampler(dataset) if shuffle is None else RandomSampler(dataset, generator=shuffle)
    return BatchPlan(dataset, list(BatchSampler(sampler, batch_size, drop_last=False)), num_workers)


def validation_a_map(model: nn.Module, tracks: Sequence, labels: dict[str, GameLabels], classes: list[str],
                     config: TrainConfig) -> dict:
    """Average-mAP of `model` on the validation halves `tracks` (`.game`, `.half`, `.features`) through the
    inference path `spot` uses: whole-half scores, NMS, the in-memory SoccerNet evaluator."""
    framerate = task_spec(task_of_class_set(config.classes)).framerate
    predictions = predict_tracks(model, tracks, classes, config, framerate)
    results = evaluate_games(labels, predictions, classes, metric=config.metric, framerate=framerate,
                             version=class_setup(config.classes).version)
    return {key: results[key] for key in ("a_mAP", "a_mAP_visible", "a_mAP_unshown") if results.get(key) is not None}


def predict_tracks(model: nn.Module, tracks: Sequence[Track], classes: list[str], config: TrainConfig,
                   framerate: int = EVALUATION_FRAMERATE) -> dict:
    """Whole-half frame scores (the fast path where the head has one) -> NMS -> predictions per game, with
    one prediction per class per bin of the evaluator's grid at `framerate` (0.5 s for SoccerNet-v2, a 25 fps
    frame for Ball) as `results_spotting.json` would hold them."""
    nms = NmsSettings(kind=config.nms, window_seconds=config.nms_window, threshold=config.nms_threshold)
    by_game: dict[str, list[Prediction]] = {}
    for track in tracks:
        by_game.setdefault(track.game, []).extend(half_spots(model, track.features, classes, track.half, nms)[1])
    return {game: GamePredictions(url=game, predictions=deduplicate_bins(found, framerate))
            for game, found in by_game.items()}




def _as_json(value: object) -> object:
    return json.loads(json.dumps(value))


def data_differences(stored: dict, data: TrainData) -> list[str]:
    """What differs between the data a run started with (its `train_config.json`) and `data`."""
    differences = []
    before, now = stored.get("data", {}), data.description
    if "features_root" in before:
        # labels default to the features root: compare where they were really read from
        for key, what in (("features_root", "features root"), ("labels_root", "labels root")):
            then, current = before.get(key) or before["features_root"], now.get(key) or now["features_root"]
            if not same_folder(then, current):
                differences.append(f"{what} {then} -> {current}")
    if "features" in before and before["features"] != now.get("features"):
        differences.append(f"feature name {before['features']!r} -> {now.get('features')!r}")
    games = stored.get("games")
    for split, current in (("train", data.train_games), ("valid", data.valid_games)):
        if games is not None and split in games:
            added, removed = set(current) - set(games[split]), set(games[split]) - set(current)
            if added or removed:
                changes = [f"{len(found)} {how} (e.g. {min(found)!r})" for how, found in
                           (("added", added), ("removed", removed)) if found]
                differences.append(f"{split} games: {', '.join(changes)}")
            elif list(current) != list(games[split]):
                differences.append(f"{split} games (same games, another order)")
        elif f"{split}_games" in before and before[f"{split}_games"] != len(current):
            differences.append(f"{split} games ({before[f'{split}_games']} -> {len(current)})")
    if "feature_settings" in stored:  # precision is not identity: a resume may read re-extracted features
        then, current = feature_identity(stored["feature_settings"]), _as_json(feature_identity(data.feature_settings))
        changed = sorted(k for k in set(then) | set(current) if then.get(k) != current.get(k))
        if changed:
            differences.append(f"feature settings ({', '.join(changed)})")
    return differences


def feature_task(config: TrainConfig, data: TrainData, head_config: BaseHeadConfig, out_dir: Path) -> LoopTask:
    """A head trained on windows of memory-mapped features (`soccerspot train`)."""
    model = build_model(config, head_config)

    def train_batches(epoch: int) -> BatchPlan:
        data.train.set_epoch(epoch)
        shuffle = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        return batch_loader(data.train, config.batch_size, config.num_workers, shuffle)

    def checkpoint(folder: Path, epoch: int, record: dict) -> None:
        save_checkpoint(folder, model, head_config, classes=data.classes,
                        feature_settings=data.feature_settings, fps=data.fps,
                        nms=NmsSettings(config.nms, config.nms_window, config.nms_threshold),
                        extra={"epoch": epoch, "metrics": record, "train_config": config.to_json(),
                               "run": str(out_dir), "features": data.description.get("features")})

    return LoopTask(
        model=model, train_batches=train_batches, save_checkpoint=checkpoint,
        run_record={"config": config.to_json(), "data": data.description,
                    "games": {"train": data.train_games, "valid": data.valid_games},
                    "head": head_config.to_json(), "classes": data.classes,
                    "feature_settings": data.feature_settings, "fps": data.fps},
        resume_differences=lambda stored: data_differences(stored, data),
        valid_batches=None if data.valid is None else
        (lambda: batch_loader(data.valid, config.batch_size, config.num_workers)),
        validate=None if data.valid is None else
        (lambda: validation_a_map(model, data.valid.tracks, data.valid_labels, data.classes, config)),
    )


TaskBuilder = Callable[[TrainConfig, TrainData, BaseHeadConfig, Path], LoopTask]


def task_builder(head_kind: str) -> TaskBuilder:
    """How a head of `head_kind` trains on features: its registered task (`pipeline.training.tasks`: heads with
    their own targets and loss, e.g. CALF, RMS-Net), or windows with the BCE loss (`feature_task`)."""
    return registered_task(head_kind) or feature_task


def train(
    config: TrainConfig,
    data: TrainData,
    out_dir: str | Path,
    *,
    resume: bool = False,
    max_batches: int | None = None,
    progress: bool = True,
    epoch_bar: bool = False,
) -> TrainResult:
    """Train `config.head` on `data`, writing checkpoints and metrics under `out_dir`.

    `progress` shows a bar per epoch and prints each epoch's metrics (long epochs: `soccerspot train`);
    `epoch_bar` instead shows one bar over all epochs (many short epochs: the demo)."""
    if data.valid is None and config.select_on == "valid_a_mAP":
        raise SettingsError("select_on", "'valid_a_mAP' needs validation games")
    check_loop_settings(config)
    head_config = head_config_for_data(config, data)
    return run(config, lambda: task_builder(config.head)(config, data, head_config, Path(out_dir)), out_dir,
               resume=resume, max_batches=max_batches, progress=progress, epoch_bar=epoch_bar)
