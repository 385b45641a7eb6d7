"""mAP at each tolerance of an Average-mAP: the points under the curve that Average-mAP integrates.

`pipeline.evaluation.average_map` scores a metric's tolerances together and returns their trapezoidal mean; given one
tolerance in seconds as the metric (`evaluate_games(..., metric=(10,))`) it scores that tolerance alone:
the points of the curve.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from soccerspot.data.labels import GameLabels, GamePredictions
from soccerspot.pipeline.evaluation import average_map as evaluate


@dataclass
class ToleranceCurve:
    """mAP (mean over classes) at each tolerance, overall and on visible / unshown actions."""

    metric: str
    tolerances_s: list[int]
    map_all: list[float]
    map_visible: list[float | None]
    map_unshown: list[float | None]
    results: dict  # the metric's official results (a_mAP, a_mAP_per_class, a_mAP_visible, ...)

    @property
    def average_map(self) -> float:
        return self.results["a_mAP"]


def tolerance_curve(labels: Mapping[str, GameLabels], predictions: Mapping[str, GamePredictions],
                    classes: Sequence[str], metric: str = "loose", *, version: int = 2) -> ToleranceCurve:
    """Score each tolerance of `metric` alone (mAP over `classes`), and the metric's Average-mAP."""
    tolerances = [int(t) for t in evaluate.METRIC_DELTAS_S[metric]] if metric in evaluate.METRIC_DELTAS_S else None
    if tolerances is None:
        raise ValueError(f"unknown metric {metric!r}; valid metrics: {', '.join(evaluate.METRICS)}")
    overall = evaluate.evaluate_games(labels, predictions, classes, metric, allow_missing=True, version=version)
    points = [evaluate.evaluate_games(labels, predictions, classes, (tolerance,), allow_missing=True, version=version)
              for tolerance in tolerances]
    return ToleranceCurve(metric, tolerances, [p["a_mAP"] for p in points], [p["a_mAP_visible"] for p in points],
                          [p["a_mAP_unshown"] for p in points], overall)
