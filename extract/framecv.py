"""SoccerNet's frame selection and geometry (`SoccerNet.DataLoader.FrameCV`, `transform="crop"`), streamed.

What FrameCV does (read in the SoccerNet package), and how it is reproduced here without holding a half in
memory (FrameCV keeps every kept frame of a half: 3 GB as float32 after `preprocess_input`):

- **rate**: `fps_video` is OpenCV's `CAP_PROP_FPS`, the stream's average frame rate (FFmpeg's
  `avg_frame_rate`, its guessed rate when there is none); `time_second` is moviepy's duration, the
  container's duration as FFmpeg prints it (rounded to 1/100 s).
- **frame counter**: every decoded frame in order, 1-based `i`; a frame is kept when
  `i % (fps_video / FPS) < 1` (Python float modulo): at 25 fps and FPS 2, frames 13, 25, 38, 50...
- **trimming**: frames with `i < fps_video * start` or `i > fps_video * (start + duration)` are skipped
  (decoding still starts at the first frame: the counter needs every frame).
- **re-read**: FrameCV expects `int(time_second * fps_video)` frames; when it decoded `n` frames and
  `int(time_second * fps_video) - (n + 1) > 1`, it decodes again with `fps_video = (n + 1) / time_second`.
  Here `n` is counted first by demuxing (video packets, no decoding: seconds for a 45-minute half), so
  the right rate is known before the one decode; a decode whose frame count differs from the packets' in
  a way that changes that rate (a damaged stream) is refused, naming the file, rather than guessed.
- **geometry** (`imutils_crop`): `imutils.resize(frame, height=224)` - OpenCV `INTER_AREA` to width
  `int(w * (224 / h))` - then `int((width - 224) / 2)` columns cut from each side. A 398x224 SoccerNet video
  is only cropped; 720p is area-resized to 398x224 first. A width whose crop is not 224 (an odd resized
  width, or 224 itself, where FrameCV's `frame[:, 0:-0]` is empty) is refused: the network takes 224x224.

OpenCV decodes to BGR; PyAV's `rgb24` gives the same pixels in RGB order (same swscale conversion:
checked equal on the test videos), and the geometry does not depend on the channel order. Each kept row
carries its frame's presentation time (from the first frame's), as every soccerspot feature row does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from soccerspot.errors import DataError
from soccerspot.extract.decode import FrameBatch, VideoInfo, _describe, _open_container, _video_stream

FRAMECV = "framecv"
AV_TIME_BASE = 1_000_000
NO_RATE = "the video stream declares no frame rate (FrameCV's frame rule needs one)"


@dataclass(frozen=True)
class FrameCVTiming:
    """The numbers FrameCV's keep rule runs on, for one video."""

    header_fps: float  # OpenCV's CAP_PROP_FPS
    duration: float  # moviepy's duration (seconds, 1/100 s resolution)
    frames: int  # video packets in the container (= decoded frames of a sound stream)
    fps_video: float  # the rate the keep rule uses: the header's, or FrameCV's corrected one

    @property
    def corrected(self) -> bool:
        return self.fps_video != self.header_fps


