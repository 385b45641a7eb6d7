"""SoccerNet's replay files, in the official formats: `Labels-cameras.json` and `Detection-replays.json`.

`Labels-cameras.json` (SoccerNet-v2 camera changes): {"UrlLocal": ..., "annotations": [{"gameTime":
"1 - 05:12", "label": "Main camera center", "change_type": "abrupt", "replay": "real-time", "position":
"312000"}, ..., {... "replay": "replay", "link": {"label": "Goal", "half": "1", "time": "04:40",
"position": "280000", "team": "home", "visibility": "visible"}}]}. Every value is a string there.

Which stretch of video a link belongs to follows SoccerNet's own replay-grounding code (sn-grounding's
dataset and `SoccerNet.Evaluation.ReplayGrounding`): a replay shot runs from the previous camera change to
the change that carries the `link`; a linked change at the same second as the change before it, a link to
another half, or to a class outside the 17 SoccerNet-v2 classes gives no replay. The replay is identified
by its end (the linked change's gameTime, whole seconds).

`Detection-replays.json` (the grounding predictions): {"Replays": [{"half": 1, "start": 300, "end": 312,
"detection": [{"time": 280.5, "score": 0.93}, ...]}]}, times in seconds.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from soccerspot.data.atomic import write_json_atomic
from soccerspot.data.classes import EVENT_DICTIONARY_V2
from soccerspot.errors import DataError

CAMERAS_FILE = "Labels-cameras.json"
DETECTIONS_FILE = "Detection-replays.json"
REPLAY, REAL_TIME = "replay", "real-time"
# Camera labels of SoccerNet-v2 the synthetic broadcasts use (the real set has 13).
MAIN_CAMERA = "Main camera center"
CLOSE_UP = "Close-up player or field referee"
REPLAY_CAMERA = "Other"


@dataclass(frozen=True)
class ReplayLink:
    """The action a replay shows (a Labels-v2.json annotation, copied into the camera change)."""

    label: str
    half: int
    time: str  # "MM:SS" within the half
    position_ms: int
    team: str = ""
    visibility: str = "visible"

    @property
    def seconds(self) -> int:
        """The action's second as the official evaluator reads it (from `time`)."""
        return link_seconds(self.time)


@dataclass(frozen=True)
class CameraChange:
    """One camera change; `link` only on the change that closes a replay shot."""

    half: int
    seconds: int  # whole seconds of gameTime (what every official reader uses)
    label: str
    position_ms: int | None = None
    change_type: str = "abrupt"
    replay: str = REAL_TIME
    link: ReplayLink | None = None

    @property
    def game_time(self) -> str:
        return f"{self.half} - {self.seconds // 60:02d}:{self.seconds % 60:02d}"


@dataclass
class CameraLabels:
    url: str
    changes: list[CameraChange] = field(default_factory=list)
    path: Path | None = None
    extra: dict = field(default_factory=dict)  # other top-level keys (Labels-v2.json's), kept on write


@dataclass(frozen=True)
class Replay:
    """A replay shot of a half and the action it shows."""

    half: int
    start: int  # seconds (the previous camera change)
    end: int  # seconds (the linked change)
    link: ReplayLink

    @property
    def label(self) -> str:
        return self.link.label


