"""The end of an archive run: `archive_summary.json` (counts, events per class, throughput; with `--labels`, the
finished games' score by the task's metric: `archive.evaluation`) and
`archive_spots.csv` (every spot of every finished game: game, half, match time, class, confidence, and team
for a team model's spots)."""
from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.labels import game_time, read_predictions
from soccerspot.data.games import PREDICTIONS_FILE

SUMMARY_FILE = "archive_summary.json"
SPOTS_FILE = "archive_spots.csv"
SPOTS_COLUMNS = ("game", "half", "match_time", "position_ms", "class", "confidence", "team")  # team: left/right or empty


@dataclass
class RunCounts:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # game -> error
    skipped: list[str] = field(default_factory=list)
    video_seconds: float = 0.0  # of the games done in this run
    compute_seconds: float = 0.0  # summed per-game time of the games done in this run
    wall_seconds: float = 0.0


def spot_rows(out_dir: Path, games: list[str]) -> list[tuple]:
    """CSV rows of the spots of `games` (their `results_spotting.json` below `out_dir`), in game order."""
    rows = []
    for game in games:
        path = out_dir / game / PREDICTIONS_FILE
        if not path.is_file():
            continue
        for p in sorted(read_predictions(path).predictions, key=lambda p: (p.half, p.position_ms, p.label, p.team or "")):
            rows.append((game, p.half, game_time(p.half, p.position_ms), p.position_ms, p.label, f"{p.confidence:.6f}",
                         p.team or ""))
    return rows


def write_spots_csv(path: Path, rows: list[tuple]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SPOTS_COLUMNS)
    writer.writerows(rows)
    with atomic_open(path, "w") as handle:
        handle.write(buffer.getvalue())


def summarize(counts: RunCounts, rows: list[tuple], engine: str, jobs: int) -> dict:
    compute_hours = counts.compute_seconds / 3600
    return {
        "games": len(counts.done) + len(counts.failed) + len(counts.skipped),
        "done": len(counts.done),
        "failed": len(counts.failed),
        "skipped": len(counts.skipped),
        "failures": counts.failed,
        "events_per_class": dict(sorted(Counter(row[4] for row in rows).items())),
        "spots": len(rows),
        "engine": engine,
        "jobs": jobs,
        "video_hours": round(counts.video_seconds / 3600, 6),
        "compute_hours": round(compute_hours, 6),
        "video_hours_per_compute_hour": round(counts.video_seconds / counts.compute_seconds, 3) if counts.compute_seconds else None,
        "wall_seconds": round(counts.wall_seconds, 3),
        "games_per_hour": round(len(counts.done) * 3600 / counts.wall_seconds, 2) if counts.wall_seconds and counts.done else None,
    }


def write_summary(out_dir: Path, counts: RunCounts, finished_games: list[str], engine: str, jobs: int,
                  evaluation: dict | None = None) -> dict:
    """Write the CSV (all finished games, this run's and earlier ones') and the summary (with the finished
    games' `evaluation` against labels, where there is one); return the summary."""
    rows = spot_rows(out_dir, finished_games)
    write_spots_csv(out_dir / SPOTS_FILE, rows)
    summary = summarize(counts, rows, engine, jobs)
    if evaluation is not None:
        summary["evaluation"] = evaluation
    write_json_atomic(out_dir / SUMMARY_FILE, summary)
    return summary
