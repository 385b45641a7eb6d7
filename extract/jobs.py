"""Which video becomes which feature file: the mapping from `soccerspot extract PATH...` to halves.

- A SoccerNet game folder holds its halves as `1_<anything>.<video ext>` / `2_...` (`1_224p.mkv`,
  `2_720p.mkv`); where a half exists in several qualities, `224p` wins (what the official features use).
  Its features go to `<out>/<folder relative to PATH>/<half>_<name>.npy`, mirroring the tree; a game
  folder given itself as PATH maps to `<out>/<its name>/`.
- Any other video (a lone file or one inside a folder) is a one-half "game" of its own:
  `<out>/<relative folder>/<video stem>/1_<name>.npy`.
- A lone file named like a half (`.../some game/2_224p.mkv`) keeps its half and its folder's name:
  `<out>/some game/2_<name>.npy`.

Folders are searched recursively for video extensions only (Labels-v2.json etc. are ignored); a file
given explicitly is always tried, so a non-video given by mistake gets a clear error.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from soccerspot.data.games import PREFERRED_QUALITY, VIDEO_EXTENSIONS, half_of, is_video_name

@dataclass(frozen=True)
class Job:
    video: Path
    game_dir: Path  # where `<half>_<name>.npy` goes
    half: int


@dataclass(frozen=True)
class PlanProblem:
    path: Path
    reason: str


def plan_jobs(paths: list[str | Path], out_dir: str | Path) -> tuple[list[Job], list[PlanProblem]]:
    """Jobs in a stable order, and the inputs that cannot be planned (missing, duplicate outputs)."""
    out_dir = Path(out_dir)
    jobs: list[Job] = []
    problems: list[PlanProblem] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            problems.append(PlanProblem(path, "file not found"))
        elif path.is_dir():
            found = _folder_jobs(path, out_dir)
            if not found:
                problems.append(PlanProblem(path, "no video files in this folder or below "
                                                  f"(extensions: {', '.join(sorted(VIDEO_EXTENSIONS))})"))
            jobs.extend(found)
        else:
            jobs.append(_file_job(path, out_dir))
    return _drop_duplicates(jobs, problems)


def _file_job(path: Path, out_dir: Path) -> Job:
    half = half_of(path)
    if half is not None:
        game = path.resolve().parent.name
        return Job(path, out_dir / game, half)
    return Job(path, out_dir / path.stem, 1)


def _folder_jobs(root: Path, out_dir: Path) -> list[Job]:
    jobs = []
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        folder_path = Path(folder)
        relative = folder_path.relative_to(root)
        base = out_dir / (root.resolve().name if relative == Path(".") else relative)
        videos = sorted(folder_path / name for name in files if is_video_name(Path(name)))
        halves: dict[int, list[Path]] = {}
        for video in videos:
            half = half_of(video)
            if half is not None:
                halves.setdefault(half, []).append(video)
        for half, candidates in sorted(halves.items()):
            preferred = [video for video in candidates if PREFERRED_QUALITY in video.stem]
            jobs.append(Job((preferred or candidates)[0], base, half))
        lone_base = out_dir / relative
        for video in videos:
            if half_of(video) is None:
                jobs.append(Job(video, lone_base / video.stem, 1))
    return jobs


def _drop_duplicates(jobs: list[Job], problems: list[PlanProblem]) -> tuple[list[Job], list[PlanProblem]]:
    seen: dict[tuple[Path, int], Path] = {}
    kept = []
    for job in jobs:
        key = (job.game_dir, job.half)
        if key in seen:
            if seen[key].resolve() != job.video.resolve():
                problems.append(PlanProblem(job.video, f"its output would overwrite that of {seen[key]}; skipped"))
            continue
        seen[key] = job.video
        kept.append(job)
    return kept, problems
