"""Per-row class scores of a growing half, each computed once it is final and equal to the offline scores.

A row's score is final once the rows its head reads around it exist (`RowContext` from the head's own
`context_rows()`, `models.heads.context`). New final rows are scored by running the offline whole-half function
(`pipeline.inference.scores.window_probabilities`) on a trailing run of rows that starts `past` rows before the first
unscored row (aligned down to the head's `period`), so the live path has no scoring code of its own: it
knows no head class. Over that run the head sees exactly the rows it sees in the whole half, so the scores
are the offline ones up to float rounding of the different batch and window-sum extents (tested <= 1e-5);
the final `results_spotting.json` is written by the offline code itself (`pipeline.live.session`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from torch import nn

from soccerspot.models.heads.context import RowContext
from soccerspot.pipeline.inference.scores import window_probabilities


def row_context(model: nn.Module) -> RowContext:
    """The head's own context (every head in `models` has `context_rows()`)."""
    method = getattr(model, "context_rows", None)
    if not callable(method):
        raise ValueError(f"{type(model).__name__} does not say which rows a row's score depends on (no context_rows())")
    return RowContext(*method())


def run_start(first_unscored: int, context: RowContext) -> int:
    """Start of the trailing run that scores rows from `first_unscored` on exactly."""
    start = max(0, first_unscored - context.past)
    return start - start % max(1, context.period)


@dataclass
class IncrementalScores:
    """Scores (rows, classes + 1) of the final rows of a growing (rows, dim) feature array."""

    model: nn.Module
    window_frames: int
    method: str = "auto"
    batch_size: int = 256
    context: RowContext = field(init=False)
    rows: list = field(default_factory=list)  # one (classes + 1,) array per final row

    def __post_init__(self) -> None:
        self.context = row_context(self.model)

    @property
    def final(self) -> int:
        return len(self.rows)

    def update(self, features: np.ndarray, ended: bool = False) -> np.ndarray:
        """Score the rows that became final now that `features` (all rows so far) exist; `ended`: the half
        ended, every row is final. Returns the new rows' scores (new, classes + 1)."""
        count = features.shape[0]
        target = count if ended else max(0, count - self.context.future)
        if target <= self.final:
            return np.zeros((0, 0), dtype=np.float32)
        start = run_start(self.final, self.context)
        scores = window_probabilities(self.model, features[start:count], self.window_frames, method=self.method,
                                      batch_size=self.batch_size)
        new = scores[self.final - start : target - start]
        self.rows.extend(new)
        return new

    def array(self) -> np.ndarray:
        return np.stack(self.rows) if self.rows else np.zeros((0, 0), dtype=np.float32)
