"""A broadcast to try `soccerspot live` on one machine: a video sent at (a multiple of) real speed to loopback.

- `grow_file`: copies a recording (MPEG-TS) into a file at the pace of its stream time, as a recorder
  writes it (optionally pausing, to make a stall);
- `send_udp` / `write_hls`: the ffmpeg of the `imageio-ffmpeg` wheel reads the video at `speed` x real
  time (`-readrate`) and sends it, stream-copied, as MPEG-TS to `udp://127.0.0.1:PORT` or writes HLS
  segments and a live playlist into a folder.

Traffic goes to 127.0.0.1 only, and each sender stops at the end of its (finite) video.
"""
from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def to_mpegts(video: Path, out: Path) -> Path:
    """Remux (no re-encoding) a video to MPEG-TS, the container recorders and UDP senders write."""
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(video), "-c", "copy", "-f", "mpegts", str(out)],
                   check=True)
    return out


def _reader(video: Path, speed: float, start_s: float = 0.0) -> list[str]:
    seek = ["-ss", f"{start_s:.3f}"] if start_s else []
    return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-readrate", f"{speed:g}", *seek, "-i", str(video),
            "-map", "0:v:0", "-c", "copy"]


def send_udp(video: Path, port: int, speed: float = 1.0, start_s: float = 0.0) -> subprocess.Popen:
    """Send `video` as MPEG-TS over UDP to 127.0.0.1:port at `speed` x real time (from `start_s`)."""
    return subprocess.Popen([*_reader(video, speed, start_s), "-f", "mpegts", f"udp://127.0.0.1:{int(port)}?pkt_size=1316"])


def write_hls(video: Path, folder: Path, speed: float = 1.0, segment_s: float = 2.0) -> subprocess.Popen:
    """Write `video` as a live HLS playlist `folder/live.m3u8` (segments kept) at `speed` x real time."""
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([*_reader(video, speed), "-f", "hls", "-hls_time", f"{segment_s:g}", "-hls_list_size", "0",
                             "-hls_flags", "independent_segments", str(folder / "live.m3u8")])


def grow_file(source: Path, target: Path, *, duration_s: float, speed: float = 1.0,
              pause_at: float | None = None, pause_s: float = 0.0, chunk: int = 1 << 14) -> threading.Thread:
    """Copy `source` into `target` at `speed` x real time (bytes spread evenly over `duration_s` of stream),
    pausing `pause_s` seconds once `pause_at` of the stream is written. Returns the running thread."""
    data = source.read_bytes()
    per_second = len(data) / duration_s * speed

    def write() -> None:
        began, paused = time.monotonic(), False
        with open(target, "wb") as handle:
            for offset in range(0, len(data), chunk):
                if pause_at is not None and not paused and offset >= pause_at / duration_s * len(data):
                    handle.flush()
                    time.sleep(pause_s)
                    began += pause_s
                    paused = True
                delay = began + offset / per_second - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                handle.write(data[offset : offset + chunk])
                handle.flush()

    target.write_bytes(b"")
    thread = threading.Thread(target=write, name="soccerspot-grow-file", daemon=True)
    thread.start()
    return thread
