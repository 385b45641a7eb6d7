"""Which parts of a match go into a highlight reel: a window around each chosen spot, overlaps merged."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from soccerspot.data.labels import Prediction


@dataclass(frozen=True)
class HighlightOptions:
    """Which spots make the reel and how much of the match around each one."""

    classes: tuple[str, ...] | None = None  # None: every class
    min_confidence: float = 0.0
    before_s: float = 15.0
    after_s: float = 20.0

    def __post_init__(self) -> None:
        if self.classes is not None and not self.classes:
            raise ValueError("--classes names no class")
        if self.before_s < 0 or self.after_s < 0 or self.before_s + self.after_s <= 0:
            raise ValueError(f"--before and --after must be >= 0 and not both 0 (got {self.before_s}, {self.after_s})")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"--min-confidence must lie in [0, 1] (got {self.min_confidence})")


@dataclass
class Window:
    """A stretch of one half, in seconds from its start, and the spots it was made for."""

    half: int
    start: float
    end: float
    spots: list[Prediction] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.end - self.start


def select_spots(predictions: Iterable[Prediction], options: HighlightOptions) -> list[Prediction]:
    """The spots of the asked classes at or above the minimum confidence, in match order."""
    wanted = None if options.classes is None else set(options.classes)
    chosen = [p for p in predictions
              if (wanted is None or p.label in wanted) and p.confidence >= options.min_confidence]
    return sorted(chosen, key=lambda p: (p.half, p.position_ms, p.label))


def spot_windows(spots: Sequence[Prediction], durations: dict[int, float], options: HighlightOptions) -> list[Window]:
    """One window per spot, clipped to its half's video; spots of halves without a video are left out."""
    windows = []
    for spot in spots:
        duration = durations.get(spot.half)
        seconds = spot.position_ms / 1000.0
        if duration is None or seconds > duration:
            continue
        start, end = max(0.0, seconds - options.before_s), min(duration, seconds + options.after_s)
        if end > start:
            windows.append(Window(spot.half, start, end, [spot]))
    return windows


def merge_windows(windows: Iterable[Window]) -> list[Window]:
    """Overlapping or touching windows of a half become one; the result is in match order."""
    merged: list[Window] = []
    for window in sorted(windows, key=lambda w: (w.half, w.start, w.end)):
        last = merged[-1] if merged else None
        if last is not None and last.half == window.half and window.start <= last.end:
            last.end = max(last.end, window.end)
            last.spots.extend(window.spots)
        else:
            merged.append(Window(window.half, window.start, window.end, list(window.spots)))
    return merged


def spots_inside(predictions: Iterable[Prediction], durations: dict[int, float]) -> int:
    """How many predictions fall inside the videos (half present, time within its duration)."""
    return sum(1 for p in predictions if p.half in durations and p.position_ms / 1000.0 <= durations[p.half])
