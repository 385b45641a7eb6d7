"""Stream a synthetic broadcast to loopback at real speed, for `soccerspot live` to spot (see the README section "Live spotting").

    python scripts/live_broadcast.py --udp 23000            # MPEG-TS to udp://127.0.0.1:23000
    python scripts/live_broadcast.py --hls live_hls         # HLS segments + live_hls/live.m3u8
    python scripts/live_broadcast.py --file live_rec.ts     # a recording that grows as it is written

A half of `--minutes` (default 3) is rendered by `data.synthetic.broadcast.make_game` (its Labels-v2.json beside
it, under --work), then sent once at `--speed` x real time by the imageio-ffmpeg wheel's ffmpeg (UDP,
HLS) or written at that pace (file). Everything goes to 127.0.0.1 and stops at the end of the half.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from soccerspot.data.synthetic.broadcast import BroadcastConfig, make_game
from soccerspot.pipeline.live.broadcast import grow_file, send_udp, to_mpegts, write_hls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--udp", type=int, metavar="PORT", help="send MPEG-TS to udp://127.0.0.1:PORT")
    target.add_argument("--hls", metavar="FOLDER", help="write HLS segments and FOLDER/live.m3u8")
    target.add_argument("--file", metavar="FILE.ts", help="write a growing MPEG-TS recording")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--speed", type=float, default=1.0, help="times real speed (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="live_broadcast", help="folder for the rendered game (default live_broadcast)")
    args = parser.parse_args(argv)
    work = Path(args.work)
    duration = args.minutes * 60.0
    game = work / "game"
    if not (game / "1_224p.mkv").is_file():
        print(f"rendering a {args.minutes:g}-minute synthetic half into {game} ...", file=sys.stderr)
        make_game(game, args.seed, BroadcastConfig(duration_s=duration), halves=(1,))
    video = game / "1_224p.mkv"
    print(f"ground truth: {game / 'Labels-v2.json'}", file=sys.stderr)
    if args.udp is not None:
        print(f"sending to udp://127.0.0.1:{args.udp} at {args.speed:g}x real time", file=sys.stderr)
        return send_udp(to_mpegts(video, work / "half.ts"), args.udp, speed=args.speed).wait()
    if args.hls is not None:
        print(f"writing {Path(args.hls) / 'live.m3u8'} at {args.speed:g}x real time", file=sys.stderr)
        return write_hls(video, Path(args.hls), speed=args.speed).wait()
    print(f"writing {args.file} at {args.speed:g}x real time", file=sys.stderr)
    grow_file(to_mpegts(video, work / "half.ts"), Path(args.file), duration_s=duration, speed=args.speed).join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
