"""Fine-tuning the last stage vs frozen extraction, same backbone, precision and batch, in one run.

The claim (issue 9): with the frozen stages run without autograd, a training step of ResNet-152 with only
layer4 trainable (about 6 % of its multiply-adds; backward roughly doubles that) costs little more than
extraction, so `finetune_fps / extract_fps` should be >= 0.75.

- extraction: `soccerspot.extract.extractor.Extractor.forward` (inference mode, channels_last, autocast at
  the precision) on uint8 frames, exactly what `soccerspot extract` runs per batch;
- fine-tuning: `models.finetune.BackboneHeadModel` (layer4 trainable, NetVLAD++ head) in train mode, one
  step = forward, BCE loss, backward, SGD step, on the same frames arranged as clips.

Each side runs in its own child process (so each has its own peak memory: ru_maxrss on CPU,
`torch.cuda.max_memory_allocated` on CUDA), alternating extract, finetune, extract, finetune, … for
`--rounds` rounds; the figure of each side is its median frames/s over rounds. Random weights (`none`):
speed does not depend on the values. Last line: one JSON object.

    python scripts/bench_finetune.py [--backbone resnet152] [--clips 2] [--frames 8] [--height 224]
                                     [--width 398] [--precision auto] [--device auto] [--steps 3] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import sys
import time


def measure(side: str, args: dict, results) -> None:
    import torch

    from soccerspot.extract.extractor import ExtractConfig, Extractor, resolve_device, resolve_precision
    from soccerspot.models.backbones import create_backbone
    from soccerspot.models.finetune import BackboneHeadModel
    from soccerspot.models.heads import create_head, head_config
    from soccerspot.extract.precision import autocast
    from soccerspot.pipeline.training.loop import training_precision

    torch.set_num_threads(args["threads"]) if args["threads"] else None
    clips, frames = args["clips"], args["frames"]
    images = torch.randint(0, 256, (clips * frames, 3, args["height"], args["width"]), dtype=torch.uint8)
    images = images.contiguous(memory_format=torch.channels_last)
    device = resolve_device(args["device"])
    precision = resolve_precision(args["precision"], device)
    if device.type == "cuda":
        images = images.pin_memory()
    if side == "extract":
        extractor = Extractor(ExtractConfig(backbone=args["backbone"], weights="none", precision=precision,
                                            device=str(device), progress=False))

        def step() -> None:
            extractor.forward(images).cpu()
    else:
        from soccerspot.extract.allocator import tune_glibc_allocator

        if device.type == "cpu":
            tune_glibc_allocator()  # as the Extractor does on its side, and pipeline.training.finetune on CPU
        backbone = create_backbone(args["backbone"], weights="none", trainable_stages=1)
        head = create_head(head_config("netvlad++", input_dim=backbone.feature_dim, num_classes=17,
                                      window_frames=frames))
        model = BackboneHeadModel(backbone, head).to(device, memory_format=torch.channels_last).train()
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.025, momentum=0.9)
        targets = torch.zeros(clips, 18, device=device)
        targets[:, 1] = 1.0
        criterion = torch.nn.BCELoss()
        precision = training_precision(precision, device)
        clip_view = images.view(clips, frames, *images.shape[1:])

        def step() -> None:
            inputs = clip_view.to(device, non_blocking=True)
            with autocast(device.type, precision):
                outputs = model(inputs)
            loss = criterion(outputs.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            float(loss.detach())

    for _ in range(2):  # warm-up: allocator, oneDNN/cuDNN primitives, the optimizer's momentum buffers
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    for _ in range(args["steps"]):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - began
    peak_mb = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
               else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    results.put({"side": side, "fps": clips * frames * args["steps"] / seconds, "peak_mb": peak_mb,
                 "device": device.type, "precision": precision})


def run_side(side: str, args: dict) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=measure, args=(side, args, results))
    child.start()
    result = results.get()
    child.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="resnet152")
    parser.add_argument("--clips", type=int, default=2, help="clips per batch")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip")
    parser.add_argument("--height", type=int, default=224)
    parser.add_argument("--width", type=int, default=398, help="398x224: the whole broadcast frame, as RMS-Net")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = vars(parser.parse_args())
    runs: dict[str, list[dict]] = {"extract": [], "finetune": []}
    for round_index in range(args["rounds"]):
        for side in ("extract", "finetune"):
            result = run_side(side, args)
            runs[side].append(result)
            print(f"round {round_index + 1} {side}: {result['fps']:.2f} frames/s, peak {result['peak_mb']:.0f} MB",
                  file=sys.stderr)
    extract_fps = statistics.median(r["fps"] for r in runs["extract"])
    finetune_fps = statistics.median(r["fps"] for r in runs["finetune"])
    ratio = finetune_fps / extract_fps
    print(f"{args['backbone']} layer4 fine-tuning {finetune_fps:.2f} frames/s vs extraction {extract_fps:.2f} "
          f"frames/s: ratio {ratio:.3f}")
    print(json.dumps({
        "backbone": args["backbone"], "device": runs["extract"][0]["device"],
        "precision": runs["extract"][0]["precision"], "batch_frames": args["clips"] * args["frames"],
        "frame_size": f"{args['width']}x{args['height']}",
        "finetune_fps": round(finetune_fps, 3), "extract_fps": round(extract_fps, 3), "ratio": round(ratio, 3),
        "finetune_peak_mb": round(max(r["peak_mb"] for r in runs["finetune"]), 1),
        "extract_peak_mb": round(max(r["peak_mb"] for r in runs["extract"]), 1),
        "rounds": args["rounds"], "steps": args["steps"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
