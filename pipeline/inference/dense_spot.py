"""Spotting a raw video with a dense frame model: frames by its recipe, clips as its peers cut them, spots by
its peers' NMS, each at its frame's true time.

`soccerspot spot MATCH.mp4 --model DIR` lands here when DIR is a dense model folder (`dense_models`
recognises E2E-Spot's and T-DEED's). For each half video: the model's frame recipe decodes the frames it
reads (`extract.frame_recipes`, in a decode thread), `dense_half.half_probabilities` runs the clips and
averages them, and the peer's NMS keeps the spots (threshold 0.01 on each frame's probability first, as both
peers' evaluation does): E2E-Spot's `peak_nms`, T-DEED's `grouped_soft_nms` (the two team columns of an
action are one list). Positions are the frames' presentation times in ms. A team model's spots carry
`team` ("left" / "right").

`--save-scores` writes each half's per-frame probabilities without the background column (rows = the model's
frames, with their times; `data.scores`): one column per class, or for a team model one per (class, side)
in class order, left then right (`CLASS-left`, `CLASS-right`: p (1 - team), p team).
"""
from __future__ import annotations

import queue
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from torch import nn
from tqdm import tqdm

from soccerspot.data.features import FeatureMeta, sidecar_path
from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.data.labels import GamePredictions, Prediction, deduplicate_bins, write_predictions
from soccerspot.data.scores import SCORES_NAME, scores_path, write_scores
from soccerspot.errors import DataError
from soccerspot.extract.decode import probe
from soccerspot.extract.frame_recipes import FrameRecipe, iter_recipe_frames, video_rate
from soccerspot.files import soccerspot_version
from soccerspot.pipeline.inference.dense_clips import ClipRule
from soccerspot.pipeline.inference.dense_half import CLIPS_PER_BATCH, HalfProbabilities, half_probabilities
from soccerspot.pipeline.inference.nms import DENSE_NMS_KINDS, grouped_soft_nms, peak_nms
from soccerspot.pipeline.inference.spot import GameResult, SpotReport
from soccerspot.pipeline.inference.video_spot import plan_video_input

SIDES = ("left", "right")  # sn-teamspotting's column order: class-left, class-right


@dataclass(frozen=True)
class DenseNms:
    """A peer's spot selection, in the model's frames: `peaks` (E2E-Spot) or `grouped-soft` (T-DEED), a
    radius of `window` frames, frames below `threshold` never spots."""

    kind: str
    window: int
    threshold: float = 0.01
    source: str = ""


@dataclass
class DenseSpotter:
    """A dense model ready to spot, with everything its peers' inference decides."""

    model: nn.Module  # forward(x) -> DenseOutput; clip_len, input_spec
    classes: list[str]
    team: bool
    frames: FrameRecipe
    rule: ClipRule
    nms: DenseNms
    path: Path
    kind: str  # which peer format the folder was ("e2e-spot", "t-deed")
    eval_framerate: int = 2  # the evaluator's grid the results are for (`data.labels.write_predictions`)
    task: str = "spotting"  # what it spots (`data.tasks`): its labels file, class sets, evaluation grid

    def score_names(self) -> list[str]:
        """The saved score columns: classes, or each class's left and right."""
        if not self.team:
            return list(self.classes)
        return [f"{name}-{side}" for name in self.classes for side in SIDES]


@dataclass
class DenseHalf:
    half: int
    probabilities: np.ndarray  # (frames, 1 + columns): background first
    times: np.ndarray
    predictions: list[Prediction] = field(default_factory=list)
    video: Path | None = None
    video_rate: float = 0.0  # the video's frame rate (`extract.frame_recipes.video_rate`)
    video_seconds: float = 0.0  # the container's duration, else the last frame's time


@dataclass
class DenseGame:
    """One game spotted by a dense model: what was written into its folder, in the order written."""

    halves: list[int]
    predictions: int
    frames: int  # the model's frames, all halves
    video_seconds: float
    files: list[str]  # names inside the game folder: scores before the results, the results last


def half_spots(probabilities: np.ndarray, times: np.ndarray, spotter: DenseSpotter, half: int) -> list[Prediction]:
    """The spots of one half from its per-frame probabilities (background in column 0)."""
    sides = SIDES if spotter.team else ("",)
    nms = spotter.nms
    if nms.kind not in DENSE_NMS_KINDS:
        raise ValueError(f"unknown dense NMS kind {nms.kind!r}; known: {', '.join(DENSE_NMS_KINDS)}")
    predictions = []
    for index, label in enumerate(spotter.classes):
        first = 1 + index * len(sides)
        group = probabilities[:, first: first + len(sides)]
        if nms.kind == "peaks":
            found = [(frame, column, score) for column in range(len(sides))
                     for frame, score in peak_nms(group[:, column], nms.window, nms.threshold)]
        else:
            found = grouped_soft_nms(group, nms.window, nms.threshold)
        for frame, column, score in found:
            position = max(0, int(round(float(times[frame]) * 1000.0)))
            predictions.append(Prediction(half=half, position_ms=position, label=label,
                                          confidence=min(1.0, max(0.0, score)), team=sides[column]))
    return predictions


