"""Reading and writing SoccerNet's annotation and prediction files, exactly in the official formats.

`Labels-v2.json`: {"UrlLocal": ..., "annotations": [{"gameTime": "1 - 05:12", "label": "Goal",
"position": "312000", "team": "home", "visibility": "visible"}, ...]}.
`results_spotting.json`: {"UrlLocal": ..., "predictions": [{"gameTime": "1 - 5:12", "label": "Goal",
"position": 312000, "half": 1, "confidence": 0.93}, ...]}.
Ball Action Spotting's `Labels-ball.json` is the same format (classes such as "PASS", "DRIVE", positions at
25 fps precision; since 2025 `team` is "left" or "right", the side of the video), and its predictions carry
the same `team` on each entry (`Prediction.team`, written only where set).

Time comes from `position` (ms from the start of the half); `gameTime` gives the time only where there
is no `position` (SoccerNet-v1's `Labels.json`). Real files disagree between the two once; `position`
wins, as the official evaluator does. The half of a label comes from its gameTime ("2 - ..."), of a
prediction from its `half` field (gameTime where absent), again as the official evaluator reads them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from soccerspot.data.atomic import write_json_atomic
from soccerspot.errors import DataError
from soccerspot.data.games import HALVES

VISIBILITY_SHOWN = "visible"
VISIBILITY_UNSHOWN = "not shown"
EVALUATION_FRAMERATE = 2  # SoccerNet-v2's evaluation grid; Ball Action Spotting's is 25 fps


@dataclass(frozen=True)
class Event:
    """One annotated action."""

    half: int
    position_ms: int
    label: str
    team: str = ""
    visibility: str = VISIBILITY_SHOWN

    @property
    def seconds(self) -> float:
        return self.position_ms / 1000.0

    @property
    def shown(self) -> bool:
        return self.visibility != VISIBILITY_UNSHOWN


@dataclass(frozen=True)
class Prediction:
    """One spotted action."""

    half: int
    position_ms: int
    label: str
    confidence: float
    team: str = ""  # Ball Action Spotting (2025): "left" or "right"; "" where not predicted


@dataclass
class GameLabels:
    url: str
    events: list[Event] = field(default_factory=list)
    path: Path | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many entries a non-strict read skipped


@dataclass
class GamePredictions:
    url: str
    predictions: list[Prediction] = field(default_factory=list)
    path: Path | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many entries a non-strict read skipped


def game_time(half: int, position_ms: int) -> str:
    """The official "H - MM:SS" string (minutes not capped: stoppage time runs past 45)."""
    total = int(position_ms) // 1000
    return f"{half} - {total // 60:02d}:{total % 60:02d}"


def _read_json(path: Path, key: str, content: bytes | None = None) -> dict:
    """The JSON object of `path` (or of `content`, its bytes where it is not a file on disk: a zip member)."""
    if content is None and not path.is_file():
        raise DataError(path, "file not found")
    try:
        obj = json.loads(path.read_text(encoding="utf-8") if content is None else content.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise DataError(path, f"not UTF-8 text ({error})") from error
    except json.JSONDecodeError as error:
        raise DataError(path, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}") from error
    except OSError as error:
        raise DataError(path, f"cannot read the file ({error.strerror or error})") from None
    except (ValueError, RecursionError) as error:  # integers past Python's digit limit, absurd nesting
        raise DataError(path, f"not a usable JSON file ({type(error).__name__}: {str(error)[:120]})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get(key), list):
        raise DataError(path, f'expected a JSON object with a list "{key}"')
    return obj


_HALF_VALUES = {1: 1, 2: 2, "1": 1, "2": 2}


class OutsideScoredSet(DataError):
    """An entry the official evaluator silently skips (a label outside the class dictionary, a half other than
    1 or 2): skipped and counted under `why` unless the reader is strict."""

    def __init__(self, path: str | Path, reason: str, why: str):
        self.why = why
        super().__init__(path, reason)


def _half_of(entry: dict, path: Path, index: int, from_game_time: bool = False) -> int:
    """The half: the `half` field, else gameTime's "H - ". Labels (`from_game_time`) take gameTime first,
    as the official evaluator does."""
    raw = None if from_game_time else entry.get("half")
    if raw is None:
        text = entry.get("gameTime")
        if type(text) is str and text[:2] in ("1 ", "2 ", "1-", "2-"):
            return int(text[0])
        text = str(entry.get("gameTime", "")).strip()
        raw = text.split("-")[0].strip() if text else entry.get("half")
    if isinstance(raw, (int, str)) and not isinstance(raw, bool) and raw in _HALF_VALUES:
        return _HALF_VALUES[raw]
    try:
        half = int(str(raw).strip())
    except (TypeError, ValueError):
        half = None
    if half is None:
        raise DataError(path, f"entry {index} has half {raw!r}; valid halves are 1 and 2 (entry: {entry})")
    if half not in HALVES:
        raise OutsideScoredSet(path, f"entry {index} has half {raw!r}; valid halves are 1 and 2 (entry: {entry})",
                               "half not 1 or 2")
    return half


def _seconds_of_game_time(text: str) -> int | None:
    """Seconds in the half of an "H - MM:SS" gameTime (minutes unpadded or past 99 allowed)."""
    try:
        clock = text.split("-", 1)[1]
        minutes, seconds = clock.split(":")
        return int(minutes) * 60 + int(seconds)
    except (IndexError, ValueError):
        return None


def _position_of(entry: dict, path: Path, index: int) -> int:
    raw = entry.get("position")
    if type(raw) is int and raw >= 0 or type(raw) is str and raw.isascii() and raw.isdigit():
        return int(raw)
    if raw is None and "gameTime" in entry:
        # SoccerNet-v1 `Labels.json` has second precision only: the official evaluator uses gameTime then.
        seconds = _seconds_of_game_time(str(entry["gameTime"]))
        if seconds is None:
            raise DataError(path, f"entry {index} has neither 'position' nor a 'gameTime' like '1 - 05:12' "
                                  f"(entry: {entry})")
        return seconds * 1000
    try:
        position = int(float(str(raw).strip()))
    except (TypeError, ValueError):
        raise DataError(path, f"entry {index} has no integer 'position' in ms (entry: {entry})") from None
    if position < 0:
        raise DataError(path, f"entry {index} has a negative position {position} (entry: {entry})")
    return position


class _Labels:
    """The valid label names: a set to test, the ordered list to tell the user."""

    def __init__(self, names: Iterable[str] | None):
        self.names = None if names is None else list(names)
        self.lookup = None if names is None else frozenset(self.names)


def _check_label(label: object, path: Path, index: int, entry: dict, valid: _Labels) -> str:
    if not isinstance(label, str):
        raise DataError(path, f"entry {index} has no string 'label' (entry: {entry})")
    if valid.lookup is not None and label not in valid.lookup:
        raise OutsideScoredSet(path, f"entry {index} has unknown label {label!r}; valid labels: "
                                     f"{', '.join(valid.names)}", "unknown label")
    return label


def _url_of(obj: dict, path: Path) -> str:
    return str(obj.get("UrlLocal") or obj.get("Url") or "")


def read_labels(path: str | Path, valid_labels: Iterable[str] | None = None, *, strict: bool = True) -> GameLabels:
    """Read a `Labels-v2.json`. Duplicated annotations are kept (the evaluator collapses them).
    `strict=False` skips, as the official evaluator does, annotations whose label is not in `valid_labels` or
    whose half is not 1 or 2, and counts them in `skipped`."""
    path = Path(path)
    obj = _read_json(path, "annotations")
    valid = _Labels(valid_labels)
    events, skipped = [], {}
    for index, entry in enumerate(obj["annotations"]):
        if not isinstance(entry, dict):
            raise DataError(path, f"annotation {index} is not an object")
        try:
            events.append(
                Event(
                    half=_half_of(entry, path, index, from_game_time=True),
                    position_ms=_position_of(entry, path, index),
                    label=_check_label(entry.get("label"), path, index, entry, valid),
                    team=str(entry.get("team", "")),
                    visibility=str(entry.get("visibility", VISIBILITY_SHOWN)),
                )
            )
        except OutsideScoredSet as error:
            if strict:
                raise
            skipped[error.why] = skipped.get(error.why, 0) + 1
    return GameLabels(url=_url_of(obj, path), events=events, path=path, skipped=skipped)


def write_labels(path: str | Path, labels: GameLabels) -> None:
    annotations = [
        {
            "gameTime": game_time(e.half, e.position_ms),
            "label": e.label,
            "position": str(e.position_ms),
            "team": e.team,
            "visibility": e.visibility,
        }
        for e in sorted(labels.events, key=lambda e: (e.half, e.position_ms))
    ]
    write_json_atomic(path, {"UrlLocal": labels.url, "UrlYoutube": "", "annotations": annotations})


def read_predictions(path: str | Path, valid_labels: Iterable[str] | None = None, *,
                     strict: bool = True, ignore_half: bool = False, content: bytes | None = None) -> GamePredictions:
    """Read a `results_spotting.json`: values may be strings or numbers, `gameTime` unpadded,
    `Url` instead of `UrlLocal`. `strict=False` skips, as the official evaluator does, predictions whose
    label is not in `valid_labels` or whose half is not 1 or 2, and counts them in `skipped`.
    `ignore_half`: every prediction is of half 1 whatever its `half` or gameTime say, as the 2025 Ball
    evaluator reads them (one video per game). A `team` field is kept as a string. `content`: the file's
    bytes where it is not on disk (a zip member; `path` names it in messages)."""
    path = Path(path)
    obj = _read_json(path, "predictions", content)
    valid = _Labels(valid_labels)
    predictions, skipped = [], {}
    for index, entry in enumerate(obj["predictions"]):
        if not isinstance(entry, dict):
            raise DataError(path, f"prediction {index} is not an object")
        try:
            half = 1 if ignore_half else _half_of(entry, path, index)
            position = _position_of(entry, path, index)
            label = _check_label(entry.get("label"), path, index, entry, valid)
        except OutsideScoredSet as error:
            if strict:
                raise
            skipped[error.why] = skipped.get(error.why, 0) + 1
            continue
        try:
            confidence = float(entry.get("confidence"))
        except (TypeError, ValueError):
            raise DataError(path, f"prediction {index} has no numeric 'confidence' (entry: {entry})") from None
        team = entry.get("team")
        predictions.append(Prediction(half=half, position_ms=position, label=label, confidence=confidence,
                                      team="" if team is None else str(team)))
    return GamePredictions(url=_url_of(obj, path), predictions=predictions, path=path, skipped=skipped)


def evaluation_frame(position_ms: int, framerate: int = EVALUATION_FRAMERATE) -> int:
    """The official evaluators' grid frame of a position: `int(framerate * (position / 1000))` in floating point."""
    return int(framerate * (position_ms / 1000))


