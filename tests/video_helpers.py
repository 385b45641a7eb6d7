"""Small synthetic videos for the extraction tests, written in-process with PyAV (no system ffmpeg).

Each frame shows its index as a row of black/white bars (12 bits, most significant bit left) over the
top half of the picture, so a test can read back which frame a sampler picked. The bars are wide and the
encoder quality high, so the pattern survives H.264 compression.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

INDEX_BITS = 12


def index_frame(index: int, width: int, height: int) -> np.ndarray:
    """An RGB frame whose top half encodes `index` in bars; the bottom half is a gradient (texture)."""
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    bar = width // INDEX_BITS
    for bit in range(INDEX_BITS):
        if (index >> (INDEX_BITS - 1 - bit)) & 1:
            frame[: height // 2, bit * bar : (bit + 1) * bar] = 255
    ramp = (np.arange(width, dtype=np.int64) * 3 + index * 7) % 256
    frame[height // 2 :, :, 0] = ramp.astype(np.uint8)[None, :]
    frame[height // 2 :, :, 1] = 128
    return frame


def read_index(frame: np.ndarray) -> int:
    """The index encoded by `index_frame` (frame: H x W x 3 uint8, as decoded)."""
    height, width = frame.shape[:2]
    bar = width // INDEX_BITS
    value = 0
    for bit in range(INDEX_BITS):
        patch = frame[height // 8 : height * 3 // 8, bit * bar + bar // 4 : (bit + 1) * bar - bar // 4]
        value = (value << 1) | int(patch.mean() > 127)
    return value


def write_video(
    path: str | Path,
    times: list[float] | np.ndarray,
    *,
    width: int = 160,
    height: int = 96,
    rate: Fraction | int = 25,
    time_base: Fraction = Fraction(1, 1000),
    gop: int = 50,
    audio: bool = False,
) -> Path:
    """Encode one frame per entry of `times` (seconds; explicit pts, so variable frame rate works).

    Frame i shows index i. `rate` is the nominal rate written in the header.
    """
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.codec_context.gop_size = gop
        stream.options = {"crf": "12", "preset": "ultrafast", "bf": "0"}
        audio_stream = container.add_stream("mp2", rate=16000) if audio else None
        for index, seconds in enumerate(times):
            frame = av.VideoFrame.from_ndarray(index_frame(index, width, height), format="rgb24")
            frame.pts = int(round(float(seconds) / time_base))
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio_stream is not None:
            _write_silence(container, audio_stream, float(times[-1]) if len(times) else 0.0)
    return path


def constant_rate_times(fps: float, seconds: float) -> np.ndarray:
    return np.arange(int(round(fps * seconds))) / fps


def variable_rate_times(seconds: float, seed: int = 0) -> np.ndarray:
    """Frame times with gaps from 10 ms to 0.9 s (longer than a 2 fps sample period), ms-rounded."""
    rng = np.random.default_rng(seed)
    gaps = rng.choice([0.01, 0.02, 0.04, 0.05, 0.1, 0.3, 0.9], size=int(seconds * 30) + 10)
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    return np.round(times[times < seconds], 3)


def write_audio_only(path: str | Path, seconds: float = 1.0) -> Path:
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mp2", rate=16000)
        _write_silence(container, stream, seconds)
    return path


def _write_silence(container, stream, seconds: float) -> None:
    samples = 1152
    for start in range(0, max(int(seconds * 16000), samples), samples):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 16000
        frame.pts = start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_with_long_audio(path: Path, video_seconds: float, audio_seconds: float, width: int = 398,
                          height: int = 224) -> Path:
    """A 25 fps video of index frames for `video_seconds` and silence for `audio_seconds`: the container lasts
    longer than the picture, so FrameCV's frame count check fails and it re-reads at a corrected rate,
    (frames + 1) / duration (as on SoccerNet's halves whose header says 25 fps)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "12", "preset": "ultrafast", "bf": "0"}
        audio = container.add_stream("mp2", rate=16000)
        for index in range(int(video_seconds * 25)):
            frame = av.VideoFrame.from_ndarray(index_frame(index, width, height), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        for start in range(0, int(audio_seconds * 16000), 1152):
            samples = av.AudioFrame.from_ndarray(np.zeros((1, 1152), dtype=np.int16), format="s16", layout="mono")
            samples.sample_rate, samples.pts = 16000, start
            for packet in audio.encode(samples):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return path
