"""Clips for video backbones: one clip per sampled row, every video frame decoded once.

Rows are sampled exactly as for image backbones (`extract.decode`: the frame on screen at each target time,
2 fps by default), so image and video features of a half share their row timestamps. Row `k`, at time
`τ_k`, gets the clip of `frames` samples at the model's rate `rate` centred on it: sample `i` is the frame
on screen at `τ_k + (i - (frames - 1) / 2) / rate` (`clip_offsets`). Samples before the first frame take
the first frame and samples after the last take the last one (edges replicated, as windows are
elsewhere).

`iter_clips` decodes the video once, sequentially (PyAV), through a ring buffer: it holds the decoded frames
from the earliest sample an unfinished clip still needs up to the newest frame, converts a frame to RGB and
applies the transform the first time a clip uses it (overlapping clips share it; the new frames of a clip
go through `prepare` together), and drops frames no future clip can use. Clips and batches are assembled
with numpy: small multi-threaded torch ops in the decode thread stall on a busy machine (measured: 2 ms
per `torch.zeros` of one frame while other processes ran). Memory is bounded by the clip span (plus one batch of clips), whatever the video's
length. `clip_indices` is the same rule on a list of frame times, for checking and for random access.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch

from soccerspot.extract.decode import TIME_EPS, VideoInfo, _checked_end, pyav_frames, select_on_screen

# Before the first row is known, keep frames this far before `start + offsets[0]` (a frame on screen at
# `start` may have begun up to one frame period before it).
FIRST_ROW_SLACK_S = 1.0


def clip_offsets(frames: int, rate: float) -> np.ndarray:
    """Seconds from a row's time to each of its clip's samples: `frames` samples at `rate`, centred."""
    if frames < 1 or not rate > 0:
        raise ValueError(f"a clip needs frames >= 1 and rate > 0, got {frames} at {rate}")
    return (np.arange(frames) - (frames - 1) / 2.0) / rate


def clip_indices(frame_times: np.ndarray, row_times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(rows, frames) indices into sorted `frame_times` of each clip's samples: the frame on screen at
    `row time + offset`, clamped to the first and last frame."""
    samples = np.asarray(row_times, dtype=np.float64)[:, None] + np.asarray(offsets)[None, :]
    indices = np.searchsorted(frame_times, samples + TIME_EPS, side="right") - 1
    return np.clip(indices, 0, len(frame_times) - 1)


@dataclass
class ClipBatch:
    clips: torch.Tensor  # (n, frames, 3, h, w) uint8 (a numpy array's memory)
    times: np.ndarray  # (n,) row times, seconds from the first frame


@dataclass
class ClipStats:
    """What a streaming pass did: every frame decoded once, only the frames some clip uses converted."""

    decoded_frames: int = 0
    converted_frames: int = 0
    peak_buffered: int = 0


class _Buffered:
    """A decoded frame in the ring buffer; `image` is made the first time a clip uses it."""

    __slots__ = ("time", "frame", "image")

    def __init__(self, time: float, frame: Any):
        self.time, self.frame, self.image = time, frame, None


def iter_clips(
    info: VideoInfo, *, fps: float, offsets: np.ndarray, prepare: Callable[[list[Any]], torch.Tensor],
    start: float = 0.0, duration: float | None = None, batch_size: int = 8, stats: ClipStats | None = None,
) -> Iterator[ClipBatch]:
    """Clips of the images `prepare(decoded frames)` makes ((k, 3, h, w) uint8) for the rows sampled at `fps`,
    in batches."""
    stats = stats if stats is not None else ClipStats()
    stop = math.inf if duration is None else start + duration
    earliest = start + float(offsets[0]) - FIRST_ROW_SLACK_S  # the first clip's first sample, or before
    relative = _checked_end(pyav_frames(info, earliest), info, start, duration)
    yield from _ring_clips(relative, fps, start, stop, info.average_fps, offsets, prepare, batch_size, stats)


def _ring_clips(
    frames: Iterator[tuple[float, Any]], fps: float, start: float, stop: float, average_fps: float | None,
    offsets: np.ndarray, prepare: Callable[[list[Any]], torch.Tensor], batch_size: int, stats: ClipStats,
) -> Iterator[ClipBatch]:
    buffer: list[_Buffered] = []
    times: list[float] = []  # buffer's times, for bisection
    pending: list[float] = []  # rows whose clips are not made yet
    batch: list[np.ndarray] = []
    batch_times: list[float] = []
    last_row: list[float] = []

    def record() -> Iterator[tuple[float, _Buffered]]:
        for time, frame in frames:
            item = _Buffered(time, frame)
            buffer.append(item)
            times.append(time)
            stats.decoded_frames += 1
            stats.peak_buffered = max(stats.peak_buffered, len(buffer))
            yield time, item

    def clip(row: float) -> np.ndarray:
        items = [buffer[max(0, bisect_right(times, sample + TIME_EPS) - 1)] for sample in row + offsets]
        fresh = list({id(item): item for item in items if item.image is None}.values())
        if fresh:
            images = prepare([item.frame for item in fresh]).numpy()
            for item, image in zip(fresh, images):
                item.image, item.frame = image, None  # the decoded picture is no longer needed
            stats.converted_frames += len(fresh)
        return np.stack([item.image for item in items])

    def ready(final: bool) -> Iterator[ClipBatch]:
        while pending and (final or times[-1] > pending[0] + offsets[-1] + TIME_EPS):
            row = pending.pop(0)
            batch.append(clip(row))
            batch_times.append(row)
            if len(batch) == batch_size:
                yield ClipBatch(torch.from_numpy(np.stack(batch)), np.array(batch_times, dtype=np.float64))
                batch.clear()
                batch_times.clear()
        anchor = pending[0] if pending else (last_row[0] if last_row else start - FIRST_ROW_SLACK_S)
        bound = anchor + offsets[0]
        drop = 0
        while drop + 1 < len(buffer) and times[drop + 1] <= bound + TIME_EPS:
            drop += 1
        if drop:
            del buffer[:drop], times[:drop]

    source = record()
    for row_time, _ in select_on_screen(source, fps, start, stop, average_fps):
        pending.append(row_time)
        last_row[:] = [row_time]
        yield from ready(final=False)
    while pending and times[-1] <= pending[-1] + offsets[-1] + TIME_EPS:  # the last clips' later samples
        if next(source, None) is None:
            break
    yield from ready(final=True)
    if batch:
        yield ClipBatch(torch.from_numpy(np.stack(batch)), np.array(batch_times, dtype=np.float64))
