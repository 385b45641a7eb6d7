"""SoccerNet class dictionaries, in the official order of `SoccerNet.Evaluation.utils`.

The column index of a class in every score matrix, label matrix and checkpoint is its value here.
"""
from __future__ import annotations

from dataclasses import dataclass

from soccerspot.data.games import LABELS_FILE, LABELS_FILE_BALL, LABELS_FILE_V1

EVENT_DICTIONARY_V2: dict[str, int] = {
    "Penalty": 0,
    "Kick-off": 1,
    "Goal": 2,
    "Substitution": 3,
    "Offside": 4,
    "Shots on target": 5,
    "Shots off target": 6,
    "Clearance": 7,
    "Ball out of play": 8,
    "Throw-in": 9,
    "Foul": 10,
    "Indirect free-kick": 11,
    "Direct free-kick": 12,
    "Corner": 13,
    "Yellow card": 14,
    "Red card": 15,
    "Yellow->red card": 16,
}

# SoccerNet-v1: three classes, in the official evaluator's order (`SoccerNet.Evaluation.utils`:
# {"card": 0, "subs": 1, "soccer": 2}, which maps raw labels by substring). Keys here are the raw
# label names found in v1's `Labels.json`, mapped to those same columns.
CLASS_NAMES_V1: list[str] = ["card", "subs", "soccer"]
EVENT_DICTIONARY_V1: dict[str, int] = {
    "r-card": 0,
    "y-card": 0,
    "yr-card": 0,
    "substitution-in": 1,
    "soccer-ball": 2,
    "soccer-ball-own": 2,
}

# Ball Action Spotting. 2023: two classes (`SoccerNet.Evaluation.utils.EVENT_DICTIONARY_BALL` of the pip package).
# 2024-2025: twelve, in the order of sn-teamspotting's `util/utils.py` `EVENT_DICTIONARY_BALL`; since 2025 each
# action also has the team (left or right side of the video) that made it.
EVENT_DICTIONARY_BALL_2023: dict[str, int] = {"PASS": 0, "DRIVE": 1}
EVENT_DICTIONARY_BALL: dict[str, int] = {
    "PASS": 0,
    "DRIVE": 1,
    "HEADER": 2,
    "HIGH PASS": 3,
    "OUT": 4,
    "CROSS": 5,
    "THROW IN": 6,
    "SHOT": 7,
    "BALL PLAYER BLOCK": 8,
    "PLAYER SUCCESSFUL TACKLE": 9,
    "FREE KICK": 10,
    "GOAL": 11,
}
TEAMS_BALL: tuple[str, ...] = ("left", "right")  # a Ball label's `team`, in the team evaluator's column order


def class_names(dictionary: dict[str, int]) -> list[str]:
    """Class names ordered by index (for many-to-one dictionaries, the first name of each index)."""
    names: dict[int, str] = {}
    for name, index in dictionary.items():
        names.setdefault(index, name)
    return [names[i] for i in sorted(names)]


def dictionary_for(names: list[str]) -> dict[str, int]:
    """A dictionary giving each name its position in `names` (e.g. a synthetic season's classes)."""
    return {name: i for i, name in enumerate(names)}


CLASS_NAMES_V2: list[str] = class_names(EVENT_DICTIONARY_V2)
CLASS_NAMES_BALL_2023: list[str] = class_names(EVENT_DICTIONARY_BALL_2023)
CLASS_NAMES_BALL: list[str] = class_names(EVENT_DICTIONARY_BALL)


@dataclass(frozen=True)
class ClassSetup:
    """A SoccerNet class set: how labels map to columns, the names written, the labels file, the version
    of the official evaluator that scores it, and whether each action also names its team (left/right)."""

    dictionary: dict[str, int]  # raw label -> class index
    names: list[str]  # class index -> name written in predictions
    labels_file: str
    version: int
    teams: tuple[str, ...] = ()  # the teams an action is scored by (the 2025 Ball evaluator), or none


CLASS_SETUPS = {
    "v2": ClassSetup(EVENT_DICTIONARY_V2, CLASS_NAMES_V2, LABELS_FILE, 2),
    "v1": ClassSetup(EVENT_DICTIONARY_V1, CLASS_NAMES_V1, LABELS_FILE_V1, 1),
}
# Ball Action Spotting's class sets. Kept apart from `CLASS_SETUPS`, which lists what `train --classes` trains
# on 2 fps features; the Ball sets are scored at 25 fps (`data.tasks`).
BALL_CLASS_SETUPS = {
    "ball-2025": ClassSetup(EVENT_DICTIONARY_BALL, CLASS_NAMES_BALL, LABELS_FILE_BALL, 2, TEAMS_BALL),
    "ball-2024": ClassSetup(EVENT_DICTIONARY_BALL, CLASS_NAMES_BALL, LABELS_FILE_BALL, 2),
    "ball-2023": ClassSetup(EVENT_DICTIONARY_BALL_2023, CLASS_NAMES_BALL_2023, LABELS_FILE_BALL, 2),
}


def class_setup(name: str) -> ClassSetup:
    known = {**CLASS_SETUPS, **BALL_CLASS_SETUPS}
    if name not in known:
        raise ValueError(f"unknown class set {name!r}; known: {', '.join(known)}")
    return known[name]
