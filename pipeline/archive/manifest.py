"""The archive manifest: `<out>/archive_manifest.jsonl`, one JSON record per line, appended as games move.

Records are `{"type": "run", ...}` (one per run: settings, engine) and `{"type": "game", "game": KEY,
"status": ...}` with status `started`, `done`, `failed` (with `error`) or `skipped` (done by an earlier
run with the same settings), plus timings, files and counts. Each record is appended with one `write`
on an `O_APPEND` descriptor and fsynced; a line torn by `kill -9` can only be the last one, and is
dropped (the file rewritten atomically without it) when the manifest is next opened.

A game counts as finished when its latest `started`/`done`/`failed` record is `done` with the current
settings fingerprint; anything else (never started, interrupted, failed, other settings) is done again.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from soccerspot.data.atomic import atomic_open
from soccerspot.errors import DataError

MANIFEST_FILE = "archive_manifest.jsonl"
STATUSES = ("started", "done", "failed", "skipped")


@dataclass
class GameRecord:
    game: str
    status: str
    fingerprint: str
    error: str | None = None
    attempts: int = 1
    frames: int = 0
    video_seconds: float = 0.0
    predictions: int = 0
    timings: dict = field(default_factory=dict)  # seconds: extract, spot, total
    files: list[str] = field(default_factory=list)  # relative to the output folder
    engine: str = ""

    def to_json(self) -> dict:
        return {"type": "game", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **asdict(self)}


def fingerprint(settings: dict) -> str:
    """A short digest of what decides a game's outputs (checkpoint contents, NMS, features-only)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class Manifest:
    """Reads the existing records (repairing a torn last line) and appends new ones."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / MANIFEST_FILE
        self.records = self._load()

    def _load(self) -> list[dict]:
        if not self.path.is_file():
            return []
        text = self.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        records, torn = [], False
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError as error:
                if number == len(lines):  # the last line, without its newline: cut short by a kill
                    torn = True
                    continue
                raise DataError(self.path, f"line {number} is not a JSON record ({error}); fix or remove it") from None
            records.append(record)
        if torn:
            with atomic_open(self.path, "w") as handle:
                handle.write("".join(json.dumps(r) + "\n" for r in records))
        return records

    def append(self, record: dict) -> None:
        data = (json.dumps(record) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"{self.path}: short write to the manifest ({written} of {len(data)} bytes)")
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records.append(record)

    def add(self, record: GameRecord) -> None:
        self.append(record.to_json())

    def latest(self) -> dict[str, dict]:
        """Each game's latest started/done/failed record (`skipped` records do not change a game's state)."""
        state: dict[str, dict] = {}
        for record in self.records:
            if record.get("type") == "game" and record.get("status") in ("started", "done", "failed"):
                state[str(record.get("game"))] = record
        return state

    def finished(self, current_fingerprint: str) -> dict[str, dict]:
        """The `done` records, by game, of games that need no work under `current_fingerprint`."""
        return {game: record for game, record in self.latest().items()
                if record["status"] == "done" and record.get("fingerprint") == current_fingerprint}
