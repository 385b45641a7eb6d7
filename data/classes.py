"""SoccerNet class dictionaries, in the official order of `SoccerNet.Evaluation.utils`.

The column index of a class in every score matrix, label matrix and checkpoint is its value here.
"""
from __future__ import annotations

from dataclasses import dataclass

from soccerspot.data.games import LABELS_FILE, LABELS_FILE_V1

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


@dataclass(frozen=True)
class ClassSetup:
    """A SoccerNet class set: how labels map to columns, the names written, the labels file, the version
    of the official evaluator that scores it."""

    dictionary: dict[str, int]  # raw label -> class index
    names: list[str]  # class index -> name written in predictions
    labels_file: str
    version: int


CLASS_SETUPS = {
    "v2": ClassSetup(EVENT_DICTIONARY_V2, CLASS_NAMES_V2, LABELS_FILE, 2),
    "v1": ClassSetup(EVENT_DICTIONARY_V1, CLASS_NAMES_V1, LABELS_FILE_V1, 1),
}


def class_setup(name: str) -> ClassSetup:
    if name not in CLASS_SETUPS:
        raise ValueError(f"unknown class set {name!r}; known: {', '.join(CLASS_SETUPS)}")
    return CLASS_SETUPS[name]
