"""Half videos for the browser: byte ranges of the file as it is, or of a remuxed copy.

Browsers play MP4 (H.264/AAC) and WebM (VP8/VP9/AV1, Opus/Vorbis) but not Matroska, SoccerNet's container.
A `.mkv` is remuxed once (packets copied, nothing re-encoded: 0.5 s for a 45-minute 224p half of 217 MB,
`scripts/bench_view_remux.py`) into a temporary MP4 (or WebM for VP8/VP9/AV1), then served like any file,
so the player can seek anywhere with range requests; a stream generated per request could not be seeked
before it had been sent up to there.
"""
from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass
from pathlib import Path

PLAYABLE_AS_IS = {".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mov": "video/mp4"}
MP4_CODECS = {"h264", "hevc", "aac", "mp3"}
WEBM_CODECS = {"vp8", "vp9", "av1", "opus", "vorbis"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ValueError):
    """A Range header that cannot be served (416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte, inclusive, of a single `bytes=` range; None for no header (whole file).
    Multiple ranges, malformed headers and ranges past the end raise `RangeNotSatisfiable`."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        raise RangeNotSatisfiable(f"unsupported Range {header[:80]!r} (one 'bytes=first-last' range)")
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable("empty suffix range")
        return max(0, size - count), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(f"range {header[:80]!r} outside a file of {size} bytes")
    return start, end


@dataclass(frozen=True)
class VideoInfo:
    duration: float | None
    fps: float
    codecs: tuple[str, ...]
    problem: str | None = None  # why the browser cannot play it, if so


def probe(path: Path) -> VideoInfo:
    import av

    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0] if container.streams.video else None
            fps = float(video.average_rate) if video is not None and video.average_rate else 25.0
            duration = container.duration / 1e6 if container.duration else None
            codecs = tuple(s.codec_context.name for s in container.streams if s.type in ("video", "audio"))
    except (OSError, av.error.FFmpegError, IndexError) as error:
        return VideoInfo(None, 25.0, (), f"cannot read the video: {error}")
    if video is None:
        return VideoInfo(duration, fps, codecs, "no video stream")
    if path.suffix.lower() not in PLAYABLE_AS_IS and remux_format(codecs) is None:
        return VideoInfo(duration, fps, codecs, f"codec {codecs[0]} needs re-encoding for a browser, e.g. "
                                                f"ffmpeg -i '{path.name}' -c:v libx264 -c:a aac {path.stem}.mp4")
    return VideoInfo(duration, fps, codecs)


def remux_format(codecs: tuple[str, ...]) -> str | None:
    """'mp4' or 'webm' for the video codec; None when no browser container takes it as it is."""
    if not codecs:
        return None
    if codecs[0] in MP4_CODECS - {"aac", "mp3"}:
        return "mp4"
    if codecs[0] in WEBM_CODECS - {"opus", "vorbis"}:
        return "webm"
    return None


def remux(source: Path, target: Path) -> None:
    """Copy the video stream (and audio the target container takes) into `target`, no re-encoding."""
    import av

    with av.open(str(source)) as inp:
        video = inp.streams.video[0]
        kind = remux_format((video.codec_context.name,))
        keep = {"mp4": MP4_CODECS, "webm": WEBM_CODECS}[kind]
        streams = [video] + [s for s in inp.streams.audio[:1] if s.codec_context.name in keep]
        options = {"movflags": "+faststart"} if kind == "mp4" else {}
        tmp = target.with_name(target.name + ".part")
        with av.open(str(tmp), "w", format=kind, options=options) as out:
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            for packet in inp.demux(streams):
                if packet.dts is None:  # the demuxer's flush packet
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
        tmp.replace(target)


class RemuxCache:
    """Remuxed copies in a private temporary folder, made once per source (size and mtime) and reused."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._locks: dict[Path, threading.Lock] = {}
        self._made: dict[tuple, tuple[Path, str]] = {}  # (source, size, mtime) -> (copy, MIME type)
        self._names = itertools.count()
        self._guard = threading.Lock()

    def playable(self, source: Path) -> tuple[Path, str]:
        """(file to serve, MIME type) for `source`."""
        mime = PLAYABLE_AS_IS.get(source.suffix.lower())
        if mime is not None:
            return source, mime
        stat = source.stat()
        key = (source, stat.st_size, stat.st_mtime_ns)
        with self._guard:
            if key in self._made and self._made[key][0].is_file():  # every range request of a half lands here
                return self._made[key]
            lock = self._locks.setdefault(source, threading.Lock())
        with lock:
            if key in self._made and self._made[key][0].is_file():
                return self._made[key]
            info = probe(source)
            kind = remux_format(info.codecs)
            if info.problem or kind is None:
                raise ValueError(info.problem or "no browser container for this codec")
            with self._guard:
                target = self.folder / f"{next(self._names)}.{kind}"
            remux(source, target)
            with self._guard:
                self._made[key] = (target, f"video/{kind}")
            return self._made[key]
