"""The archive driver: checks, planning against the manifest, an engine, the records, the summary.

Everything that can be refused is refused before any game starts: an output folder that cannot be
written, a root without videos, a checkpoint whose features this machine cannot re-make (or whose
feature width does not match the extractor), a missing Ray. Then each game moves through the manifest
(`started` -> `done` | `failed`); the driver is the only writer of the manifest and the summary.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from soccerspot.data.atomic import atomic_open
from soccerspot.errors import DataError
from soccerspot.files import sha256_file
from soccerspot.pipeline.archive.discover import ArchiveGame, discover_games
from soccerspot.pipeline.archive.engines import EngineJob, Started, get_engine, start_engine
from soccerspot.pipeline.archive.evaluation import evaluate_archive
from soccerspot.pipeline.archive.manifest import GameRecord, Manifest, fingerprint
from soccerspot.pipeline.archive.ray_engine import INSTALL_HINT
from soccerspot.pipeline.archive.settings import ArchiveSettings, threads_per_job
from soccerspot.pipeline.archive.summary import RunCounts, write_summary


@dataclass(frozen=True)
class ArchiveRequest:
    root: Path
    out: Path
    settings: ArchiveSettings
    jobs: int = 1
    engine: str = "local"
    address: str | None = None
    retries: int = 2
    progress: bool = True
    labels: Path | None = None  # a labels tree: the finished games that have labels are scored into the summary


def check_writable(out: Path) -> None:
    """Create `out` and write a probe file in it, or raise `DataError` saying why not."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise DataError(out, f"the output folder cannot be written ({error.strerror or error})") from None


def check_engine(engine: str) -> None:
    get_engine(engine)  # an unknown name is refused, naming the engines there are
    if engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:

            raise ValueError(INSTALL_HINT) from None


def settings_fingerprint(model_path: Path, settings: ArchiveSettings, described_model: dict) -> tuple[str, dict]:
    """The digest of what decides a game's outputs: the model's files, what else the model's spotting names
    (`described_model`: a feature head's features, a dense model's frames and task), NMS, features-only, the
    grounding model and its fusion where given."""
    files = sorted(p for p in ([model_path] if model_path.is_file() else model_path.iterdir()) if p.is_file())
    described = {
        "checkpoint": {p.name: sha256_file(p) for p in files},
        **described_model,
        "nms": settings.nms, "nms_window": settings.nms_window, "threshold": settings.threshold,
        "features_only": settings.features_only,
        **({"grounding_model": settings.grounding_model} if settings.grounding_model is not None else {}),
        **({"grounding_fusion": settings.grounding_fusion} if settings.grounding_fusion is not None else {}),
    }
    return fingerprint(described), described


def _write_payload(game_dir: Path, payload: list[tuple[str, bytes]]) -> None:
    for name, data in payload:  # features before their sidecars, results last: the workers' order
        with atomic_open(game_dir / name, "wb") as handle:
            handle.write(data)


def may_have_work(games: list[ArchiveGame], manifest: Manifest) -> bool:
    """Whether a game may need work: one whose latest record is not `done` (under any settings). This reads
    only the manifest; which games are done under the current settings needs the checkpoint loaded (its
    fingerprint), so a game done under other settings is found later, and the engine starts then, in `run`."""
    latest = manifest.latest()
    return any(latest.get(game.key, {}).get("status") != "done" for game in games)


def run_archive(request: ArchiveRequest) -> dict:
    """Run the archive; returns the summary (also written to `<out>/archive_summary.json`). When a game may
    need work, the engine's workers start before the driver's checks, loading the model meanwhile."""
    check_engine(request.engine)
    check_writable(request.out)
    games, problems = discover_games(request.root)
    manifest = Manifest(request.out)
    started = (start_engine(request.engine, request.settings, request.jobs, request.address)
               if may_have_work(games, manifest) else None)
    try:
        return _run_archive(request, games, problems, manifest, started)
    finally:
        if started is not None:
            started.close()


def _run_archive(request: ArchiveRequest, games: list[ArchiveGame], problems: list, manifest: Manifest,
                 started: Started | None) -> dict:
    from soccerspot.pipeline.archive.worker import GameOutcome, GameWorker, load_spotting

    spotting = load_spotting(request.settings)
    current, described = settings_fingerprint(spotting.path, request.settings, spotting.described)
    finished = manifest.finished(current)
    counts = RunCounts()
    for problem in problems:
        counts.failed[str(problem.path)] = problem.reason
    todo: list[ArchiveGame] = []
    conflicts: dict[str, str] = {}
    for game in games:
        if game.key in finished:
            counts.skipped.append(game.key)
        elif (conflict := spotting.conflict(game, request.out / game.key)) is not None:
            conflicts[game.key] = conflict
        else:
            todo.append(game)
    manifest.append({"type": "run", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "root": str(request.root), "engine": request.engine, "jobs": request.jobs,
                     "torch_threads": request.settings.torch_threads, "fingerprint": current, "settings": described,
                     "feature_settings": spotting.feature_settings, "task": spotting.task, "games": len(games), "to_do": len(todo)})
    for key in counts.skipped:
        manifest.add(GameRecord(key, "skipped", current, error="done by an earlier run with the same settings",
                                engine=request.engine))
    for key, error in conflicts.items():  # features made differently: never overwritten (Ray workers would)
        manifest.add(GameRecord(key, "failed", current, error=error, engine=request.engine))
        counts.failed[key] = error
    bar = tqdm(total=len(todo), desc="games", unit="game", disable=not request.progress)

    def on_start(game: ArchiveGame) -> None:
        manifest.add(GameRecord(game.key, "started", current, engine=request.engine))

    def on_done(game: ArchiveGame, outcome: GameOutcome) -> None:
        if outcome.status == "done" and outcome.payload is not None:
            try:
                _write_payload(request.out / game.key, outcome.payload)
            except OSError as error:
                outcome = GameOutcome("failed", error=f"writing the outputs failed: {error}", timings=outcome.timings)
        record = GameRecord(game.key, outcome.status, current, error=outcome.error, attempts=outcome.attempts,
                            frames=outcome.frames, video_seconds=outcome.video_seconds,
                            predictions=outcome.predictions, timings=outcome.timings,
                            files=[f"{game.key}/{name}" for name in outcome.files], engine=request.engine)
        manifest.add(record)
        if outcome.status == "done":
            counts.done.append(game.key)
            counts.video_seconds += outcome.video_seconds
            counts.compute_seconds += outcome.timings.get("total", 0.0)
        else:
            counts.failed[game.key] = outcome.error or "failed"
            bar.write(f"failed: {game.key}: {outcome.error}")
        bar.update(1)

    began = time.perf_counter()
    try:
        if todo:
            # the driver's model, loaded already: a worker of this process (the local engine runs games on it;
            # the Ray engine's actors build their own)
            worker = GameWorker(request.settings, spotting)
            get_engine(request.engine)(EngineJob(todo, request.out, request.settings, request.jobs, on_start, on_done,
                                                 worker=worker, address=request.address, retries=request.retries,
                                                 started=started))
    finally:
        bar.close()
    counts.wall_seconds = time.perf_counter() - began
    finished_games = sorted(manifest.finished(current))
    evaluation = None
    if request.labels is not None and not request.settings.features_only:
        evaluation = evaluate_archive(request.labels, request.out, finished_games, spotting.task, spotting.classes,
                                      spotting.team)
    return write_summary(request.out, counts, finished_games, request.engine, request.jobs, evaluation)


def default_threads(jobs: int) -> int:
    return threads_per_job(jobs, len(os.sched_getaffinity(0)))
