"""Frame caches on disk: a half's sampled frames, already transformed, as raw uint8 rows.

Fine-tuning reads clips of frames many times (every epoch); decoding them again each time costs more
than the training step on a GPU. A cache holds one half's frames at the feature rate (2 fps by default),
after the same transform `soccerspot extract` applies (398x224 with `short-side` at 224), as a raw file
of `frames x height x width x 3` bytes read through `np.memmap`, plus a JSON sidecar: the source video
and its size, the sampling and geometry settings, and each row's timestamp (the times `extract` gives its
feature rows). A 45-minute half at 2 fps and 398x224 is 1.4 GB.

Clip mode (video backbones, `clip_frames` set): a row is the clip of `clip_frames` frames at `clip_fps`
centred on the row's time, exactly what `extract.clips.iter_clips` gives `soccerspot extract`; the raw file
holds `rows x clip_frames` frames in the same format, the memory map is (rows, clip_frames, height, width,
3), and the sidecar's `clip_frames`/`clip_fps` are part of its settings (a cache of another clip setting is
stale). A clip cache is `clip_frames` times larger (frames shared by overlapping clips are stored again).

The raw file is written first (streamed batch by batch, atomically: `data.atomic`), the sidecar last: a
cache without sidecar is incomplete and is redone. This module only reads and writes the format;
`extract.frame_store` fills a cache from a video.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.errors import DataError

FRAMES_SUFFIX = ".u8"
SIDECAR_SUFFIX = ".json"


@dataclass
class FrameCacheMeta:
    """How a cache was made and what it holds (rows x height x width x 3 uint8)."""

    source: str = ""
    source_size: int = 0
    fps: float = 2.0
    start: float = 0.0
    transform: str = "short-side"
    input_size: int = 224
    height: int = 0
    width: int = 0
    frames: int = 0  # rows (in clip mode each row is a clip of clip_frames frames)
    timestamps: list[float] = field(default_factory=list)
    decoder: str = "pyav"
    version: str = ""
    clip_frames: int | None = None  # clip mode: frames per row (None: one frame per row)
    clip_fps: float | None = None  # clip mode: the clip's frame rate
    # a dense model's frame recipe (`extract.frame_recipes`, e.g. e2e-soccernetv2): its frames instead of
    # sampling by time at `fps`; `fps` is then the recipe's nominal rate
    recipe: str | None = None

    def settings(self) -> dict:
        """What must match for a cache to be reused."""
        return {"fps": float(self.fps), "start": float(self.start), "transform": self.transform,
                "input_size": int(self.input_size), "source_size": int(self.source_size),
                "clip_frames": None if self.clip_frames is None else int(self.clip_frames),
                "clip_fps": None if self.clip_fps is None else float(self.clip_fps), "recipe": self.recipe}

    def row_shape(self) -> tuple[int, ...]:
        """One row's shape: (height, width, 3), or (clip_frames, height, width, 3) in clip mode."""
        frame = (int(self.height), int(self.width), 3)
        return frame if self.clip_frames is None else (int(self.clip_frames), *frame)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> "FrameCacheMeta":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in obj.items() if key in known})


@dataclass
class FrameCache:
    """An opened cache: `array` is a read-only memory map (rows, height, width, 3) uint8, or (rows,
    clip_frames, height, width, 3) in clip mode."""

    array: np.ndarray
    meta: FrameCacheMeta
    path: Path


def frame_cache_path(cache_root: str | Path, game: str, half: int, fps: float, transform: str,
                     input_size: int, clip_frames: int | None = None, clip_fps: float | None = None,
                     recipe: str | None = None) -> Path:
    """`<cache_root>/<game>/<half>_frames_<transform>-<size>_<fps>fps.u8`; clip caches end
    `_clips<frames>x<clip_fps>fps.u8`; a frame recipe's cache is `<half>_frames_<recipe>.u8`."""
    if recipe is not None:
        return Path(cache_root) / game / f"{half}_frames_{recipe}{FRAMES_SUFFIX}"
    clip = "" if clip_frames is None else f"_clips{clip_frames}x{clip_fps:g}fps"
    return Path(cache_root) / game / f"{half}_frames_{transform}-{input_size}_{fps:g}fps{clip}{FRAMES_SUFFIX}"


def sidecar_of(path: str | Path) -> Path:
    return Path(path).with_suffix(SIDECAR_SUFFIX)


def read_frame_cache_meta(path: str | Path) -> FrameCacheMeta:
    sidecar = sidecar_of(path)
    try:
        obj = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "incomplete frame cache (no sidecar: the run that wrote it was interrupted)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(sidecar, f"unreadable frame cache sidecar ({error})") from None
    if not isinstance(obj, dict):
        raise DataError(sidecar, "not a frame cache sidecar (no JSON object)")
    try:
        return FrameCacheMeta.from_json(obj)
    except TypeError as error:
        raise DataError(sidecar, f"not a frame cache sidecar ({error})") from None


