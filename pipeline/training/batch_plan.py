"""An epoch's batches as a plan: index lists into a dataset, and each rank's share of every batch.

A task's `train_batches(epoch)` / `valid_batches()` returns a `BatchPlan`: the global batches (what one
process with `--batch-size B` trains on, drawn from the task's seeded order) as index lists into a dataset
whose `dataset[indices]` gives one batch's (inputs, targets). The loop splits every batch into contiguous
parts: one share per rank (`world_size`), each share into `accumulate` steps, so N ranks with B/N rows,
or one process with K steps of B/K, see exactly the rows one process with B sees (`rank_parts`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from torch.utils.data import DataLoader, Dataset


@dataclass
class BatchPlan:
    """Global batches of indices into `dataset` (`dataset[list of indices]` -> (inputs, targets))."""

    dataset: Dataset
    batches: list[list[int]]
    num_workers: int = 0
    pin_memory: bool = False
    # False: fetched in this process without a DataLoader, which draws a seed from the global torch RNG at
    # every pass (and so would change the dropout draws of tasks that never used one)
    use_loader: bool = True

    def __len__(self) -> int:
        return len(self.batches)

    def load(self, index_lists: Sequence[Sequence[int]]) -> Iterable:
        """The batches `index_lists` (any lists of indices), fetched in order."""
        if not self.use_loader:
            return (self.dataset[indices] for indices in index_lists)
        return DataLoader(self.dataset, sampler=list(index_lists), batch_size=None, num_workers=self.num_workers,
                          pin_memory=self.pin_memory)

    def __iter__(self) -> Iterator:
        return iter(self.load(self.batches))


def contiguous_split(items: Sequence[int], parts: int) -> list[list[int]]:
    """`items` in `parts` contiguous pieces whose sizes differ by at most one (the larger ones last)."""
    n = len(items)
    return [list(items[i * n // parts:(i + 1) * n // parts]) for i in range(parts)]


@dataclass(frozen=True)
class Part:
    """What one rank runs in one step of a global batch. `padding`: the rank has no rows in this step, but
    every rank must join each step's collectives, so it runs the batch's first row with weight 0."""

    indices: list[int]
    padding: bool = False


def steps_per_batch(batch_rows: int, world_size: int, accumulate: int) -> int:
    """How many accumulation steps a global batch of `batch_rows` takes (the same on every rank): K, or fewer
    when the largest share has fewer than K rows."""
    return max(1, min(accumulate, -(-batch_rows // world_size)))


def rank_parts(batch: Sequence[int], rank: int, world_size: int, accumulate: int) -> list[Part]:
    """Rank `rank`'s steps of the global `batch`: its contiguous share, in `steps_per_batch` pieces."""
    share = contiguous_split(batch, world_size)[rank]
    steps = steps_per_batch(len(batch), world_size, accumulate)
    return [Part(piece) if piece else Part([batch[0]], padding=True) for piece in contiguous_split(share, steps)]


def in_order(rows: int, batch_size: int) -> list[list[int]]:
    """Indices 0 .. rows - 1 in consecutive batches of `batch_size` (the last one smaller)."""
    return [list(range(begin, min(begin + batch_size, rows))) for begin in range(0, rows, batch_size)]
