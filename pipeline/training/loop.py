"""One training loop for every head (pooling family, transformer, …) on memory-mapped features.

The recipe is the NetVLAD++ paper's (Giancola & Ghanem, CVPR-W 2021) unless the config says otherwise:
binary cross-entropy over the C+1 sigmoid outputs (column 0 = background), Adam, ReduceLROnPlateau on the
validation loss, stop once the learning rate would fall below `stop_lr`, best checkpoint chosen on the
validation loss, validation Average-mAP every `eval_every` epochs through the real inference path
(whole-half frame scores, NMS, the in-memory SoccerNet evaluator).

The peers' criterion is a hand-written `mean(-y·log p - (1-y)·log(1-p))`: that is `nn.BCELoss()` (mean over
batch and columns). `BCELoss` clamps the logarithms at -100 where the hand-written one would return inf;
that is the only difference.

The peers stop when the learning rate is already at the floor and the validation loss has not improved
for `patience` epochs (`lr < 2·eps and num_bad_epochs >= patience`, eps = 1e-8): here, "the next
reduction would take lr below `stop_lr`" and `num_bad_epochs >= patience` — the same epoch.

A run folder holds:
    train_config.json   the TrainConfig and the data it was trained on (features root and name, labels
                        root, the game lists, the feature settings)
    metrics.jsonl       one JSON object per epoch (losses, lr, validation Average-mAP when computed, time)
    best/ last/         checkpoints written by `soccerspot.pipeline.checkpoints.save_checkpoint` (weights + config JSON)
    state.pt            optimizer, scheduler, epoch, RNG and selection state for `--resume` (tensors and
                        plain values only: loaded with `weights_only=True`)

Interruptions: each epoch appends its metrics line, then saves the state. A kill in between leaves a line
(possibly torn mid-write) for an epoch the state does not hold; `--resume` drops it and redoes that epoch.
`--resume` continues only on the data the run started with: other features, labels or games are refused.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler
from tqdm.auto import tqdm

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.classes import CLASS_NAMES_V1, CLASS_NAMES_V2, EVENT_DICTIONARY_V1, EVENT_DICTIONARY_V2
from soccerspot.data.clips import Track, WindowDataset, build_window_dataset
from soccerspot.data.errors import DataError
from soccerspot.data.features import feature_identity
from soccerspot.data.weights_file import load_weights_only
from soccerspot.data.labels import (
    LABELS_FILE, LABELS_FILE_V1, GameLabels, GamePredictions, Prediction, deduplicate_bins, read_labels,
)
from soccerspot.models.heads import AnyHeadConfig, build_head
from soccerspot.pipeline.config import InvalidSetting, TrainConfig, head_config_for

STATE_FILE = "state.pt"
METRICS_FILE = "metrics.jsonl"
RUN_CONFIG_FILE = "train_config.json"
BEST, LAST = "best", "last"


@dataclass(frozen=True)
class ClassSetup:
    dictionary: dict[str, int]  # raw label -> class index
    names: list[str]  # class index -> name written in predictions
    labels_file: str


CLASS_SETUPS = {
    "v2": ClassSetup(EVENT_DICTIONARY_V2, CLASS_NAMES_V2, LABELS_FILE),
    "v1": ClassSetup(EVENT_DICTIONARY_V1, CLASS_NAMES_V1, LABELS_FILE_V1),
}


def class_setup(name: str) -> ClassSetup:
    if name not in CLASS_SETUPS:
        raise ValueError(f"unknown class set {name!r}; known: {', '.join(CLASS_SETUPS)}")
    return CLASS_SETUPS[name]


class SettingsError(ValueError):
    """A training setting that cannot work (with this data). `setting` names the TrainConfig field when
    one field is to blame (the CLI turns it into its flag)."""

    def __init__(self, setting: str | None, reason: str):
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting}: {reason}" if setting else reason)


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
    common = dict(window_seconds=config.window_seconds, labels_root=labels_root, labels_file=setup.labels_file)
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


def check_loop_settings(config: TrainConfig) -> None:
    """The settings' own rules (`TrainConfig.validate`) and the device this machine has."""
    try:
        config.validate()
    except InvalidSetting as error:
        raise SettingsError(error.setting, str(error)) from None
    try:
        device = torch.device(config.device)
    except RuntimeError:
        raise SettingsError("device", f"not a torch device: {config.device!r} (e.g. cpu, cuda, cuda:1)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device", f"{config.device!r}: CUDA is not available on this machine")


LONG_WINDOW_ROWS = 128


