"""Decode a video and sample frames at a target rate by presentation timestamp.

Time zero is the presentation time of the video's first frame; every sampled frame carries its own
presentation time in seconds from there (never `index / 25`: SoccerNet has ~17 fps halves and broadcasts can
be variable-frame-rate). Sampling rule: the sample for target time `t = start + k / fps` is the frame *on
screen* at `t` - the last frame whose presentation time is <= t. A target is kept while it lies before the
end of the picture (last frame's time + its duration) and before `start + duration` when trimming.
So a 10 s, 25 fps video gives 20 samples at 2 fps, and a video shorter than one sample period gives one.

Two backends give the same frames (tested):

- ``pyav`` (default): one sequential, threaded decode; only the sampled frames are converted to RGB.
- ``decord``: indices computed from decord's frame timestamps, read with batched `get_batch`.

Why PyAV is the streaming default (measured with `scripts/bench_extract.py` on the 2-core dev VM, which
other jobs were loading at the time, so rates are indicative): an open decord `VideoReader` keeps its
decoder threads spinning - 0.28-0.45 of a core busy while nobody reads from it (`decord_idle_cpu`), PyAV
0.00 (`pyav_idle_cpu`) - and the extractor keeps its reader open while the backbone runs, so decord steals
CPU from the backbone. Full extraction with timm regnety_002 on a 2-minute 398x224 video: PyAV 35 frames/s,
decord 19 frames/s (`--compare-decoders`). Decord stays available (`--decoder decord`) and is
`frames_at`'s default for random access to frames at arbitrary times.

Never seek per sample: with 250-frame GOPs that is ≈17x real time. We seek at most once (trimming).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from soccerspot.errors import DataError

DECODERS = ("pyav", "decord")
DEFAULT_DECODER = "pyav"
# Slack when comparing a frame's time with a target time: decord stores float32 seconds and containers
# round to ms; real frame spacing is >= several ms.
TIME_EPS = 1e-3
# A decoded picture may end this much before the declared duration without counting as truncated
# (audio often runs a little longer than video).
TRUNCATION_SLACK_S = 2.0
TRUNCATION_SLACK_FRACTION = 0.005


@dataclass(frozen=True)
class VideoInfo:
    """What the container header says (read with PyAV, whatever backend decodes)."""

    path: Path
    size_bytes: int
    width: int
    height: int
    average_fps: float | None
    declared_duration: float | None  # seconds, from the container header; None when unknown


@dataclass
class FrameBatch:
    frames: np.ndarray  # (n, height, width, 3) uint8 RGB
    times: np.ndarray  # (n,) float64 seconds from the first frame's presentation time


# ---------------------------------------------------------------------------------------------- sampling


def target_time(index: int, fps: float, start: float) -> float:
    """Target of sample `index`: computed from the index (no accumulated rounding drift)."""
    return start + index / fps


def sample_targets(fps: float, start: float, stop: float) -> np.ndarray:
    """All target times in [start, stop)."""
    if stop <= start:
        return np.zeros(0)
    count = max(0, math.ceil((stop - start) * fps - 1e-9))
    targets = start + np.arange(count) / fps
    return targets[targets < stop - TIME_EPS] if count else targets


def content_end(times: np.ndarray, average_fps: float | None) -> float:
    """End of the picture: last frame's time + its duration (the last gap, or 1/fps for one frame)."""
    if len(times) == 0:
        return 0.0
    if len(times) >= 2:
        return float(times[-1] + (times[-1] - times[-2]))
    return float(times[-1] + 1.0 / (average_fps or 25.0))


