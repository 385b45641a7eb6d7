"""Benchmark the `ResNET_TF2` recipe: end-to-end throughput against soccerspot's torchvision resnet152
extraction on the same video, its peak RSS on a long half, and the official FrameCV's peak memory beside it.

Phases, each in its own subprocess (so each `ru_maxrss` is that phase's own peak):

  (a) tf2_fps: `ResNET_TF2` (FrameCV's frame rule, INTER_AREA + crop, Keras's ResNet152 in PyTorch) on a
      `--minutes` video, frames per second of the whole chain (decode thread + network + .npy);
  (b) torchvision_fps: `extract --backbone resnet152` (2 fps by timestamp, crop) on the same video - the same
      multiply-adds per row (ResNet-152 v1 either way), so the goal is ratio = a / b >= 0.95;
  (c) peak_rss_mb: (a) on a `--rss-minutes` video (45: one SoccerNet half; goal < 2500 MB);
  (d) official_peak_rss_mb: the official chain's memory on that same video: `FrameCV(FPS=2,
      transform="crop")` then `preprocess_input` (its float32 copy of every kept frame), as the DevKit's
      `VideoFeatureExtractor` holds them before `predict`; the network is not run there (`predict` would only add
      to it), so this is a lower bound of the official peak. Needs the SoccerNet package with cv2 / imutils /
      moviepy 1.x (the dev extra) and keras (for `preprocess_input`, `KERAS_BACKEND=torch`).

(a) and (b) alternate `--repeats` times; the medians are reported (the runs too), and `cpu_ratio`, the same
ratio in CPU seconds per row (steadier than wall time where other jobs share the machine). Random weights (`keras_resnet152` and `resnet152` with weights=none): speed does not depend on the values.
Last line: one JSON object with `tf2_fps`, `torchvision_fps`, `ratio`, `peak_rss_mb`, `official_peak_rss_mb`.

    python scripts/bench_official_features.py                         # 5-minute throughput video, 45-minute RSS video
    python scripts/bench_official_features.py --minutes 1 --rss-minutes 5 --device cpu
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def extractor_for(args):
    from soccerspot.extract.extractor import ExtractConfig, Extractor
    from soccerspot.extract.recipes import RESNET_TF2, recipe_config
    from soccerspot.models.backbones import create_backbone

    settings = dict(device=args.device, precision=args.precision, batch_size=args.batch_size, progress=False)
    if args.which == "tf2":
        backbone = create_backbone("keras_resnet152", weights="none")
        backbone.mean, backbone.std = RESNET_TF2.pixels.mean, RESNET_TF2.pixels.std
        return Extractor(recipe_config(RESNET_TF2, weights_file="none", **settings), backbone=backbone)
    return Extractor(ExtractConfig(backbone="resnet152", weights="none", fps=2.0, transform="crop", **settings))


def phase_extract(args) -> dict:
    extractor = extractor_for(args)
    out = Path(tempfile.mkdtemp(prefix="bench_official_"))
    began, cpu_began = time.perf_counter(), cpu_seconds()
    result = extractor.extract(args.video, out, 1)
    seconds = time.perf_counter() - began
    return {"frames": result.frames, "seconds": seconds, "fps": result.frames / seconds, "peak_rss_mb": peak_rss_mb(),
            "cpu_seconds": cpu_seconds() - cpu_began, "precision": extractor.precision, "device": str(extractor.device)}


def cpu_seconds() -> float:
    """This process's CPU time (all threads): on a machine other jobs load, CPU time per row compares two
    extractors more steadily than wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase_official(args) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import SoccerNet.DataLoader as loader
    from keras.applications.resnet import preprocess_input

    began = time.perf_counter()
    grabbed = loader.FrameCV(args.video, FPS=2, transform="crop")
    frames = preprocess_input(grabbed.frames)  # the DevKit's call: a float32 copy of every kept frame
    return {"frames": int(len(frames)), "seconds": time.perf_counter() - began, "peak_rss_mb": peak_rss_mb()}


