"""Evaluation plots: mAP against tolerance (the curves Average-mAP integrates) and AP per class.

`average_map_tolerance.png`: one panel per metric (loose 5-60 s, tight 1-5 s), mAP at each tolerance
on all, visible and unshown actions (each point as SoccerNet's single-tolerance metric reports it: the
unshown mean is not rescaled by 17/13), the Average-mAP in the title. `per_class_ap_<metric>.png`: the
Average-mAP of each class as bars, visible and unshown side by side (SoccerNet-v1 results have no
visibility: one bar per class).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from soccerspot.data.atomic import atomic_open
from soccerspot.data.labels import GameLabels, GamePredictions
from soccerspot.pipeline.reports.tolerance import ToleranceCurve, tolerance_curve

DPI = 100
SERIES = (("map_all", "all actions", "#333333", "o"), ("map_visible", "visible", "#1f77b4", "s"),
          ("map_unshown", "unshown", "#ff7f0e", "^"))
VISIBLE_COLOR, UNSHOWN_COLOR, ALL_COLOR = "#1f77b4", "#ff7f0e", "#333333"
METRIC_NAMES = {"loose": "loose (5-60 s)", "tight": "tight (1-5 s)"}
TOLERANCE_FILE = "average_map_tolerance.png"


def _save(figure, path: Path) -> Path:
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=DPI)
    return path


def tolerance_figure(curves: Sequence[ToleranceCurve]):
    """One panel per curve: mAP (%) against tolerance (s)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0 * len(curves), 4.6), dpi=DPI)
    axes = figure.subplots(1, len(curves), squeeze=False)[0]
    figure.subplots_adjust(left=0.07 if len(curves) > 1 else 0.12, right=0.98, bottom=0.13, top=0.84, wspace=0.22)
    for ax, curve in zip(axes, curves):
        for attribute, name, color, marker in SERIES:
            values = getattr(curve, attribute)
            if any(v is None for v in values):
                continue
            ax.plot(curve.tolerances_s, [100 * v for v in values], color=color, marker=marker, lw=1.6, label=name)
        ax.set_xticks(curve.tolerances_s)
        ax.set_xlim(min(curve.tolerances_s) - 0.5 * _spacing(curve), max(curve.tolerances_s) + 0.5 * _spacing(curve))
        ax.set_ylim(0, 100)
        ax.set_xlabel("tolerance (s): a spot counts when within half of it from the action")
        ax.set_ylabel("mAP (%)")
        ax.grid(color="#e6e6e6", lw=0.6)
        ax.set_title(f"{METRIC_NAMES.get(curve.metric, curve.metric)}: Average-mAP {100 * curve.average_map:.1f} %",
                     fontsize=12)
        ax.legend(loc="lower right", fontsize=10)
    figure.suptitle("mAP at each tolerance (Average-mAP is the mean under each curve)", fontsize=12)
    return figure


def _spacing(curve: ToleranceCurve) -> float:
    return float(np.min(np.diff(curve.tolerances_s))) if len(curve.tolerances_s) > 1 else 1.0


def per_class_figure(results: dict, classes: Sequence[str], metric: str):
    """Horizontal bars, one group per class (top to bottom in column order)."""
    from matplotlib.figure import Figure

    visible, unshown = results.get("a_mAP_per_class_visible"), results.get("a_mAP_per_class_unshown")
    series = ([("visible", visible, VISIBLE_COLOR), ("unshown", unshown, UNSHOWN_COLOR)] if visible is not None
              else [("all actions", results["a_mAP_per_class"], ALL_COLOR)])
    height = 1.4 + 0.42 * len(classes)
    figure = Figure(figsize=(9.0, height), dpi=DPI)
    ax = figure.subplots()
    figure.subplots_adjust(left=0.22, right=0.95, bottom=0.75 / height, top=1 - 0.65 / height)
    rows = np.arange(len(classes))
    bar = 0.8 / len(series)
    for index, (name, values, color) in enumerate(series):
        offsets = rows - 0.4 + bar * (index + 0.5)
        percent = [100 * (v or 0.0) for v in values]
        ax.barh(offsets, percent, height=bar, color=color, label=name)
        for y, value in zip(offsets, percent):
            ax.text(value + 0.8, y, f"{value:.0f}", va="center", fontsize=8, color="#444444")
    ax.set_yticks(rows)
    ax.set_yticklabels(classes, fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, 128)  # room right of a 100 % bar for its value and the legend
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel(f"Average-mAP, % (tolerances: {METRIC_NAMES.get(metric, metric)})")
    ax.grid(axis="x", color="#e6e6e6", lw=0.6)
    ax.legend(loc="lower right", fontsize=10)
    ax.set_title(f"Average-mAP per class, {METRIC_NAMES.get(metric, metric)}; all classes: "
                 f"{100 * results['a_mAP']:.1f} %", fontsize=12)
    return figure


def write_evaluation_plots(labels: Mapping[str, GameLabels], predictions: Mapping[str, GamePredictions],
                           classes: Sequence[str], out_dir: str | Path, *, metrics: Sequence[str] = ("loose", "tight"),
                           version: int = 2) -> list[Path]:
    """Score `predictions` against `labels` per tolerance and write the plots into `out_dir`; returns their
    paths (`average_map_tolerance.png`, then `per_class_ap_<metric>.png` per metric)."""
    out_dir = Path(out_dir)
    curves = [tolerance_curve(labels, predictions, classes, metric, version=version) for metric in metrics]
    paths = [_save(tolerance_figure(curves), out_dir / TOLERANCE_FILE)]
    for curve in curves:
        paths.append(_save(per_class_figure(curve.results, list(classes), curve.metric),
                           out_dir / f"per_class_ap_{curve.metric}.png"))
    return paths
