"""The local engine: games run on this machine, one at a time in this process (`--jobs 1`) or `jobs` at a
time: one in this process (its worker, already built by the driver) and the others in a pool of `jobs - 1`
processes, each with `threads` torch threads (threads x jobs <= cores by default; the worker bounds its
decoding threads alike).

Pool processes are spawned (not forked: forking a process whose OpenMP pool is running can hang the
child) and each loads the checkpoint and backbone once. A pool process that dies takes the games it was
running with it: they are recorded as failed, a new pool takes the rest.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from soccerspot.pipeline.archive.discover import ArchiveGame
from soccerspot.pipeline.archive.engines import EngineJob, OnDone, OnStart
from soccerspot.pipeline.archive.worker import ArchiveSettings, GameOutcome, GameWorker

_worker: GameWorker | None = None  # one per pool process


def run(job: EngineJob) -> None:
    run_local(job.games, job.out_dir, job.settings, job.jobs, job.on_start, job.on_done, worker=job.worker)


def run_local(games: list[ArchiveGame], out_dir: Path, settings: ArchiveSettings, jobs: int,
              on_start: OnStart, on_done: OnDone, worker: GameWorker | None = None) -> None:
    """Run `games`; `worker` (already built by the driver) runs games in this process, alone when `jobs == 1`,
    beside `jobs - 1` pool processes otherwise."""
    if jobs == 1:
        worker = worker or GameWorker(settings)
        for game in games:
            on_start(game)
            on_done(game, worker.run(game, out_dir / game.key))
        return
    remaining = list(games)
    while remaining:
        remaining = _run_pool(remaining, out_dir, settings, jobs, on_start, on_done, worker)


def _init_pool_process(settings: ArchiveSettings) -> None:
    global _worker
    _worker = GameWorker(settings)


def _run_in_pool_process(game: ArchiveGame, game_dir: Path) -> GameOutcome:
    assert _worker is not None, "pool process not initialised"
    return _worker.run(game, game_dir)


def _run_pool(games: list[ArchiveGame], out_dir: Path, settings: ArchiveSettings, jobs: int,
              on_start: OnStart, on_done: OnDone, worker: GameWorker | None = None) -> list[ArchiveGame]:
    """Run games until all are done or the pool breaks; returns the games not yet started. With the
    driver's `worker`, one slot is a thread of this process (spawning and loading one process less)."""
    queue = list(games)
    context = multiprocessing.get_context("spawn")
    here = 1 if worker is not None else 0
    with ProcessPoolExecutor(max_workers=jobs - here, mp_context=context, initializer=_init_pool_process,
                             initargs=(settings,)) as pool, ThreadPoolExecutor(max_workers=1) as local:
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
