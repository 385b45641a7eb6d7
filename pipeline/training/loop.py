"""The one training loop (`fit`) every kind of training runs through, and what a kind supplies (`LoopTask`).

`fit(config, task, out_dir)`: optimizer (Adam or SGD), autocast precision (`extract.precision`), the plateau
scheduler and its stop, validation loss and the task's metrics, best/last checkpoints, metrics lines and an
exact `--resume` from the run folder's `state.pt` (`pipeline.training.run_folder`). Tasks: heads on
features (`tasks.features`, and heads with their own targets in `tasks/`), a backbone's last stage with a
head on frame clips (`finetune`), the snippet classifier (`snippets`).

The peers stop when the learning rate is already at the floor and the validation loss has not improved
for `patience` epochs (`lr < 2·eps and num_bad_epochs >= patience`, eps = 1e-8): here, "the next
reduction would take lr below `stop_lr`" and `num_bad_epochs >= patience` — the same epoch.
"""
from __future__ import annotations

import inspect
import json
import math
import re
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.weights_file import load_weights_only
from soccerspot.errors import DataError, SettingsError
from soccerspot.extract.allocator import tune_glibc_allocator
from soccerspot.extract.precision import autocast, resolve_precision
from soccerspot.models.sync_batchnorm import sync_batchnorm
from soccerspot.pipeline.training.batch_plan import BatchPlan, rank_parts
from soccerspot.pipeline.training.config import TrainConfig
from soccerspot.pipeline.training.distributed import (
    SINGLE, Distributed, barrier, current, from_main, gathered, sum_over_ranks,
)
from soccerspot.pipeline.training.schedule import warmup_cosine_factor
from soccerspot.pipeline.training.run_folder import (
    BEST, LAST, METRICS_FILE, RUN_CONFIG_FILE, STATE_FILE, append_metrics, check_resumable, check_run_folder,
    make_run_folder, trim_metrics,
)


def check_loop_settings(config: TrainConfig) -> None:
    """The settings' own rules (`TrainConfig.validate`) and the device this machine has."""
    config.validate()
    try:
        device = torch.device(config.device)
    except RuntimeError:
        raise SettingsError("device", f"not a torch device: {config.device!r} (e.g. cpu, cuda, cuda:1)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device", f"{config.device!r}: CUDA is not available on this machine")


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

    def outputs(self, model: nn.Module, inputs: object) -> torch.Tensor:
        with autocast(self.device.type, self.precision):
            outputs = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
        return outputs.float()

    def loss(self, model: nn.Module, inputs: object, targets: torch.Tensor) -> torch.Tensor:
        return self.criterion(self.outputs(model, inputs), targets)


def loss_counts(criterion: Callable, targets: torch.Tensor) -> torch.Tensor:
    """The denominators of the criterion's means over a batch (float64, CPU): `criterion.counts(targets)` for
    a loss made of several means (`sums` / `counts`), else the batch's rows (a mean over rows)."""
    if hasattr(criterion, "counts"):
        return criterion.counts(targets).detach().double().cpu().reshape(-1)
    return torch.tensor([float(targets.shape[0])], dtype=torch.float64)


def batch_share(criterion: Callable, outputs: torch.Tensor, targets: torch.Tensor,
                denominators: torch.Tensor) -> torch.Tensor:
    """This part's share of its global batch's loss: the sums of the criterion's terms over the part's rows
    divided by the global batch's counts (`denominators`, clamped at 1). Summed over the parts of a batch (over
    ranks and accumulation steps) it is the loss one process computes on the whole batch."""
    if hasattr(criterion, "sums"):
        sums = criterion.sums(outputs, targets)
        return (sums / denominators.clamp(min=1.0).to(sums.device, sums.dtype)).sum()
    rows = float(targets.shape[0])
    if rows == 0:
        return outputs.sum() * 0.0  # a mean over no rows is NaN; this part adds nothing
    loss = criterion(outputs, targets)
    return loss if rows == float(denominators[0]) else loss * (rows / float(denominators[0]))


def epoch_parts(batches: Batches, shard: Distributed, accumulate: int, max_batches: int | None
                ) -> Iterator[tuple[int, list[tuple[object, torch.Tensor, bool]]]]:
    """(global batch rows, [(inputs, targets, padding)] of this rank's steps) per global batch. A
    `BatchPlan` is split over the ranks and the accumulation steps (`batch_plan.rank_parts`); another iterable
    of batches can only run whole, on one process."""
    count = len(batches) if max_batches is None else min(len(batches), max_batches)
    if not isinstance(batches, BatchPlan):  # `fit` refused several ranks and --accumulate for such a task
        for index, (inputs, targets) in enumerate(batches):
            if index >= count:
                break
            yield int(targets.shape[0]), [(inputs, targets, False)]
        return
    plan = [rank_parts(batch, shard.rank, shard.world_size, accumulate) for batch in batches.batches[:count]]
    loaded = iter(batches.load([part.indices for parts in plan for part in parts]))
    for batch, parts in zip(batches.batches, plan):
        yield len(batch), [(*next(loaded), part.padding) for part in parts]


