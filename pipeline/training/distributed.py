"""Data-parallel training on `torch.distributed`: which rank this process is, and the few collectives the loop
needs.

A run is distributed when the launcher set `WORLD_SIZE` > 1 in the environment (`torchrun`, `srun torchrun`,
or `soccerspot train/finetune --nproc N`, which starts torchrun's own launcher: `pipeline.training.launch`).
`start(device, timeout_s)` joins the process group (`nccl` on CUDA, one GPU per local rank; `gloo` on CPU)
with a timeout, so a rank that stops answering ends the others' collectives with an error instead of a
hang; `current()` is what the loop and the tasks read. Without a launcher nothing changes: one process,
rank 0 of 1, no process group.
"""
from __future__ import annotations

import atexit
import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

import torch
import torch.distributed as dist

# torch.distributed's own default for gloo (NCCL's is 10 minutes): long enough for rank 0's validation
# Average-mAP and checkpoint writes while the other ranks wait.
DEFAULT_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Distributed:
    """This process's place in the run: rank among `world_size` processes, its rank on its machine, the
    backend (None: a single process, no process group)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> dict:
        return {"world_size": self.world_size, "backend": self.backend or "none"}


# The waits for rank 0 alone (decoding the frame caches, validation Average-mAP, checkpoint writes) go through
# a gloo group with this timeout: they may take hours on a SoccerNet-sized set, longer than a training step's
# collectives should ever wait. A rank that dies still ends them at once (its connections close).
RANK_ZERO_WORK_TIMEOUT_S = 7 * 24 * 3600.0

SINGLE = Distributed()
_current = SINGLE
_waiting_group = None


def current() -> Distributed:
    """The distributed context of this process (`SINGLE` until `start` joined a process group)."""
    return _current


def launched_world_size() -> int:
    """The world size the launcher set (`WORLD_SIZE`), 1 without a launcher."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def rank_device(device: str) -> str:
    """The device of this rank: a CUDA run puts each local rank on its own GPU (`cuda:LOCAL_RANK`)."""
    if torch.device(device).type != "cuda" or launched_world_size() == 1:
        return device
    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"


def start(device: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Distributed:
    """Join the process group the launcher described (env://), once; a no-op for a single process."""
    global _current, _waiting_group
    if _current.active or launched_world_size() == 1:
        return _current
    placed = torch.device(rank_device(device))
    if placed.type == "cuda":
        torch.cuda.set_device(placed)
    backend = backend_for(placed)
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s),
                            **({"device_id": placed} if placed.type == "cuda" else {}))
    _waiting_group = dist.new_group(backend="gloo", timeout=timedelta(seconds=RANK_ZERO_WORK_TIMEOUT_S))
    _current = Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), backend)
    atexit.register(stop)
    return _current


def stop() -> None:
    """Leave the process group (end of a run)."""
    global _current, _waiting_group
    if _current.active and dist.is_initialized():
        dist.destroy_process_group()
    _current, _waiting_group = SINGLE, None


def barrier() -> None:
    """Every rank waits for the others (for rank 0's work: `RANK_ZERO_WORK_TIMEOUT_S`)."""
    if _current.active:
        dist.barrier(group=_waiting_group)


@contextlib.contextmanager
def main_rank_first() -> Iterator[None]:
    """Rank 0 runs the block first (it builds what is missing: frame caches), the others wait, then run it
    and find everything built."""
    if _current.active and not _current.is_main:
        barrier()
    yield
    if _current.active and _current.is_main:
        barrier()


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """`values` (float64 on CPU, or the backend's device) summed over the ranks; unchanged on one process."""
    if not _current.active:
        return values
    device = torch.device("cuda", torch.cuda.current_device()) if _current.backend == "nccl" else values.device
    reduced = values.to(device)
    dist.all_reduce(reduced)
    return reduced.to(values.device)


def from_main(value: object) -> object:
    """Rank 0's `value` on every rank (a picklable object)."""
    if not _current.active:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0, group=_waiting_group)  # others wait while rank 0 validates
    return holder[0]


def gathered(value: object) -> list:
    """Every rank's `value`, in rank order (a picklable object)."""
    if not _current.active:
        return [value]
    values: list = [None] * _current.world_size
    dist.all_gather_object(values, value, group=_waiting_group)
    return values
