"""The rows of one half as the backbone makes them: one preallocated array, filled batch by batch.

The extractor used to keep each batch's output as its own tensor until the half was done and then
concatenate them: ~170 blocks of 256 KB for a 45-minute half, allocated right after each forward pass among
the freed activations and alive to the end, in a heap the extractor never trims (`extract.allocator`: no mmap
for big blocks, no trim). Such blocks can split holes the next pass's activations then no longer fit: with a
stand-in network of ResNet-152's activation shapes (`scripts/bench_official_features.py --rss-network short`,
fp32) the 45-minute half peaked at 3,038 MB with them and 1,641 MB with this array (15 minutes: 1,564 and
1,544 MB; the growth starts past ~2,000 rows, as issue 30 saw with the real network). Here the rows go
into one block allocated before the first pass, sized for the half's expected rows (grown by half again, one copy, only when a video holds
more), on the compute device (on CUDA the copy into it is one more kernel: no per-batch sync), with their
times beside them: nothing the extractor keeps grows per batch.
"""
from __future__ import annotations

import numpy as np
import torch


class FeatureRows:
    """(rows, dim) float32 features and their times (s), appended batch by batch into one array."""

    def __init__(self, expected_rows: int, dim: int, device: torch.device | str = "cpu"):
        capacity = max(1, int(expected_rows))
        self.data = torch.empty((capacity, dim), dtype=torch.float32, device=device)
        self.times = np.empty(capacity, dtype=np.float64)
        self.count = 0
        self.grown = 0  # how many times the first allocation was too small

    def append(self, features: torch.Tensor, times: np.ndarray) -> None:
        """Add a batch: (n, dim) features on the array's device, and their n times."""
        end = self.count + len(features)
        if end > len(self.data):
            self._grow(end)
        self.data[self.count : end] = features
        self.times[self.count : end] = times
        self.count = end

    def _grow(self, needed: int) -> None:
        capacity = max(needed, len(self.data) + len(self.data) // 2)
        data = torch.empty((capacity, self.data.shape[1]), dtype=self.data.dtype, device=self.data.device)
        data[: self.count] = self.data[: self.count]
        times = np.empty(capacity, dtype=np.float64)
        times[: self.count] = self.times[: self.count]
        self.data, self.times = data, times
        self.grown += 1

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows written, as (count, dim) float32 on the CPU (a view on CPU), and their times."""
        return self.data[: self.count].cpu().numpy(), self.times[: self.count].copy()