def head_config_for_data(config: TrainConfig, data: TrainData) -> AnyHeadConfig:
    """The head's config with the real window length in rows (`window_seconds` x the features' fps).

    A head that cannot work with that length (a "++" head splits the window in two, so it needs 2 rows)
    raises a `SettingsError` naming `window_seconds`; any other invalid head setting one without a field."""
    rows, dims, classes = data.train.length, data.train.feature_dim, len(data.classes)
    try:
        return head_config_for(config, dims, classes, rows)
    except (ValueError, TypeError) as error:
        try:  # valid with a long window: the length is to blame, not another head setting
            head_config_for(config, dims, classes, max(rows, LONG_WINDOW_ROWS))
        except (ValueError, TypeError):
            raise SettingsError(None, f"invalid head settings: {error}") from None
        raise SettingsError("window_seconds", f"{config.window_seconds:g} s at {data.fps:g} fps is {rows} "
                                              f"feature row(s) per window, too short for the {config.head} "
                                              f"head: {error}") from None


def build_model(config: TrainConfig, head_config: AnyHeadConfig) -> nn.Module:
    try:
        return build_head(head_config).to(torch.device(config.device))
    except ValueError as error:
        raise SettingsError(None, f"invalid head settings: {error}") from None


def batch_loader(dataset: WindowDataset, batch_size: int, num_workers: int = 0,
                 shuffle: torch.Generator | None = None) -> DataLoader:
    """Whole batches fetched by the dataset (`WindowDataset.get_batch`), shuffled by `shuffle` if given."""
    sampler = SequentialSampler(dataset) if shuffle is None else RandomSampler(dataset, generator=shuffle)
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None,
                      num_workers=num_workers)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def should_stop(config: TrainConfig, lr: float, num_bad_epochs: int) -> bool:
    """The peers' stop: lr already at its floor (next reduction would pass `stop_lr`) and still plateaued."""
    if config.scheduler != "plateau":
        return False
    at_floor = lr * config.plateau_factor < config.stop_lr * (1 - 1e-6)
    return at_floor and num_bad_epochs >= config.plateau_patience


def mixup(features: torch.Tensor, targets: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Zhang et al. 2018: convex combination of each window with another of the batch, targets alike."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    order = torch.randperm(features.shape[0])
    return lam * features + (1 - lam) * features[order], lam * targets + (1 - lam) * targets[order]


@dataclass
class EpochStep:
    """How one batch becomes a loss: the criterion, the device, autocast and the fp16 gradient scaler."""

    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    device: torch.device
    precision: str = "fp32"
    scaler: torch.amp.GradScaler | None = None

    def loss(self, model: nn.Module, inputs: object, targets: torch.Tensor) -> torch.Tensor:
        dtype = AUTOCAST_DTYPES.get(self.precision)
        with torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            outputs = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
        return self.criterion(outputs.float(), targets)


def run_epoch(
    model: nn.Module,
    loader: Batches,
    step: EpochStep,
    optimizer: torch.optim.Optimizer | None = None,
    mixup_alpha: float = 0.0,
    max_batches: int | None = None,
    description: str = "",
    progress: bool = True,
) -> tuple[float, int]:
    """One pass over `loader`; trains when an optimizer is given. Returns (mean loss per window, windows)."""
    training = optimizer is not None
    model.train(training)
    total, count = 0.0, 0
    batches = len(loader) if max_batches is None else min(len(loader), max_batches)
    scaler = step.scaler if step.scaler is not None and step.scaler.is_enabled() else None
    with torch.set_grad_enabled(training), tqdm(total=batches, desc=description, disable=not progress,
                                                leave=False, unit="batch") as bar:
        for index, (inputs, targets) in enumerate(loader):
            if index >= batches:
                break
            inputs, targets = to_device(inputs, step.device), targets.to(step.device, non_blocking=True)
            if training and mixup_alpha > 0:
                inputs, targets = mixup(inputs, targets, mixup_alpha)
            loss = step.loss(model, inputs, targets)
            if training:
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
            size = targets.shape[0]
            total += float(loss.detach()) * size
            count += size
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.4f}")
    return (total / count if count else float("nan")), count


def validation_a_map(model: nn.Module, data: TrainData, config: TrainConfig) -> dict:
    """Average-mAP on the validation games through the inference path `spot` uses."""
    from soccerspot.pipeline.evaluate import evaluate_games

    predictions = predict_tracks(model, data.valid.tracks, data.classes, config)
    results = evaluate_games(data.valid_labels, predictions, data.classes, metric=config.metric,
                             version=1 if config.classes == "v1" else 2)
    return {key: results[key] for key in ("a_mAP", "a_mAP_visible", "a_mAP_unshown") if results.get(key) is not None}


