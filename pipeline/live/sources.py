"""Live sources: a growing recording followed until idle, an HLS playlist, or a stream URL, as timed frames.

- A file (MPEG-TS or Matroska as recorders write them) is read through `FollowedFile`, a non-seekable
  reader that waits at the end of the file for it to grow, and ends once it has not grown for `idle_s`
  seconds or `stop` is set (Ctrl-C / SIGTERM). PyAV demuxes it as a stream.
- An HLS playlist (`.m3u8` on disk or over http(s)): FFmpeg's HLS demuxer reloads a live playlist and
  reads new segments as they appear, from the first one (`live_start_index=0`), and ends at
  `#EXT-X-ENDLIST` or after `idle_s` without data.
- Any other URL PyAV/FFmpeg opens (udp, srt, rtmp, rtsp, ...): read until nothing arrived for `idle_s`
  (before its first frame: opened again until `start_wait_s`, 60 s); a sender restarted within `idle_s`
  is read on the same socket (its clock jump is a discontinuity). Ctrl-C is seen within `idle_s`.

Times: seconds from the first frame's presentation time, as `extract.decode` (no `index / 25`). A
stream's timestamps may jump (a UDP sender restarted starts its clock again; a reopened source): a jump
back, or forward by more than `max_jump_s`, is a *discontinuity*: later frames are shifted to continue one
frame after the last one, and a `Gap` records it. Waiting for data for more than `stall_s` is a *stall*,
recorded too. Frames keep coming after either: the source waits and goes on.
"""
from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from soccerspot.errors import DataError
from soccerspot.extract.framecv import stream_fps

POLL_S = 0.05
READ_TIMEOUT_S = 1.0
HLS_READ_TIMEOUT_S = 15.0
STALL_CONFIRM_PACKETS = 8
UDP_BUFFER_BYTES = 4 << 20  # the socket's receive buffer (the kernel caps it at net.core.rmem_max)


def source_kind(spec: str) -> str:
    """"hls" (a .m3u8 path or URL), "url" (any other scheme://), or "file"."""
    if spec.split("?", 1)[0].lower().endswith(".m3u8"):
        return "hls"
    if "://" in spec and not spec.startswith("file://"):
        return "url"
    return "file"


@dataclass
class Gap:
    """Where the source stopped delivering (stall) or its clock jumped (discontinuity)."""

    kind: str  # "stall" | "discontinuity" | "reconnect"
    stream_time_s: float  # time of the last frame before it
    wall_s: float  # seconds of waiting (stall, reconnect) or of the clock jump (discontinuity)

    def to_json(self) -> dict:
        return {"kind": self.kind, "stream_time": round(self.stream_time_s, 3), "seconds": round(self.wall_s, 3)}


class FollowedFile(io.RawIOBase):
    """Reads a file that is still being written: at its end, waits for more until idle or stopped."""

    def __init__(self, path: Path, idle_s: float, stop: threading.Event, stall_s: float = 2.0):
        super().__init__()
        self.path, self.idle_s, self.stop, self.stall_s = path, idle_s, stop, stall_s
        self.handle = open(path, "rb")
        self.stalls: list[float] = []  # waits longer than stall_s after which the file grew again

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 1 << 16 if size is None or size < 0 else size
        began = None
        while True:
            data = self.handle.read(size)
            if data:
                if began is not None and time.monotonic() - began >= self.stall_s:
                    self.stalls.append(time.monotonic() - began)
                return data
            if self.stop.is_set():
                return b""
            began = began if began is not None else time.monotonic()
            if time.monotonic() - began >= self.idle_s:
                return b""
            time.sleep(POLL_S)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.handle.close()
        super().close()


