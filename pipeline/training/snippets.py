"""The snippet recipe (`soccerspot finetune --recipe snippets`): fine-tune a backbone as a snippet classifier.

Baidu's two-stage system (Zhou et al. 2021, "Feature Combination Meets Attention: Baidu Soccer Embeddings
and Transformer based Temporal Detection", arXiv 2106.14447) fine-tuned video action-recognition models as
classifiers of 5-second snippets of soccer (17 classes + background), then extracted features with them.
Here: an image or video backbone, its last `trainable_stages` stages trainable (frozen ones as in
`models.finetune`), runs on every row of a snippet of `R = round(snippet_seconds x fps)` rows (an image
backbone on the row's frame, a video backbone on the row's clip), the row features are averaged and a
linear layer gives C + 1 logits (`models.heads.snippet`); cross-entropy.

Data: the frame caches of `pipeline.training.finetune` (`extract.frame_store`; clip mode for video backbones, each
row the clip `soccerspot extract` would feed the model), snippets drawn by `data.snippets` (one per event,
centred up to a jitter within the middle half; background at nF / C), redrawn every epoch from
`(seed, epoch)`; the held-out snippets of the validation halves are drawn once (epoch 0) and are the same
every epoch.

Loop: `pipeline.training.loop.fit`. Every epoch: validation loss, validation accuracy and per-class accuracy
(`metrics.jsonl`: `valid_accuracy`, `valid_per_class_accuracy`); the best checkpoint is the one of highest
validation accuracy (the training loss without validation games). Each of `RUN/best` and `RUN/last` holds
`backbone.pt` (as `pipeline.training.finetune.save_backbone`: `soccerspot extract --weights RUN/best/backbone.pt`),
`snippet_head.pt` (the linear layer) and `snippet_model.json`, naming the backbone, the weights identity
`extract` gives features made with it, and the transform, input size, fps and clip settings to extract with.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.snippets import SnippetDataset, fixed_batches, shuffled_snippet_batches, snippet_rows
from soccerspot.errors import DataError, SettingsError
from soccerspot.models.backbones import BackboneWeightsError, create_backbone
from soccerspot.models.backbones.video import is_video_backbone, video_backbone_entry
from soccerspot.models.finetune import BackboneHeadModel
from soccerspot.models.heads.snippet import SnippetHead, SnippetHeadConfig
from soccerspot.pipeline.training.config import TrainConfig
from soccerspot.pipeline.training.finetune import (
    BACKBONE_FILE, FineTuneData, FineTuneSettings, clip_loader, load_finetune_data, run_differences,
    save_backbone,
)
from soccerspot.pipeline.training.loop import LoopTask, TrainResult, check_loop_settings, run

MODEL_FILE = "snippet_model.json"
HEAD_FILE = "snippet_head.pt"
BACKGROUND_NAME = "background"


@dataclass
class SnippetSettings:
    """What the snippet recipe adds to the fine-tuning settings."""

    snippet_seconds: float = 5.0  # Baidu's snippets

    def validate(self) -> "SnippetSettings":
        if not self.snippet_seconds > 0:
            raise SettingsError("snippet_seconds", f"must be > 0; got {self.snippet_seconds}")
        return self


@dataclass(frozen=True)
class ClipSetting:
    """Frames per row and their rate for a video backbone; (None, None) for an image backbone."""

    frames: int | None = None
    fps: float | None = None


def clip_setting(settings: FineTuneSettings) -> ClipSetting:
    """The backbone's clip (video backbones: from their weights metadata), checked against the input size
    and decoder; `SettingsError` when it cannot work."""
    if not is_video_backbone(settings.backbone):
        return ClipSetting()
    try:
        entry = video_backbone_entry(settings.backbone)
    except ValueError as error:
        raise SettingsError("backbone", str(error)) from None
    problem = entry.input_problem(entry.clip_frames, settings.input_size)
    if problem:
        raise SettingsError("input_size", problem)
    if settings.decoder != "pyav":
        raise SettingsError("decoder", "video backbones' clips are streamed with PyAV (each frame decoded once): use pyav")
    return ClipSetting(int(entry.clip_frames), float(entry.clip_fps))


def check_snippet_settings(config: TrainConfig, settings: FineTuneSettings, snippet: SnippetSettings) -> None:
    settings.validate()
    snippet.validate()
    if settings.flip or settings.color_jitter:
        raise SettingsError("flip" if settings.flip else "color_jitter", "the snippet recipe has no augmentation")
    if config.mixup_alpha:
        raise SettingsError("mixup_alpha", "the snippet recipe's targets are class indices: no mixup")
    clip_setting(settings)


# --- data ------------------------------------------------------------------------------------------------


def load_snippet_data(config: TrainConfig, settings: FineTuneSettings, videos_root: Path, labels_root: Path,
                      train_games: Sequence[str], valid_games: Sequence[str], cache_root: Path, *,
                      progress: bool = True) -> FineTuneData:
    """Cache every half of both game lists (frames, or clips for a video backbone) and map their labels
    to rows."""
    clip = clip_setting(settings)
    return load_finetune_data(config, settings, videos_root, labels_root, train_games, valid_games, cache_root,
                              clip_frames=clip.frames, clip_fps=clip.fps, progress=progress)


# --- model, loss and metrics -----------------------------------------------------------------------------


def build_snippet_model(config: TrainConfig, settings: FineTuneSettings, num_classes: int):
    """`BackboneHeadModel(backbone, SnippetHead)` on `config.device`: C + 1 logits per snippet."""
    try:
        backbone = create_backbone(settings.backbone, weights=settings.weights,
                                  trainable_stages=settings.trainable_stages)
    except BackboneWeightsError as error:
        raise DataError(None, str(error)) from None
    except ValueError as error:
        raise SettingsError("backbone", str(error)) from None
    head = SnippetHead(SnippetHeadConfig(backbone.feature_dim, num_classes + 1))
    model = BackboneHeadModel(backbone, head, gradient_checkpointing=settings.gradient_checkpointing,
                              frozen_batchnorm=settings.freeze_batchnorm)
    return model.to(torch.device(config.device), memory_format=backbone.memory_format)


class SnippetLoss:
    """Cross-entropy over the C + 1 logits; outside autograd (the validation pass) it also tallies each
    snippet's predicted and true label, which `accuracy` then reads."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.predicted: list[torch.Tensor] = []
        self.true: list[torch.Tensor] = []

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():
            self.predicted.append(logits.detach().argmax(dim=1).cpu())
            self.true.append(labels.detach().cpu())
        return nn.functional.cross_entropy(logits, labels)

    def tally(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """This process's tally (a rank's share of a distributed validation pass)."""
        return self.predicted, self.true

    def merge_tallies(self, tallies: Sequence[tuple[list[torch.Tensor], list[torch.Tensor]]]) -> None:
        """The tallies of every rank (the loop's `merge_tallies`), in place of this one."""
        self.predicted = [part for predicted, _ in tallies for part in predicted]
        self.true = [part for _, true in tallies for part in true]

    def accuracy(self, names: Sequence[str]) -> dict:
        """`accuracy` (fraction of snippets right) and `per_class_accuracy` {name: fraction} for the labels
        present; `names` are the C + 1 label names."""
        if not self.true:
            return {}
        return snippet_accuracy(torch.cat(self.predicted).numpy(), torch.cat(self.true).numpy(), names)


def snippet_accuracy(predicted: np.ndarray, true: np.ndarray, names: Sequence[str]) -> dict:
    """Overall accuracy and each present label's accuracy (recall of that label)."""
    right = predicted == true
    per_class = {names[int(label)]: float(right[true == label].mean()) for label in np.unique(true)}
    return {"accuracy": float(right.mean()), "snippets": int(len(true)), "per_class_accuracy": per_class}


# --- export ----------------------------------------------------------------------------------------------


def export_snippet_model(folder: Path, model, settings: FineTuneSettings, snippet: SnippetSettings,
                         clip: ClipSetting, classes: list[str], extra: dict) -> str:
    """`backbone.pt` (for `extract --weights`), `snippet_head.pt` and `snippet_model.json` in `folder`;
    returns the weights identity `extract` gives features made with `backbone.pt`."""
    weights_id = save_backbone(folder, model)
    head = {name: tensor.detach().cpu() for name, tensor in model.head.state_dict().items()}
    with atomic_open(folder / HEAD_FILE, "wb") as handle:
        torch.save(head, handle)
    write_json_atomic(folder / MODEL_FILE, {
        "recipe": "snippets", "backbone": settings.backbone, "weights": weights_id, "backbone_file": BACKBONE_FILE,
        "base_weights": settings.weights, "transform": settings.transform, "input_size": settings.input_size,
        "fps": settings.fps, "clip_frames": clip.frames, "clip_fps": clip.fps,
        "snippet_seconds": snippet.snippet_seconds, "snippet_rows": snippet_rows(snippet.snippet_seconds, settings.fps),
        "feature_dim": model.backbone.feature_dim, "labels": [*classes, BACKGROUND_NAME],
        "head": model.head.config.to_json(), **extra,
    })
    return weights_id


# --- the task --------------------------------------------------------------------------------------------


def snippet_task(config: TrainConfig, settings: FineTuneSettings, snippet: SnippetSettings, data: FineTuneData,
                 out_dir: Path) -> LoopTask:
    clip = clip_setting(settings)
    model = build_snippet_model(config, settings, len(data.classes))
    length = snippet_rows(snippet.snippet_seconds, settings.fps)
    num_classes = len(data.classes)
    names = [*data.classes, BACKGROUND_NAME]
    train_snippets = SnippetDataset(data.train, length, num_classes, seed=config.seed)
    valid_snippets = SnippetDataset(data.valid, length, num_classes, seed=config.seed) if data.valid else None
    loss = SnippetLoss()

    def train_batches(epoch: int):
        train_snippets.set_epoch(epoch)
        batches = shuffled_snippet_batches(len(train_snippets), config.batch_size, seed=config.seed, epoch=epoch)
        return clip_loader(train_snippets, batches, config)

    def valid_batches():
        loss.reset()  # the tally of this validation pass only
        return clip_loader(valid_snippets, fixed_batches(len(valid_snippets), config.batch_size), config)

    def checkpoint(folder: Path, epoch: int, record: dict) -> None:
        export_snippet_model(folder, model, settings, snippet, clip, data.classes,
                             {"epoch": epoch, "metrics": record, "train_config": config.to_json(), "run": str(out_dir)})

    finetune_record = {**settings.to_json(), **dataclasses.asdict(snippet), "recipe": "snippets",
                       "clip_frames": clip.frames, "clip_fps": clip.fps}
    run_record = {"config": config.to_json(), "finetune": finetune_record, "data": data.description,
                  "games": {"train": data.train_games, "valid": data.valid_games}, "labels": names,
                  "snippet_rows": length,
                  "snippets": {"train": len(train_snippets), "valid": len(valid_snippets) if valid_snippets else 0}}
    validating = valid_snippets is not None and len(valid_snippets) > 0
    return LoopTask(
        model=model, train_batches=train_batches, save_checkpoint=checkpoint, run_record=run_record,
        resume_differences=lambda stored: run_differences(stored, run_record),
        valid_batches=valid_batches if validating else None,
        validate=(lambda: loss.accuracy(names)) if validating else None,
        criterion=loss, select_max="valid_accuracy" if validating else None,
    )


def run_snippets(config: TrainConfig, settings: FineTuneSettings, snippet: SnippetSettings, data: FineTuneData,
                 out_dir: str | Path, *, resume: bool = False, max_batches: int | None = None,
                 progress: bool = True) -> TrainResult:
    """Fine-tune `settings.backbone` as a snippet classifier on `data`, writing the run to `out_dir`.
    Validation accuracy is computed on every validation pass (`eval_every` is 1: it costs nothing more)."""
    config = dataclasses.replace(config, eval_every=1)
    check_loop_settings(config)
    check_snippet_settings(config, settings, snippet)
    return run(config, lambda: snippet_task(config, settings, snippet, data, Path(out_dir)), out_dir, resume=resume,
               max_batches=max_batches, progress=progress, frames=True)




