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
    train_config.json   the TrainConfig and the data it was trained on
    metrics.jsonl       one JSON object per epoch (losses, lr, validation Average-mAP when computed, time)
    best/ last/         checkpoints written by `soccerspot.pipeline.checkpoints.save_checkpoint` (weights + config JSON)
    state.pt            optimizer, scheduler, epoch, RNG and selection state for `--resume` (tensors and
                        plain values only: loaded with `weights_only=True`)
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler
from tqdm.auto import tqdm

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.classes import CLASS_NAMES_V1, CLASS_NAMES_V2, EVENT_DICTIONARY_V1, EVENT_DICTIONARY_V2
from soccerspot.data.clips import Track, WindowDataset, build_window_dataset
from soccerspot.data.errors import DataError
from soccerspot.data.labels import (
    LABELS_FILE, LABELS_FILE_V1, GameLabels, GamePredictions, Prediction, deduplicate_bins, read_labels,
)
from soccerspot.models.heads import HeadConfig, build_head
from soccerspot.pipeline.config import TrainConfig

STATE_FILE = "state.pt"
METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "train_config.json"
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
    for dataset in (train, valid):
        for track in dataset.tracks if dataset else ():
            if track.features.meta.settings() != settings:
                raise DataError(track.features.path, f"made with other feature settings than "
                                f"{train.tracks[0].features.path}: {track.features.meta.settings()} vs {settings}")
    if valid is not None and valid.length != train.length:
        raise DataError(Path(features_root), "training and validation features have different frame rates")
    fps = float(train.tracks[0].features.meta.fps)
    description = {
        "features_root": str(features_root), "features": features_name,
        "labels_root": None if labels_root is None else str(labels_root),
        "train_games": len(train_games), "valid_games": len(valid_games),
        "train_windows": len(train), "valid_windows": 0 if valid is None else len(valid),
        "window_frames": train.length, "dropped_events": train.dropped_events,
    }
    return TrainData(train, valid, valid_labels, setup.names, settings, fps, description)


def head_config_for(config: TrainConfig, input_dim: int, num_classes: int, window_frames: int) -> HeadConfig:
    values = dict(kind=config.head, input_dim=input_dim, num_classes=num_classes, window_frames=window_frames,
                  clusters=config.clusters, projection_dim=config.projection_dim, dropout=config.dropout)
    known = {f.name for f in dataclasses.fields(HeadConfig)}
    unknown = sorted(set(config.head_options) - known)
    if unknown:
        raise ValueError(f"head_options names unknown HeadConfig fields: {', '.join(unknown)}")
    values.update(config.head_options)
    return HeadConfig(**values).validate()


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


