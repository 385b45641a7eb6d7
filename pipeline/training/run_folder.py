"""A training run's folder: what it holds, the checks before a run writes there, and `--resume`'s records.

    train_config.json   the run's settings and the data it was trained on (features root and name, labels
                        root, the game lists, the feature settings)
    metrics.jsonl       one JSON object per epoch (losses, lr, validation metrics when computed, time)
    best/ last/         checkpoints written by the run's task
    state.pt            optimizer, scheduler, epoch, RNG and selection state for `--resume` (tensors and
                        plain values only: loaded with `weights_only=True`)

Interruptions: each epoch appends its metrics line, then saves the state. A kill in between leaves a line
(possibly torn mid-write) for an epoch the state does not hold; `--resume` drops it and redoes that epoch.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from soccerspot.data.atomic import atomic_open
from soccerspot.errors import DataError

STATE_FILE = "state.pt"
METRICS_FILE = "metrics.jsonl"
RUN_CONFIG_FILE = "train_config.json"
BEST, LAST = "best", "last"


def check_run_folder(out_dir: Path, resume: bool) -> None:
    """Refuse a run folder that cannot be written, or that holds something `train` would overwrite."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(out_dir, "exists and is not a folder: choose another --out")
    if resume:
        if not (out_dir / STATE_FILE).is_file():
            raise DataError(out_dir / STATE_FILE, "no training state to resume from (was the run started with "
                                                  "this --out?)")
        if not (out_dir / RUN_CONFIG_FILE).is_file():
            raise DataError(out_dir / RUN_CONFIG_FILE, "missing: the run's settings and data are unknown, so it "
                                                   "cannot be resumed")
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise DataError(out_dir, "already holds files (a previous run?): pass --resume to continue it, "
                                 "or choose another --out; nothing was overwritten")
    existing = next(folder for folder in (out_dir, *out_dir.absolute().parents) if folder.exists())
    if not existing.is_dir():
        raise DataError(existing, f"is not a folder, so the run folder {out_dir} cannot be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(existing, f"not writable: the run folder {out_dir} cannot be written")


def make_run_folder(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(out_dir, f"cannot create the run folder ({error.strerror or error})") from None


def read_run_config(out_dir: Path) -> dict:
    """The run's `train_config.json` (written at its start)."""
    path = out_dir / RUN_CONFIG_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "missing: the run's settings and data are unknown") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(path, f"unreadable run settings ({error})") from None
    if not isinstance(stored, dict) or not isinstance(stored.get("config"), dict):
        raise DataError(path, "not a soccerspot run config (no 'config' object)")
    return stored


def same_folder(a: str | None, b: str | None) -> bool:
    return a == b or (a is not None and b is not None and Path(a).resolve() == Path(b).resolve())


def read_metrics(path: Path) -> list[dict]:
    """The epoch records of `metrics.jsonl`. A torn last line (a kill mid-write; its epoch's state was never
    saved) is left out; an unreadable line before it is a `DataError`."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("epoch"), int):
                raise ValueError("not an epoch record")
        except ValueError as error:
            if number == len(lines):
                break
            raise DataError(path, f"line {number} is not an epoch record ({error})") from None
        records.append(record)
    return records


def trim_metrics(path: Path, last_epoch: int) -> None:
    """Drop metric lines of epochs after the saved state (written just before an interruption, maybe torn)."""
    if not path.is_file():
        return
    kept = [record for record in read_metrics(path) if record["epoch"] <= last_epoch]
    with atomic_open(path, "w") as handle:
        handle.write("".join(json.dumps(record) + "\n" for record in kept))


def append_metrics(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def check_resumable(out_dir: Path, resume_differences: Callable[[dict], list[str]]) -> None:
    """Refuse to resume a run on other data: `resume_differences(stored record)` lists what differs."""
    differences = resume_differences(read_run_config(out_dir))
    if differences:
        raise DataError(out_dir / RUN_CONFIG_FILE, "--resume continues a run on the data it started with; these "
                                                   f"differ: {'; '.join(differences)}")
