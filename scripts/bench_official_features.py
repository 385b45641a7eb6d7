"""Benchmark the `ResNET_TF2` recipe: end-to-end throughput against soccerspot's torchvision resnet152
extraction on the same video, its peak RSS against the video's length in each precision, and the official
FrameCV's peak memory beside it.

Phases, each in its own subprocess (so each `ru_maxrss` is that phase's own peak):

  (a) tf2_fps: `ResNET_TF2` (FrameCV's frame rule, INTER_AREA + crop, Keras's ResNet152 in PyTorch) on a
      `--minutes` video, frames per second of the whole chain (decode thread + network + .npy);
  (b) torchvision_fps: `extract --backbone resnet152` (2 fps by timestamp, crop) on the same video - the same
      multiply-adds per row (ResNet-152 v1 either way), so the goal is ratio = a / b >= 0.95;
  (c) peak_rss_mb: (a) on a video of each of `--rss-minutes` (5, 15, 45: 45 is one SoccerNet half; goal
      < 2500 MB) in each of `--rss-precisions` (fp32, bf16): `rss_by_minutes` (MB per precision and length)
      and `rss_growth_mb` (longest minus shortest, per precision): the memory must not grow with the
      length. `--rss-network short` runs (c) with a stand-in network: Keras's ResNet with one bottleneck
      block per stage, the same activation shapes as ResNet-152 at 1/9 of its multiply-adds (1.24 G vs
      11.3 G), to look at memory quickly (not the recipe's figure). `--per-batch-blocks` also runs (c)
      the way the extractor kept its rows before issue 30 (each batch's output its own block until the
      half was done), `rss_by_minutes_per_batch_blocks`;
  (d) official_peak_rss_mb: the official chain's memory on that same video: `FrameCV(FPS=2,
      transform="crop")` then `preprocess_input` (its float32 copy of every kept frame), as the DevKit's
      `VideoFeatureExtractor` holds them before `predict`; the network is not run there (`predict` would only add
      to it), so this is a lower bound of the official peak. Needs the SoccerNet package with cv2 / imutils /
      moviepy 1.x (the dev extra) and keras (for `preprocess_input`, `KERAS_BACKEND=torch`).

`peak_rss_mb` is (c)'s peak on the longest video in the first precision. (a) and (b) alternate `--repeats` times (`--repeats 0`: (c) and (d) only); the medians are reported (the runs too), and `cpu_ratio`, the same
ratio in CPU seconds per row (steadier than wall time where other jobs share the machine). Random weights (`keras_resnet152` and `resnet152` with weights=none): speed does not depend on the values.
Last line: one JSON object with `tf2_fps`, `torchvision_fps`, `ratio`, `peak_rss_mb`, `rss_by_minutes`,
`rss_growth_mb`, `official_peak_rss_mb`.

    python scripts/bench_official_features.py        # 5-minute throughput video; RSS at 5, 15, 45 min, fp32 and bf16
    python scripts/bench_official_features.py --minutes 1 --rss-minutes 5 --device cpu
    python scripts/bench_official_features.py --repeats 0 --skip-official --rss-network short --per-batch-blocks
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
        backbone = short_resnet() if args.rss_network == "short" else create_backbone("keras_resnet152", weights="none")
        backbone.mean, backbone.std = RESNET_TF2.pixels.mean, RESNET_TF2.pixels.std
        return Extractor(recipe_config(RESNET_TF2, weights_file="none", **settings), backbone=backbone)
    return Extractor(ExtractConfig(backbone="resnet152", weights="none", fps=2.0, transform="crop", **settings))


def short_resnet():
    """Keras's ResNet with one bottleneck block per stage: ResNet-152's activation shapes, a fraction of its work."""
    from soccerspot.models.backbones.keras_resnet import RESNET152_STAGES, KerasResNet
    from soccerspot.models.backbones.registry import Backbone

    body = KerasResNet(stages=tuple((name, width, 1, stride) for name, width, _, stride in RESNET152_STAGES))
    return Backbone(body, [["conv5"]], name="keras_resnet_short", feature_dim=body.feature_dim, weights_id="none")


class PerBatchBlocks:
    """The extractor's rows as they were kept before issue 30: one block per batch until the half was done."""

    def __init__(self, expected_rows: int, dim: int, device="cpu"):
        self.blocks, self.times, self.dim = [], [], dim

    def append(self, features, times) -> None:
        self.blocks.append(features)
        self.times.append(times)

    def result(self):
        import numpy as np
        import torch

        if not self.blocks:
            return np.zeros((0, self.dim), np.float32), np.zeros(0)
        return torch.cat(self.blocks).cpu().numpy(), np.concatenate(self.times)


def phase_extract(args) -> dict:
    if args.per_batch_blocks:
        from soccerspot.extract import extractor as extractor_module

        extractor_module.FeatureRows = PerBatchBlocks
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


