"""Which decoder feeds fine-tuning, and is the frame cache worth it? Both sides in one run.

On a synthetic 398x224, 25 fps H.264 video (`scripts/bench_extract.py`'s, 5 minutes by default):

  (a) `pyav_fill_s`: fill a frame cache at 2 fps with one sequential PyAV decode (`extract.frame_store`);
  (b) `decord_fill_s`: the same with decord;
  (c) `random_access_epoch_s`: one epoch of RMS-Net clips (`--clips` clips of `--rows` rows at 2 fps at
      random places) decoded by decord's random access (`extract.decode.frames_at`) and transformed, no
      cache: what every epoch would cost without one;
  (d) `cached_epoch_s`: the same clips read from the cache (`data.video_clips` reads memory-mapped rows).

`epochs_to_break_even` = fill / (random access - cached): after that many epochs the cache has paid for
itself. Last line: one JSON object.

    python scripts/bench_frame_cache.py [--minutes 5] [--clips 40] [--rows 41] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--rows", type=int, default=41, help="rows per clip (RMS-Net: 41 at 2 fps)")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_extract import make_video

    from soccerspot.data.frame_store import open_frame_cache
    from soccerspot.models.sliding import window_rows
    from soccerspot.extract.decode import frames_at
    from soccerspot.extract.frame_store import ensure_frame_cache
    from soccerspot.extract.transforms import apply_transform, frames_to_tensor

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_frame_cache_"))
    video = make_video(work / f"video_{args.minutes:g}min.mp4", args.minutes)
    timings = {}
    for decoder in ("pyav", "decord"):
        path = work / f"cache_{decoder}.u8"
        for stale in (path, path.with_suffix(".json")):
            stale.unlink(missing_ok=True)
        began = time.perf_counter()
        ensure_frame_cache(video, path, decoder=decoder, progress=False)
        timings[f"{decoder}_fill_s"] = time.perf_counter() - began
    cache = open_frame_cache(work / "cache_pyav.u8")
    decord_cache = open_frame_cache(work / "cache_decord.u8")
    same = bool(np.array_equal(np.asarray(cache.array), np.asarray(decord_cache.array)))
    rows = len(cache.meta.timestamps)
    times = np.asarray(cache.meta.timestamps)
    starts = np.random.default_rng(0).integers(-args.rows // 2, rows - args.rows // 2, size=args.clips)
    clip_rows = window_rows(starts, args.rows, rows)

    began = time.perf_counter()
    for row_set in clip_rows:
        decoded = frames_at(video, times[row_set], decoder="decord")
        apply_transform(frames_to_tensor(decoded.frames), "short-side", 224)
    timings["random_access_epoch_s"] = time.perf_counter() - began

    began = time.perf_counter()
    total = 0
    for row_set in clip_rows:
        total += int(np.array(cache.array[row_set]).sum(dtype=np.int64) & 1)  # touch every byte
    timings["cached_epoch_s"] = time.perf_counter() - began

    saved = timings["random_access_epoch_s"] - timings["cached_epoch_s"]
    fill = min(timings["pyav_fill_s"], timings["decord_fill_s"])
    chosen = "pyav" if timings["pyav_fill_s"] <= timings["decord_fill_s"] else "decord"
    result = {key: round(value, 3) for key, value in timings.items()}
    result.update(video_minutes=args.minutes, cached_frames=rows, cache_mb=round(cache.array.nbytes / 2**20, 1),
                  clips=args.clips, rows_per_clip=args.rows, same_frames_both_decoders=same,
                  epochs_to_break_even=round(fill / saved, 2) if saved > 0 else None, chosen=chosen,
                  random_access_vs_cached=round(timings["random_access_epoch_s"] / timings["cached_epoch_s"], 1))
    print(f"fill: PyAV {timings['pyav_fill_s']:.1f} s, decord {timings['decord_fill_s']:.1f} s; one epoch of "
          f"{args.clips} clips: random access {timings['random_access_epoch_s']:.1f} s vs cached "
          f"{timings['cached_epoch_s']:.2f} s ({result['random_access_vs_cached']}x)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