def on_screen_indices(times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the frame on screen at each target (times sorted); targets before the first frame get it."""
    indices = np.searchsorted(times, np.asarray(targets) + TIME_EPS, side="right") - 1
    return np.clip(indices, 0, None)


def select_on_screen(
    frames: Iterable[tuple[float, Any]], fps: float, start: float = 0.0, stop: float = math.inf,
    average_fps: float | None = None,
) -> Iterator[tuple[float, Any]]:
    """Streaming form of `on_screen_indices`: yields (frame time, payload) per target, in order.

    Reads one frame past each target (to know the previous one is the on-screen one) and stops reading
    as soon as the last target is served.
    """
    index = 0
    target = target_time(index, fps, start)
    previous: tuple[float, Any] | None = None
    before_previous_time: float | None = None
    for time, payload in frames:
        if target >= stop - TIME_EPS:
            return
        if previous is not None:
            while time > target + TIME_EPS and target < stop - TIME_EPS:
                yield previous
                index += 1
                target = target_time(index, fps, start)
            before_previous_time = previous[0]
        previous = (time, payload)
    if previous is None:
        return
    times = np.array([t for t in (before_previous_time, previous[0]) if t is not None])
    end = min(content_end(times, average_fps), stop)
    while target < end - TIME_EPS:
        yield previous
        index += 1
        target = target_time(index, fps, start)


# ---------------------------------------------------------------------------------------------- probing


def check_file(path: str | Path) -> Path:
    """Fail early, naming the problem, for the common bad inputs."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a folder, not a video file")
    if not os.access(path, os.R_OK):
        raise DataError(path, "cannot read the file (permission denied)")
    if path.stat().st_size == 0:
        raise DataError(path, "empty file (0 bytes)")
    return path


def _open_container(path: Path):
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except PermissionError as error:
        raise DataError(path, "cannot read the file (permission denied)") from error
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise DataError(path, f"not a readable video: {_describe(error)} (damaged, truncated or not a video?)") from error


def _describe(error: Exception) -> str:
    """FFmpeg's message without the errno and file name PyAV adds (the caller names the file)."""
    return getattr(error, "strerror", None) or str(error)


def _video_stream(container, path: Path):
    if not container.streams.video:
        kinds = sorted({stream.type for stream in container.streams}) or ["no streams"]
        raise DataError(path, f"has no video stream (found: {', '.join(kinds)})")
    return container.streams.video[0]


def probe(path: str | Path) -> VideoInfo:
    """Header facts; raises DataError for missing, empty, unreadable, non-video or audio-only files."""
    path = check_file(path)
    with _open_container(path) as container:
        stream = _video_stream(container, path)
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        rate = stream.average_rate or stream.base_rate
        return VideoInfo(
            path=path, size_bytes=path.stat().st_size,
            width=stream.codec_context.width, height=stream.codec_context.height,
            average_fps=float(rate) if rate else None, declared_duration=duration,
        )


def check_not_truncated(info: VideoInfo, decoded_end: float, start: float, duration: float | None) -> None:
    """Raise when the decoded picture ends well before the header's duration (a cut-off download)."""
    if info.declared_duration is None:
        return
    expected = info.declared_duration if duration is None else min(info.declared_duration, start + duration)
    slack = TRUNCATION_SLACK_S + TRUNCATION_SLACK_FRACTION * expected
    if decoded_end < expected - slack:
        raise DataError(
            info.path,
            f"truncated or damaged: frames stop at {decoded_end:.1f} s but the header says {expected:.1f} s",
        )


# ---------------------------------------------------------------------------------------------- backends


def iter_frames(
    path: str | Path, *, fps: float = 2.0, start: float = 0.0, duration: float | None = None,
    batch_size: int = 32, decoder: str = DEFAULT_DECODER, info: VideoInfo | None = None,
) -> Iterator[FrameBatch]:
    """Sampled frames in batches of at most `batch_size` (memory does not grow with video length)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if start < 0 or (duration is not None and duration <= 0):
        raise ValueError(f"bad trim: start={start}, duration={duration}")
    info = info or probe(path)
    stop = math.inf if duration is None else start + duration
    if decoder == "pyav":
        samples = _pyav_samples(info, fps, start, stop, duration)
    elif decoder == "decord":
        samples = _decord_samples(info, fps, start, stop, duration, batch_size)
    else:
        raise ValueError(f"unknown decoder {decoder!r}; choose from {', '.join(DECODERS)}")
    yield from _batched(samples, batch_size)


_decode_threads = 0  # FFmpeg's own choice (as many as cores); `set_decode_threads` bounds it per process


def set_decode_threads(count: int) -> None:
    """Bound the FFmpeg decoding threads of every video this process opens with PyAV (0: FFmpeg's choice,
    one per core). An engine running several games at once gives each its share of the cores."""
    global _decode_threads
    _decode_threads = max(0, int(count))


def threaded(stream) -> None:
    """Frame- and slice-threaded decoding of `stream`, with this process's thread bound."""
    stream.thread_type = "AUTO"
    if _decode_threads:
        stream.thread_count = _decode_threads