def deduplicate_bins(predictions: Iterable[Prediction], framerate: int = EVALUATION_FRAMERATE) -> list[Prediction]:
    """At most one prediction per (half, label, team, bin): the most confident one.

    The official evaluator writes predictions into a grid (2 fps: 0.5 s bins; Ball Action Spotting: 25 fps,
    40 ms) and silently keeps the last one of a bin; keeping the best one instead is never worse and makes the
    file order irrelevant. Bins are the evaluator's frames (`evaluation_frame`)."""
    best: dict[tuple[int, str, str, int], Prediction] = {}
    for p in predictions:
        key = (p.half, p.label, p.team, evaluation_frame(p.position_ms, framerate))
        if key not in best or p.confidence > best[key].confidence:
            best[key] = p
    return sorted(best.values(), key=lambda p: (p.half, p.position_ms, p.label, p.team or ""))


def write_predictions(path: str | Path, predictions: GamePredictions,
                      framerate: int = EVALUATION_FRAMERATE) -> None:
    """Write a `results_spotting.json` atomically: integer positions, one prediction per class (and team) per
    frame of the evaluator's grid at `framerate` (2 for SoccerNet-v2, 25 for Ball Action Spotting); `team`
    written where a prediction has one."""
    entries = []
    for p in deduplicate_bins(predictions.predictions, framerate):
        if not 0.0 <= p.confidence <= 1.0:
            raise ValueError(f"confidence {p.confidence} outside [0, 1] for {p}")
        entry = {
            "gameTime": game_time(p.half, p.position_ms),
            "label": p.label,
            "position": int(p.position_ms),
            "half": int(p.half),
            "confidence": float(p.confidence),
        }
        if p.team:
            entry["team"] = p.team
        entries.append(entry)
    write_json_atomic(path, {"UrlLocal": predictions.url, "predictions": entries})