class LiveSource:
    """Timed PyAV video frames from a live source (see the module docstring)."""

    def __init__(self, spec: str, *, idle_s: float, stop: threading.Event, stall_s: float = 2.0,
                 max_jump_s: float = 5.0, continue_after: float | None = None, start_wait_s: float = 60.0):
        self.spec, self.kind = spec, source_kind(spec)
        self.idle_s, self.stop, self.stall_s, self.max_jump_s = idle_s, stop, stall_s, max_jump_s
        self.continue_after = continue_after  # resuming a live URL: first frame at this time
        self.start_wait_s = start_wait_s  # a URL may start sending after live started: wait this long for it
        self.gaps: list[Gap] = []
        self.average_fps: float | None = None
        self.header_fps: float | None = None  # FrameCV's rate: the first opening's (`extract.framecv.stream_fps`)
        self.last_time: float | None = None
        self.last_arrival: float | None = None  # time.time() of the latest frame
        if self.kind == "file":
            path = Path(spec[7:] if spec.startswith("file://") else spec)
            if not path.exists():
                raise DataError(path, "file not found (a live recording must exist when live starts)")
            if path.is_dir():
                raise DataError(path, "is a folder, not a video file or playlist")
            self.path = path
        elif self.kind == "hls" and "://" not in spec and not Path(spec).is_file():
            raise DataError(spec, "playlist not found")

    @property
    def name(self) -> str:
        return Path(self.spec.split("?", 1)[0]).name

    def _open(self):
        import av

        try:
            if self.kind == "file":
                self.reader = FollowedFile(self.path, self.idle_s, self.stop, self.stall_s)
                return av.open(self.reader, mode="r", metadata_errors="ignore")
            options = {"live_start_index": "0", "m3u8_hold_counters": "1000000"} if self.kind == "hls" else {}
            if self.spec.startswith("udp://") and "buffer_size" not in self.spec:
                options["buffer_size"] = str(UDP_BUFFER_BYTES)  # seconds of stream while a backbone pass runs
            return av.open(self.spec, mode="r", options=options, timeout=(max(self.idle_s, 1.0), self._read_timeout()),
                           metadata_errors="ignore")
        except av.error.FFmpegError as error:
            raise DataError(self.spec, f"cannot open the source: {getattr(error, 'strerror', None) or error}") from None

    def _read_timeout(self) -> float:
        # FFmpeg's HLS demuxer waits a target duration between playlist reloads; a read timeout closes the
        # container for good (its error is sticky), and a reopened stream must wait for its next keyframe,
        # so a URL's reads wait for `idle_s` (a loaded machine must not be mistaken for a silent sender)
        return max(self.idle_s, HLS_READ_TIMEOUT_S) if self.kind == "hls" else max(self.idle_s, READ_TIMEOUT_S)

    def frames(self) -> Iterator[tuple[float, object]]:
        """(time s, av.VideoFrame) in presentation order, times strictly increasing."""
        origin, shift = None, 0.0
        pending: Gap | None = None
        waited_since = time.monotonic()
        while not self.stop.is_set():
            try:
                container = self._open()
            except DataError:
                patience = self.idle_s if self.last_time is not None else max(self.idle_s, self.start_wait_s)
                if self.kind == "url" and time.monotonic() - waited_since < patience:
                    time.sleep(POLL_S * 4)
                    continue
                if self.last_time is not None:
                    return  # the stream had started: it ended
                raise
            reopened = self.last_time is not None
            try:
                stream = container.streams.video[0] if container.streams.video else None
                if stream is None:
                    raise DataError(self.spec, "has no video stream")
                stream.thread_type = "AUTO"
                rate = stream.average_rate or stream.base_rate
                self.average_fps = self.average_fps or (float(rate) if rate else None)
                self.header_fps = self.header_fps if self.header_fps is not None else stream_fps(stream)
                for pts_time, frame, waits in self._decode(container, stream):
                    if origin is None:
                        origin = pts_time
                        if self.continue_after is not None:
                            shift = self.continue_after
                            self.gaps.append(Gap("reconnect", self.continue_after, 0.0))
                    time_s = pts_time - origin + shift
                    if self.last_time is not None:
                        step = 1.0 / (self.average_fps or 25.0)
                        if time_s <= self.last_time or time_s > self.last_time + self.max_jump_s:
                            if self.kind == "hls" and reopened and time_s <= self.last_time:
                                continue  # a reopened playlist replays what was read
                            jump = time_s - self.last_time
                            shift += self.last_time + step - time_s
                            time_s = self.last_time + step
                            self.gaps.append(Gap("discontinuity", self.last_time, jump))
                        for waited in self._stalls(waits):
                            self.gaps.append(Gap("stall", self.last_time, waited))
                    if pending is not None:
                        pending.wall_s = time.monotonic() - waited_since
                        self.gaps.append(pending)
                        pending = None
                    self.last_time, self.last_arrival = time_s, time.time()
                    waited_since = time.monotonic()
                    reopened = False
                    yield time_s, frame
            finally:
                container.close()
            if self.kind != "url" or time.monotonic() - waited_since >= self.idle_s:
                return
            pending = Gap("reconnect", self.last_time or 0.0, 0.0)  # recorded if frames come again

    def _stalls(self, waits: list[float]) -> list[float]:
        """Waits for data since the last frame: the file reader's own, else the demuxer's (`_decode`)."""
        if self.kind == "file":
            stalls, self.reader.stalls = self.reader.stalls, []
            return stalls
        return waits

    def _decode(self, container, stream) -> Iterator[tuple[float, object, list[float]]]:
        """(presentation time, frame, stalls) until the end of the stream or a read timeout. A wait longer
        than `stall_s` for a packet is a stall once a later read delivers a packet too: the demuxer hands
        over a stream's last packets only when the stream ends (a timeout), which is no stall: a stall counts
        once `STALL_CONFIRM_PACKETS` more packets came."""
        import av

        packets = container.demux(stream)
        pending: list[list] = []  # [seconds waited, packets read since]
        confirmed: list[float] = []
        while True:
            began = time.monotonic()
            try:
                packet = next(packets)
            except StopIteration:
                packet = None
            except (av.error.FFmpegError, OSError):  # a read timeout, a damaged packet at a stream's end
                packet = None
            if packet is not None and packet.size:
                for stall in pending:
                    stall[1] += 1
                confirmed += [waited for waited, count in pending if count >= STALL_CONFIRM_PACKETS]
                pending = [stall for stall in pending if stall[1] < STALL_CONFIRM_PACKETS]
                if time.monotonic() - began > self.stall_s:
                    pending.append([time.monotonic() - began, 0])
            try:
                frames = stream.decode(packet)  # None flushes the decoder's last frames
            except av.error.FFmpegError:
                frames = []
            for frame in frames:
                if frame.pts is not None:
                    yield float(frame.pts * (frame.time_base or stream.time_base)), frame, confirmed
                    confirmed = []
            if packet is None:
                return