def run_phase(name: str, args, video: Path, which: str = "", precision: str | None = None, network: str = "",
              per_batch_blocks: bool = False) -> dict:
    command = [sys.executable, __file__, "--phase", name, "--video", str(video), "--which", which,
               "--device", args.device, "--precision", precision or args.precision, "--batch-size", str(args.batch_size),
               "--rss-network", network or "keras_resnet152"] + (["--per-batch-blocks"] if per_batch_blocks else [])
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
    parser.add_argument("--rss-minutes", default="5,15,45",
                        help="peak-RSS video lengths, comma-separated (default 5,15,45; 45: a half)")
    parser.add_argument("--rss-precisions", default="fp32,bf16",
                        help="precisions of the peak-RSS runs, comma-separated (default fp32,bf16)")
    parser.add_argument("--rss-network", default="keras_resnet152", choices=("keras_resnet152", "short"),
                        help="network of the peak-RSS runs: the recipe's, or a stand-in with its activation shapes "
                             "and 1/9 of its multiply-adds (default keras_resnet152)")
    parser.add_argument("--per-batch-blocks", action="store_true",
                        help="also run (c) keeping one block per batch, as the extractor did before issue 30")
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
    lengths = [float(value) for value in args.rss_minutes.split(",")]
    precisions = args.rss_precisions.split(",")
    runs: dict[str, list[dict]] = {"tf2": [], "torchvision": []}
    if args.repeats:
        short = make_video(cache / f"pitch_{args.minutes:g}min.mp4", args.minutes)
    for repeat in range(args.repeats):  # alternated, so a change in the machine's load hits both sides
        for which in ("tf2", "torchvision"):
            result = run_phase("extract", args, short, which)
            runs[which].append(result)
            print(f"({'a' if which == 'tf2' else 'b'}) {which} run {repeat + 1}: {result['frames']} rows in "
                  f"{result['seconds']:.1f} s = {result['fps']:.2f} frames/s ({result['precision']} on {result['device']}, "
                  f"peak RSS {result['peak_rss_mb']:.0f} MB)", file=sys.stderr)
    videos = {minutes: make_video(cache / f"pitch_{minutes:g}min.mp4", minutes) for minutes in lengths}
    table = {"one array": {}, "per-batch blocks": {}} if args.per_batch_blocks else {"one array": {}}
    rows_by_minutes = {}
    for way, by_precision in table.items():
        for precision in precisions:
            by_precision[precision] = {}
            for minutes in lengths:
                rss = run_phase("extract", args, videos[minutes], "tf2", precision, args.rss_network,
                                way == "per-batch blocks")
                by_precision[precision][f"{minutes:g}"] = round(rss["peak_rss_mb"], 1)
                rows_by_minutes[f"{minutes:g}"] = rss["frames"]
                print(f"(c) ResNET_TF2 ({args.rss_network}, {rss['precision']}, {way}) on {minutes:g} min: "
                      f"{rss['frames']} rows, peak RSS {rss['peak_rss_mb']:.0f} MB ({rss['fps']:.2f} frames/s)",
                      file=sys.stderr)
    longest, shortest = f"{max(lengths):g}", f"{min(lengths):g}"
    official = None
    if not args.skip_official:
        official = run_phase("official", args, videos[max(lengths)])
        print(f"(d) official FrameCV + preprocess_input on {max(lengths):g} min: {official['frames']} frames, peak "
              f"RSS {official['peak_rss_mb']:.0f} MB (before predict)", file=sys.stderr)
    result = {
        "peak_rss_mb": table["one array"][precisions[0]][longest],
        "rss_by_minutes": table["one array"],
        "rss_growth_mb": {precision: round(by[longest] - by[shortest], 1) for precision, by in table["one array"].items()},
        "rss_network": args.rss_network, "rss_rows": rows_by_minutes,
        "official_peak_rss_mb": round(official["peak_rss_mb"], 1) if official else None,
        "rss_minutes": lengths, "batch_size": args.batch_size, "repeats": args.repeats,
    }
    if args.per_batch_blocks:
        blocks = table["per-batch blocks"]
        result["rss_by_minutes_per_batch_blocks"] = blocks
        result["rss_growth_mb_per_batch_blocks"] = {p: round(by[longest] - by[shortest], 1) for p, by in blocks.items()}
    if args.repeats:
        tf2, tv = median_run(runs["tf2"]), median_run(runs["torchvision"])
        result.update({
            "tf2_fps": round(tf2["fps"], 3), "torchvision_fps": round(tv["fps"], 3), "ratio": round(tf2["fps"] / tv["fps"], 3),
            "torchvision_peak_rss_mb": round(tv["peak_rss_mb"], 1),
            "cpu_ratio": round(cpu_per_row(runs["torchvision"]) / cpu_per_row(runs["tf2"]), 3),
            "tf2_cpu_s_per_row": round(cpu_per_row(runs["tf2"]), 3),
            "torchvision_cpu_s_per_row": round(cpu_per_row(runs["torchvision"]), 3),
            "tf2_fps_runs": [round(r["fps"], 3) for r in runs["tf2"]],
            "torchvision_fps_runs": [round(r["fps"], 3) for r in runs["torchvision"]],
            "rows": {"tf2": tf2["frames"], "torchvision": tv["frames"],
                     "official": official["frames"] if official else None},
            "minutes": args.minutes, "precision": tf2["precision"], "device": tf2["device"],
        })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
