"""Fill a frame cache (`data.frame_store`) from a half video: one sequential decode, reused afterwards.

The frames are those `soccerspot extract` feeds its backbone: sampled by timestamp at `fps`
(`extract.decode.iter_frames`) and transformed by `extract.transforms.apply_transform`, so a backbone
run over a cache gives the features `extract` would write, row for row.

Why a sequential decode and not random access per clip: `scripts/bench_frame_cache.py` measures filling a
cache with PyAV, with decord, and one epoch of clips read by decord's random access against the same
epoch read from the cache.

Recipe mode (`ensure_recipe_cache`: dense frame models) stores the frames of a frame recipe
(`extract.frame_recipes`: E2E-Spot's every `int(fps / 2)`-th frame at 398x224, ...), each with its
presentation time: the frames `soccerspot spot --model DENSE_DIR` feeds the model, so a model trained on the
cache sees at training what it sees at inference.

Clip mode (`clip_frames`, `clip_fps`: video backbones) stores each row's clip as `extract.clips.iter_clips`
makes it for `soccerspot extract` (the same sampling, ring buffer and transform), so a video backbone run over
a clip cache gives the features `extract` would write. It needs the PyAV decoder, as clip extraction does.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from soccerspot.data.frame_store import (
    FrameCache, FrameCacheMeta, FrameCacheWriter, open_frame_cache, stale_reason,
)
from soccerspot.extract.clips import clip_offsets, iter_clips
from soccerspot.extract.decode import VideoInfo, check_file, iter_frames, probe
from soccerspot.extract.frame_recipes import FrameRecipe, iter_recipe_frames, video_rate
from soccerspot.extract.transforms import apply_transform, frames_to_tensor
from soccerspot.files import soccerspot_version

DECODE_BATCH = 32
CLIP_BATCH = 8  # clips per write in clip mode


def cache_settings(source_size: int, fps: float, start: float, transform: str, input_size: int,
                   clip_frames: int | None = None, clip_fps: float | None = None) -> dict:
    return FrameCacheMeta(source_size=source_size, fps=fps, start=start, transform=transform,
                          input_size=input_size, clip_frames=clip_frames, clip_fps=clip_fps).settings()


def frame_preparer(transform: str, input_size: int):
    """Decoded PyAV frames -> (k, 3, h, w) uint8 after the transform (what clip extraction applies)."""
    def prepare(frames: list) -> torch.Tensor:
        images = frames_to_tensor(np.stack([frame.to_ndarray(format="rgb24") for frame in frames]))
        return apply_transform(images, transform, input_size).contiguous()

    return prepare


def _frame_batches(video: Path, info: VideoInfo, fps: float, start: float, transform: str, input_size: int,
                   decoder: str):
    for batch in iter_frames(video, fps=fps, start=start, batch_size=DECODE_BATCH, decoder=decoder, info=info):
        images = apply_transform(frames_to_tensor(batch.frames), transform, input_size)
        yield images.permute(0, 2, 3, 1).contiguous().numpy(), batch.times


def _clip_batches(info: VideoInfo, fps: float, start: float, transform: str, input_size: int, clip_frames: int,
                  clip_fps: float):
    offsets = clip_offsets(clip_frames, clip_fps)
    for batch in iter_clips(info, fps=fps, offsets=offsets, prepare=frame_preparer(transform, input_size),
                            start=start, batch_size=CLIP_BATCH):
        yield batch.clips.permute(0, 1, 3, 4, 2).contiguous().numpy(), batch.times


def ensure_frame_cache(video: str | Path, path: str | Path, *, fps: float = 2.0, start: float = 0.0,
                       transform: str = "short-side", input_size: int = 224, decoder: str = "pyav",
                       clip_frames: int | None = None, clip_fps: float | None = None,
                       progress: bool = True) -> FrameCache:
    """The cache of `video` at `path`: reused when complete and made with these settings from a video of
    the same size, otherwise decoded now. `clip_frames`/`clip_fps` set: a clip per row (clip mode, PyAV
    only). Bad video: `DataError` naming it."""
    video = check_file(video)
    info = probe(video)
    path = Path(path)
    clip_mode = clip_frames is not None
    if clip_mode and (clip_fps is None or decoder != "pyav"):
        raise ValueError("a clip cache needs clip_fps and the pyav decoder (clips are streamed with PyAV)")
    reason = stale_reason(path, cache_settings(info.size_bytes, fps, start, transform, input_size, clip_frames,
                                               clip_fps))
    if reason is None:
        return open_frame_cache(path)
    if reason != "not cached yet":
        print(f"redoing {path}: {reason}", file=sys.stderr)
    expected = None if info.declared_duration is None else max(0, round((info.declared_duration - start) * fps))
    meta = FrameCacheMeta(source=str(video.resolve()), source_size=info.size_bytes, fps=float(fps), start=float(start),
                          transform=transform, input_size=int(input_size), decoder=decoder,
                          version=soccerspot_version(), clip_fps=None if clip_fps is None else float(clip_fps))
    batches = (_clip_batches(info, fps, start, transform, input_size, clip_frames, clip_fps) if clip_mode
               else _frame_batches(video, info, fps, start, transform, input_size, decoder))
    with FrameCacheWriter(path, clip_frames=clip_frames) as writer, \
            tqdm(total=expected, desc=f"cache {video.name}", unit="clip" if clip_mode else "frame",
                 disable=not progress, leave=False, file=sys.stderr) as bar:
        for rows, times in batches:
            writer.write(rows, times)
            bar.update(len(times))
        writer.finish(meta)
    return open_frame_cache(path)


def ensure_recipe_cache(video: str | Path, path: str | Path, recipe: FrameRecipe, *,
                        progress: bool = True) -> FrameCache:
    """The cache of `recipe`'s frames of `video` at `path` (one sequential decode; reused when complete and
    made from a video of the same size with this recipe). `meta.fps` is the recipe's nominal rate on this
    video; `transform` names the recipe. Bad video: `DataError` naming it."""
    video = check_file(video)
    info = probe(video)
    path = Path(path)
    rate = video_rate(info)
    fps = float(recipe.model_fps(rate))
    settings = FrameCacheMeta(source_size=info.size_bytes, fps=fps, start=0.0, transform=recipe.name,
                              input_size=recipe.height, recipe=recipe.name).settings()
    reason = stale_reason(path, settings)
    if reason is None:
        return open_frame_cache(path)
    if reason != "not cached yet":
        print(f"redoing {path}: {reason}", file=sys.stderr)
    expected = None if info.declared_duration is None else max(0, int(info.declared_duration * fps))
    meta = FrameCacheMeta(source=str(video.resolve()), source_size=info.size_bytes, fps=fps, start=0.0,
                          transform=recipe.name, input_size=recipe.height, decoder="pyav",
                          version=soccerspot_version(), recipe=recipe.name)
    with FrameCacheWriter(path) as writer, \
            tqdm(total=expected, desc=f"cache {video.name}", unit="frame", disable=not progress, leave=False,
                 file=sys.stderr) as bar:
        for batch in iter_recipe_frames(info, recipe, batch_size=DECODE_BATCH, video_fps=rate):
            writer.write(np.ascontiguousarray(batch.frames), batch.times)
            bar.update(len(batch.times))
        writer.finish(meta)
    return open_frame_cache(path)