def ffmpeg_duration(container_duration: int) -> float:
    """The container duration (AV_TIME_BASE units) as FFmpeg prints it ("Duration: 00:45:02.36"), which
    is what moviepy reads: rounded to the nearest 1/100 s."""
    rounded = container_duration + 5000
    seconds, micro = divmod(rounded, AV_TIME_BASE)
    return seconds + (100 * micro // AV_TIME_BASE) / 100


def framecv_rate(header_fps: float, duration: float, frames: int) -> float:
    """FrameCV's final `fps_video` after its consistency check (see the module docstring)."""
    expected = int(duration * header_fps)
    if expected - (frames + 1) <= 1:
        return header_fps
    return (frames + 1) / duration


def keep_frame(i: int, fps_video: float, fps: float, start: float | None, duration: float | None) -> bool:
    """FrameCV's test for its 1-based frame counter `i`."""
    if start is not None and i < fps_video * start:
        return False
    if duration is not None and i > fps_video * ((start or 0.0) + duration):
        return False
    return i % (fps_video / fps) < 1


def kept_numbers(count: int, fps_video: float, fps: float) -> list[int]:
    """The 1-based numbers of the frames FrameCV keeps among the first `count` (no trimming)."""
    return [i for i in range(1, count + 1) if keep_frame(i, fps_video, fps, None, None)]


def nth_kept_number(n: int, fps_video: float, fps: float) -> int:
    """The number of the n-th frame FrameCV keeps (no trimming); 0 for n = 0."""
    number = kept = 0
    while kept < n:
        number += 1
        kept += keep_frame(number, fps_video, fps, None, None)
    return number


def stream_fps(stream) -> float:
    """OpenCV's CAP_PROP_FPS of a PyAV video stream: FFmpeg's average frame rate, else its guessed rate; 0.0
    when it has neither."""
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else 0.0


def framecv_timing(info: VideoInfo) -> FrameCVTiming:
    """Read the header rate and duration and count the video packets (demuxing only)."""
    with _open_container(info.path) as container:
        stream = _video_stream(container, info.path)
        header_fps = stream_fps(stream)
        if container.duration is not None:
            duration = ffmpeg_duration(int(container.duration))
        elif info.declared_duration is not None:
            duration = float(info.declared_duration)
        else:
            raise DataError(info.path, "the container declares no duration (FrameCV's frame rule needs one)")
        frames = sum(1 for packet in container.demux(stream) if packet.size)
    if not header_fps > 0:
        raise DataError(info.path, NO_RATE)
    if not duration > 0:
        raise DataError(info.path, f"the container's duration is {duration} s (FrameCV's frame rule needs a positive one)")
    return FrameCVTiming(header_fps, duration, frames, framecv_rate(header_fps, duration, frames))


def imutils_crop(frame: np.ndarray, size: int = 224) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, W' - 2 * int((W' - size) / 2), 3): `imutils.resize(height=size)` (INTER_AREA,
    width `int(W * (size / H))`), then the side columns cut as FrameCV's `crop` does."""
    import cv2

    height, width = frame.shape[:2]
    new_width = int(width * (size / float(height)))
    resized = cv2.resize(frame, (new_width, size), interpolation=cv2.INTER_AREA)
    off = int((resized.shape[1] - size) / 2)
    return resized[:, off:-off] if off else resized[:, :0]


def crop_problem(width: int, height: int, size: int = 224) -> str | None:
    """Why FrameCV's crop of a width x height video does not give size x size frames, or None."""
    new_width = int(width * (size / float(height)))
    off = int((new_width - size) / 2)
    out = new_width - 2 * off if off else 0
    if out == size:
        return None
    return (f"FrameCV's crop of {width}x{height} frames gives {out}x{size} (resized to {new_width}x{size}, "
            f"{off} columns cut per side), not the {size}x{size} the network takes")


def check_crop(path, width: int, height: int, size: int = 224) -> None:
    """`DataError` naming `path` when FrameCV's crop of its width x height frames is not size x size."""
    problem = crop_problem(width, height, size)
    if problem:
        raise DataError(path, problem)


def iter_framecv(
    info: VideoInfo, *, fps: float = 2.0, start: float | None = None, duration: float | None = None,
    batch_size: int = 32, timing: FrameCVTiming | None = None,
) -> Iterator[FrameBatch]:
    """FrameCV's kept frames, full size RGB uint8, in batches of at most `batch_size`, each with its
    presentation time (seconds from the first frame). One sequential decode; stops after the trim."""
    import av

    timing = timing or framecv_timing(info)
    start = start or None  # FrameCV's default; start=0 skips nothing either way
    last_wanted = math.inf if duration is None else timing.fps_video * ((start or 0.0) + duration)
    frames: list[np.ndarray] = []
    times: list[float] = []
    count = 0
    origin = previous = None
    with _open_container(info.path) as container:
        stream = _video_stream(container, info.path)
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                count += 1
                if frame.pts is not None:
                    seconds = float(frame.pts * frame.time_base)
                else:  # OpenCV counts it all the same; give it the next nominal time
                    seconds = (previous if previous is not None else 0.0) + 1.0 / timing.fps_video
                origin = seconds if origin is None else origin
                previous = seconds
                if count > last_wanted:
                    break
                if not keep_frame(count, timing.fps_video, fps, start, duration):
                    continue
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(round(seconds - origin, 6))
                if len(frames) == batch_size:
                    yield FrameBatch(np.stack(frames), np.array(times, dtype=np.float64))
                    frames, times = [], []
        except av.error.FFmpegError as error:
            raise DataError(info.path, f"decoding failed after {count} frames: {_describe(error)} (truncated or damaged file?)") from error
    if count == 0:
        raise DataError(info.path, "no decodable video frames")
    if count <= last_wanted and framecv_rate(timing.header_fps, timing.duration, count) != timing.fps_video:
        raise DataError(info.path, f"decoded {count} frames but the container holds {timing.frames} video packets "
                                   "(a damaged stream), and FrameCV's rate depends on the count: its frame numbering "
                                   "cannot be reproduced")
    if frames:
        yield FrameBatch(np.stack(frames), np.array(times, dtype=np.float64))
