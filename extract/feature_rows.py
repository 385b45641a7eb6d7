"""The rows of one half as the backbone makes them: one preallocated array, filled batch by batch.

The extractor used to keep each batch's output as its own tensor until the half was done and then
concatenate them. On CPU those ~170 small blocks (a 32-row batch of 2048-d features: 256 KB) of a 45-minute
half are allocated right after each forward pass, among the freed activations, and live until the end:
with the glibc settings the extractor runs with (`extract.allocator`: no mmap for big blocks, the heap never
trimmed) each one can split a free hole an activation of the next pass then no longer fits, so the heap
grows with the half's length. Here the rows go into one block allocated before the first pass, sized for
the half's expected rows (grown by half again, one copy, only when a video holds more), on the compute
device (on CUDA the copy into it is one more kernel: no per-batch sync), with their times beside them.
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
