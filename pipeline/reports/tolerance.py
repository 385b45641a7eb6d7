"""mAP at each tolerance of an Average-mAP: the points under the curve that Average-mAP integrates.

`pipeline/evaluate.py` scores a metric's tolerances together and returns their trapezoidal mean only;
its single-tolerance metrics (`at1` ... `at5`) give the points of the tight curve. For the loose
tolerances (10 ... 60 s) it has no public entry yet, so `_single_tolerance_metrics` registers
`atN` metrics for the duration of the call (to be replaced by a per-tolerance function of
`pipeline.evaluate` once it has one).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

from soccerspot.data.labels import GameLabels, GamePredictions
from soccerspot.pipeline import evaluate


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


@contextlib.contextmanager
def _single_tolerance_metrics(tolerances_s: Sequence[int]) -> Iterator[None]:
    added = [f"at{t}" for t in tolerances_s if f"at{t}" not in evaluate.METRIC_DELTAS_S]
    for name in added:
        evaluate.METRIC_DELTAS_S[name] = (int(name[2:]),)
    try:
        yield
    finally:
        for name in added:
            evaluate.METRIC_DELTAS_S.pop(name, None)


def tolerance_curve(labels: Mapping[str, GameLabels], predictions: Mapping[str, GamePredictions],
                    classes: Sequence[str], metric: str = "loose", *, version: int = 2) -> ToleranceCurve:
    """Score each tolerance of `metric` alone (mAP over `classes`), and the metric's Average-mAP."""
    tolerances = [int(t) for t in evaluate.METRIC_DELTAS_S[metric]] if metric in evaluate.METRIC_DELTAS_S else None
    if tolerances is None:
        raise ValueError(f"unknown metric {metric!r}; valid metrics: {', '.join(evaluate.METRICS)}")
    overall = evaluate.evaluate_games(labels, predictions, classes, metric, allow_missing=True, version=version)
    points = []
    with _single_tolerance_metrics(tolerances):
        for tolerance in tolerances:
            points.append(evaluate.evaluate_games(labels, predictions, classes, f"at{tolerance}",
                                                  allow_missing=True, version=version))
    return ToleranceCurve(metric, tolerances, [p["a_mAP"] for p in points], [p["a_mAP_visible"] for p in points],
                          [p["a_mAP_unshown"] for p in points], overall)
