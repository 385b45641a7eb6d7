"""Benchmark the snippet recipe's training step against extraction, rows per second, same backbone.

The snippet recipe (`soccerspot finetune --recipe snippets`) runs the backbone on every row of a snippet (an
image backbone on the row's frame, a video backbone on the row's clip), last `--trainable-stages` stages
with autograd, then the mean + linear snippet head and a backward pass. Extraction runs the same backbone on
the same rows without autograd. Both sides run in this process on random uint8 inputs of the real shapes
(the decode is measured by `bench_extract.py`), alternated `--rounds` times; medians are reported, with
`ratio` = training rows/s / extraction rows/s and the per-game times they imply (SoccerNet-v2: ≈ 221
events per game, so ≈ 234 snippets per epoch with background at nF / C; 10,800 rows at 2 fps to extract).

    python scripts/bench_snippet_step.py --backbone video:r2plus1d_18 --snippets 2 --rows 10
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

EVENTS_PER_GAME = 221  # 110,458 SoccerNet-v2 actions / 500 games
CLASSES = 17


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="video:r2plus1d_18")
    parser.add_argument("--trainable-stages", type=int, default=1)
    parser.add_argument("--input-size", type=int, default=None, help="default: the backbone's own")
    parser.add_argument("--snippets", type=int, default=2, help="snippets per training batch")
    parser.add_argument("--rows", type=int, default=10, help="rows per snippet (5 s at 2 fps: 10)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()

    from soccerspot.extract.allocator import tune_glibc_allocator
    from soccerspot.extract.extractor import ExtractConfig, Extractor
    from soccerspot.models.backbones import create_backbone
    from soccerspot.models.finetune import BackboneHeadModel
    from soccerspot.models.heads.snippet import SnippetHead, SnippetHeadConfig
    from soccerspot.models.backbones.video import VideoBackbone
    from soccerspot.extract.precision import autocast
    from soccerspot.pipeline.training.loop import training_precision

    tune_glibc_allocator()
    device = torch.device("cpu")
    precision = training_precision(args.precision, device)
    backbone = create_backbone(args.backbone, weights="none", trainable_stages=args.trainable_stages)
    size = args.input_size or backbone.input_size
    video = isinstance(backbone, VideoBackbone)
    row_shape = (backbone.clip_frames, 3, size, size) if video else (3, size, size)
    model = BackboneHeadModel(backbone, SnippetHead(SnippetHeadConfig(backbone.feature_dim, CLASSES + 1)))
    model.to(memory_format=torch.channels_last_3d if video else torch.channels_last).train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    extractor = Extractor(ExtractConfig(backbone=args.backbone, weights="none", input_size=size, progress=False,
                                        precision=precision, device="cpu"),
                          backbone=create_backbone(args.backbone, weights="none"))
    rng = torch.Generator().manual_seed(0)
    snippets = torch.randint(0, 256, (args.snippets, args.rows, *row_shape), dtype=torch.uint8, generator=rng)
    targets = torch.randint(0, CLASSES + 1, (args.snippets,), generator=rng)
    rows_per_batch = args.snippets * args.rows
    extract_batch = snippets.flatten(0, 1)[: extractor.clip_batch_size if video else 32]

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast("cpu", precision):
            loss = torch.nn.functional.cross_entropy(model(snippets).float(), targets)
        loss.backward()
        optimizer.step()

    def timed(step, rows: int) -> float:
        step()  # warm-up
        began = time.perf_counter()
        for _ in range(args.steps):
            step()
        return rows * args.steps / (time.perf_counter() - began)

    train_rates, extract_rates = [], []
    for _ in range(args.rounds):
        train_rates.append(timed(train_step, rows_per_batch))
        extract_rates.append(timed(lambda: extractor.forward(extract_batch), len(extract_batch)))
    train_rate, extract_rate = float(np.median(train_rates)), float(np.median(extract_rates))
    snippets_per_epoch = EVENTS_PER_GAME + round(EVENTS_PER_GAME / CLASSES)
    summary = {
        "backbone": args.backbone, "input_size": size, "precision": precision, "trainable_stages": args.trainable_stages,
        "rows_per_snippet": args.rows, "snippets_per_batch": args.snippets,
        "train_rows_per_s": round(train_rate, 2), "extract_rows_per_s": round(extract_rate, 2),
        "ratio": round(train_rate / extract_rate, 3),
        "train_rows_per_s_runs": [round(r, 2) for r in train_rates],
        "extract_rows_per_s_runs": [round(r, 2) for r in extract_rates],
        "epoch_minutes_per_game": round(snippets_per_epoch * args.rows / train_rate / 60, 1),
        "extract_minutes_per_game": round(10_800 / extract_rate / 60, 1),
    }
    print(f"snippet training runs at {summary['ratio']:.2f}x extraction's rows/s: one epoch ≈ "
          f"{summary['epoch_minutes_per_game']} min per game, extraction ≈ {summary['extract_minutes_per_game']} min")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
