"""Which classes a game's pictures list first: those that occur in it, then the silent ones.

A class occurs in a game when it has a label, a spot at or above the confidence the picture shows, or a
score curve off the floor (its per-frame score reaches `SCORE_FLOOR` somewhere). A season that uses 10 of
the 17 SoccerNet-v2 classes then lists its 10 first, and the 7 a head never scores sit at the end instead
of between them. The timeline plot (`pipeline.reports.timeline`) and the review page's payload
(`pipeline.view.payload`) both order their classes with `occurring_first`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

SCORE_FLOOR = 0.1  # a score curve that never reaches this lies on the floor of a [0, 1] plot: silent


@dataclass(frozen=True)
class ClassOrder:
    occurring: list[str]  # in the order given
    silent: list[str]  # in the order given

    @property
    def ordered(self) -> list[str]:
        return self.occurring + self.silent


def occurring_first(classes: Sequence[str], *, labels: Iterable[str] = (),
                    spots: Iterable[tuple[str, float]] = (), min_confidence: float = 0.0,
                    score_peaks: Mapping[str, float] | None = None, floor: float = SCORE_FLOOR) -> ClassOrder:
    """`classes` split into those that occur (a label in `labels`, a `(class, confidence)` spot with
    confidence >= `min_confidence`, or a peak score in `score_peaks` >= `floor`) and the silent rest, each
    keeping the order of `classes`."""
    occurring = set(labels)
    occurring.update(label for label, confidence in spots if confidence >= min_confidence)
    occurring.update(label for label, peak in (score_peaks or {}).items() if peak >= floor)
    names = list(dict.fromkeys(classes))
    return ClassOrder([c for c in names if c in occurring], [c for c in names if c not in occurring])
