"""`--nproc N`: start N local ranks of the same command with torchrun's own launcher (torch.distributed.elastic).

The same as `torchrun --standalone --nproc_per_node N -m soccerspot <command> ...`, with the rendezvous on
127.0.0.1: each rank runs the command unchanged and finds its place in the environment the launcher sets
(`pipeline.training.distributed`). A rank that fails ends the others (the launcher stops them) and the
launch ends with one line naming it.
"""
from __future__ import annotations

import logging
import os
import sys
import uuid

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from soccerspot.errors import DataError


def without_flag(argv: list[str], flag: str) -> list[str]:
    """`argv` without `flag VALUE` / `flag=VALUE`."""
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == flag:
            skip = True
        elif not item.startswith(flag + "="):
            kept.append(item)
    return kept


def launch_local(nproc: int, argv: list[str], out_dir: str | None = None) -> int:
    """Run `python -m soccerspot *argv` as `nproc` ranks on this machine; 0 when every rank succeeded.
    Each rank gets `OMP_NUM_THREADS` = cores / nproc unless it is set."""
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", local_addr="127.0.0.1",
                          max_restarts=0, monitor_interval=0.5)
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # its failure report: our one line
    try:
        elastic_launch(config, entrypoint=sys.executable)("-m", "soccerspot", *argv)
    except ChildFailedError as error:
        rank, failure = error.get_first_failure()  # the root cause: the launcher stops the others after it
        how = (f"was killed by signal {failure.signal_name()}" if failure.exitcode < 0
               else f"exited with code {failure.exitcode}")
        resume = f" (resume it with --resume --out {out_dir})" if out_dir else ""
        raise DataError(out_dir, f"rank {rank} of {nproc} {how}; the run stopped{resume}") from None
    return 0
