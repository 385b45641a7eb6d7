"""Which games an archive holds: the half videos below a root, grouped into games.

The mapping is `soccerspot extract`'s (`extract.jobs.plan_jobs`): a folder holding `1_<x>.mkv` /
`2_<x>.mkv` is one game (SoccerNet layout, `224p` preferred), any other video is a one-half game of its
own named after its stem. A game's key is its folder relative to the root (`league/season/game`), which
is also where its features and `results_spotting.json` go below `--out`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soccerspot.errors import DataError
from soccerspot.extract.jobs import PlanProblem, is_video_name, plan_jobs


@dataclass(frozen=True)
class HalfVideo:
    half: int
    video: Path


@dataclass(frozen=True)
class ArchiveGame:
    key: str  # relative game folder, POSIX separators
    halves: tuple[HalfVideo, ...]


def discover_games(root: str | Path) -> tuple[list[ArchiveGame], list[PlanProblem]]:
    """Games below `root` sorted by key, and the videos that cannot be planned (duplicate halves)."""
    root = Path(root)
    if not root.exists():
        raise DataError(root, "no such archive folder or video")
    if root.is_file() and not is_video_name(root):
        raise DataError(root, "not a video file (give a folder of games or a video)")
    jobs, problems = plan_jobs([root], Path())
    by_key: dict[str, list[HalfVideo]] = {}
    for job in jobs:
        by_key.setdefault(job.game_dir.as_posix(), []).append(HalfVideo(job.half, job.video))
    if not by_key:
        raise DataError(root, "no videos found (expected game folders with 1_224p.mkv / 2_224p.mkv, or video files)")
    games = [ArchiveGame(key, tuple(sorted(halves, key=lambda h: h.half))) for key, halves in sorted(by_key.items())]
    return games, problems
