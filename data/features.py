"""The feature store: one `<half>_<name>.npy` array per half (rows = sampled frames) and a JSON sidecar.

Layout mirrors SoccerNet: `<root>/<league>/<season>/<game>/1_resnet152.npy` + `1_resnet152.json`.
Official files (`1_ResNET_TF2.npy`, `1_ResNET_TF2_PCA512.npy`, `1_baidu_soccer_embeddings.npy`) have no
sidecar; they are read as they are, with their known frame rates.

A half is *complete* when its sidecar exists and records the array's shape: the array is written first
(atomically), the sidecar last, so an interrupted run never leaves a half that looks finished.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.errors import DataError
from soccerspot.data.games import feature_file_name

# Official SoccerNet feature files and their sampling rate (frames per second).
OFFICIAL_FEATURE_FPS: dict[str, float] = {
    "ResNET_TF2": 2.0,
    "ResNET_TF2_PCA512": 2.0,
    "baidu_soccer_embeddings": 1.0,
}
PRECISION_KEY = "precision"  # the one setting that is not part of the features' identity


@dataclass
class FeatureMeta:
    """How a feature array was made. Rows are frames sampled at `start + i * step` seconds,
    unless `timestamps` lists each row's time explicitly (variable-frame-rate sources)."""

    backbone: str = "unknown"
    weights: str = "unknown"  # identity of the weights: "imagenet:<tag>", "none", "file:<sha256>"
    fps: float = 2.0
    start: float = 0.0
    step: float = 0.5
    timestamps: list[float] | None = None
    transform: str = "unknown"
    input_size: int = 224
    precision: str = "unknown"
    pca: str | None = None  # identity of the PCA applied, if any
    dim: int = 0
    num_frames: int = 0
    source: str | None = None  # the video this came from
    source_size: int | None = None
    version: str = ""
    extra: dict = field(default_factory=dict)
    # Video backbones: each row is the clip of `clip_frames` frames at `clip_fps` centred on its time.
    clip_frames: int | None = None
    clip_fps: float | None = None
    # Combined features (`data.combined_features`): each part's identity, in column order, and how each was normalised.
    components: list[dict] | None = None
    normalize: str | None = None
    # Frame selection other than by timestamp (e.g. "framecv": SoccerNet's FrameCV frame counter, `extract.framecv`).
    sampling: str | None = None

    def frame_times(self) -> np.ndarray:
        """Seconds from the start of the half for each row."""
        if self.timestamps is not None:
            return np.asarray(self.timestamps, dtype=np.float64)
        return self.start + self.step * np.arange(self.num_frames, dtype=np.float64)

    def settings(self) -> dict:
        """How the features were made: their identity (`identity()`) and the precision they were computed
        at. Extraction resume compares all of it; spotting compares only the identity."""
        settings = {
            "backbone": self.backbone,
            "weights": self.weights,
            "fps": self.fps,
            "transform": self.transform,
            "input_size": self.input_size,
            "precision": self.precision,
            "pca": self.pca,
            "dim": self.dim,
        }
        if self.clip_frames is not None:  # only video features carry them: image features keep their identity
            settings.update(clip_frames=self.clip_frames, clip_fps=self.clip_fps)
        if self.components is not None:  # only combined features carry them: other features keep their identity
            settings.update(components=self.components, normalize=self.normalize)
        if self.sampling is not None:  # only features not sampled by timestamp carry it
            settings.update(sampling=self.sampling)
        return settings

    def identity(self) -> dict:
        """What changes the meaning of the features (see `feature_identity`)."""
        return feature_identity(self.settings())

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> "FeatureMeta":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in known})


def feature_identity(settings: dict) -> dict:
    """The settings that change what features mean (backbone, weights identity, fps, transform, input size,
    PCA, width), i.e. all but the numeric precision they were computed at: a head trained on fp32 features
    scores bf16 or fp16 features of the same identity (the README gives the measured difference)."""
    return {key: value for key, value in settings.items() if key != PRECISION_KEY}


@dataclass
class HalfFeatures:
    array: np.ndarray  # (frames, dim), usually a read-only memory map
    meta: FeatureMeta
    path: Path


def seconds_to_rows(seconds: float, fps: float) -> int:
    """A duration in feature rows at `fps`: `round(seconds x fps)`, at least one (windows, clips, snippets,
    NMS windows all count their rows this way)."""
    return max(1, int(round(seconds * fps)))