def _batched(samples: Iterator[tuple[float, np.ndarray]], batch_size: int) -> Iterator[FrameBatch]:
    frames: list[np.ndarray] = []
    times: list[float] = []
    for time, frame in samples:
        frames.append(frame)
        times.append(time)
        if len(frames) == batch_size:
            yield FrameBatch(np.stack(frames), np.array(times, dtype=np.float64))
            frames, times = [], []
    if frames:
        yield FrameBatch(np.stack(frames), np.array(times, dtype=np.float64))


def pyav_frames(info: VideoInfo, seek_from: float = 0.0) -> Iterator[tuple[float, Any]]:
    """Every decoded PyAV frame with its time from the first frame's presentation time, in order (one
    sequential, threaded decode); from the keyframe before `seek_from` seconds when that lies past the first
    2 s (one seek, never one per sample)."""
    path = info.path
    with _open_container(path) as container:
        stream = _video_stream(container, path)
        threaded(stream)
        decoded = _timed_frames(container, stream, path)
        first = next(decoded, None)
        if first is None:
            raise DataError(path, "no decodable video frames")
        origin = first[0]
        if seek_from > 2.0:
            container.seek(int((origin + seek_from) / stream.time_base), stream=stream, backward=True)
            decoded = _timed_frames(container, stream, path)
        else:
            decoded = _chain([first], decoded)
        for time, frame in decoded:
            yield time - origin, frame


def _pyav_samples(
    info: VideoInfo, fps: float, start: float, stop: float, duration: float | None
) -> Iterator[tuple[float, np.ndarray]]:
    relative = _checked_end(pyav_frames(info, start), info, start, duration)
    for time, frame in select_on_screen(relative, fps, start, stop, info.average_fps):
        yield round(time, 6), frame.to_ndarray(format="rgb24")  # RGB conversion for sampled frames only


def _checked_end(frames, info: VideoInfo, start: float, duration: float | None):
    """Pass frames through; at the end, check the picture covered what the header promised."""
    times: list[float] = []
    for time, frame in frames:
        times = times[-1:] + [time]
        yield time, frame
    check_not_truncated(info, content_end(np.array(times), info.average_fps), start, duration)


def _timed_frames(container, stream, path: Path) -> Iterator[tuple[float, Any]]:
    import av

    last = None
    try:
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            last = float(frame.pts * frame.time_base)
            yield last, frame
    except av.error.FFmpegError as error:
        where = "at the start" if last is None else f"after {last:.1f} s"
        raise DataError(path, f"decoding failed {where}: {_describe(error)} (truncated or damaged file?)") from error


def _chain(head: list, tail: Iterator) -> Iterator:
    yield from head
    yield from tail


def _decord_samples(
    info: VideoInfo, fps: float, start: float, stop: float, duration: float | None, batch_size: int
) -> Iterator[tuple[float, np.ndarray]]:
    try:
        import decord
    except ImportError as error:
        raise RuntimeError("decord is not installed on this platform: use --decoder pyav") from error

    path = info.path
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
        frame_count = len(reader)
        times = reader.get_frame_timestamp(range(frame_count))[:, 0].astype(np.float64) if frame_count else np.zeros(0)
    except decord.DECORDError as error:
        raise DataError(path, f"decord cannot read the video ({str(error).splitlines()[0]})") from error
    if frame_count == 0:
        raise DataError(path, "no decodable video frames")
    if not (np.isfinite(times).all() and (times < 1e9).all()):
        times = _packet_times(path)  # decord reports INT64_MAX for some short files
        if len(times) != frame_count:
            raise DataError(path, f"decord sees {frame_count} frames but the container has {len(times)} timestamps")
    order = np.argsort(times, kind="stable")  # presentation order
    times = times[order] - times[order[0]]
    end = min(content_end(times, info.average_fps), stop)
    check_not_truncated(info, content_end(times, info.average_fps), start, duration)
    targets = sample_targets(fps, start, end)
    picks = order[on_screen_indices(times, targets)] if len(targets) else np.zeros(0, dtype=np.int64)
    pick_times = times[on_screen_indices(times, targets)] if len(targets) else np.zeros(0)
    try:
        for begin in range(0, len(picks), batch_size):
            chunk = picks[begin : begin + batch_size]
            unique, inverse = np.unique(chunk, return_inverse=True)  # a VFR frame may serve several targets
            frames = reader.get_batch(unique.tolist()).asnumpy()[inverse]
            for time, frame in zip(pick_times[begin : begin + batch_size], frames):
                yield round(float(time), 6), frame
    except decord.DECORDError as error:
        raise DataError(path, f"decord failed while decoding ({str(error).splitlines()[0]})") from error
    finally:
        del reader


