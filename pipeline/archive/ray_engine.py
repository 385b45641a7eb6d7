"""The Ray engine: the same per-game work on a Ray cluster (a local one when no address is given).

One actor per job slot holds the checkpoint and the backbone for many games (building a backbone costs
more than a short game); each actor asks for `threads` CPUs, and one GPU where the cluster has GPUs
(decoding stays on the actor's CPUs, in the extractor's producer thread). Actors compute a game in a
scratch folder of their own node and return the files' bytes: the driver alone writes outputs and the
manifest, so the cluster needs no shared writable folder (the videos must be readable from the nodes).

An actor that dies mid-game is replaced by a new one, which gets the game again, up to `retries` more
times; the attempts are recorded. Only then is the game recorded as failed. (Ray's own actor restart was
tried first: calls made while the actor restarts fail at once with `ActorUnavailableError`.)
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from soccerspot.pipeline.archive.discover import ArchiveGame
from soccerspot.pipeline.archive.engines import EngineJob, OnDone, OnStart
from soccerspot.pipeline.archive.settings import ArchiveSettings

if TYPE_CHECKING:  # the worker imports torch: this module stays light until its actors are made (see `start`)
    from soccerspot.pipeline.archive.worker import GameOutcome

INSTALL_HINT = "the ray engine needs the ray extra: pip install 'soccerspot[ray]'"


class GameActor:
    """Wrapped with `ray.remote` at run time (ray is an optional dependency)."""

    def __init__(self, settings: ArchiveSettings):
        from soccerspot.pipeline.archive.worker import GameWorker

        self.worker = GameWorker(settings)

    def process_game(self, game: ArchiveGame) -> "GameOutcome":
        with tempfile.TemporaryDirectory(prefix="soccerspot-archive-") as scratch:
            game_dir = Path(scratch) / "game"
            outcome = self.worker.run(game, game_dir)
            if outcome.status == "done":
                outcome.payload = [(name, (game_dir / name).read_bytes()) for name in outcome.files]
        return outcome

    def pid(self) -> int:
        return os.getpid()


@dataclass
class RayActors:
    """Ray started (or joined) and the job slots' actors created: they load while the driver checks."""

    actor_class: Any
    actors: list
    started_ray: bool  # this run started or joined Ray, and leaves it at the end
    settings: ArchiveSettings

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self.started_ray:
            ray.shutdown()
            self.started_ray = False


def start_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Connect to `address`, or start a local Ray instance; True when this call started or joined it."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    return True


def start(settings: ArchiveSettings, jobs: int, address: str | None = None) -> RayActors:
    """Start (or join) Ray and create one actor per job slot."""
    import ray

    started = start_ray(address, num_cpus=max(jobs * settings.torch_threads, len(os.sched_getaffinity(0))))
    gpus = 1 if settings.device != "cpu" and ray.cluster_resources().get("GPU", 0) >= 1 else 0
    actor_class = ray.remote(num_cpus=settings.torch_threads, num_gpus=gpus)(GameActor)
    return RayActors(actor_class, [actor_class.remote(settings) for _ in range(jobs)], started, settings)


def run(job: EngineJob) -> None:
    actors = job.started or start(job.settings, job.jobs, job.address)
    try:
        run_ray(job.games, actors, job.on_start, job.on_done, retries=job.retries)
    finally:
        if job.started is None:
            actors.close()


def run_ray(games: list[ArchiveGame], slots: RayActors, on_start: OnStart, on_done: OnDone, *, retries: int = 2) -> None:
    import ray
    from ray.exceptions import RayActorError, WorkerCrashedError

    from soccerspot.pipeline.archive.worker import GameOutcome

    actors, actor_class = slots.actors, slots.actor_class
    queue: list[tuple[ArchiveGame, int]] = [(game, 1) for game in games]
    idle = list(actors)
    running: dict = {}  # object ref -> (actor, game, attempt)
    while queue or running:
        while queue and idle:
            game, attempt = queue.pop(0)
            actor = idle.pop(0)
            if attempt == 1:
                on_start(game)
            running[actor.process_game.remote(game)] = (actor, game, attempt)
        ready, _ = ray.wait(list(running), num_returns=1)
        for ref in ready:
            actor, game, attempt = running.pop(ref)
            try:
                outcome = ray.get(ref)
                idle.append(actor)
            except (RayActorError, WorkerCrashedError) as error:
                ray.kill(actor, no_restart=True)
                actors[actors.index(actor)] = replacement = actor_class.remote(slots.settings)
                idle.append(replacement)
                if attempt <= retries:
                    queue.insert(0, (game, attempt + 1))
                    continue
                outcome = GameOutcome("failed", error=f"the Ray worker died {attempt} times on this game "
                                                      f"({type(error).__name__})")
            outcome.attempts = attempt
            on_done(game, outcome)
