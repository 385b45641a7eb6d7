"""The task of a tree's spots when `soccerspot view` or `plot` is not told one (`--task`): read from what the tree
(or the results file) holds.

The classes of its `results_spotting.json` files decide (SoccerNet-v2's "Goal" or Ball's "PASS": the class sets
of `data.tasks` do not overlap); a tree without predictions is decided by the labels files it holds
(`Labels-ball.json` or `Labels-v2.json`), and one with neither is action spotting's. Files that cannot be read
are passed over here: the catalog names them when it loads the game.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.data.tasks import action_task_names, task_spec, tasks_of_model

DEFAULT_TASK = "spotting"
MAX_FILES = 50  # results files read: enough to see the classes of a season, quick on an archive of thousands


@dataclass(frozen=True)
class TreeTask:
    name: str
    reason: str  # one line for the user: what decided it


def _files(roots: list[Path], name: str, limit: int) -> list[Path]:
    found = []
    for root in roots:
        if root.is_file() and root.name == name:  # a file given itself (`plot RESULTS --labels FILE`)
            found.append(root)
        if not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            if name in files:
                found.append(Path(folder) / name)
                if len(found) >= limit:
                    return found
    return found


def _labels_in(path: Path) -> set[str]:
    try:
        entries = json.loads(path.read_bytes()).get("predictions", [])
        return {str(entry["label"]) for entry in entries if isinstance(entry, dict) and "label" in entry}
    except (OSError, ValueError, AttributeError):
        return set()


def task_of_tree(path: str | Path, labels_root: str | Path | None = None) -> TreeTask:
    """The action task of the spots under `path` (and the labels under `labels_root`)."""
    roots = [Path(path)] + ([] if labels_root is None else [Path(labels_root)])
    tasks = action_task_names()
    results = _files(roots[:1], PREDICTIONS_FILE, MAX_FILES)
    labels = set().union(*(_labels_in(file) for file in results)) if results else set()
    if labels:
        fits = tasks_of_model(sorted(labels), team=False)
        if fits:
            return TreeTask(fits[0], f"the classes of its {PREDICTIONS_FILE}")
    for name in tasks:
        if _files(roots, task_spec(name).labels_file, 1):
            return TreeTask(name, f"its {task_spec(name).labels_file}")
    return TreeTask(DEFAULT_TASK, "nothing in it names another")
