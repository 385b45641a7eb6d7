"""Peak memory of one `netvladpp-paper` training epoch on a SoccerNet-sized feature set.

Builds 300 games x 2 halves x 45 min at 2 fps x 2048-d (float16 on disk, ~13 GB: random values, labels with
~200 random events per game, official file name `ResNET_TF2` so no sidecar is needed) in a temporary folder,
then trains one epoch of the paper's recipe on it with `soccerspot.pipeline.training.tasks.features.train` (training windows only:
no validation games, so the figure is the training loop's).

The peers load every clip into RAM (per-window copies of the features: ~26 GB as float32 for this set,
300 x 2 x 5400 rows x 2048 x 4 bytes); here windows are sliced from memory maps, so feature
pages are file-backed page cache, not the process's own memory. What is measured:

- `peak_anon_mb`: peak of RssAnon in /proc/self/status (anonymous resident memory: what the process
  itself holds), sampled every 20 ms by a thread;
- `peak_rss_mb`: ru_maxrss (includes the mapped feature pages that were touched: page cache, reclaimable);
- `epoch_s`: wall time of the epoch measured (all its batches, or `--max-batches` of them);
- `windows`: training windows in the epoch (the paper's 15 s chunks).

With `--max-batches N` only N batches are trained; `epoch_s_extrapolated` scales the measured time per batch
to the full epoch. Last line: one JSON object.

    python scripts/bench_train_memory.py [--games 300] [--max-batches N] [--keep DIR] [--root DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.data.games import HALVES
from soccerspot.data.labels import Event, GameLabels, write_labels
from soccerspot.data.games import LABELS_FILE

FEATURES = "ResNET_TF2"
FPS = 2


def rss_anon_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class PeakSampler(threading.Thread):
    def __init__(self, every_s: float = 0.02):
        super().__init__(daemon=True)
        self.every_s, self.peak, self.running = every_s, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_anon_mb())
            time.sleep(self.every_s)

    def stop(self) -> float:
        self.running = False
        self.join()
        self.peak = max(self.peak, rss_anon_mb())
        return self.peak


def build_feature_set(root: Path, games: int, minutes: float, dim: int, seed: int = 0) -> list[str]:
    """Random float16 features written through `open_memmap` (a few distinct blocks, re-used with a
    per-half shift so every file differs), random labels."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    rows = int(minutes * 60 * FPS)
    blocks = [rng.standard_normal((rows, dim), dtype=np.float32).astype(np.float16) for _ in range(4)]
    names = []
    for g in tqdm(range(games), desc="writing features", unit="game"):
        game = f"league/season/game {g:03d}"
        folder = root / game
        folder.mkdir(parents=True, exist_ok=True)
        for half in HALVES:
            out = np.lib.format.open_memmap(folder / f"{half}_{FEATURES}.npy", mode="w+", dtype=np.float16,
                                            shape=(rows, dim))
            out[:] = np.roll(blocks[(g + half) % len(blocks)], g, axis=0)
            out.flush()
            del out
        count = int(rng.integers(150, 250))
        events = [Event(int(rng.integers(1, 3)), int(rng.integers(0, rows * 1000 // FPS)),
                        CLASS_NAMES_V2[int(rng.integers(0, len(CLASS_NAMES_V2)))]) for _ in range(count)]
        write_labels(folder / LABELS_FILE, GameLabels(url=game, events=events))
        names.append(game)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=300)
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--max-batches", type=int, default=None, help="train only this many batches")
    parser.add_argument("--root", type=Path, default=None, help="use/keep the feature set here (built if empty)")
    parser.add_argument("--keep", action="store_true", help="keep the feature set afterwards")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    need_gb = args.games * 2 * args.minutes * 60 * FPS * args.dim * 2 / 1e9
    base = args.root or Path(tempfile.mkdtemp(prefix="soccerspot-bench-train-"))
    base.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(base).free / 1e9
    existing = sorted(p.parent.relative_to(base).as_posix() for p in base.rglob(f"1_{FEATURES}.npy"))
    if len(existing) < args.games and free_gb < need_gb * 1.1:
        sys.exit(f"need ~{need_gb:.1f} GB free in {base}, have {free_gb:.1f} GB")
    try:
        started = time.perf_counter()
        games = existing[: args.games] if len(existing) >= args.games else build_feature_set(
            base, args.games, args.minutes, args.dim)
        build_s = time.perf_counter() - started

        import torch

        from soccerspot.pipeline.training.presets import get_preset
        from soccerspot.pipeline.training.tasks.features import load_train_data, train

        config = get_preset("netvladpp-paper")
        config.max_epochs = 1
        sampler = PeakSampler()
        sampler.start()
        anon_before = rss_anon_mb()
        data = load_train_data(config, base, FEATURES, games, [])
        anon_data = rss_anon_mb()
        with tempfile.TemporaryDirectory(prefix="soccerspot-bench-run-") as run_dir:
            result = train(config, data, Path(run_dir) / "run", max_batches=args.max_batches,
                           progress=not args.no_progress)
        peak_anon = sampler.stop()
        record = result.history[-1]
        windows = len(data.train)
        batches_total = math.ceil(windows / config.batch_size)
        batches_done = math.ceil(record["train_windows"] / config.batch_size)
        out = {
            "peak_anon_mb": round(peak_anon, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
            "epoch_s": record["epoch_s"],
            "windows": windows,
            "windows_trained": record["train_windows"],
            "batches_trained": batches_done,
            "batches_per_epoch": batches_total,
            "epoch_s_extrapolated": round(record["epoch_s"] * batches_total / max(batches_done, 1), 1),
            "anon_mb_before_data": round(anon_before, 1),
            "anon_mb_after_windows_built": round(anon_data, 1),
            "feature_set_gb": round(need_gb, 2),
            "build_s": round(build_s, 1),
            "games": len(games),
            "threads": torch.get_num_threads(),
            "peers_clip_copies_gb_float32": round(windows * 30 * args.dim * 4 / 1e9, 1),
        }
    finally:
        if args.root is None and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        elif args.root is None:
            print(f"feature set kept in {base}", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