def background(items: Iterable, depth: int = 2) -> Iterator:
    """`items` produced by a thread, `depth` ahead of the consumer (decoding overlaps the model); the
    producer's exception is raised in the consumer."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(end)
        except BaseException as error:  # handed to the consumer
            box.put(error)

    thread = threading.Thread(target=produce, name="soccerspot-dense-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while not box.empty():
            box.get_nowait()
        thread.join(timeout=5)


def spot_half_video(spotter: DenseSpotter, video: Path, half: int, *, clips_per_batch: int = CLIPS_PER_BATCH,
                    precision: str = "fp32", progress: bool = True) -> DenseHalf:
    """One half video through the spotter: its frames, per-frame probabilities and spots."""
    info = probe(video)
    rate = video_rate(info)
    expected = int(info.declared_duration * spotter.frames.model_fps(rate)) if info.declared_duration else None
    bar = tqdm(total=expected, desc=f"half {half}", unit="frame", disable=not progress, leave=False, file=sys.stderr)
    try:
        frames = background(iter_recipe_frames(info, spotter.frames, batch_size=16, video_fps=rate))
        result: HalfProbabilities = half_probabilities(
            spotter.model, frames, clip_len=spotter.model.clip_len, rule=spotter.rule,
            spec=spotter.model.input_spec, clips_per_batch=clips_per_batch, precision=precision, on_frames=bar.update)
    except ValueError as error:  # no frames at all
        raise DataError(video, str(error)) from None
    finally:
        bar.close()
    predictions = half_spots(result.probabilities, result.times, spotter, half)
    seconds = info.declared_duration or (float(result.times[-1]) if len(result.times) else 0.0)
    return DenseHalf(half, result.probabilities, result.times, predictions, Path(video), rate, seconds)


def scores_meta(spotter: DenseSpotter, spotted: DenseHalf, video: Path | None, rate: float) -> FeatureMeta:
    """The sidecar of a half's saved scores: the model's frames and their times."""
    return FeatureMeta(
        backbone=f"dense:{spotter.kind}", weights=str(spotter.path), fps=spotter.frames.model_fps(rate),
        timestamps=[float(t) for t in spotted.times], transform=spotter.frames.name,
        input_size=spotter.frames.height, precision="float32", num_frames=len(spotted.times),
        source=str(video), version=soccerspot_version(),
    )


def spot_dense_game(spotter: DenseSpotter, halves: Sequence, game_dir: str | Path, *, url: str,
                    save_scores: bool = False, clips_per_batch: int = CLIPS_PER_BATCH, precision: str = "fp32",
                    progress: bool = True) -> DenseGame:
    """Spot a game's half videos (items with `.video` and `.half`) into `game_dir`: each half's scores when
    `save_scores`, then `results_spotting.json` (replaced), binned on the spotter's task's evaluation grid."""
    game_dir = Path(game_dir)
    spotted = [spot_half_video(spotter, Path(job.video), job.half, clips_per_batch=clips_per_batch,
                               precision=precision, progress=progress) for job in halves]
    game_dir.mkdir(parents=True, exist_ok=True)
    files = []
    if save_scores:
        for half in spotted:
            write_scores(game_dir, half.half, half.probabilities[:, 1:], scores_meta(spotter, half, half.video,
                                                                                     half.video_rate),
                         spotter.score_names(), feature_name=spotter.frames.name, model=str(spotter.path))
            files += [scores_path(game_dir, half.half).name, sidecar_path(game_dir, half.half, SCORES_NAME).name]
    predictions = deduplicate_bins([p for half in spotted for p in half.predictions], spotter.eval_framerate)
    write_predictions(game_dir / PREDICTIONS_FILE, GamePredictions(url=url, predictions=predictions),
                      framerate=spotter.eval_framerate)
    return DenseGame([half.half for half in spotted], len(predictions), sum(len(half.times) for half in spotted),
                     sum(half.video_seconds for half in spotted), [*files, PREDICTIONS_FILE])


def spot_dense_video(input_path: str | Path, spotter: DenseSpotter, *, out_dir: str | Path | None = None,
                     overwrite: bool = False, save_scores: bool = False, clips_per_batch: int = CLIPS_PER_BATCH,
                     precision: str = "fp32", progress: bool = True) -> SpotReport:
    """Spot a video file or a game folder of half videos; `results_spotting.json` goes where `spot VIDEO`
    puts it for the other heads (an existing one is skipped unless `overwrite`)."""
    input_path = Path(input_path)
    game_dir, jobs = plan_video_input(input_path, Path(out_dir) if out_dir is not None else None)
    out_path = game_dir / PREDICTIONS_FILE
    if out_path.exists() and not overwrite:
        return SpotReport([GameResult(".", out_path, "skipped")])
    game = spot_dense_game(spotter, jobs, game_dir, url=input_path.name, save_scores=save_scores,
                           clips_per_batch=clips_per_batch, precision=precision, progress=progress)
    return SpotReport([GameResult(".", out_path, "spotted", game.predictions, game.halves)])