def predict_tracks(model: nn.Module, tracks: Sequence[Track], classes: list[str], config: TrainConfig) -> dict:
    """Whole-half frame scores (the fast path where the head has one) -> NMS -> predictions per game, with
    one prediction per class per 0.5 s bin as `results_spotting.json` would hold them."""
    from soccerspot.pipeline.checkpoints import NmsSettings
    from soccerspot.pipeline.spot import half_spots

    nms = NmsSettings(kind=config.nms, window_seconds=config.nms_window, threshold=config.nms_threshold)
    by_game: dict[str, list[Prediction]] = {}
    for track in tracks:
        by_game.setdefault(track.game, []).extend(half_spots(model, track.features, classes, track.half, nms)[1])
    return {game: GamePredictions(url=game, predictions=deduplicate_bins(found)) for game, found in by_game.items()}


def selection_value(config: TrainConfig, record: dict) -> float | None:
    """What the best checkpoint is chosen on; None on epochs that did not compute it (no Average-mAP)."""
    if config.select_on == "valid_a_mAP":
        return record.get("valid_a_mAP")
    if config.select_on != "valid_loss":
        raise ValueError(f"select_on must be 'valid_loss' or 'valid_a_mAP', got {config.select_on!r}")
    return record.get("valid_loss", record["train_loss"])  # no validation games: the training loss


def check_run_folder(out_dir: Path, resume: bool) -> None:
    """Refuse a run folder that cannot be written, or that holds something `train` would overwrite."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(out_dir, "exists and is not a folder: choose another --out")
    if resume:
        if not (out_dir / STATE_FILE).is_file():
            raise DataError(out_dir / STATE_FILE, "no training state to resume from (was the run started with "
                                                  "this --out?)")
        if not (out_dir / RUN_CONFIG_FILE).is_file():
            raise DataError(out_dir / RUN_CONFIG_FILE, "missing: the run's settings and data are unknown, so it "
                                                   "cannot be resumed")
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise DataError(out_dir, "already holds files (a previous run?): pass --resume to continue it, "
                                 "or choose another --out; nothing was overwritten")
    existing = next(folder for folder in (out_dir, *out_dir.absolute().parents) if folder.exists())
    if not existing.is_dir():
        raise DataError(existing, f"is not a folder, so the run folder {out_dir} cannot be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(existing, f"not writable: the run folder {out_dir} cannot be written")


def make_run_folder(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(out_dir, f"cannot create the run folder ({error.strerror or error})") from None


def read_run_config(out_dir: Path) -> dict:
    """The run's `train_config.json` (written at its start)."""
    path = out_dir / RUN_CONFIG_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "missing: the run's settings and data are unknown") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(path, f"unreadable run settings ({error})") from None
    if not isinstance(stored, dict) or not isinstance(stored.get("config"), dict):
        raise DataError(path, "not a soccerspot run config (no 'config' object)")
    return stored


def _as_json(value: object) -> object:
    return json.loads(json.dumps(value))


def _same_folder(a: str | None, b: str | None) -> bool:
    return a == b or (a is not None and b is not None and Path(a).resolve() == Path(b).resolve())


def data_differences(stored: dict, data: TrainData) -> list[str]:
    """What differs between the data a run started with (its `train_config.json`) and `data`."""
    differences = []
    before, now = stored.get("data", {}), data.description
    if "features_root" in before:
        # labels default to the features root: compare where they were really read from
        for key, what in (("features_root", "features root"), ("labels_root", "labels root")):
            then, current = before.get(key) or before["features_root"], now.get(key) or now["features_root"]
            if not _same_folder(then, current):
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


