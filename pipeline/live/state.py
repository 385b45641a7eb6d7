"""What a live run keeps on disk as it goes, so that `kill -9` and the same command again continue.

`<out>/.live/<half>_<features>.rows`: one record per feature row, appended and flushed as rows are made:
the row's time (float64) then the backbone's raw output (float32 x dim). A record cut short by a kill is
dropped on reading. `<half>_<features>.json` beside it: what the rows are (source, feature settings),
written atomically first; a resumed run must match it (else `DataError`: another recording or other
settings in the same --out). `<out>/<half>_live_events.jsonl`: every event line, appended and flushed
before it goes to --events or the webhook; a resumed run reads it back so that no event id is emitted twice.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soccerspot.data.atomic import write_json_atomic
from soccerspot.errors import DataError

STATE_DIR = ".live"


def events_log_path(out_dir: Path, half: int) -> Path:
    return out_dir / f"{half}_live_events.jsonl"


@dataclass
class RowStore:
    path: Path
    dim: int

    @property
    def record_bytes(self) -> int:
        return 8 + 4 * self.dim

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """(times (n,), features (n, dim)) of the complete records; a torn last record is cut off the file."""
        if not self.path.is_file():
            return np.zeros(0), np.zeros((0, self.dim), np.float32)
        data = self.path.read_bytes()
        count = len(data) // self.record_bytes
        if count * self.record_bytes != len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(count * self.record_bytes)
        records = np.frombuffer(data[: count * self.record_bytes], dtype=np.uint8).reshape(count, self.record_bytes)
        times = records[:, :8].copy().view(np.float64)[:, 0]
        features = records[:, 8:].copy().view(np.float32)
        return times, features

    def append(self, times: np.ndarray, features: np.ndarray) -> None:
        if not len(times):
            return
        records = np.empty((len(times), self.record_bytes), dtype=np.uint8)
        records[:, :8] = np.asarray(times, dtype=np.float64)[:, None].view(np.uint8)
        records[:, 8:] = np.ascontiguousarray(features, dtype=np.float32).view(np.uint8)
        with open(self.path, "ab") as handle:
            handle.write(records.tobytes())
            handle.flush()
            os.fsync(handle.fileno())


def recorded_identity(path: Path) -> dict | None:
    """What an earlier run recorded of itself in `path` (JSON), or None where that file is unreadable JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def open_row_store(out_dir: Path, half: int, name: str, identity: dict, dim: int) -> RowStore:
    """The row store of this half, checked against (or created with) `identity`."""
    folder = out_dir / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    described = folder / f"{half}_{name}.json"
    store = RowStore(folder / f"{half}_{name}.rows", dim)
    if described.is_file():
        if recorded_identity(described) != identity:
            raise DataError(described, "a live run of another source or with other settings left its rows here; "
                                       "remove the .live folder or use another --out")
    else:
        store.path.unlink(missing_ok=True)
        write_json_atomic(described, identity)
    return store


def remove_state(out_dir: Path, half: int, name: str) -> None:
    folder = out_dir / STATE_DIR
    for suffix in (".rows", ".json"):
        (folder / f"{half}_{name}{suffix}").unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def read_event_log(path: Path) -> list[dict]:
    """The lines of an events log; a line cut short by a kill is ignored."""
    if not path.is_file():
        return []
    lines = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            continue
    return lines


class EventLog:
    """Append-only JSON lines, flushed and synced per line."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_file() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            with open(path, "ab") as handle:  # a torn last line: end it so the next line stands alone
                handle.write(b"\n")
        self.handle = open(path, "a", encoding="utf-8")

    def write(self, line: dict) -> None:
        self.handle.write(json.dumps(line) + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()
