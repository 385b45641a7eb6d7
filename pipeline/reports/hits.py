"""Which spots hit the truth: a spot within a task's tolerance (`data.tasks.TaskSpec.hit_seconds`) of a label of
its half and class, and of its team where the task names teams: the match the task's metric counts (Ball
Action Spotting: ±12.5 frames at 25 fps, class and team), here in milliseconds (±500 ms) where the metric compares
the frames `int(25 * s)`, so a pair at the very edge may fall on the other side. The timeline plot marks them; the review page
applies the same rule to the labels as the reviewer edits them (`static/view.js`, `isHit`)."""
from __future__ import annotations

from bisect import bisect_left
from typing import Sequence

from soccerspot.data.labels import Event, Prediction


def hit_flags(spots: Sequence[Prediction], truth: Sequence[Event], seconds: float, *, teams: bool) -> list[bool]:
    """One flag per spot: a label of the same half and class (and team, with `teams`) lies within `seconds`."""
    times: dict[tuple, list[int]] = {}
    for event in truth:
        times.setdefault((event.half, event.label, event.team if teams else ""), []).append(event.position_ms)
    for positions in times.values():
        positions.sort()
    window = round(seconds * 1000)
    flags = []
    for spot in spots:
        positions = times.get((spot.half, spot.label, spot.team if teams else ""), [])
        first = bisect_left(positions, spot.position_ms - window)
        flags.append(first < len(positions) and positions[first] <= spot.position_ms + window)
    return flags
