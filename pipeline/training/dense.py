"""Train a dense frame model (E2E-Spot) end to end on frame caches, through the one loop.

`soccerspot train-dense` lands here. The recipe is E2E-Spot's (Hong et al., ECCV 2022; jhong93/spot
`train_e2e.py`, `dataset/frame.py`), as the `e2e-spot-paper` preset and `DenseSettings`' defaults:

- data: each half video decoded once into a frame cache of the model's frame recipe (`extract.frame_store.
  ensure_recipe_cache`: E2E-Spot's SoccerNet-v2 frames, every `int(fps / 2)`-th frame at 398x224, the frames
  `spot` will feed it); clips drawn as theirs (`data.dense_training_clips`): `epoch_frames // clip_len` clips
  an epoch, per-frame labels (C + 1 classes, `dilate_len`), mixup of two clips per sample, flips;
- model: a registered dense model (`models.dense`, `create_dense_model(config.head, **config.head_options)`);
  its input preparation (normalisation, padding of rows outside the half) and the mixup of frames run on the
  device (`DenseTrainModel`);
- loss: cross-entropy over the C + 1 per-frame classes, weight 1 for background and `fg_weight` (5) for each
  class, summed over the stages of a multi-stage temporal layer (`DenseLoss`; soft targets with mixup);
- loop: `pipeline.training.loop.fit` with AdamW and the per-step warm-up + cosine schedule (`scheduler
  "warmup-cosine"`), precision by the one policy, exact `--resume`. Validation: the loss on fixed held-out
  clips every epoch and, every `eval_every` epochs, Average-mAP of the validation halves through the dense
  inference `spot` uses (`pipeline.inference.dense_half`: overlapping clips averaged, the peer's NMS).
- several ranks (`--nproc`, torchrun): the loop's data-parallel run; rank 0 decodes the frame caches first, each
  rank cuts its share of every batch (clips drawn per index), the held-out loss is split and reduced, the
  Average-mAP is computed on rank 0 and its decisions broadcast; BatchNorm trains, so `--sync-bn` (or
  `DenseSettings.freeze_batchnorm`) for ranks that equal one process.

T-DEED (`tdeed-ball`, `tdeed-soccernetv2` presets: their configs, `DENSE_PRESET_SETTINGS` for the data side)
goes through the same task: its clips are their stored clips with displacement and team targets
(`data.dense_training_clips`), `DenseTrainModel` packs its displacement and team outputs beside the logits,
and the loss is theirs (`pipeline.training.dense_losses.TDEEDLoss`); validation with teams is Team mAP
(`pipeline.evaluation.ball`). `init_from` starts the model from another run's tensors but its class and team
heads (pre-training on SoccerNet-v2 actions, then Ball Action Spotting).

Checkpoints (`RUN/best`, `RUN/last`): `config.json` + `model.pt`, read by `models.dense.trained_folder`,
so `soccerspot spot VIDEO --model RUN/best` runs it; the config records the task its labels were.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.classes import class_setup
from soccerspot.data.dense_training_clips import DEFAULT_PAD_LEN, DenseClipDataset, DenseClipSettings, dense_track
from soccerspot.data.frame_store import frame_cache_path
from soccerspot.data.labels import GamePredictions, deduplicate_bins
from soccerspot.data.tasks import TASK_SPECS
from soccerspot.data.weights_file import load_weights_only
from soccerspot.errors import DataError, SettingsError
from soccerspot.extract.frame_recipes import FRAME_RECIPES, frame_recipe
from soccerspot.extract.frame_store import ensure_recipe_cache
from soccerspot.models.dense import TRAINED_CONFIG_FILE, TRAINED_FORMAT, TRAINED_WEIGHTS_FILE, create_dense_model
from soccerspot.models.dense.registry import dense_model_entry
from soccerspot.pipeline.evaluation.average_map import evaluate_games
from soccerspot.pipeline.evaluation.ball import evaluate_ball_teams
from soccerspot.pipeline.inference.dense_half import half_probabilities, pad_value
from soccerspot.pipeline.inference.dense_models import PEER_INFERENCE
from soccerspot.pipeline.inference.dense_spot import DenseSpotter, half_spots
from soccerspot.pipeline.training.config import TrainConfig
from soccerspot.pipeline.training.distributed import current, main_rank_first
from soccerspot.pipeline.training.dense_losses import TDEED_LOSS_WEIGHTS, TDEEDLoss
from soccerspot.pipeline.training.finetune import (
    FineTuneData, clip_loader, read_game_labels, run_differences, video_halves,
)
from soccerspot.pipeline.training.loop import LoopTask, TrainResult, check_loop_settings, run, training_precision
from soccerspot.pipeline.training.settings_record import SettingsRecord


@dataclass
class DenseSettings(SettingsRecord):
    """What the dense recipe adds to a `TrainConfig` (E2E-Spot's dataset arguments; theirs as defaults)."""

    frame_recipe: str = "e2e-soccernetv2"
    variant: str = "E2E-Spot"  # whose evaluation spots the model (clips, averaging, NMS: dense_models)
    epoch_frames: int = 500_000  # their EPOCH_NUM_FRAMES: epoch_frames // clip_len clips an epoch
    dilate_len: int = 0
    fg_upsample: float | None = None
    fg_weight: float = 5.0
    flip: bool = True  # their RandomHorizontalFlip in training
    pad_len: int = DEFAULT_PAD_LEN
    freeze_batchnorm: bool = False  # BatchNorm layers in eval mode (statistics fixed; scale and shift train)
    # T-DEED's data and loss (`data.dense_training_clips`, `pipeline.training.dense_losses`): their stored
    # clips every `start_step` rows (0: E2E-Spot's draws), only clips with labels, labels on rows by their
    # frame numbers, the displacement and team terms' weights
    start_step: int = 0
    event_clips_only: bool = False
    peer_rows: bool = False
    displacement_weight: float = TDEED_LOSS_WEIGHTS[1]
    team_weight: float = TDEED_LOSS_WEIGHTS[2]
    task: str = "spotting"  # the task (`data.tasks`) whose labels it learns; recorded in the exported folder
    init_from: str | None = None  # a train-dense folder (RUN/best) whose matching tensors start the model

    def validate(self) -> "DenseSettings":
        if self.frame_recipe not in FRAME_RECIPES:
            raise SettingsError("frame_recipe", f"must be one of {', '.join(FRAME_RECIPES)}; got {self.frame_recipe!r}")
        if (self.variant, self.frame_recipe) not in PEER_INFERENCE:
            known = ", ".join(f"{v} on {r}" for v, r in PEER_INFERENCE)
            raise SettingsError("frame_recipe", f"no known inference for {self.variant} on {self.frame_recipe} ({known})")
        if self.epoch_frames < 1:
            raise SettingsError("epoch_frames", f"must be >= 1; got {self.epoch_frames}")
        if self.dilate_len < 0 or self.pad_len < 0:
            raise SettingsError("dilate_len", f"dilate_len and pad_len must be >= 0; got {self.dilate_len}, {self.pad_len}")
        if self.fg_upsample is not None and not 0.0 < self.fg_upsample < 1.0:
            raise SettingsError("fg_upsample", f"must lie in (0, 1); got {self.fg_upsample}")
        if not self.fg_weight > 0:
            raise SettingsError("fg_weight", f"must be > 0; got {self.fg_weight}")
        if self.start_step < 0:
            raise SettingsError("start_step", f"must be >= 0; got {self.start_step}")
        if self.event_clips_only and self.start_step == 0:
            raise SettingsError("event_clips_only", "needs start_step > 0 (their stored clips)")
        if self.displacement_weight < 0 or self.team_weight < 0:
            raise SettingsError("team_weight", "the loss weights must be >= 0")
        if self.task not in TASK_SPECS:
            raise SettingsError("task", f"must be one of {', '.join(TASK_SPECS)}; got {self.task!r}")
        return self



def model_settings(config: TrainConfig) -> dict:
    """The dense model's settings: its registered defaults, then `config.head_options`; SettingsError naming
    `head_options.NAME` for one the model does not have."""
    try:
        entry = dense_model_entry(config.head)
    except SettingsError as error:
        raise SettingsError("head", error.reason) from None
    unknown = sorted(set(config.head_options) - set(entry.defaults) - {"num_classes"})
    if unknown:
        raise SettingsError("head_options." + unknown[0], f"the {config.head} model has no setting {unknown[0]!r} "
                                                          f"(settings: {', '.join(sorted(entry.defaults))})")
    if "num_classes" in config.head_options:
        raise SettingsError("head_options.num_classes", "the classes come from the labels (--classes)")
    return {**entry.defaults, **config.head_options}


def check_dense_settings(config: TrainConfig, settings: DenseSettings) -> None:
    check_loop_settings(config)
    settings.validate()
    values = model_settings(config)
    names = {"classes": ("class",)} if "classes" in values else {}  # a model that keeps its class names
    try:
        model = create_dense_model(config.head, **{**values, "num_classes": 1, "pretrained": False, **names})
    except SettingsError as error:
        raise SettingsError("head_options." + (error.setting or ""), error.reason) from None
    except TypeError as error:
        raise SettingsError("head_options", str(error)) from None
    spec = TASK_SPECS[settings.task]
    if config.classes not in spec.class_sets:
        raise SettingsError("classes", f"the {spec.name} task's class sets are {', '.join(spec.class_sets)}; "
                                       f"got {config.classes!r}")
    if model.has_team and not class_setup(config.classes).teams:
        raise SettingsError("classes", f"the {config.head} model has a team head; class set {config.classes!r} "
                                       "names no teams (ball-2025 does)")
    if int(values.get("clip_len", 1)) > settings.epoch_frames:
        raise SettingsError("epoch_frames", f"fewer frames an epoch ({settings.epoch_frames}) than one clip")


# --- data ------------------------------------------------------------------------------------------------


def load_dense_data(config: TrainConfig, settings: DenseSettings, videos_root: Path, labels_root: Path,
                    train_games: Sequence[str], valid_games: Sequence[str], cache_root: Path, *,
                    progress: bool = True) -> FineTuneData:
    """A frame cache of the recipe's frames per half of both game lists, their labels mapped to rows. Under
    several ranks, rank 0 decodes what is missing while the others wait, then every rank reads the caches in
    place (memory-mapped)."""
    import sys

    setup = class_setup(config.classes)
    recipe = frame_recipe(settings.frame_recipe)
    labels = read_game_labels(labels_root, [*train_games, *valid_games], setup.labels_file)
    tracks: dict[str, list] = {}
    failed: list[str] = []
    for split, games in (("train", train_games), ("valid", valid_games)):
        tracks[split] = []
        with main_rank_first():
            for half in video_halves(videos_root, games):
                path = frame_cache_path(cache_root, half.game, half.half, 0, "", 0, recipe=recipe.name)
                try:
                    cache = ensure_recipe_cache(half.video, path, recipe, progress=progress and current().is_main)
                except DataError as error:
                    if current().is_main:
                        print(f"warning: {error}; half {half.half} of {half.game!r} left out", file=sys.stderr)
                    failed.append(str(half.video))
                    continue
                tracks[split].append(dense_track(half.game, half.half, cache, labels[half.game], setup.dictionary,
                                                 setup.teams, peer_rows=settings.peer_rows))
    if not tracks["train"]:
        raise DataError(videos_root, "no training half could be decoded: nothing to train on")
    description = {
        "videos_root": str(videos_root.resolve()), "labels_root": str(labels_root.resolve()),
        "cache_root": str(cache_root.resolve()), "train_games": len(train_games), "valid_games": len(valid_games),
        "train_halves": len(tracks["train"]), "valid_halves": len(tracks["valid"]), "failed_videos": failed,
        "frame_recipe": recipe.name,
    }
    return FineTuneData(tracks["train"], tracks["valid"], {g: labels[g] for g in valid_games}, setup.names,
                        description, list(train_games), list(valid_games))


# --- model and loss --------------------------------------------------------------------------------------


class DenseTrainModel(nn.Module):
    """A dense model fed uint8 clips: normalised as it expects, rows outside the half filled with its padding,
    mixed with a partner clip (mixup) after normalisation; returns every stage's logits (S, B, T, C + 1), or
    for a model with displacement or team outputs (T-DEED) (1, B, T, C + 3): logits, displacement, team
    logit (zeros where the model has none), one tensor as the loop expects.
    `frozen_batchnorm`: the model's BatchNorm layers stay in eval mode while it trains."""

    def __init__(self, model: nn.Module, frozen_batchnorm: bool = False):
        super().__init__()
        self.model = model
        self.frozen_batchnorm = frozen_batchnorm
        self.extra_outputs = bool(model.has_displacement or model.has_team)

    def train(self, mode: bool = True) -> "DenseTrainModel":
        super().train(mode)
        if mode and self.frozen_batchnorm:
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def prepare(self, frames: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        spec = self.model.input_spec
        x = spec.normalise(frames)
        pad = pad_value(spec).to(x.device, x.dtype).view(1, 1, 3, 1, 1)
        return torch.where(valid[:, :, None, None, None], x, pad)

    def forward(self, frames: torch.Tensor, valid: torch.Tensor, partner: torch.Tensor | None = None,
                partner_valid: torch.Tensor | None = None, weight: torch.Tensor | None = None) -> torch.Tensor:
        x = self.prepare(frames, valid)
        if partner is not None:
            w = weight.to(x.dtype).view(-1, 1, 1, 1, 1)
            x = w * x + (1 - w) * self.prepare(partner, partner_valid)
        output = self.model(x)
        if self.extra_outputs:
            zeros = output.logits.new_zeros(output.logits.shape[:2])
            extra = [zeros if v is None else v.to(output.logits.dtype) for v in (output.displacement, output.team)]
            return torch.cat([output.logits, extra[0][..., None], extra[1][..., None]], dim=-1)[None]
        return output.stages if output.stages is not None else output.logits[None]


class DenseLoss:
    """Cross-entropy over C + 1 per-frame classes, background weight 1 and `fg_weight` for each class, summed
    over stages (theirs: `F.cross_entropy(pred.reshape(-1, C + 1), label, weight=[1, 5, ...])`). With mixup the
    targets are distributions (their soft-target form); without, class indices (their hard form).

    As the loop's exact-sum contract (`loop.batch_share`): torch's mean is sum(w_i l_i) / sum(w_i) over the
    frames with class-index targets (w_i the weight of frame i's class) and sum(l_i) / frames with soft
    targets; `sums` and `counts` are those numerators and denominators, so a rank's or an accumulation step's
    share of a batch adds up to the loss of the whole batch. Every stage scores the same frames against the
    same targets, so the stages share one denominator and their sums add."""

    def __init__(self, num_classes: int, fg_weight: float, soft: bool):
        self.weight = torch.tensor([1.0] + [float(fg_weight)] * num_classes)
        self.soft = soft

    def _labels(self, targets: torch.Tensor, columns: int) -> torch.Tensor:
        labels = targets.reshape(-1, columns)
        return labels if self.soft else labels.argmax(dim=1)

    def sums(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        columns = logits.shape[-1]
        weight = self.weight.to(logits.device)
        labels = self._labels(targets, columns)
        return sum(F.cross_entropy(stage.reshape(-1, columns), labels, weight=weight, reduction="sum")
                   for stage in logits).reshape(1)

    def counts(self, targets: torch.Tensor) -> torch.Tensor:
        labels = self._labels(targets, targets.shape[-1])
        if self.soft:
            return torch.tensor([float(labels.shape[0])])
        return self.weight.to(labels.device)[labels].sum().reshape(1)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (self.sums(logits, targets) / self.counts(targets).to(logits.device, logits.dtype))[0]


# --- validation and export -------------------------------------------------------------------------------


def spotter_for(model: nn.Module, classes: list[str], settings: DenseSettings, path: Path) -> DenseSpotter:
    inference = PEER_INFERENCE[(settings.variant, settings.frame_recipe)]
    return DenseSpotter(model, list(classes), bool(model.has_team), frame_recipe(settings.frame_recipe), inference.rule,
                        inference.nms, path, settings.variant, inference.eval_framerate)


def cache_batches(track, size: int = 32):
    from types import SimpleNamespace

    frames, times = track.cache.array, np.asarray(track.cache.meta.timestamps, dtype=np.float64)
    for start in range(0, len(frames), size):
        yield SimpleNamespace(frames=np.array(frames[start:start + size]), times=times[start:start + size])


@torch.no_grad()
def dense_validation_a_map(model: nn.Module, data: FineTuneData, config: TrainConfig, settings: DenseSettings,
                           precision: str, path: Path) -> dict:
    """Average-mAP of the validation halves through `spot`'s dense inference, from their caches."""
    model.eval()
    spotter = spotter_for(model, data.classes, settings, path)
    found: dict[str, list] = {}
    for track in data.valid:
        result = half_probabilities(model, cache_batches(track), clip_len=model.clip_len, rule=spotter.rule,
                                    spec=model.input_spec, precision=precision)
        found.setdefault(track.game, []).extend(half_spots(result.probabilities, result.times, spotter, track.half))
    predictions = {game: GamePredictions(url=game, predictions=deduplicate_bins(spots, spotter.eval_framerate))
                   for game, spots in found.items()}
    setup = class_setup(config.classes)
    framerate = TASK_SPECS[settings.task].framerate
    if setup.teams and spotter.team:  # Team mAP (the 2025 Ball evaluator), and mAP without teams beside it
        results = evaluate_ball_teams(data.valid_labels, predictions, data.classes, config.metric, teams=setup.teams,
                                      framerate=framerate, allow_missing=True)
        # a class without labels in the validation games makes the official mean NaN (its 0 / 0 weights): the
        # selection reads the mean over the classes that have some, the official figure is kept beside it
        per_class = np.asarray(results["mAP_per_class"], dtype=np.float64)
        scored = per_class[np.isfinite(per_class)]
        return {"a_mAP": float(scored.mean()) if len(scored) else float("nan"), "team_mAP": float(results["mAP"]),
                "mAP_no_team": float(results["mAP_no_team"])}
    results = evaluate_games(data.valid_labels, predictions, data.classes, metric=config.metric,
                             version=setup.version, framerate=framerate, allow_missing=True)
    return {key: results[key] for key in ("a_mAP", "a_mAP_visible", "a_mAP_unshown") if results.get(key) is not None}


def export_dense_model(folder: Path, model: nn.Module, name: str, values: dict, classes: list[str],
                       settings: DenseSettings, extra: dict) -> None:
    """`folder/model.pt` (the dense model's state dict) and `folder/config.json` (`models.dense.trained_folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {key: tensor.detach().cpu().contiguous() for key, tensor in model.state_dict().items()}
    with atomic_open(folder / TRAINED_WEIGHTS_FILE, "wb") as handle:
        torch.save(state, handle)
    write_json_atomic(folder / TRAINED_CONFIG_FILE, {
        "format": TRAINED_FORMAT, "model": name, "settings": values, "classes": list(classes),
        "frame_recipe": settings.frame_recipe, "variant": settings.variant, "task": settings.task, **extra,
    })


def init_from_folder(model: nn.Module, folder: Path) -> dict:
    """Copy into `model` every tensor of the train-dense folder `folder` (`model.pt`) with the same name and
    shape, except the model's class and team heads (`task_head_prefixes`); `DataError` naming the file when it
    cannot be read or nothing matches. Returns {"loaded": n, "skipped": [names]}."""
    path = Path(folder) / TRAINED_WEIGHTS_FILE
    if not path.is_file():
        raise DataError(path, "missing: --init-from takes a train-dense model folder (RUN/best)")
    source = load_weights_only(path, "train-dense model")
    if not isinstance(source, dict):
        raise DataError(path, "not a state dict")
    heads = tuple(getattr(model, "task_head_prefixes", ()))
    own = model.state_dict()
    taken = {name: tensor for name, tensor in source.items()
             if name in own and not name.startswith(heads) and tuple(tensor.shape) == tuple(own[name].shape)}
    if not taken:
        raise DataError(path, "no tensor of it fits this model (name and shape)")
    model.load_state_dict(taken, strict=False)
    return {"loaded": len(taken), "skipped": sorted(set(own) - set(taken))}


# --- the task --------------------------------------------------------------------------------------------


def dense_task(config: TrainConfig, settings: DenseSettings, data: FineTuneData, out_dir: Path) -> LoopTask:
    values = {**model_settings(config), "num_classes": len(data.classes)}
    if "classes" in values:  # the model's own record of its class names (T-DEED): the labels' classes
        values["classes"] = list(data.classes)
    device = torch.device(config.device)
    model = create_dense_model(config.head, **values)
    initialised = init_from_folder(model, Path(settings.init_from)) if settings.init_from else None
    model = model.to(device)
    trainer = DenseTrainModel(model, frozen_batchnorm=settings.freeze_batchnorm)
    precision = training_precision(config.precision, device)
    clip_len = int(model.clip_len)
    clips = max(1, settings.epoch_frames // clip_len)
    teams = bool(model.has_team)
    train_settings = DenseClipSettings(clip_len, clips, settings.dilate_len, settings.pad_len, settings.fg_upsample,
                                       config.mixup_alpha, settings.flip, settings.start_step,
                                       settings.event_clips_only, int(model.displacement_radius), teams)
    train_clips = DenseClipDataset(data.train, len(data.classes), train_settings, seed=config.seed)
    valid_clips = None
    if data.valid:  # theirs: a quarter of the training clips' count, without augmentation here
        valid_settings = dataclasses.replace(train_settings, clips=max(1, clips // 4), mixup_alpha=0.0, flip=False)
        valid_clips = DenseClipDataset(data.valid, len(data.classes), valid_settings, seed=config.seed, train=False)

    def batches(count: int) -> list[list[int]]:
        return [list(range(i, min(i + config.batch_size, count))) for i in range(0, count, config.batch_size)]

    def train_batches(epoch: int):
        train_clips.set_epoch(epoch)
        return clip_loader(train_clips, batches(len(train_clips)), config)

    def valid_batches():
        return clip_loader(valid_clips, batches(len(valid_clips)), config)

    def checkpoint(folder: Path, epoch: int, record: dict) -> None:
        export_dense_model(folder, model, config.head, values, data.classes, settings,
                           {"epoch": epoch, "metrics": record, "train_config": config.to_json(),
                            "dense": settings.to_json(), "run": str(out_dir)})

    run_record = {"config": config.to_json(), "finetune": settings.to_json(), "data": data.description,
                  "games": {"train": data.train_games, "valid": data.valid_games}, "model": config.head,
                  "model_settings": values, "classes": data.classes, "clips_per_epoch": clips,
                  **({"init_from": {"folder": settings.init_from, **initialised}} if initialised else {})}
    return LoopTask(
        model=trainer, train_batches=train_batches, save_checkpoint=checkpoint, run_record=run_record,
        resume_differences=lambda stored: run_differences(stored, run_record),
        valid_batches=valid_batches if valid_clips is not None else None,
        validate=(lambda: dense_validation_a_map(model, data, config, settings, precision, out_dir))
        if data.valid else None,
        criterion=(TDEEDLoss(len(data.classes), settings.fg_weight, soft=None,
                             displacement=bool(model.has_displacement), team=teams,
                             displacement_weight=settings.displacement_weight, team_weight=settings.team_weight)
                   if trainer.extra_outputs else DenseLoss(len(data.classes), settings.fg_weight,
                                                           soft=config.mixup_alpha > 0)),
    )


def run_dense(config: TrainConfig, settings: DenseSettings, data: FineTuneData, out_dir: str | Path, *,
              resume: bool = False, max_batches: int | None = None, progress: bool = True) -> TrainResult:
    """Train `config.head` (a registered dense model) on `data`, writing the run to `out_dir`. Mixup is the
    dataset's (per clip, an independent partner, as E2E-Spot), so the loop's own per-batch mixup is off."""
    if not data.valid and config.select_on == "valid_a_mAP":
        raise SettingsError("select_on", "'valid_a_mAP' needs validation games")
    check_dense_settings(config, settings)
    loop_config = dataclasses.replace(config, mixup_alpha=0.0)
    return run(loop_config, lambda: dense_task(config, settings, data, Path(out_dir)), out_dir, resume=resume,
               max_batches=max_batches, progress=progress, frames=True)
