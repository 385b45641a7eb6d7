"""Benchmark `soccerspot extract`: streaming extraction vs the backbone alone vs the peers' decode-all-first.

On a synthetic 398x224, 25 fps H.264 video (10 minutes by default; made once and cached), with the same
backbone, precision and batch size in every phase:

  (a) backbone_only_fps: the backbone on sampled frames already in memory (the ceiling);
  (b) extract_fps: the full streaming extractor (decode thread + backbone, writes the .npy);
  (c) naive_fps: the peers' way - decode every frame of the video into RAM, pick every 12.5th by
      index, then run the backbone.

Each phase runs in its own subprocess so `peak_rss_mb` / `naive_peak_rss_mb` are that phase's own peak
(ru_maxrss).

A video backbone (`--backbone video:r2plus1d_18`) gets one clip per 2 fps row (`extract.clips`): (a) is the
backbone on those clips already in memory, (b) the full clip extraction (one sequential decode through the
ring buffer), and instead of (c) the script counts frames: `decoded_frames` (what (b) decoded),
`video_frames` (the video's frame count, from its packets) and `per_clip_decoded`, what decoding each clip
on its own would decode (from the keyframe at or before its first sample to its last sample: the least a
seek-per-clip reader must decode). `--rss-minutes 45` also runs (b) on a 45-minute video for its peak RSS. Also measured: how much CPU an open-but-idle decoder burns (`decord_idle_cpu`,
`pyav_idle_cpu`, in cores), the reason PyAV is the streaming default; `--compare-decoders` repeats (b)
with decord. Last line: one JSON object. Goal (issue 3): ratio = b / a >= 0.90 and peak_rss_mb < 2500
with resnet152.

    python scripts/bench_extract.py --backbone resnet152 --minutes 10
    python scripts/bench_extract.py --backbone timm:regnety_008 --compare-decoders
    python scripts/bench_extract.py --backbone video:r2plus1d_18 --minutes 2 --rss-minutes 45
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

WIDTH, HEIGHT, RATE = 398, 224, 25


def make_video(path: Path, minutes: float) -> Path:
    """A panning textured pitch with moving blobs: enough motion and detail for a realistic bitrate."""
    import av

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    texture = np.zeros((HEIGHT + 64, WIDTH * 3, 3), dtype=np.uint8)
    texture[..., 1] = 90 + (np.sin(np.arange(WIDTH * 3) / 23.0) * 30).astype(np.uint8)[None, :]
    texture[..., 0] = 40
    texture += rng.integers(0, 40, size=texture.shape, dtype=np.uint8)
    # Fresh grain every frame (from a pool) keeps the bitrate near SoccerNet's 224p files (~0.5 Mbit/s).
    grain = rng.integers(0, 24, size=(16, HEIGHT, WIDTH, 3), dtype=np.uint8)
    blobs = rng.uniform([0, 0], [WIDTH, HEIGHT], size=(12, 2))
    velocity = rng.normal(0, 2.0, size=(12, 2))
    partial = path.with_suffix(".partial.mkv")
    frames = int(minutes * 60 * RATE)
    began = time.perf_counter()
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.gop_size = 250  # as SoccerNet's 224p files
        stream.options = {"preset": "veryfast", "crf": "22"}
        for index in range(frames):
            shift = int(200 + 180 * np.sin(index / 400.0))
            frame = texture[(index // 7) % 64 : (index // 7) % 64 + HEIGHT, shift : shift + WIDTH] + grain[index % 16]
            blobs[:] = (blobs + velocity) % [WIDTH, HEIGHT]
            for x, y in blobs.astype(int):
                frame[max(0, y - 6) : y + 6, max(0, x - 3) : x + 3] = (230, 230, 230)
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)
    print(f"made {path} ({frames} frames, {path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - began:.1f} s",
          file=sys.stderr)
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build(args):
    from soccerspot.extract.extractor import ExtractConfig, Extractor

    config = ExtractConfig(
        backbone=args.backbone, weights="none", batch_size=args.batch_size, precision=args.precision,
        decoder=args.decoder, progress=False, device=args.device,
    )
    extractor = Extractor(config)
    if extractor.is_clip:  # same warm-up in every phase
        import torch

        side = extractor.input_size
        extractor.forward(torch.zeros((extractor.clip_batch_size, extractor.backbone.clip_frames, 3, side, side),
                                      dtype=torch.uint8))
        return extractor
    warm = np.zeros((args.batch_size, HEIGHT, WIDTH, 3), dtype=np.uint8)
    from soccerspot.extract.decode import FrameBatch

    extractor.forward(extractor._prepare(FrameBatch(warm, np.zeros(args.batch_size)))[0])
    return extractor


def clips_in_memory(extractor, video: str) -> list:
    from soccerspot.extract.clips import clip_offsets, iter_clips
    from soccerspot.extract.decode import probe

    offsets = clip_offsets(extractor.backbone.clip_frames, extractor.backbone.clip_fps)
    return [batch.clips for batch in iter_clips(probe(video), fps=2.0, offsets=offsets, prepare=extractor._prepare_frames,
                                                batch_size=extractor.clip_batch_size)]


def phase_backbone(args) -> dict:
    from soccerspot.extract.decode import iter_frames

    extractor = build(args)
    if extractor.is_clip:
        prepared = clips_in_memory(extractor, args.video)
    else:
        prepared = [extractor._prepare(batch)[0] for batch in iter_frames(args.video, fps=2.0, batch_size=args.batch_size)]
    frames = sum(len(images) for images in prepared)
    began, cpu = time.perf_counter(), time.process_time()
    for images in prepared:
        extractor.forward(images)
    _sync(extractor)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds, "cpu_s_per_frame": cpu / frames,
            "peak_rss_mb": peak_rss_mb(),
            "precision": extractor.precision, "device": str(extractor.device)}


def phase_extract(args) -> dict:
    extractor = build(args)
    with tempfile.TemporaryDirectory() as out:
        began, cpu = time.perf_counter(), time.process_time()
        result = extractor.extract(args.video, Path(out), 1)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    stats = extractor.clip_stats
    return {"frames": result.frames, "seconds": seconds, "fps": result.frames / seconds,
            "cpu_s_per_frame": cpu / result.frames, "peak_rss_mb": peak_rss_mb(),
            "decoded_frames": stats.decoded_frames, "converted_frames": stats.converted_frames,
            "peak_buffered_frames": stats.peak_buffered}


def decode_counts(video: str, backbone: str, rows: np.ndarray) -> dict:
    """The video's frame count, and what decoding each row's clip on its own would decode."""
    import av

    from soccerspot.extract.clips import clip_indices, clip_offsets
    from soccerspot.models.backbones import backbone_entry

    with av.open(video) as container:
        stream = container.streams.video[0]
        packets = [(float(p.pts * p.time_base), p.is_keyframe) for p in container.demux(stream) if p.pts is not None and p.size]
    packets.sort()
    times = np.array([t for t, _ in packets]) - packets[0][0]
    keyframes = np.flatnonzero([key for _, key in packets])
    entry = backbone_entry(backbone)
    span = clip_indices(times, rows, clip_offsets(entry.clip_frames, entry.clip_fps))
    first_key = keyframes[np.searchsorted(keyframes, span[:, 0], side="right") - 1]
    return {"video_frames": len(times), "per_clip_decoded": int((span[:, -1] - first_key + 1).sum())}


def phase_naive(args) -> dict:
    import av

    from soccerspot.extract.decode import FrameBatch

    extractor = build(args)
    began = time.perf_counter()
    with av.open(args.video) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        every_frame = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    decoded = time.perf_counter() - began
    picks = (np.arange(int(len(every_frame) * 2.0 / RATE)) * RATE / 2.0).astype(int)  # by index, as the peers
    for begin in range(0, len(picks), args.batch_size):
        batch = np.stack([every_frame[i] for i in picks[begin : begin + args.batch_size]])
        extractor.forward(extractor._prepare(FrameBatch(batch, np.zeros(len(batch))))[0])
    _sync(extractor)
    seconds = time.perf_counter() - began
    return {"frames": len(picks), "seconds": seconds, "decode_seconds": decoded, "fps": len(picks) / seconds,
            "peak_rss_mb": peak_rss_mb()}


def phase_idle(args) -> dict:
    """CPU burnt by an open decoder while nobody reads from it (cores, over 3 s)."""
    import av
    import decord

    result = {}
    reader = decord.VideoReader(args.video, ctx=decord.cpu(0))
    reader.get_batch([0, 12, 24])
    result["decord_idle_cpu"] = _cpu_while_sleeping(3.0)
    del reader
    container = av.open(args.video)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    frames = container.decode(stream)
    for _ in range(30):
        next(frames)
    result["pyav_idle_cpu"] = _cpu_while_sleeping(3.0)
    container.close()
    return result


def _cpu_while_sleeping(seconds: float) -> float:
    before = time.process_time()
    time.sleep(seconds)
    return round((time.process_time() - before) / seconds, 3)


def _sync(extractor) -> None:
    if extractor.device.type == "cuda":
        import torch

        torch.cuda.synchronize()


PHASES = {"backbone": phase_backbone, "extract": phase_extract, "naive": phase_naive, "idle": phase_idle}


def run_phase(name: str, args, **overrides) -> dict:
    command = [sys.executable, __file__, "--phase", name, "--video", args.video, "--backbone", args.backbone,
               "--batch-size", str(args.batch_size), "--precision", args.precision, "--device", args.device,
               "--decoder", overrides.get("decoder", args.decoder)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    result = json.loads(output.stdout.strip().splitlines()[-1])
    print(f"  {name} ({overrides or ''}): {json.dumps(result)}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet152")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--decoder", default="pyav")
    parser.add_argument("--video", default=None, help="use this video instead of the synthetic one")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "soccerspot_bench_extract"))
    parser.add_argument("--compare-decoders", action="store_true", help="also run (b) with decord")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--repeats", type=int, default=2,
                        help="alternate (a) and (b) this many times; medians are reported (the machine is shared)")
    parser.add_argument("--rss-minutes", type=float, default=None,
                        help="also run the full extraction once on a video this long, for its peak RSS")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return
    if args.video is None:
        args.video = str(make_video(Path(args.workdir) / f"synthetic_{args.minutes:g}min_398x224.mkv", args.minutes))
    load = os.getloadavg()[0]
    print(f"bench_extract: {args.backbone}, batch {args.batch_size}, {args.video}; load average {load:.1f} "
          f"on {os.cpu_count()} cores", file=sys.stderr)
    video_backbone = args.backbone.startswith("video:")
    idle = {} if video_backbone else run_phase("idle", args)
    backbone_runs, extract_runs = [], []
    for _ in range(max(1, args.repeats)):  # alternated, so load changes hit both sides alike
        backbone_runs.append(run_phase("backbone", args))
        extract_runs.append(run_phase("extract", args))
    backbone_fps = float(np.median([run["fps"] for run in backbone_runs]))
    extract_fps = float(np.median([run["fps"] for run in extract_runs]))
    summary = {
        "backbone": args.backbone, "minutes": args.minutes, "batch_size": args.batch_size,
        "precision": backbone_runs[0]["precision"], "device": backbone_runs[0]["device"], "decoder": args.decoder,
        "frames": extract_runs[0]["frames"], "repeats": len(extract_runs),
        "video_mbit_s": round(Path(args.video).stat().st_size * 8 / 1e6 / (args.minutes * 60), 2),
        "backbone_only_fps": round(backbone_fps, 2), "extract_fps": round(extract_fps, 2),
        "ratio": round(extract_fps / backbone_fps, 3),
        "peak_rss_mb": round(max(run["peak_rss_mb"] for run in extract_runs), 1),
        "backbone_only_fps_runs": [round(run["fps"], 2) for run in backbone_runs],
        "extract_fps_runs": [round(run["fps"], 2) for run in extract_runs],
        "backbone_only_peak_rss_mb": round(max(run["peak_rss_mb"] for run in backbone_runs), 1),
        # CPU-seconds per frame are less distorted by other processes than wall-clock rates: their ratio
        # estimates what `ratio` would be on an otherwise idle machine.
        "backbone_only_cpu_s_per_frame": round(float(np.median([r["cpu_s_per_frame"] for r in backbone_runs])), 4),
        "extract_cpu_s_per_frame": round(float(np.median([r["cpu_s_per_frame"] for r in extract_runs])), 4),
    }
    summary["cpu_ratio"] = round(summary["backbone_only_cpu_s_per_frame"] / summary["extract_cpu_s_per_frame"], 3)
    if args.compare_decoders:
        other = "decord" if args.decoder == "pyav" else "pyav"
        compared = run_phase("extract", args, decoder=other)
        summary[f"extract_fps_{other}"] = round(compared["fps"], 2)
        summary[f"ratio_{other}"] = round(compared["fps"] / backbone_fps, 3)
        summary[f"peak_rss_mb_{other}"] = round(compared["peak_rss_mb"], 1)
    if video_backbone:
        from soccerspot.extract.decode import iter_frames

        rows = np.concatenate([b.times for b in iter_frames(args.video, fps=2.0)])
        summary.update(decode_counts(args.video, args.backbone, rows))
        summary.update({key: extract_runs[0][key] for key in ("decoded_frames", "converted_frames", "peak_buffered_frames")})
        summary["clips_per_s"] = summary["extract_fps"]
    elif not args.skip_naive:
        naive = run_phase("naive", args)
        summary.update({"naive_fps": round(naive["fps"], 2), "naive_peak_rss_mb": round(naive["peak_rss_mb"], 1),
                        "naive_decode_seconds": round(naive["decode_seconds"], 1)})
    if args.rss_minutes:
        long_video = make_video(Path(args.workdir) / f"synthetic_{args.rss_minutes:g}min_398x224.mkv", args.rss_minutes)
        long_run = run_phase("extract", argparse.Namespace(**{**vars(args), "video": str(long_video)}))
        summary.update({f"peak_rss_mb_{args.rss_minutes:g}min": round(long_run["peak_rss_mb"], 1),
                        f"frames_{args.rss_minutes:g}min": long_run["frames"],
                        f"extract_fps_{args.rss_minutes:g}min": round(long_run["fps"], 2)})
        if video_backbone:
            summary[f"decoded_frames_{args.rss_minutes:g}min"] = long_run["decoded_frames"]
            summary[f"peak_buffered_frames_{args.rss_minutes:g}min"] = long_run["peak_buffered_frames"]
    summary.update(idle)
    summary["load_average_before"] = round(load, 2)
    summary["load_average_after"] = round(os.getloadavg()[0], 2)
    print(f"streaming extraction runs at {summary['ratio']:.0%} of the backbone alone; peak RSS "
          f"{summary['peak_rss_mb']:.0f} MB" + (f" vs {summary['naive_peak_rss_mb']:.0f} MB decoding everything first"
                                               if "naive_peak_rss_mb" in summary else ""))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
