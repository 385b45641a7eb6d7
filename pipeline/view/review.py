"""Corrections: what the reviewer decided for each item, and the `Labels-v2.json` that follows from it.

Items are the game's spots (`p:<half>:<ms>:<class>`, from `results_spotting.json`), its labels (`t:<index>`
in the original `Labels-v2.json`) and events the reviewer added (`n:<number>`). A decision is
{"status": "accepted" | "rejected" | "open", "half", "position_ms", "label", "visibility"}: the fields are
the item after the reviewer's nudges and class changes. The corrected labels are the original labels
(edited, less the rejected ones) plus the accepted spots and added events, written as an official
`Labels-v2.json`. An accepted spot within 1 s of a kept label of its class confirms that label instead of
adding a second one (move the label itself to correct its time). For another task (`soccerspot view --task`) the
labels file is the task's (`Labels-ball.json`), the window its hit tolerance (0.5 s for Ball Action Spotting), and
where the task names teams a spot confirms only a label of its team and is added with its team.

Where they go (`ReviewStore`): by default a reviewed copy, `<review dir>/<game>/Labels-v2.json`, the same
layout as a labels tree, so `soccerspot train --labels-root <review dir>` reads it as it is; beside it
`review.json` keeps the decisions (the review's progress) and is read back when the game is opened again.
With `in_place` the game's own `Labels-v2.json` is rewritten, after a one-time copy of the original
to `Labels-v2.original.json` (the labels the decisions refer to from then on).
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from soccerspot.data.atomic import atomic_open, write_json_atomic
from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.data.games import LABELS_FILE
from soccerspot.data.labels import (
    VISIBILITY_SHOWN, VISIBILITY_UNSHOWN, Event, GameLabels, read_labels, write_labels,
)
from soccerspot.errors import DataError

REVIEW_FILE = "review.json"
ORIGINAL_COPY = "Labels-v2.original.json"  # of `Labels-v2.json`; another labels file: `original_copy(name)`
STATUSES = ("accepted", "rejected", "open")
VISIBILITIES = (VISIBILITY_SHOWN, VISIBILITY_UNSHOWN)
NEW_EVENT_TEAM = "not applicable"
MAX_POSITION_MS = 4 * 3600 * 1000
MAX_DECISIONS = 20_000
SAME_ACTION_MS = 1000  # an accepted spot this close to a kept label of its class is that label (the 1 s of tight)
_ID = re.compile(r"^(p:[12]:\d{1,8}:[^\x00-\x1f]{1,64}|t:\d{1,6}|n:\d{1,6})$")


class BadReview(ValueError):
    """A review POST that cannot be applied: answered 400, nothing written."""


@dataclass(frozen=True)
class Decision:
    status: str
    half: int
    position_ms: int
    label: str
    visibility: str = VISIBILITY_SHOWN
    team: str = ""  # the spot's team (tasks with teams); "" where none


def original_copy(labels_file: str) -> str:
    """`Labels-v2.json` -> `Labels-v2.original.json`: where `in_place` keeps the original once."""
    stem, dot, suffix = labels_file.rpartition(".")
    return f"{stem}.original.{suffix}" if dot else f"{labels_file}.original"


def parse_decisions(obj: object, known_ids: set[str], classes: set[str],
                    teams: tuple[str, ...] = ()) -> dict[str, Decision]:
    """Validate a POSTed {"decisions": {id: {...}}}; `BadReview` names the first problem."""
    if not isinstance(obj, dict) or not isinstance(obj.get("decisions"), dict):
        raise BadReview('expected a JSON object {"decisions": {item id: decision}}')
    raw = obj["decisions"]
    if len(raw) > MAX_DECISIONS:
        raise BadReview(f"{len(raw)} decisions; at most {MAX_DECISIONS}")
    decisions = {}
    for item, value in raw.items():
        if not _ID.match(item):
            raise BadReview(f"bad item id {item[:80]!r}")
        if not item.startswith("n:") and item not in known_ids:
            raise BadReview(f"item {item[:80]!r} is not a spot or label of this game")
        if not isinstance(value, dict):
            raise BadReview(f"decision for {item!r} is not an object")
        status, half, position, label = (value.get(k) for k in ("status", "half", "position_ms", "label"))
        visibility = value.get("visibility", VISIBILITY_SHOWN)
        if status not in STATUSES:
            raise BadReview(f"{item}: status must be one of {', '.join(STATUSES)}")
        if half not in (1, 2) or isinstance(half, bool):
            raise BadReview(f"{item}: half must be 1 or 2")
        if type(position) is not int or not 0 <= position <= MAX_POSITION_MS:
            raise BadReview(f"{item}: position_ms must be an integer from 0 to {MAX_POSITION_MS}")
        if not isinstance(label, str) or label not in classes:
            raise BadReview(f"{item}: unknown class {str(label)[:64]!r}")
        if visibility not in VISIBILITIES:
            raise BadReview(f"{item}: visibility must be {' or '.join(VISIBILITIES)}")
        team = value.get("team", "")
        if team not in ("",) + tuple(teams):
            raise BadReview(f"{item}: team must be one of {', '.join(teams) or 'none'}")
        decisions[item] = Decision(status, half, position, label, visibility, team)
    return decisions


def corrected_labels(original: GameLabels | None, decisions: dict[str, Decision], url: str, *,
                     same_action_ms: int = SAME_ACTION_MS, teams: bool = False) -> GameLabels:
    """The labels after the decisions (see the module's docstring); exact duplicates written once."""
    events: list[Event] = []
    for index, event in enumerate(original.events if original is not None else []):
        decision = decisions.get(f"t:{index}")
        if decision is None:
            events.append(event)
        elif decision.status != "rejected":
            events.append(Event(decision.half, decision.position_ms, decision.label, event.team, decision.visibility))
    kept = list(events)
    for item, decision in sorted(decisions.items()):
        if item[0] not in "pn" or decision.status != "accepted":
            continue
        if item[0] == "p" and any(e.half == decision.half and e.label == decision.label
                                  and (not teams or e.team == decision.team)
                                  and abs(e.position_ms - decision.position_ms) <= same_action_ms for e in kept):
            continue  # a spot on a kept label of its class (and team) confirms that label rather than doubling it
        events.append(Event(decision.half, decision.position_ms, decision.label, decision.team or NEW_EVENT_TEAM,
                            decision.visibility))
    unique = list(dict.fromkeys(events))
    return GameLabels(url=original.url if original is not None and original.url else url, events=unique)


def progress(decisions: dict[str, Decision], total: int) -> dict:
    decided = sum(1 for item, d in decisions.items() if d.status != "open" and item[0] in "pt")
    return {"decided": decided, "total": total}


class ReviewStore:
    """Where a game's corrected labels and review progress are read and written."""

    def __init__(self, review_dir: Path, in_place: bool = False, *, labels_file: str = LABELS_FILE,
                 same_action_ms: int = SAME_ACTION_MS, teams: tuple[str, ...] = ()):
        self.review_dir = review_dir
        self.in_place = in_place
        self.labels_file = labels_file  # the task's labels file name
        self.same_action_ms = same_action_ms  # an accepted spot this close to a kept label confirms it
        self.teams = teams  # the task's teams: a spot confirms only a label of its team

    def folder(self, key: str) -> Path:
        return self.review_dir.joinpath(*key.split("/"))

    def labels_target(self, key: str, source_labels: Path | None, default_folder: Path) -> Path:
        if self.in_place:
            return source_labels if source_labels is not None else default_folder / self.labels_file
        return self.folder(key) / self.labels_file

    def original_labels(self, source_labels: Path | None) -> GameLabels | None:
        """The labels the decisions refer to: in place, the copy kept before the first save."""
        if source_labels is None:
            return None
        return read_labels(self.original_path(source_labels), strict=False)

    def original_path(self, source_labels: Path | None) -> Path | None:
        if source_labels is None:
            return None
        kept = source_labels.with_name(original_copy(self.labels_file))
        return kept if self.in_place and kept.is_file() else source_labels

    def stale(self, saved: dict, source_labels: Path | None) -> str | None:
        """Why the saved decisions may no longer fit the labels (they refer to labels by index), if so."""
        path = self.original_path(source_labels)
        before = saved.get("original_sha256")
        if before and path is not None and path.is_file() and fingerprint(path) != before:
            return (f"{path} changed since this game's review was saved: decisions on labels refer to them by "
                    "position in that file and may now point at other events")
        return None

    def load(self, key: str) -> dict:
        path = self.folder(key) / REVIEW_FILE
        if not path.is_file():
            return {}
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DataError(path, f"unreadable review progress ({error}); move it away to start again") from None
        return obj if isinstance(obj, dict) else {}

    def save(self, key: str, decisions: dict[str, Decision], original: GameLabels | None,
             source_labels: Path | None, default_folder: Path, total: int) -> dict:
        """Write the corrected labels, then the progress; both atomic. Returns what was written."""
        target = self.labels_target(key, source_labels, default_folder)
        labels = corrected_labels(original, decisions, url=key, same_action_ms=self.same_action_ms,
                                  teams=bool(self.teams))
        if self.in_place and source_labels is not None and source_labels.is_file():
            kept = source_labels.with_name(original_copy(self.labels_file))
            if not kept.exists():
                with atomic_open(kept, "wb") as handle, source_labels.open("rb") as source:
                    shutil.copyfileobj(source, handle)
        write_labels(target, labels)
        original_path = self.original_path(source_labels)
        record = {
            "version": 1, "game": key, "labels": str(target),
            "original_labels": None if source_labels is None else str(source_labels),
            "original_sha256": fingerprint(original_path) if original_path is not None and original_path.is_file() else None,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "progress": progress(decisions, total),
            "events": len(labels.events),
            "decisions": {item: vars(d) for item, d in sorted(decisions.items())},
        }
        write_json_atomic(self.folder(key) / REVIEW_FILE, record)
        return record


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def allowed_classes(*names: list[str], known: list[str] = CLASS_NAMES_V2) -> set[str]:
    return set(known).union(*map(set, names))
