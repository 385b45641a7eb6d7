"""The 17 SoccerNet-v2 classes in panels of related actions, so that a plot's curves stay readable."""
from __future__ import annotations

from typing import Sequence

CLASS_GROUPS: dict[str, tuple[str, ...]] = {
    "Goals and shots": ("Goal", "Penalty", "Shots on target", "Shots off target"),
    "Cards and fouls": ("Foul", "Yellow card", "Red card", "Yellow->red card", "Offside"),
    "Restarts": ("Kick-off", "Corner", "Throw-in", "Direct free-kick", "Indirect free-kick"),
    "Ball and bench": ("Ball out of play", "Clearance", "Substitution"),
}
OTHER_GROUP = "Other classes"
MAX_PER_GROUP = 5  # beyond this, curves of one panel become hard to tell apart


def group_classes(classes: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(panel title, classes) for the given classes: known groups first, in their order, then the rest in
    panels of at most `MAX_PER_GROUP`; groups holding none of `classes` are left out."""
    present = list(dict.fromkeys(classes))
    panels: list[tuple[str, list[str]]] = []
    placed: set[str] = set()
    for title, members in CLASS_GROUPS.items():
        chosen = [name for name in members if name in present]
        if chosen:
            panels.append((title, chosen))
            placed.update(chosen)
    rest = [name for name in present if name not in placed]
    for begin in range(0, len(rest), MAX_PER_GROUP):
        part = rest[begin:begin + MAX_PER_GROUP]
        suffix = f" ({begin // MAX_PER_GROUP + 1})" if len(rest) > MAX_PER_GROUP else ""
        panels.append((OTHER_GROUP + suffix, part))
    return panels