def open_frame_cache(path: str | Path) -> FrameCache:
    """Memory-map a complete cache, or raise `DataError` saying why it cannot be used."""
    path = Path(path)
    meta = read_frame_cache_meta(path)
    if meta.clip_frames is not None and not int(meta.clip_frames) >= 1:
        raise DataError(sidecar_of(path), f"clip_frames must be >= 1, got {meta.clip_frames}")
    shape = (int(meta.frames), *meta.row_shape())
    if len(meta.timestamps) != meta.frames:
        raise DataError(sidecar_of(path), f"{len(meta.timestamps)} timestamps for {meta.frames} frames")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(path, "frame cache missing (its sidecar is there)") from None
    if size != int(np.prod(shape)):
        raise DataError(path, f"holds {size} bytes, its sidecar says {shape} ({int(np.prod(shape))} bytes): torn")
    if meta.frames == 0:
        return FrameCache(np.zeros(shape, dtype=np.uint8), meta, path)
    return FrameCache(np.memmap(path, dtype=np.uint8, mode="r", shape=shape), meta, path)


def stale_reason(path: str | Path, wanted: dict) -> str | None:
    """None when the cache at `path` is complete and made with `wanted` settings; otherwise why not."""
    path = Path(path)
    if not sidecar_of(path).is_file():
        return "array without its sidecar (interrupted)" if path.is_file() else "not cached yet"
    try:
        cache = open_frame_cache(path)
    except DataError as error:
        return f"incomplete ({error.reason})"
    have = cache.meta.settings()
    changed = [key for key in wanted if have.get(key) != wanted[key]]
    return f"made with other settings ({', '.join(changed)})" if changed else None


class FrameCacheWriter:
    """Streams uint8 (n, H, W, 3) batches (clip mode, `clip_frames` set: (n, clip_frames, H, W, 3) clips)
    into a new cache; `finish(meta)` writes the sidecar. Used as a context manager: an exception leaves no
    file that looks complete (the raw file is atomic, and the sidecar is never written)."""

    def __init__(self, path: str | Path, clip_frames: int | None = None):
        self.path = Path(path)
        self.clip_frames = clip_frames
        self.frames = 0
        self.shape: tuple[int, int] | None = None
        self.timestamps: list[float] = []
        self._opened = None
        self._handle: BinaryIO | None = None

    def __enter__(self) -> "FrameCacheWriter":
        sidecar = sidecar_of(self.path)
        if sidecar.exists():
            sidecar.unlink()  # the old cache stops looking complete before its array is replaced
        self._opened = atomic_open(self.path, "wb")
        self._handle = self._opened.__enter__()
        return self

    def write(self, frames: np.ndarray, times: np.ndarray) -> None:
        clip = () if self.clip_frames is None else (self.clip_frames,)
        if frames.dtype != np.uint8 or frames.ndim != 4 + len(clip) or frames.shape[-1] != 3 \
                or tuple(frames.shape[1:1 + len(clip)]) != clip:
            wanted = "(n, H, W, 3)" if not clip else f"(n, {self.clip_frames}, H, W, 3)"
            raise ValueError(f"frames must be uint8 {wanted}, got {frames.dtype} {frames.shape}")
        size = tuple(int(d) for d in frames.shape[-3:-1])
        if self.shape is None:
            self.shape = size
        elif size != self.shape:
            raise ValueError(f"frames of {size} after frames of {self.shape}")
        if len(times) != len(frames):
            raise ValueError(f"{len(times)} times for {len(frames)} frames")
        self._handle.write(np.ascontiguousarray(frames).tobytes())
        self.frames += len(frames)
        self.timestamps.extend(float(t) for t in times)

    def finish(self, meta: FrameCacheMeta) -> FrameCacheMeta:
        """Complete the raw file, then write the sidecar (last): returns the meta written."""
        self._opened.__exit__(None, None, None)
        self._opened = None
        height, width = self.shape or (0, 0)
        meta = dataclasses.replace(meta, height=height, width=width, frames=self.frames,
                                   timestamps=[round(t, 6) for t in self.timestamps], clip_frames=self.clip_frames)
        write_json_atomic(sidecar_of(self.path), meta.to_json(), indent=None)
        return meta

    def __exit__(self, kind, error, traceback) -> None:
        if self._opened is not None:  # finish() was not reached: discard the temp file
            self._opened.__exit__(kind or RuntimeError, error or RuntimeError("cache not finished"), traceback)
            self._opened = None
