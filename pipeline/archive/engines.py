"""Archive engines: where the games of an archive run. An engine is a module `<name>_engine.py` of this
package exposing `run(job: EngineJob) -> None`, which runs `GameWorker.run(game, game_dir)` on every game
and calls `job.on_start(game)` / `job.on_done(game, outcome)` as games start and end (the driver writes the
manifest and outputs). An engine may also expose `start(settings, jobs, address) -> Started`, which the driver
calls before its pre-flight (with the cluster address) when a game may need work, so that workers load while it
checks the games (the handle comes back in `EngineJob.started`, else None; the driver closes it). Engines are found by their file names, not listed: `--engine
NAME` imports `NAME_engine` only when chosen (Ray is an optional dependency)."""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:  # the worker imports torch: not needed to list or choose an engine
    from soccerspot.pipeline.archive.discover import ArchiveGame
    from soccerspot.pipeline.archive.settings import ArchiveSettings
    from soccerspot.pipeline.archive.worker import GameOutcome, GameWorker

SUFFIX = "_engine"
OnStart = Callable[["ArchiveGame"], None]
OnDone = Callable[["ArchiveGame", "GameOutcome"], None]



class Started(Protocol):
    """Workers an engine started early (`start`); `close` stops whatever `run` did not use."""

    def close(self) -> None: ...


@dataclass
class EngineJob:
    """Everything an engine is given: the games, where their folders go, how to build a worker, the
    callbacks, and the engine's own options."""

    games: list["ArchiveGame"]
    out_dir: Path
    settings: "ArchiveSettings"
    jobs: int
    on_start: OnStart
    on_done: OnDone
    worker: "GameWorker | None" = None  # the driver's own, for games run in the driver's process
    address: str | None = None  # a cluster to join (Ray)
    retries: int = 2  # more attempts for a game whose worker died (Ray)
    started: Started | None = None  # what the engine's `start` made, if it has one


def list_engines() -> list[str]:
    return sorted(info.name[: -len(SUFFIX)] for info in pkgutil.iter_modules([str(Path(__file__).parent)])
                  if info.name.endswith(SUFFIX))


def get_engine(name: str) -> Callable[[EngineJob], None]:
    if name not in list_engines():
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(list_engines())}")
    return importlib.import_module(f"{__package__}.{name}{SUFFIX}").run


def start_engine(name: str, settings: "ArchiveSettings", jobs: int, address: str | None = None) -> Started | None:
    """The engine's early start (its `start(settings, jobs, address)`), or None when it has none; `name` is
    one `get_engine` accepted (the driver's `check_engine`)."""
    start = getattr(importlib.import_module(f"{__package__}.{name}{SUFFIX}"), "start", None)
    return None if start is None else start(settings, jobs, address)