def run_epoch(
    model: nn.Module,
    loader: DataLoader,
    criterion: nn.Module,
    device: torch.device,
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
    with torch.set_grad_enabled(training), tqdm(total=batches, desc=description, disable=not progress,
                                                leave=False, unit="batch") as bar:
        for index, (features, targets) in enumerate(loader):
            if index >= batches:
                break
            features, targets = features.to(device), targets.to(device)
            if training and mixup_alpha > 0:
                features, targets = mixup(features, targets, mixup_alpha)
            loss = criterion(model(features), targets)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            total += float(loss.detach()) * features.shape[0]
            count += features.shape[0]
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
    from soccerspot.pipeline.infer import frame_scores
    from soccerspot.pipeline.postprocess import scores_to_predictions, window_in_frames

    by_game: dict[str, list[Prediction]] = {}
    for track in tracks:
        meta = track.features.meta
        scores = frame_scores(model, track.features.array, model.config.window_frames)
        by_game.setdefault(track.game, []).extend(scores_to_predictions(
            scores, meta.frame_times(), classes, track.half, kind=config.nms,
            window_frames=window_in_frames(config.nms_window, meta.fps), threshold=config.nms_threshold))
    return {game: GamePredictions(url=game, predictions=deduplicate_bins(found)) for game, found in by_game.items()}


def selection_value(config: TrainConfig, record: dict) -> float | None:
    """What the best checkpoint is chosen on; None on epochs that did not compute it (no Average-mAP)."""
    if config.select_on == "valid_a_mAP":
        return record.get("valid_a_mAP")
    if config.select_on != "valid_loss":
        raise ValueError(f"select_on must be 'valid_loss' or 'valid_a_mAP', got {config.select_on!r}")
    return record.get("valid_loss", record["train_loss"])  # no validation games: the training loss


def check_run_folder(out_dir: Path, resume: bool) -> None:
    if resume:
        if not (out_dir / STATE_FILE).is_file():
            raise DataError(out_dir / STATE_FILE, "no training state to resume from (was the run started with this --out?)")
        return
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DataError(out_dir, "already holds files (a previous run?): pass --resume to continue it, "
                                 "or choose another --out; nothing was overwritten")


def trim_metrics(path: Path, last_epoch: int) -> None:
    """Drop metric lines of epochs after the saved state (written just before an interruption)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["epoch"] <= last_epoch]
    with atomic_open(path, "w") as handle:
        handle.write("".join(line + "\n" for line in kept))


def append_metrics(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def save_state(path: Path, state: dict) -> None:
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def load_state(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means an unusable file
        raise DataError(path, f"unreadable training state ({error})") from error


@dataclass
class TrainResult:
    out_dir: Path
    epochs: int  # epochs completed in total (including before a resume)
    best_epoch: int
    best_value: float
    stop_reason: str
    history: list[dict]


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
    from soccerspot.pipeline.checkpoints import NmsSettings, save_checkpoint

    if data.valid is None and config.select_on == "valid_a_mAP":
        raise ValueError("select_on='valid_a_mAP' needs validation games")
    out_dir = Path(out_dir)
    check_run_folder(out_dir, resume)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    seed_everything(config.seed)
    head_config = head_config_for(config, data.train.feature_dim, len(data.classes), data.train.length)
    model = build_head(head_config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=tuple(config.betas),
                                 eps=config.adam_eps, weight_decay=config.weight_decay)
    # eps=0: every plateau really multiplies lr by the factor; stopping is decided by `should_stop`.
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min", factor=config.plateau_factor,
                                                           patience=config.plateau_patience, eps=0.0)
    criterion = nn.BCELoss()
    start_epoch, best_value, best_epoch = 0, math.inf, 0
    select_max = config.select_on == "valid_a_mAP"
    if select_max:
        best_value = -math.inf
    if resume:
        state = load_state(out_dir / STATE_FILE)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(list(state["cuda_rng"]))
        start_epoch, best_value, best_epoch = int(state["epoch"]), float(state["best_value"]), int(state["best_epoch"])
        trim_metrics(out_dir / METRICS_FILE, start_epoch)
    else:
        write_json_atomic(out_dir / CONFIG_FILE, {"config": config.to_json(), "data": data.description,
                                                  "head": head_config.to_json(), "classes": data.classes,
                                                  "feature_settings": data.feature_settings, "fps": data.fps})

    def checkpoint(name: str, epoch: int, record: dict) -> None:
        save_checkpoint(out_dir / name, model, head_config, classes=data.classes,
                        feature_settings=data.feature_settings, fps=data.fps,
                        nms=NmsSettings(config.nms, config.nms_window, config.nms_threshold),
                        extra={"epoch": epoch, "metrics": record, "train_config": config.to_json(),
                               "run": str(out_dir), "features": data.description.get("features")})

    history: list[dict] = []
    stop_reason = "max_epochs"
    epoch = start_epoch
    if resume and should_stop(config, optimizer.param_groups[0]["lr"], scheduler.num_bad_epochs):
        return TrainResult(out_dir, epoch, best_epoch, best_value, "lr_floor", history)  # resumed a finished run
    epochs = tqdm(range(start_epoch + 1, config.max_epochs + 1), desc="training", unit="epoch",
                  disable=not epoch_bar, leave=False)
    progress = progress and not epoch_bar
    for epoch in epochs:
        started = time.perf_counter()
        data.train.set_epoch(epoch)
        shuffle = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        loader = batch_loader(data.train, config.batch_size, config.num_workers, shuffle)
        train_loss, windows = run_epoch(model, loader, criterion, device, optimizer, config.mixup_alpha,
                                        max_batches, f"epoch {epoch} train", progress)
        record = {"epoch": epoch, "train_loss": train_loss, "train_windows": windows,
                  "lr": optimizer.param_groups[0]["lr"]}
        if data.valid is not None:
            valid_loader = batch_loader(data.valid, config.batch_size, config.num_workers)
            record["valid_loss"], _ = run_epoch(model, valid_loader, criterion, device,
                                                description=f"epoch {epoch} valid", progress=progress)
            if config.eval_every and epoch % config.eval_every == 0:
                with torch.no_grad():
                    record.update({f"valid_{k}": v for k, v in validation_a_map(model, data, config).items()})
        record["epoch_s"] = round(time.perf_counter() - started, 3)

        value = selection_value(config, record)
        improved = value is not None and (value > best_value if select_max else value < best_value)
        if improved:
            best_value, best_epoch = float(value), epoch
            checkpoint(BEST, epoch, record)
        record["best_epoch"] = best_epoch
        checkpoint(LAST, epoch, record)
        if config.scheduler == "plateau":
            scheduler.step(record.get("valid_loss", train_loss))
        append_metrics(out_dir / METRICS_FILE, record)
        history.append(record)
        save_state(out_dir / STATE_FILE, {
            "epoch": epoch, "best_value": best_value, "best_epoch": best_epoch,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
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
