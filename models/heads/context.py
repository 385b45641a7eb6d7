"""How far a head looks around a row: which feature rows one row's whole-half score depends on.

`RowContext(past, future, period)`: once rows `[i - past, i + future]` exist (and are not the half's
end, where padding repeats the last row), row `i`'s score no longer changes as the half grows. `period`:
a head whose whole-half inference lays its windows on a grid (CALF's chunks every `stride` rows from row
0) gives the same scores on a run of rows starting at a multiple of `period` as on the whole half, past
`past` rows into the run; 1 for heads that score every row from its own window. `pipeline.live` uses this
to score a growing half incrementally with the offline functions.
"""
from __future__ import annotations

from typing import NamedTuple

from soccerspot.models.sliding import window_offset


class RowContext(NamedTuple):
    past: int
    future: int
    period: int = 1


def window_context(window_frames: int) -> RowContext:
    """The context of a head that scores each row from its own centred window (`window_offset`)."""
    offset = window_offset(window_frames)
    return RowContext(past=offset, future=window_frames - offset - 1)
