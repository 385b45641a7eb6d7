"""How long `soccerspot view` takes to make a browser-playable copy of a Matroska half (packets copied into
MP4, nothing re-encoded), the one wait before a `.mkv` half plays.

    python scripts/bench_view_remux.py [--minutes 45]

A synthetic 2-minute 224p half (the demo's renderer) is repeated packet for packet into a half of the asked
length, then remuxed as the server does. Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path


def long_half(source: Path, target: Path, repeats: int) -> None:
    import av

    with av.open(str(source)) as inp:
        packets = [p for p in inp.demux(video=0) if p.dts is not None]
        stream = inp.streams.video[0]
        span = packets[-1].pts + packets[-1].duration - packets[0].pts if packets[-1].duration else None
        with av.open(str(target), "w", format="matroska") as out:
            copy = out.add_stream_from_template(stream)
            step = span or (packets[-1].pts - packets[0].pts + 1)
            for r in range(repeats):
                for packet in packets:
                    packet.pts += step if r else 0
                    packet.dts += step if r else 0
                    packet.stream = copy
                    out.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=45.0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-remux-"))
    try:
        measure(folder, args.minutes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(folder: Path, minutes: float) -> None:
    from soccerspot.data.synthetic.broadcast import BroadcastConfig, make_game
    from soccerspot.pipeline.view.media import remux

    make_game(folder / "game", seed=0, config=BroadcastConfig(duration_s=120.0), halves=(1,))
    half = folder / "half.mkv"
    long_half(folder / "game" / "1_224p.mkv", half, max(1, round(minutes / 2)))
    began = time.perf_counter()
    remux(half, folder / "half.mp4")
    seconds = time.perf_counter() - began
    size = half.stat().st_size / 1e6
    print(json.dumps({"minutes": round(minutes), "mkv_mb": round(size, 1), "remux_s": round(seconds, 2),
                      "mb_per_s": round(size / seconds, 1), "realtime_factor": round(minutes * 60 / seconds)}))


if __name__ == "__main__":
    main()