def read_metrics(path: Path) -> list[dict]:
    """The epoch records of `metrics.jsonl`. A torn last line (a kill mid-write; its epoch's state was never
    saved) is left out; an unreadable line before it is a `DataError`."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("epoch"), int):
                raise ValueError("not an epoch record")
        except ValueError as error:
            if number == len(lines):
                break
            raise DataError(path, f"line {number} is not an epoch record ({error})") from None
        records.append(record)
    return records


def trim_metrics(path: Path, last_epoch: int) -> None:
    """Drop metric lines of epochs after the saved state (written just before an interruption, maybe torn)."""
    if not path.is_file():
        return
    kept = [record for record in read_metrics(path) if record["epoch"] <= last_epoch]
    with atomic_open(path, "w") as handle:
        handle.write("".join(json.dumps(record) + "\n" for record in kept))


def append_metrics(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def save_state(path: Path, state: dict) -> None:
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


STATE_KEYS = ("epoch", "best_value", "best_epoch", "model", "optimizer", "scheduler", "torch_rng")


def load_state(path: Path) -> dict:
    state = load_weights_only(path, what="training state")
    missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise DataError(path, f"incomplete training state (no {', '.join(missing)})")
    return state


def restore_state(path: Path, state: dict, model: nn.Module, optimizer: torch.optim.Optimizer,
                  scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau) -> None:
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        said = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        said = said if len(said) <= 300 else said[:300] + " …"
        raise DataError(path, f"does not fit this head and settings ({said})") from None
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda_rng"]))


@dataclass
class TrainResult:
    out_dir: Path
    epochs: int  # epochs completed in total (including before a resume)
    best_epoch: int
    best_value: float
    stop_reason: str
    history: list[dict]


Batches = Iterable[tuple[object, torch.Tensor]]


@dataclass
class LoopTask:
    """What the one training loop (`fit`) needs from a kind of training: heads on features (`train`),
    a backbone's last stage with a head on video clips (`pipeline.finetune`), …

    `train_batches(epoch)` and `valid_batches()` give sized iterables of (inputs, targets); inputs are a
    tensor or a tuple of tensors, moved to the device by the loop. `validate()` returns extra validation
    metrics (Average-mAP) with the model in eval mode and no autograd. `save_checkpoint(folder, epoch,
    record)` writes a best/last checkpoint. `run_record` is written as the run's `train_config.json`;
    `resume_differences(stored)` lists what differs between a stored record and this run's data.
    `select_max` names a record key (e.g. "valid_accuracy") the best checkpoint maximises instead of
    `config.select_on`."""

    model: nn.Module
    train_batches: Callable[[int], Batches]
    save_checkpoint: Callable[[Path, int, dict], None]
    run_record: dict
    resume_differences: Callable[[dict], list[str]]
    valid_batches: Callable[[], Batches] | None = None
    validate: Callable[[], dict] | None = None
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = field(default_factory=nn.BCELoss)
    select_max: str | None = None


def build_optimizer(config: TrainConfig, parameters: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """Adam (the NetVLAD++ recipe) or SGD with momentum, over the parameters that train."""
    trainable = [parameter for parameter in parameters if parameter.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(trainable, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(trainable, lr=config.lr, betas=tuple(config.betas), eps=config.adam_eps,
                            weight_decay=config.weight_decay)


def training_precision(precision: str, device: torch.device) -> str:
    """fp32, bf16 or fp16 for `precision` on `device`; "auto" is bf16 where it is native (CUDA with bf16,
    CPUs with AVX-512-BF16/AMX; `extract.extractor.cpu_has_native_bf16`), fp16 on older GPUs, else fp32."""
    from soccerspot.extract.extractor import cpu_has_native_bf16

    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise SettingsError("precision", "fp16 training is for CUDA; on CPU use bf16 or fp32")
    return precision


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def to_device(inputs: object, device: torch.device) -> object:
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device, non_blocking=True)
    return tuple(to_device(part, device) for part in inputs)


def fit(
    config: TrainConfig,
    task: LoopTask,
    out_dir: str | Path,
    *,
    resume: bool = False,
    max_batches: int | None = None,
    progress: bool = True,
    epoch_bar: bool = False,
) -> TrainResult:
    """The training loop: epochs of `task.train_batches`, validation loss and metrics, best/last
    checkpoints, metrics lines, the plateau scheduler and its stop, and an exact `--resume` from
    `state.pt`. The run folder must have passed `check_run_folder`; `task.model` is on `config.device`."""
    out_dir = Path(out_dir)
    device = torch.device(config.device)
    model = task.model
    optimizer = build_optimizer(config, model.parameters())
    # eps=0: every plateau really multiplies lr by the factor; stopping is decided by `should_stop`.
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min", factor=config.plateau_factor,
                                                           patience=config.plateau_patience, eps=0.0)
    precision = training_precision(config.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    start_epoch, best_value, best_epoch = 0, math.inf, 0
    select_max = task.select_max is not None or config.select_on == "valid_a_mAP"
    if select_max:
        best_value = -math.inf
    if resume:
        state = load_state(out_dir / STATE_FILE)
        restore_state(out_dir / STATE_FILE, state, model, optimizer, scheduler)
        start_epoch, best_value, best_epoch = int(state["epoch"]), float(state["best_value"]), int(state["best_epoch"])
        if "scaler" in state and scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
        trim_metrics(out_dir / METRICS_FILE, start_epoch)
    else:
        make_run_folder(out_dir)
        write_json_atomic(out_dir / RUN_CONFIG_FILE, task.run_record)

    history: list[dict] = []
    stop_reason = "max_epochs"
    epoch = start_epoch
    if resume and should_stop(config, optimizer.param_groups[0]["lr"], scheduler.num_bad_epochs):
        return TrainResult(out_dir, epoch, best_epoch, best_value, "lr_floor", history)  # resumed a finished run
    epochs = tqdm(range(start_epoch + 1, config.max_epochs + 1), desc="training", unit="epoch",
                  disable=not epoch_bar, leave=False)
    progress = progress and not epoch_bar
    step = EpochStep(task.criterion, device, precision, scaler)
    for epoch in epochs:
        started = time.perf_counter()
        train_loss, windows = run_epoch(model, task.train_batches(epoch), step, optimizer, config.mixup_alpha,
                                        max_batches, f"epoch {epoch} train", progress)
        record = {"epoch": epoch, "train_loss": train_loss, "train_windows": windows,
                  "lr": optimizer.param_groups[0]["lr"]}
        if task.valid_batches is not None:
            record["valid_loss"], _ = run_epoch(model, task.valid_batches(), step,
                                                description=f"epoch {epoch} valid", progress=progress)
            if task.validate is not None and config.eval_every and epoch % config.eval_every == 0:
                model.eval()
                with torch.no_grad():
                    record.update({f"valid_{k}": v for k, v in task.validate().items()})
        record["epoch_s"] = round(time.perf_counter() - started, 3)

        value = record.get(task.select_max) if task.select_max is not None else selection_value(config, record)
        improved = value is not None and (value > best_value if select_max else value < best_value)
        if improved:
            best_value, best_epoch = float(value), epoch
            task.save_checkpoint(out_dir / BEST, epoch, record)
        record["best_epoch"] = best_epoch
        task.save_checkpoint(out_dir / LAST, epoch, record)
        if config.scheduler == "plateau":
            scheduler.step(record.get("valid_loss", train_loss))
        append_metrics(out_dir / METRICS_FILE, record)
        history.append(record)
        save_state(out_dir / STATE_FILE, {
            "epoch": epoch, "best_value": best_value, "best_epoch": best_epoch,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
            **({"scaler": scaler.state_dict()} if scaler.is_enabled() else {}),
            **({"cuda_rng": torch.cuda.get_rng_state_all()} if device.type == "cuda" else {}),
        })
        epochs.set_postfix(loss=round(train_loss, 4))
        if progress:
            shown = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in record.items()}
            tqdm.write(json.dumps(shown))
        if should_stop(config, optimizer.param_groups[0]["lr"], scheduler.num_bad_epochs):
            stop_reason = "lr_floor"
            break
    epochs.close()
    return TrainResult(out_dir, epoch, best_epoch, best_value, stop_reason, history)


def feature_task(config: TrainConfig, data: TrainData, head_config: AnyHeadConfig, out_dir: Path) -> LoopTask:
    """A head trained on windows of memory-mapped features (`soccerspot train`)."""
    from soccerspot.pipeline.checkpoints import NmsSettings, save_checkpoint

    model = build_model(config, head_config)

    def train_batches(epoch: int) -> DataLoader:
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
        validate=None if data.valid is None else (lambda: validation_a_map(model, data, config)),
    )


TaskBuilder = Callable[[TrainConfig, TrainData, AnyHeadConfig, Path], LoopTask]


def task_builder(head_kind: str) -> TaskBuilder:
    """How a head of `head_kind` trains on features: its registered task (`pipeline.tasks`: heads with
    their own targets and loss, e.g. CALF, RMS-Net), or windows with the BCE loss (`feature_task`)."""
    from soccerspot.pipeline.tasks import registered_task

    return registered_task(head_kind) or feature_task


def check_resumable(out_dir: Path, task: LoopTask) -> None:
    differences = task.resume_differences(read_run_config(out_dir))
    if differences:
        raise DataError(out_dir / RUN_CONFIG_FILE, "--resume continues a run on the data it started with; these "
                                                   f"differ: {'; '.join(differences)}")


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
    out_dir = Path(out_dir)
    check_run_folder(out_dir, resume)
    seed_everything(config.seed)
    task = task_builder(config.head)(config, data, head_config, out_dir)
    if resume:
        check_resumable(out_dir, task)
    return fit(config, task, out_dir, resume=resume, max_batches=max_batches, progress=progress,
               epoch_bar=epoch_bar)