def run_phase(name: str, args, video: Path, which: str = "") -> dict:
    command = [sys.executable, __file__, "--phase", name, "--video", str(video), "--which", which,
               "--device", args.device, "--precision", args.precision, "--batch-size", str(args.batch_size)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(output.stdout.strip().splitlines()[-1])


def cpu_per_row(results: list[dict]) -> float:
    """Median CPU seconds per row over the runs."""
    values = sorted(result["cpu_seconds"] / result["frames"] for result in results)
    return values[(len(values) - 1) // 2]


def median_run(results: list[dict]) -> dict:
    ordered = sorted(results, key=lambda result: result["fps"])
    return ordered[(len(ordered) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="throughput video length (default 5)")
    parser.add_argument("--rss-minutes", type=float, default=45.0, help="peak-RSS video length (default 45: a half)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="alternated runs of (a) and (b); medians (default 3)")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "soccerspot_bench"),
                        help="where the synthetic videos are made once and kept")
    parser.add_argument("--skip-official", action="store_true", help="do not measure the official FrameCV's memory")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--video", help=argparse.SUPPRESS)
    parser.add_argument("--which", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps({"extract": phase_extract, "official": phase_official}[args.phase](args)))
        return

    from bench_extract import make_video

    cache = Path(args.cache)
    short = make_video(cache / f"pitch_{args.minutes:g}min.mp4", args.minutes)
    long = make_video(cache / f"pitch_{args.rss_minutes:g}min.mp4", args.rss_minutes)
    runs: dict[str, list[dict]] = {"tf2": [], "torchvision": []}
    for repeat in range(args.repeats):  # alternated, so a change in the machine's load hits both sides
        for which in ("tf2", "torchvision"):
            result = run_phase("extract", args, short, which)
            runs[which].append(result)
            print(f"({'a' if which == 'tf2' else 'b'}) {which} run {repeat + 1}: {result['frames']} rows in "
                  f"{result['seconds']:.1f} s = {result['fps']:.2f} frames/s ({result['precision']} on {result['device']}, "
                  f"peak RSS {result['peak_rss_mb']:.0f} MB)", file=sys.stderr)
    tf2 = median_run(runs["tf2"])
    tv = median_run(runs["torchvision"])
    rss = run_phase("extract", args, long, "tf2")
    print(f"(c) ResNET_TF2 on {args.rss_minutes:g} min: {rss['frames']} rows, peak RSS {rss['peak_rss_mb']:.0f} MB "
          f"({rss['fps']:.2f} frames/s)", file=sys.stderr)
    official = None
    if not args.skip_official:
        official = run_phase("official", args, long)
        print(f"(d) official FrameCV + preprocess_input on {args.rss_minutes:g} min: {official['frames']} frames, peak "
              f"RSS {official['peak_rss_mb']:.0f} MB (before predict)", file=sys.stderr)
    print(json.dumps({
        "tf2_fps": round(tf2["fps"], 3), "torchvision_fps": round(tv["fps"], 3), "ratio": round(tf2["fps"] / tv["fps"], 3),
        "peak_rss_mb": round(rss["peak_rss_mb"], 1), "torchvision_peak_rss_mb": round(tv["peak_rss_mb"], 1),
        "cpu_ratio": round(cpu_per_row(runs["torchvision"]) / cpu_per_row(runs["tf2"]), 3),
        "tf2_cpu_s_per_row": round(cpu_per_row(runs["tf2"]), 3),
        "torchvision_cpu_s_per_row": round(cpu_per_row(runs["torchvision"]), 3),
        "tf2_fps_runs": [round(r["fps"], 3) for r in runs["tf2"]],
        "torchvision_fps_runs": [round(r["fps"], 3) for r in runs["torchvision"]],
        "official_peak_rss_mb": round(official["peak_rss_mb"], 1) if official else None,
        "rows": {"tf2": tf2["frames"], "torchvision": tv["frames"], "rss_video": rss["frames"],
                 "official": official["frames"] if official else None},
        "minutes": args.minutes, "rss_minutes": args.rss_minutes, "precision": tf2["precision"], "device": tf2["device"],
        "batch_size": args.batch_size, "repeats": args.repeats,
    }))


if __name__ == "__main__":
    main()