def _packet_times(path: Path) -> np.ndarray:
    """Presentation times of the video packets (demuxing only, no decoding)."""
    with _open_container(path) as container:
        stream = _video_stream(container, path)
        times = [float(packet.pts * packet.time_base) for packet in container.demux(stream) if packet.pts is not None and packet.size]
    return np.sort(np.array(times, dtype=np.float64))


# ---------------------------------------------------------------------------------------------- random access


def frames_at(path: str | Path, times: Iterable[float], *, decoder: str = "decord") -> FrameBatch:
    """The frames on screen at arbitrary `times` (seconds from the first frame), in the order given.
    decord: one batched random-access read; PyAV: one seek to the keyframe before the earliest time, then
    a sequential decode up to the latest."""
    wanted = np.asarray(list(times), dtype=np.float64)
    info = probe(path)
    if len(wanted) == 0:
        return FrameBatch(np.zeros((0, info.height, info.width, 3), dtype=np.uint8), wanted)
    order = np.argsort(wanted, kind="stable")
    if decoder == "decord":
        import decord

        reader = decord.VideoReader(str(info.path), ctx=decord.cpu(0))
        frame_times = reader.get_frame_timestamp(range(len(reader)))[:, 0].astype(np.float64)
        if not (np.isfinite(frame_times).all() and (frame_times < 1e9).all()):
            frame_times = _packet_times(info.path)
        presentation = np.argsort(frame_times, kind="stable")
        frame_times = frame_times[presentation] - frame_times[presentation[0]]
        picks = on_screen_indices(frame_times, wanted)
        unique, inverse = np.unique(presentation[picks], return_inverse=True)
        frames = reader.get_batch(unique.tolist()).asnumpy()[inverse]
        return FrameBatch(frames, np.round(frame_times[picks], 6))
    if decoder != "pyav":
        raise ValueError(f"unknown decoder {decoder!r}; choose from {', '.join(DECODERS)}")
    sorted_times = wanted[order]
    found: list[tuple[float, np.ndarray]] = []
    with _open_container(info.path) as container:
        stream = _video_stream(container, info.path)
        threaded(stream)
        first = next(_timed_frames(container, stream, info.path), None)
        if first is None:
            raise DataError(info.path, "no decodable video frames")
        origin = first[0]
        container.seek(int((origin + max(0.0, sorted_times[0])) / stream.time_base), stream=stream, backward=True)
        previous = None
        target = 0
        for time, frame in _timed_frames(container, stream, info.path):
            time -= origin
            while target < len(sorted_times) and previous is not None and time > sorted_times[target] + TIME_EPS:
                found.append((previous[0], previous[1].to_ndarray(format="rgb24")))
                target += 1
            if target == len(sorted_times):
                break
            previous = (time, frame)
        while target < len(sorted_times) and previous is not None:  # past the last frame: it stays on screen
            found.append((previous[0], previous[1].to_ndarray(format="rgb24")))
            target += 1
    frames = np.empty((len(wanted), *found[0][1].shape), dtype=np.uint8)
    stamps = np.empty(len(wanted))
    for slot, (time, frame) in zip(order, found):
        frames[slot], stamps[slot] = frame, round(time, 6)
    return FrameBatch(frames, stamps)
