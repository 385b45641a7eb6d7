"""Sharp anchors: every synthetic class changes visibly at its labelled time, as a 2 fps sample sees it.

Tight Average-mAP (tolerances of 1-5 s) can only be reached if the frames say *when* an event happens,
not just that it happened. For each event of a few small random games, the two 2 fps rows that straddle
its anchor (rows at multiples of 0.5 s, as extraction samples them) must differ clearly: by a mean absolute
pixel difference of at least MIN_CHANGE grey levels, and by at least RATIO times the largest difference
between consecutive rows of the same script before the anchor (so nothing in the lead-up looks like the
moment itself). Frames are rendered directly (the pixels the encoder receives); on a sample half, decoded
H.264 frames (crf 23) differ from them by 2-6 grey levels on average, well below MIN_CHANGE.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from soccerspot.data.synthetic.broadcast import SYNTHETIC_CLASSES, TimelineConfig, plan_shots, random_game_timeline, render_frame, script_span
from soccerspot.data.synthetic.scenes import build_look

ROW_SECONDS = 0.5  # 2 fps
MIN_CHANGE = 20.0  # grey levels (0-255), averaged over pixels and channels
RATIO = 2.0
GAME_SECONDS = 120.0
SEEDS = (0, 1)


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def straddling_rows(anchor: float) -> tuple[float, float]:
    """The last 2 fps row at or before the anchor and the next one."""
    before = math.floor(anchor / ROW_SECONDS) * ROW_SECONDS
    if math.isclose(before, anchor):  # a row exactly on the anchor already shows the event
        before -= ROW_SECONDS
    return before, before + ROW_SECONDS


def lead_up_rows(anchor: float, lead_up_s: float) -> list[float]:
    """2 fps rows strictly inside the script's lead-up, up to the row before the anchor."""
    first, last = anchor - lead_up_s, straddling_rows(anchor)[0]
    rows = [k * ROW_SECONDS for k in range(math.ceil(first / ROW_SECONDS), int(last / ROW_SECONDS) + 1)]
    return [t for t in rows if first + 1e-6 < t <= last]


@pytest.fixture(scope="module")
def anchor_changes() -> list[tuple[str, float, float]]:
    """(label, change across the anchor, largest change between lead-up rows) for every event."""
    timeline = TimelineConfig(close_up_probability=0.0)
    changes = []
    for seed in SEEDS:
        look = build_look(seed, 398, 224)
        for half, events in random_game_timeline(seed, GAME_SECONDS, timeline).items():
            shots = plan_shots(events, GAME_SECONDS, seed * 10 + half, timeline)
            cache: dict[float, np.ndarray] = {}

            def frame(t: float) -> np.ndarray:
                if t not in cache:
                    cache[t] = render_frame(shots, events, look, t)
                return cache[t]

            for event in events:
                anchor = event.seconds
                across = mean_abs_difference(*(frame(t) for t in straddling_rows(anchor)))
                rows = lead_up_rows(anchor, script_span(event.label)[0])
                lead_up = max((mean_abs_difference(frame(a), frame(b)) for a, b in zip(rows, rows[1:])), default=0.0)
                changes.append((event.label, across, lead_up))
    return changes


def test_straddling_rows_are_the_two_samples_around_the_anchor():
    assert straddling_rows(10.2) == (10.0, 10.5)
    assert straddling_rows(10.5) == (10.0, 10.5)
    assert straddling_rows(10.75) == (10.5, 11.0)
    assert lead_up_rows(10.2, 3.0) == [7.5, 8.0, 8.5, 9.0, 9.5, 10.0]


def test_the_games_show_every_class(anchor_changes):
    assert {label for label, _, _ in anchor_changes} == set(SYNTHETIC_CLASSES)


def test_every_class_changes_visibly_at_its_anchor(anchor_changes):
    weak = [(label, round(across, 1)) for label, across, _ in anchor_changes if across < MIN_CHANGE]
    assert not weak, f"no visible change across the anchor: {weak}"


def test_nothing_in_the_lead_up_changes_like_the_anchor(anchor_changes):
    blurred = [(label, round(across, 1), round(lead_up, 1)) for label, across, lead_up in anchor_changes
               if across < RATIO * lead_up]
    assert not blurred, f"the lead-up changes as much as the anchor: {blurred}"