def run_epoch(
    model: nn.Module,
    loader: Batches,
    step: EpochStep,
    optimizer: torch.optim.Optimizer | None = None,
    mixup_alpha: float = 0.0,
    max_batches: int | None = None,
    description: str = "",
    progress: bool = True,
    *,
    accumulate: int = 1,
    shard: Distributed = SINGLE,
    lr_at: Callable[[int], float] | None = None,
) -> tuple[float, int]:
    """One pass over `loader`; trains when an optimizer is given (at the lr `lr_at(batch index)` where
    given: a per-step schedule). Returns (mean loss per window, windows).

    Each global batch is one optimizer step whoever runs it: this rank's parts of it (`epoch_parts`) each
    add their share of the batch's loss (`batch_share`, over the global batch's counts summed over the
    ranks) times the world size, since DistributedDataParallel averages the ranks' gradients; only the
    last part of a step synchronises them. On one process with `accumulate` 1 this is the plain loop."""
    training = optimizer is not None
    module = model.module if isinstance(model, DistributedDataParallel) else model
    model.train(training)
    total, count = 0.0, 0
    batches = len(loader) if max_batches is None else min(len(loader), max_batches)
    scaler = step.scaler if step.scaler is not None and step.scaler.is_enabled() else None
    with torch.set_grad_enabled(training), tqdm(total=batches, desc=description, disable=not progress,
                                                leave=False, unit="batch") as bar:
        for batch_index, (rows, parts) in enumerate(epoch_parts(loader, shard, accumulate, max_batches)):
            counts = sum(loss_counts(step.criterion, targets) * (0.0 if padding else 1.0)
                         for _, targets, padding in parts)
            denominators = sum_over_ranks(counts)  # the global batch's counts
            if training:
                if lr_at is not None:
                    for group in optimizer.param_groups:
                        group["lr"] = lr_at(batch_index)
                optimizer.zero_grad(set_to_none=True)
            batch_loss = 0.0
            for index, (inputs, targets, padding) in enumerate(parts):
                if padding and not training:
                    continue  # validation runs no collectives: a rank without rows has nothing to do
                inputs, targets = to_device(inputs, step.device), targets.to(step.device, non_blocking=True)
                if training and mixup_alpha > 0:
                    inputs, targets = mixup(inputs, targets, mixup_alpha)
                last = index == len(parts) - 1
                synced = model.no_sync() if training and not last and model is not module else nullcontext()
                with synced:
                    share = batch_share(step.criterion, step.outputs(model, inputs), targets, denominators)
                    if padding:
                        share = share * 0.0
                    if training:
                        scaled = share * shard.world_size if shard.world_size > 1 else share
                        (scaler.scale(scaled) if scaler is not None else scaled).backward()
                batch_loss += float(share.detach())
            if training:
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
            total += batch_loss * rows
            count += rows
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.4f}")
    total = float(sum_over_ranks(torch.tensor([total], dtype=torch.float64))[0])
    return (total / count if count else float("nan")), count


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
    a backbone's last stage with a head on video clips (`pipeline.training.finetune`), …

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
    if config.optimizer == "adamw":
        return torch.optim.AdamW(trainable, lr=config.lr, betas=tuple(config.betas), eps=config.adam_eps,
                                 weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(trainable, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(trainable, lr=config.lr, betas=tuple(config.betas), eps=config.adam_eps,
                            weight_decay=config.weight_decay)


def training_precision(precision: str, device: torch.device) -> str:
    """The one precision policy (`extract.precision.resolve_precision`), its refusals as a setting's."""
    try:
        return resolve_precision(precision, device)
    except ValueError as error:
        raise SettingsError("precision", str(error)) from None


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
    `state.pt`. The run folder must have passed `check_run_folder`; `task.model` is on `config.device`.

    Under a launcher (`distributed.current()` active) every rank runs this: the model is wrapped in
    DistributedDataParallel, each rank trains on its share of every batch (`run_epoch`), validation is split
    the same way and reduced, `task.validate()` and every decision (best checkpoint, scheduler, stop) are
    made on rank 0 and broadcast, and rank 0 alone writes files and shows progress."""
    out_dir = Path(out_dir)
    shard = current()
    device = torch.device(config.device)
    model = task.model
    if (shard.active or config.accumulate > 1) and not isinstance(task.train_batches(1), BatchPlan):
        raise SettingsError(None if shard.active else "accumulate", "this head's training batches are not a batch "
                            "plan yet: it trains on one process, without --accumulate")
    if config.sync_bn and shard.active:
        sync_batchnorm(model)
    trained = model if not shard.active else DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None, **NO_FORWARD_BUFFER_SYNC)
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
        if shard.is_main:
            trim_metrics(out_dir / METRICS_FILE, start_epoch)
    elif shard.is_main:
        make_run_folder(out_dir)
        write_json_atomic(out_dir / RUN_CONFIG_FILE, {**task.run_record, "distributed": run_layout(config, shard)})
    decorrelate_ranks(config.seed, start_epoch, shard)
    barrier()

    history: list[dict] = []
    stop_reason = "max_epochs"
    epoch = start_epoch
    if resume and should_stop(config, optimizer.param_groups[0]["lr"], scheduler.num_bad_epochs):
        return TrainResult(out_dir, epoch, best_epoch, best_value, "lr_floor", history)  # resumed a finished run
    epochs = tqdm(range(start_epoch + 1, config.max_epochs + 1), desc="training", unit="epoch",
                  disable=not (epoch_bar and shard.is_main), leave=False)
    progress = progress and not epoch_bar and shard.is_main
    step = EpochStep(task.criterion, device, precision, scaler)
    parts = {"accumulate": config.accumulate, "shard": shard}
    try:
        for epoch in epochs:
            started = time.perf_counter()
            loader = task.train_batches(epoch)
            train_loss, windows = run_epoch(trained, loader, step, optimizer, config.mixup_alpha, max_batches,
                                            f"epoch {epoch} train", progress, **parts,
                                            lr_at=step_lr(config, epoch, loader, max_batches))
            record = {"epoch": epoch, "train_loss": train_loss, "train_windows": windows,
                      "lr": optimizer.param_groups[0]["lr"]}
            if shard.active:  # how this epoch ran (a resumed run may run on another number of ranks)
                record.update(world_size=shard.world_size, backend=shard.backend,
                              per_rank_batch=run_layout(config, shard)["per_rank_batch"])
            if task.valid_batches is not None:
                record["valid_loss"], _ = run_epoch(model, task.valid_batches(), step, progress=progress, shard=shard,
                                                    description=f"epoch {epoch} valid")
                merge_tallies(task.criterion, shard)
                if task.validate is not None and config.eval_every and epoch % config.eval_every == 0 and shard.is_main:
                    model.eval()
                    with torch.no_grad():
                        record.update({f"valid_{k}": v for k, v in task.validate().items()})
            record["epoch_s"] = round(time.perf_counter() - started, 3)

            value = record.get(task.select_max) if task.select_max is not None else selection_value(config, record)
            improved = value is not None and (value > best_value if select_max else value < best_value)
            record, improved, value = from_main((record, improved, value))  # rank 0's decision, on every rank
            if improved:
                best_value, best_epoch = float(value), epoch
            record["best_epoch"] = best_epoch
            if shard.is_main:
                if improved:
                    task.save_checkpoint(out_dir / BEST, epoch, record)
                task.save_checkpoint(out_dir / LAST, epoch, record)
            if config.scheduler == "plateau":
                scheduler.step(record.get("valid_loss", train_loss))
            history.append(record)
            if shard.is_main:
                append_metrics(out_dir / METRICS_FILE, record)
                save_state(out_dir / STATE_FILE, {
                    "epoch": epoch, "best_value": best_value, "best_epoch": best_epoch,
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                    **({"scaler": scaler.state_dict()} if scaler.is_enabled() else {}),
                    **({"cuda_rng": torch.cuda.get_rng_state_all()} if device.type == "cuda" else {}),
                })
            barrier()  # the epoch's files are written before any rank goes on (or ends)
            epochs.set_postfix(loss=round(train_loss, 4))
            if progress:
                shown = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in record.items()}
                tqdm.write(json.dumps(shown))
            if should_stop(config, optimizer.param_groups[0]["lr"], scheduler.num_bad_epochs):
                stop_reason = "lr_floor"
                break
    except RuntimeError as error:
        if not shard.active or not is_collective_failure(error):
            raise
        raise DataError(out_dir, f"rank {shard.rank} of {shard.world_size}: another rank stopped answering during "
                                 f"epoch {epoch} ({first_line(error)}); the run resumes from its last complete "
                                 "epoch with --resume") from None
    epochs.close()
    return TrainResult(out_dir, epoch, best_epoch, best_value, stop_reason, history)


# Buffers are not broadcast before each forward: the number of forwards per step is the same on every rank, but
# frozen BatchNorm statistics never change and trained ones are synchronised by --sync-bn where asked.
NO_FORWARD_BUFFER_SYNC = ({"forward_sync_buffers": False}
                          if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                          else {"broadcast_buffers": False})


def run_layout(config: TrainConfig, shard: Distributed) -> dict:
    """How the run is laid out over processes (`train_config.json`'s `distributed`)."""
    per_rank = -(-config.batch_size // shard.world_size)
    return {**shard.describe(), "per_rank_batch": per_rank, "accumulate": config.accumulate,
            "step_batch": -(-per_rank // config.accumulate), "sync_bn": bool(config.sync_bn and shard.active)}


def decorrelate_ranks(seed: int, epoch: int, shard: Distributed) -> None:
    """Ranks other than 0 draw dropout and mixup from their own streams (rank 0 keeps the one process's)."""
    if shard.rank > 0:
        torch.manual_seed((seed * 1_000_003 + epoch) * 65_537 + shard.rank)


def merge_tallies(criterion: object, shard: Distributed) -> None:
    """A criterion that tallies the validation pass (`tally()`, `merge_tallies(list)`, e.g. the snippet
    recipe's accuracy) gets every rank's tally on rank 0, where `task.validate()` reads it."""
    if shard.active and hasattr(criterion, "tally") and hasattr(criterion, "merge_tallies"):
        tallies = gathered(criterion.tally())
        if shard.is_main:
            criterion.merge_tallies(tallies)


def is_collective_failure(error: Exception) -> bool:
    """A collective that failed because a peer died or timed out (gloo and NCCL say so in their message)."""
    if isinstance(error, dist.DistError):
        return True
    said = str(error).lower()
    return any(word in said for word in ("gloo", "nccl", "connection", "timed out", "timeout", "peer"))


def first_line(error: Exception) -> str:
    """The gist of a backend's error: its first line without the source location, its first sentence."""
    line = next((part.strip() for part in str(error).splitlines() if part.strip()), type(error).__name__)
    line = re.sub(r"^\[[^\]]*\]\s*", "", line).split(". ")[0]
    return line if len(line) <= 160 else line[:160] + " …"


def step_lr(config: TrainConfig, epoch: int, loader: Batches, max_batches: int | None):
    """`lr_at(batch index)` of epoch `epoch` (1-based) for a per-step schedule, or None (the plateau
    scheduler and "none" set the lr per epoch)."""
    if config.scheduler != "warmup-cosine":
        return None
    steps = len(loader) if max_batches is None else min(len(loader), max_batches)
    warmup, cosine = config.warmup_epochs * steps, (config.max_epochs - config.warmup_epochs) * steps
    return lambda index: config.lr * warmup_cosine_factor((epoch - 1) * steps + index, warmup, cosine)


def selection_value(config: TrainConfig, record: dict) -> float | None:
    """What the best checkpoint is chosen on; None on epochs that did not compute it (no Average-mAP)."""
    if config.select_on == "valid_a_mAP":
        return record.get("valid_a_mAP")
    if config.select_on != "valid_loss":
        raise ValueError(f"select_on must be 'valid_loss' or 'valid_a_mAP', got {config.select_on!r}")
    return record.get("valid_loss", record["train_loss"])  # no validation games: the training loss


def run(
    config: TrainConfig,
    make_task: Callable[[], LoopTask],
    out_dir: str | Path,
    *,
    resume: bool = False,
    max_batches: int | None = None,
    progress: bool = True,
    epoch_bar: bool = False,
    frames: bool = False,
) -> TrainResult:
    """What every run does around `fit`: the run folder checked (`--resume` needs its state, a new run an
    empty folder), the seed set, the task made, a resume refused on other data, then the loop. `frames`:
    the task runs a backbone on frames (on a CPU, glibc's allocator is tuned first, see docs/design.md).
    The caller has checked the settings (`check_loop_settings` and its kind's own)."""
    out_dir = Path(out_dir)
    check_run_folder(out_dir, resume)
    barrier()  # every rank has checked the folder before rank 0 writes there
    seed_everything(config.seed)
    if frames and torch.device(config.device).type == "cpu":

        tune_glibc_allocator()  # glibc's defaults page-fault through every forward pass
    task = make_task()
    if resume:
        check_resumable(out_dir, task.resume_differences)
    return fit(config, task, out_dir, resume=resume, max_batches=max_batches, progress=progress,
               epoch_bar=epoch_bar)