@dataclass
class ReplayDetections:
    """One entry of Detection-replays.json: a replay and its candidate origins (seconds, score)."""

    half: int
    start: float
    end: float
    detections: list[tuple[float, float]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------- times


def game_time_seconds(text: str) -> tuple[int, int]:
    """(half, seconds) of "H - MM:SS", sliced as the official code slices it (time[0], [-5:-3], [-2:])."""
    if not isinstance(text, str) or len(text) < 9 or text[-3] != ":":
        raise ValueError(f"gameTime {text!r} is not 'H - MM:SS'")
    return int(text[0]), 60 * int(text[-5:-3]) + int(text[-2:])


def link_seconds(text: str) -> int:
    """Seconds of a link's "MM:SS" (the official code reads time[0:2] and time[3:])."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValueError(f"link time {text!r} is not 'MM:SS'")
    return 60 * int(text[0:2]) + int(text[3:])


def mm_ss(seconds: int) -> str:
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


# ------------------------------------------------------------------------------------------------ labels


def _read_object(path: Path, key: str) -> dict:
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise DataError(path, f"not a usable JSON file ({type(error).__name__}: {str(error)[:120]})") from None
    except OSError as error:
        raise DataError(path, f"cannot read the file ({error.strerror or error})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get(key), list):
        raise DataError(path, f'expected a JSON object with a list "{key}"')
    return obj


def _int_ms(value, what: str) -> int | None:
    if value is None or value == "":
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} {value!r} is not a number of milliseconds")
    return int(round(number))


def _parse_link(raw: dict) -> ReplayLink:
    if not isinstance(raw, dict) or "label" not in raw or "half" not in raw or "time" not in raw:
        raise ValueError("a link needs label, half and time")
    link_seconds(str(raw["time"]))
    return ReplayLink(label=str(raw["label"]), half=int(raw["half"]), time=str(raw["time"]),
                      position_ms=_int_ms(raw.get("position"), "link position") or 0,
                      team=str(raw.get("team", "")), visibility=str(raw.get("visibility", "visible")))


def parse_change(raw: dict) -> CameraChange:
    """One annotation of Labels-cameras.json; ValueError says what is wrong."""
    if not isinstance(raw, dict) or "gameTime" not in raw:
        raise ValueError("an annotation needs a gameTime")
    half, seconds = game_time_seconds(raw["gameTime"])
    link = _parse_link(raw["link"]) if "link" in raw else None
    return CameraChange(half=half, seconds=seconds, label=str(raw.get("label", "")),
                        position_ms=_int_ms(raw.get("position"), "position"),
                        change_type=str(raw.get("change_type", "")), replay=str(raw.get("replay", "")), link=link)


def read_camera_labels(path: str | Path) -> CameraLabels:
    """The camera changes of a game, in file order (the order the official code walks them)."""
    path = Path(path)
    obj = _read_object(path, "annotations")
    changes = []
    for index, raw in enumerate(obj["annotations"]):
        try:
            changes.append(parse_change(raw))
        except (ValueError, TypeError) as error:
            raise DataError(path, f"annotation {index}: {error}") from None
    extra = {k: v for k, v in obj.items() if k != "annotations"}
    return CameraLabels(url=str(obj.get("UrlLocal", "")), changes=changes, path=path, extra=extra)


def change_json(change: CameraChange) -> dict:
    entry = {"gameTime": change.game_time, "label": change.label, "change_type": change.change_type,
             "replay": change.replay,
             "position": str(change.position_ms if change.position_ms is not None else change.seconds * 1000)}
    if change.link is not None:
        link = change.link
        entry["link"] = {"label": link.label, "half": str(link.half), "time": link.time,
                         "position": str(link.position_ms), "team": link.team, "visibility": link.visibility}
    return entry


def write_camera_labels(path: str | Path, labels: CameraLabels) -> None:
    obj = {**labels.extra, "UrlLocal": labels.url, "annotations": [change_json(c) for c in labels.changes]}
    write_json_atomic(path, obj, indent=4)


def replays_of(labels: CameraLabels, strict: bool = True) -> list[Replay]:
    """The replays of a game, read as SoccerNet's grounding code reads them (see the module docstring).

    `strict`: a link to a class outside SoccerNet-v2's or to another half than the replay's is a
    `DataError` (the official code skips both silently; `strict=False` skips them too)."""
    replays: list[Replay] = []
    previous: tuple[int, int] | None = None
    for index, change in enumerate(labels.changes):
        here = (change.half, change.seconds)
        link = change.link
        if link is not None and (link.label not in EVENT_DICTIONARY_V2 or link.half != change.half):
            if strict:
                why = (f"links to the unknown class {link.label!r}" if link.label not in EVENT_DICTIONARY_V2
                       else f"is a replay in half {change.half} of an action in half {link.half}")
                raise DataError(labels.path, f"annotation {index} ({change.game_time}) {why}")
            link = None
        if link is not None and previous is not None and previous != here and previous[0] == change.half:
            replays.append(Replay(change.half, previous[1], change.seconds, link))
        previous = here
    return replays


def games_without_camera_labels(root: str | Path, games: list[str]) -> list[str]:
    """The games of `games` (paths under `root`) that have no Labels-cameras.json."""
    return [game for game in games if not (Path(root) / game / CAMERAS_FILE).is_file()]


# -------------------------------------------------------------------------------------------- detections


def read_replay_detections(path: str | Path) -> list[ReplayDetections]:
    """Detection-replays.json. Missing keys, non-numbers, negative or non-finite times and scores that are
    not finite are `DataError`s naming the replay."""
    path = Path(path)
    obj = _read_object(path, "Replays")
    replays = []
    for index, raw in enumerate(obj["Replays"]):
        try:
            if not isinstance(raw, dict) or not isinstance(raw.get("detection", None), list):
                raise ValueError('needs half, start, end and a list "detection"')
            half, start, end = int(raw["half"]), float(raw["start"]), float(raw["end"])
            found = []
            for item in raw["detection"]:
                time, score = float(item["time"]), float(item["score"])
                if not (math.isfinite(time) and math.isfinite(score)):
                    raise ValueError(f"a detection with time {item['time']!r} and score {item['score']!r}")
                if time < 0:
                    raise ValueError(f"a detection at a negative time ({time:g} s)")
                found.append((time, score))
        except (KeyError, TypeError, ValueError) as error:
            said = f"no {error}" if isinstance(error, KeyError) else str(error)
            raise DataError(path, f"replay {index}: {said}") from None
        replays.append(ReplayDetections(half, start, end, found))
    return replays


def write_replay_detections(path: str | Path, replays: list[ReplayDetections], game: str | None = None) -> None:
    obj: dict = {"Game:": game} if game is not None else {}
    obj["Replays"] = [{"half": r.half, "start": r.start, "end": r.end,
                       "detection": [{"time": float(t), "score": float(s)} for t, s in r.detections]}
                      for r in replays]
    write_json_atomic(path, obj, indent=4)