def feature_path(game_dir: str | Path, half: int, name: str) -> Path:
    return Path(game_dir) / feature_file_name(half, name)


def sidecar_path(game_dir: str | Path, half: int, name: str) -> Path:
    return Path(game_dir) / f"{half}_{name}.json"


def official_meta(name: str, array: np.ndarray) -> FeatureMeta:
    fps = OFFICIAL_FEATURE_FPS.get(name, 2.0)
    return FeatureMeta(
        backbone=name, weights="official", fps=fps, step=1.0 / fps, transform="official",
        precision="official", dim=int(array.shape[1]), num_frames=int(array.shape[0]),
    )


def load_features(game_dir: str | Path, half: int, name: str, mmap: bool = True) -> HalfFeatures:
    """Read one half's features (memory-mapped by default) with their metadata."""
    path = feature_path(game_dir, half, name)
    if not path.is_file():
        raise DataError(path, f"feature file not found (expected {half}_{name}.npy in {game_dir})")
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise DataError(path, f"not a readable .npy array ({error})") from error
    if array.ndim != 2:
        raise DataError(path, f"expected a 2-D (frames, dim) array, got shape {array.shape}")
    side = sidecar_path(game_dir, half, name)
    if side.is_file():
        try:
            meta = FeatureMeta.from_json(json.loads(side.read_text()))
        except (ValueError, TypeError) as error:
            raise DataError(side, f"unreadable feature sidecar ({error})") from error
        if meta.num_frames != array.shape[0]:
            raise DataError(path, f"has {array.shape[0]} rows but its sidecar says {meta.num_frames}: incomplete or stale")
        problem = sidecar_problem(meta)
        if problem is not None:
            raise DataError(side, f"invalid feature sidecar: {problem}")
    else:
        meta = official_meta(name, array)
    return HalfFeatures(array=array, meta=meta, path=path)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def sidecar_problem(meta: FeatureMeta) -> str | None:
    """What makes a sidecar unusable (rows cannot be given a time, fields of the wrong type), or None."""
    if not isinstance(meta.extra, dict):
        return f"extra must be an object, got {type(meta.extra).__name__}"
    if not _is_number(meta.fps) or meta.fps <= 0:
        return f"fps must be a positive number, got {meta.fps!r}"
    if meta.timestamps is None:
        if not _is_number(meta.start) or not _is_number(meta.step) or meta.step <= 0:
            return f"start and step must be numbers, step positive (got {meta.start!r}, {meta.step!r})"
        return None
    if not isinstance(meta.timestamps, list) or len(meta.timestamps) != meta.num_frames:
        count = len(meta.timestamps) if isinstance(meta.timestamps, list) else meta.timestamps
        return f"timestamps must list one time per row ({meta.num_frames}), got {count!r}"
    if not all(_is_number(t) for t in meta.timestamps):
        return "timestamps must be finite numbers"
    return None


def write_features(game_dir: str | Path, half: int, name: str, array: np.ndarray, meta: FeatureMeta) -> Path:
    """Write a half's features and sidecar atomically (array first, sidecar last)."""
    array = np.ascontiguousarray(array)
    if array.ndim != 2:
        raise ValueError(f"features must be (frames, dim), got {array.shape}")
    meta = dataclasses.replace(meta, num_frames=int(array.shape[0]), dim=int(array.shape[1]))
    path = feature_path(game_dir, half, name)
    with atomic_open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    write_json_atomic(sidecar_path(game_dir, half, name), meta.to_json())
    return path


def features_complete(game_dir: str | Path, half: int, name: str, settings: dict | None = None) -> bool:
    """True when the half's array and sidecar agree (and, if given, were made with `settings`)."""
    try:
        half_features = load_features(game_dir, half, name)
    except DataError:
        return False
    if not sidecar_path(game_dir, half, name).is_file():
        return False
    return settings is None or half_features.meta.settings() == settings


def check_finite(array: np.ndarray, path: str | Path, chunk: int = 4096) -> None:
    """Raise naming the first row holding NaN or inf (scans in chunks: works on memory maps)."""
    for begin in range(0, array.shape[0], chunk):
        block = np.asarray(array[begin : begin + chunk])
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            row = begin + int(np.argmax(bad))
            raise DataError(path, f"row {row} holds NaN or inf values")
