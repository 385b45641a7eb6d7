"""Video -> per-half feature files: a decode producer and a backbone consumer running concurrently.

The producer thread decodes, samples by timestamp (`extract.decode`; or by SoccerNet's FrameCV frame counter,
`sampling="framecv"`, `extract.framecv`, for the `ResNET_TF2` recipe) and transforms frames into uint8
batches of `batch_size`, putting them on a queue of `queue_batches` batches; the consumer (the calling
thread) runs the backbone. Decoding (in FFmpeg's threads, GIL released) overlaps the forward passes, and
memory is bounded by (queue_batches + 2) batches whatever the video's length: a 45-minute half costs
the same RAM as a 1-minute one, apart from its output rows (5400 x 2048 float32 = 44 MB), which go into one
array allocated before the first pass (`extract.feature_rows`: no block kept per batch).

Compute settings:

- CPU: channels_last, and the glibc allocator tuned at start-up (`extract.allocator`). Precision
  ``auto`` (`extract.precision`) is fp32 on a CPU without native bf16 (on an AVX2-only CPU, the 2-core dev
  VM's AMD EPYC, bf16 autocast is emulated and was measured ≈8x *slower* than fp32: resnet18 4.4 vs 37
  img/s), and on a CPU with native bf16 (AVX512-BF16/AMX) whichever of fp32 and bf16 a one-second probe
  measured faster (with AMX bf16 ran ≈2x faster for ResNet-152; with AVX512-BF16 and no AMX fp32 was the
  faster). ``--precision fp32`` forces exact features, ``bf16`` forces autocast (features differ from fp32
  by ≈2% relative L2).
- CUDA: bf16 autocast (``auto``; fp16 where the GPU lacks bf16, or by flag), channels_last, batches pinned
  in the producer and copied with non_blocking=True, cudnn.benchmark; outputs stay on the GPU until the half
  is done (no per-batch sync).

Resume: a half is skipped when its array and sidecar are complete and were made with the same settings
(backbone, weights identity, fps, transform, size, precision, PCA), from a source of the same size and
with the same trimming; otherwise it is redone and the reason is printed.
"""
from __future__ import annotations

import dataclasses
import math
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from soccerspot.data.features import (
    OFFICIAL_FEATURE_FPS, FeatureMeta, feature_path, load_features, sidecar_path, write_features,
)
from soccerspot.errors import DataError
from soccerspot.extract.allocator import tune_glibc_allocator
from soccerspot.extract.clips import ClipStats, clip_offsets, iter_clips
from soccerspot.extract.decode import DEFAULT_DECODER, FrameBatch, VideoInfo, iter_frames, probe
from soccerspot.extract.feature_rows import FeatureRows
from soccerspot.extract.framecv import check_crop, framecv_timing, iter_framecv
from soccerspot.extract.jobs import Job, plan_jobs
from soccerspot.extract.pca import PCA, load_pca
from soccerspot.extract.precision import autocast, resolve_precision
from soccerspot.extract.transforms import apply_transform, frames_to_tensor
from soccerspot.files import soccerspot_version
from soccerspot.models.backbones import Backbone, create_backbone

SAMPLINGS = ("timestamp", "framecv")
_END = object()
CLIP_BATCH_FRAMES = {"cpu": 128, "cuda": 512}  # most frames in one batch of clips


