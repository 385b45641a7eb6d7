"""Fill a frame cache (`data.frame_store`) from a half video: one sequential decode, reused afterwards.

The frames are those `soccerspot extract` feeds its backbone: sampled by timestamp at `fps`
(`extract.decode.iter_frames`) and transformed by `extract.transforms.apply_transform`, so a backbone
run over a cache gives the features `extract` would write, row for row.

Why a sequential decode and not random access per clip: `scripts/bench_frame_cache.py` measures filling a
cache with PyAV, with decord, and one epoch of clips read by decord's random access against the same
epoch read from the cache.
"""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm.auto import tqdm

from soccerspot.data.frame_store import FrameCache, FrameCacheMeta, FrameCacheWriter, open_frame_cache, stale_reason
from soccerspot.extract.decode import check_file, iter_frames, probe
from soccerspot.extract.transforms import apply_transform, frames_to_tensor

DECODE_BATCH = 32


def cache_settings(source_size: int, fps: float, start: float, transform: str, input_size: int) -> dict:
    return FrameCacheMeta(source_size=source_size, fps=fps, start=start, transform=transform,
                          input_size=input_size).settings()


def ensure_frame_cache(video: str | Path, path: str | Path, *, fps: float = 2.0, start: float = 0.0,
                       transform: str = "short-side", input_size: int = 224, decoder: str = "pyav",
                       progress: bool = True) -> FrameCache:
    """The cache of `video` at `path`: reused when complete and made with these settings from a video of
    the same size, otherwise decoded now. Bad video: `DataError` naming it."""
    from soccerspot.extract.extractor import soccerspot_version

    video = check_file(video)
    info = probe(video)
    path = Path(path)
    reason = stale_reason(path, cache_settings(info.size_bytes, fps, start, transform, input_size))
    if reason is None:
        return open_frame_cache(path)
    if reason != "not cached yet":
        print(f"redoing {path}: {reason}", file=sys.stderr)
    expected = None if info.declared_duration is None else max(0, round((info.declared_duration - start) * fps))
    meta = FrameCacheMeta(source=str(video.resolve()), source_size=info.size_bytes, fps=float(fps), start=float(start),
                          transform=transform, input_size=int(input_size), decoder=decoder,
                          version=soccerspot_version())
    with FrameCacheWriter(path) as writer, tqdm(total=expected, desc=f"cache {video.name}", unit="frame",
                                                disable=not progress, leave=False, file=sys.stderr) as bar:
        for batch in iter_frames(video, fps=fps, start=start, batch_size=DECODE_BATCH, decoder=decoder, info=info):
            images = apply_transform(frames_to_tensor(batch.frames), transform, input_size)
            writer.write(images.permute(0, 2, 3, 1).contiguous().numpy(), batch.times)
            bar.update(len(batch.times))
        writer.finish(meta)
    return open_frame_cache(path)
