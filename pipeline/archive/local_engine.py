"""The local engine: games run on this machine, one at a time in this process (`--jobs 1`) or `jobs` at a
time: one in this process (its worker, already built by the driver) and the others in a pool of `jobs - 1`
processes, each with `threads` torch threads (threads x jobs <= cores by default; the worker bounds its
decoding threads alike).

Pool processes are spawned (not forked: forking a process whose OpenMP pool is running can hang the
child) and each loads the checkpoint and backbone once. `start` spawns them before the driver's pre-flight,
so their start-up (importing torch, loading the model: seconds) overlaps the driver's own instead of
delaying their first game. A pool process that dies takes the games it was
running with it: they are recorded as failed, a new pool takes the rest.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from soccerspot.pipeline.archive.discover import ArchiveGame
from soccerspot.pipeline.archive.engines import EngineJob, OnDone, OnStart
from soccerspot.pipeline.archive.settings import ArchiveSettings

if TYPE_CHECKING:  # the worker imports torch: this module must stay light (see `start`)
    from soccerspot.pipeline.archive.worker import GameOutcome, GameWorker

_worker: GameWorker | None = None  # one per pool process
_start_error = ""


@dataclass
class StartedPool:
    """Pool processes spawned early, loading their model; the first pool `run_local` uses."""

    pool: ProcessPoolExecutor

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def start(settings: ArchiveSettings, jobs: int, address: str | None = None) -> StartedPool | None:
    """Spawn the `jobs - 1` pool processes now (the driver's own process is the other slot)."""
    if jobs < 2:
        return None
    pool = _new_pool(settings, jobs - 1)
    for _ in range(jobs - 1):
        pool.submit(_ready)  # a process starts, and loads its worker, on a task
    return StartedPool(pool)


def run(job: EngineJob) -> None:
    run_local(job.games, job.out_dir, job.settings, job.jobs, job.on_start, job.on_done, worker=job.worker,
              started=job.started)


def run_local(games: list[ArchiveGame], out_dir: Path, settings: ArchiveSettings, jobs: int,
              on_start: OnStart, on_done: OnDone, worker: GameWorker | None = None,
              started: StartedPool | None = None) -> None:
    """Run `games`; `worker` (already built by the driver) runs games in this process, alone when `jobs == 1`,
    beside `jobs - 1` pool processes otherwise (the `started` ones first)."""
    if jobs == 1:
        if worker is None:
            from soccerspot.pipeline.archive.worker import GameWorker

            worker = GameWorker(settings)
        for game in games:
            on_start(game)
            on_done(game, worker.run(game, out_dir / game.key))
        return
    remaining = list(games)
    while remaining:
        here = 1 if worker is not None else 0
        pool = started.pool if started is not None else _new_pool(settings, jobs - here)
        started = None  # a broken pool is replaced by a new one
        remaining = _run_pool(remaining, out_dir, pool, jobs, on_start, on_done, worker)


def _new_pool(settings: ArchiveSettings, processes: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_pool_process, initargs=(settings,))


def _ready() -> None:
    """Nothing: submitted to make a pool process start."""


def _init_pool_process(settings: ArchiveSettings) -> None:
    global _worker, _start_error
    from soccerspot.pipeline.archive.worker import GameWorker

    try:
        _worker = GameWorker(settings)
    except Exception as error:  # started before the driver's checks: they report it; never a traceback here
        _start_error = f"{type(error).__name__}: {error}"


def _run_in_pool_process(game: ArchiveGame, game_dir: Path) -> GameOutcome:
    from soccerspot.pipeline.archive.worker import GameOutcome

    if _worker is None:
        return GameOutcome("failed", error=f"the worker process could not start: {_start_error}")
    return _worker.run(game, game_dir)


def _run_pool(games: list[ArchiveGame], out_dir: Path, pool: ProcessPoolExecutor, jobs: int,
              on_start: OnStart, on_done: OnDone, worker: GameWorker | None = None) -> list[ArchiveGame]:
    """Run games on `pool` (closed at the end) until all are done or it breaks; returns the games not yet
    started. With the driver's `worker`, one slot is a thread of this process (one process less to spawn)."""
    from soccerspot.pipeline.archive.worker import GameOutcome

    queue = list(games)
    here = 1 if worker is not None else 0
    with pool, ThreadPoolExecutor(max_workers=1) as local:
        running: dict[Future, ArchiveGame] = {}
        in_process: Future | None = None
        broken = False
        while (queue and not broken) or running:
            if here and queue and not broken and (in_process is None or in_process.done()):
                game = queue.pop(0)
                on_start(game)
                in_process = local.submit(worker.run, game, out_dir / game.key)
                running[in_process] = game
            while queue and not broken and sum(f is not in_process for f in running) < jobs - here:
                game = queue.pop(0)
                on_start(game)
                running[pool.submit(_run_in_pool_process, game, out_dir / game.key)] = game
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                game = running.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    broken = True
                    outcome = GameOutcome("failed", error="the worker process running this game died")
                on_done(game, outcome)
    return queue