@dataclass
class ExtractConfig:
    backbone: str = "resnet152"
    weights: str = "imagenet"
    fps: float = 2.0
    transform: str = "crop"
    input_size: int | None = None  # None: the backbone's own (112 for the R(2+1)D family, 224 for ResNets)
    batch_size: int = 32
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    decoder: str = DEFAULT_DECODER
    pca: str | None = None  # a .npz from extract.pca, or SoccerNet's pca_*.pkl
    feature_name: str | None = None  # default: the backbone's name (+ "_PCA<dim>")
    start: float = 0.0
    duration: float | None = None
    queue_batches: int = 2
    progress: bool = True
    sampling: str = "timestamp"  # timestamp: `extract.decode`; framecv: SoccerNet's FrameCV rule (`extract.framecv`)

    def problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong) for each setting no extraction can run with; device, backbone and
        weights are checked when the extractor is built."""
        found = []
        for name in ("fps", "input_size", "batch_size", "queue_batches"):
            if name == "input_size" and self.input_size is None:
                continue
            if not getattr(self, name) > 0:
                found.append((name, f"must be > 0, got {getattr(self, name)}"))
        if not self.start >= 0:
            found.append(("start", f"must be >= 0, got {self.start}"))
        if self.duration is not None and not self.duration > 0:
            found.append(("duration", f"must be > 0, got {self.duration}"))
        if self.sampling not in SAMPLINGS:
            found.append(("sampling", f"must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}"))
        elif self.sampling == "framecv" and self.decoder != "pyav":
            found.append(("decoder", "FrameCV sampling decodes with PyAV (it counts every frame): use --decoder pyav"))
        name = self.feature_name
        if name is not None and (not name or name != Path(name).name or name in (".", "..")):
            found.append(("feature_name", f"must be a plain file name without folders, got {name!r}"))
        return found


@dataclass
class HalfResult:
    job: Job
    path: Path
    frames: int = 0
    seconds: float = 0.0
    skipped: bool = False


@dataclass
class ExtractSummary:
    done: list[HalfResult] = field(default_factory=list)
    skipped: list[HalfResult] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return sum(result.frames for result in self.done)

    @property
    def seconds(self) -> float:
        return sum(result.seconds for result in self.done)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device {device}: not a device (auto, cpu, cuda or cuda:N)") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no CUDA GPU")
    return resolved


def default_feature_name(backbone: str, pca: PCA | None) -> str:
    name = backbone.split(":", 1)[-1].replace("/", "_")
    return f"{name}_PCA{pca.output_dim}" if pca is not None else name


class Extractor:
    """Holds one backbone (and PCA) for many videos."""

    def __init__(self, config: ExtractConfig, backbone: Backbone | None = None):
        self.config = config
        self.device = resolve_device(config.device)
        self.allocator = tune_glibc_allocator() if self.device.type == "cpu" else "n/a"
        self.precision = resolve_precision(config.precision, self.device)
        self.pca = load_pca(config.pca) if config.pca else None
        self.backbone = backbone if backbone is not None else create_backbone(config.backbone, weights=config.weights)
        self.input_size = config.input_size or self.backbone.input_size
        self.is_clip = self.backbone.takes_clips
        if self.is_clip:
            self._check_clip_settings()
        self.clip_stats = ClipStats()
        self.framecv_timing = None  # FrameCV sampling: the numbers of the last video's keep rule
        self.backbone.eval().requires_grad_(False)
        self.backbone.to(self.device, memory_format=self.backbone.memory_format)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        if self.pca is not None and self.pca.input_dim != self.backbone.feature_dim:
            raise DataError(config.pca, f"PCA expects {self.pca.input_dim}-d features, {self.backbone.name} gives {self.backbone.feature_dim}-d")
        self.name = config.feature_name or default_feature_name(self.backbone.name, self.pca)

    def _check_clip_settings(self) -> None:
        problem = self.backbone.entry.input_problem(self.backbone.clip_frames, self.input_size)
        if problem:
            raise ValueError(f"--input-size {self.input_size}: {problem}")
        if self.config.decoder != "pyav":
            raise ValueError("video backbones stream their clips with PyAV (each frame decoded once): use --decoder pyav")

    @property
    def clip_batch_size(self) -> int:
        """Clips per forward pass: `batch_size` rows, capped at 128 frames a batch on CPU (r3d_18 at 112 px, bf16:
        8 clips 15.6 clips/s and 1.5 GB peak, 32 clips 16.3 clips/s and 3.0 GB) and 512 on CUDA."""
        frames = CLIP_BATCH_FRAMES["cuda" if self.device.type == "cuda" else "cpu"]
        return max(1, min(self.config.batch_size, frames // self.backbone.clip_frames))

    # -------------------------------------------------------------------------------------------- metadata

    @property
    def dim(self) -> int:
        return self.pca.output_dim if self.pca is not None else self.backbone.feature_dim

    def meta_template(self) -> FeatureMeta:
        config = self.config
        return FeatureMeta(
            backbone=self.backbone.name, weights=self.backbone.weights_id, fps=float(config.fps),
            start=float(config.start), step=1.0 / config.fps, transform=config.transform,
            input_size=self.input_size, precision=self.precision,
            pca=self.pca.identity if self.pca is not None else None, dim=self.dim,
            version=soccerspot_version(),
            clip_frames=self.backbone.clip_frames if self.is_clip else None,
            clip_fps=self.backbone.clip_fps if self.is_clip else None,
            sampling=None if config.sampling == "timestamp" else config.sampling,
        )

    def stale_reason(self, video: Path, game_dir: Path, half: int) -> str | None:
        """None when the half is complete and current; otherwise why it must be (re)done."""
        if not sidecar_path(game_dir, half, self.name).is_file():
            exists = feature_path(game_dir, half, self.name).is_file()
            return "array without its sidecar (interrupted run)" if exists else "not extracted yet"
        try:
            meta = load_features(game_dir, half, self.name).meta
        except DataError as error:
            return f"incomplete ({error.reason})"
        if meta.settings() != self.meta_template().settings():
            wanted = self.meta_template().settings()
            changed = [key for key in wanted if meta.settings().get(key) != wanted[key]]
            return f"made with other settings ({', '.join(changed)})"
        if meta.source_size != video.stat().st_size:
            return "source video changed size"
        if meta.start != self.config.start or meta.extra.get("duration") != self.config.duration:
            return "made with other --start/--duration"
        return None

    # -------------------------------------------------------------------------------------------- running

    def extract(self, video: str | Path, game_dir: str | Path, half: int) -> HalfResult:
        """Extract one half unless it is complete; raises DataError for bad input."""
        video, game_dir = Path(video), Path(game_dir)
        job = Job(video, game_dir, half)
        info = probe(video)
        if self.config.transform == "imutils-crop":  # the video's size, not a setting, is at fault
            check_crop(video, info.width, info.height, self.input_size)
        reason = self.stale_reason(video, game_dir, half)
        path = feature_path(game_dir, half, self.name)
        if reason is None:
            return HalfResult(job, path, skipped=True)
        if self.name in OFFICIAL_FEATURE_FPS and not sidecar_path(game_dir, half, self.name).is_file() and path.is_file():
            # SoccerNet's own files carry no sidecar: this is far likelier one of them than an interrupted run
            raise DataError(path, "already exists without a sidecar (SoccerNet's own feature file?); it is not "
                                  "overwritten: remove it or extract into another --out")
        if reason != "not extracted yet":
            print(f"redoing {path}: {reason}", file=sys.stderr)
        began = time.perf_counter()
        features, times = self.features(info, desc=f"{game_dir.name}/{half}")
        seconds = time.perf_counter() - began
        meta = self.meta_template()
        meta.timestamps = [float(t) for t in times]
        meta.source = str(video.resolve())
        meta.source_size = info.size_bytes
        meta.extra = {
            "duration": self.config.duration, "decoder": self.config.decoder, "source_fps": info.average_fps,
            "source_width": info.width, "source_height": info.height, "device": self.device.type,
            "allocator": self.allocator, "seconds": round(seconds, 3),
        }
        if self.config.sampling == "framecv" and self.framecv_timing is not None:
            meta.extra["framecv"] = dataclasses.asdict(self.framecv_timing)  # the numbers its keep rule ran on
        path = write_features(game_dir, half, self.name, features, meta)
        return HalfResult(job, path, frames=len(times), seconds=seconds)

    def features(self, info: VideoInfo, desc: str = "") -> tuple[np.ndarray, np.ndarray]:
        """(frames, dim) float32 features and their times for one video, streamed."""
        config = self.config
        expected = _expected_frames(info, config)
        batches: queue.Queue = queue.Queue(maxsize=max(1, config.queue_batches))
        stop = threading.Event()
        producer = threading.Thread(
            target=self._produce, args=(info, batches, stop), name="soccerspot-decode", daemon=True
        )
        rows = FeatureRows((expected or 0) + config.batch_size, self.backbone.feature_dim, self.device)
        bar = tqdm(total=expected, desc=desc, unit="frame", disable=not config.progress, leave=False, file=sys.stderr)
        producer.start()
        try:
            while True:
                item = batches.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                images, batch_times = item
                rows.append(self.forward(images), batch_times)
                bar.update(len(batch_times))
        finally:
            stop.set()
            _drain(batches)
            producer.join()
            bar.close()
        features, times = rows.result()
        if self.pca is not None:
            features = self.pca.transform(features)
        return features.astype(np.float32, copy=False), times

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (n, 3, h, w) images, or (n, frames, 3, h, w) clips for a video backbone -> float32
        (n, feature_dim), left on the compute device."""
        with torch.inference_mode():
            images = images.to(self.device, non_blocking=True)
            inputs = self.backbone.prepare(images)
            with autocast(self.device.type, self.precision):
                return self.backbone(inputs).float()

    def _produce(self, info: VideoInfo, batches: queue.Queue, stop: threading.Event) -> None:
        config = self.config
        try:
            if self.is_clip:
                self._produce_clips(info, batches, stop)
                return
            if config.sampling == "framecv":

                self.framecv_timing = framecv_timing(info)
                frames = iter_framecv(info, fps=config.fps, start=config.start, duration=config.duration,
                                      batch_size=config.batch_size, timing=self.framecv_timing)
            else:
                frames = iter_frames(info.path, fps=config.fps, start=config.start, duration=config.duration,
                                     batch_size=config.batch_size, decoder=config.decoder, info=info)
            for batch in frames:
                if not _put(batches, self._prepare(batch), stop):
                    return
            _put(batches, _END, stop)
        except BaseException as error:  # handed to the consumer, which re-raises it
            _put(batches, error, stop)

    def _produce_clips(self, info: VideoInfo, batches: queue.Queue, stop: threading.Event) -> None:
        config = self.config
        offsets = clip_offsets(self.backbone.clip_frames, self.backbone.clip_fps)
        self.clip_stats = ClipStats()
        for batch in iter_clips(
            info, fps=config.fps, offsets=offsets, prepare=self._prepare_frames, start=config.start,
            duration=config.duration, batch_size=self.clip_batch_size, stats=self.clip_stats,
        ):
            clips = batch.clips.pin_memory() if self.device.type == "cuda" else batch.clips
            if not _put(batches, (clips, batch.times), stop):
                return
        _put(batches, _END, stop)

    def _prepare_frames(self, frames: list) -> torch.Tensor:
        """Decoded PyAV frames -> (k, 3, h, w) uint8 after the transform, contiguous."""
        images = frames_to_tensor(np.stack([frame.to_ndarray(format="rgb24") for frame in frames]))
        return apply_transform(images, self.config.transform, self.input_size).contiguous()

    def _prepare(self, batch: FrameBatch) -> tuple[torch.Tensor, np.ndarray]:
        images = apply_transform(frames_to_tensor(batch.frames), self.config.transform, self.input_size)
        images = images.contiguous(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            images = images.pin_memory()
        return images, batch.times


def _expected_frames(info: VideoInfo, config: ExtractConfig) -> int | None:
    if info.declared_duration is None:
        return None
    end = info.declared_duration if config.duration is None else min(info.declared_duration, config.start + config.duration)
    return max(0, math.ceil((end - config.start) * config.fps))


def _put(batches: queue.Queue, item, stop: threading.Event) -> bool:
    """Put unless the consumer has stopped (it then no longer reads: do not block forever)."""
    while not stop.is_set():
        try:
            batches.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _drain(batches: queue.Queue) -> None:
    while True:
        try:
            batches.get_nowait()
        except queue.Empty:
            return


# ------------------------------------------------------------------------------------------------ API


def extract_video(
    video: str | Path, game_dir: str | Path, half: int, config: ExtractConfig, *, extractor: Extractor | None = None
) -> Path:
    """Extract one half to `<game_dir>/<half>_<name>.npy` (+ sidecar); skips it when already complete."""
    extractor = extractor or Extractor(config)
    return extractor.extract(video, game_dir, half).path


def extract_paths(
    paths: list[str | Path], out_dir: str | Path, config: ExtractConfig,
    *, extractor: Extractor | None = None, report: Callable[[Path, str], None] | None = None,
) -> ExtractSummary:
    """Extract every half found under `paths` (see extract.jobs for the layout); bad files are recorded,
    reported through `report(path, reason)` as they happen, and the batch goes on."""
    jobs, problems = plan_jobs(paths, out_dir)
    summary = ExtractSummary()
    for problem in problems:
        summary.failed.append((problem.path, problem.reason))
        if report:
            report(problem.path, problem.reason)
    if not jobs:
        return summary
    extractor = extractor or Extractor(config)
    for job in jobs:
        try:
            result = extractor.extract(job.video, job.game_dir, job.half)
        except DataError as error:
            reason = error.reason
        except (OSError, RuntimeError) as error:  # e.g. a decoder failure we did not foresee: keep going
            reason = f"{type(error).__name__}: {error}"
        else:
            (summary.skipped if result.skipped else summary.done).append(result)
            continue
        summary.failed.append((job.video, reason))
        if report:
            report(job.video, reason)
    return summary
