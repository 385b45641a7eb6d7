"""Evaluation plots: the per-tolerance points match evaluate's own single-tolerance scores, and bars are drawn."""
from __future__ import annotations

import numpy as np
from PIL import Image

from soccerspot.data.labels import Event, GameLabels, GamePredictions, Prediction
from soccerspot.pipeline.evaluation import average_map as evaluate
from soccerspot.pipeline.reports.evaluation_plots import VISIBLE_COLOR, write_evaluation_plots
from soccerspot.pipeline.reports.tolerance import tolerance_curve
from matplotlib.colors import to_rgb

CLASSES = ["Goal", "Corner"]


def season():
    # Goal spotted 8 s late (found from the 20 s tolerance on); Corner never predicted.
    labels = {"g": GameLabels("g", [Event(1, 100_000, "Goal"), Event(2, 50_000, "Goal"), Event(1, 300_000, "Corner")])}
    predictions = {"g": GamePredictions("g", [Prediction(1, 108_000, "Goal", 0.9), Prediction(2, 58_000, "Goal", 0.8)])}
    return labels, predictions


def test_tolerance_curve_steps_where_the_error_fits():
    labels, predictions = season()
    curve = tolerance_curve(labels, predictions, CLASSES, "loose")
    assert curve.tolerances_s == list(range(5, 61, 5))
    # 8 s off needs |error| <= tolerance / 2: found from 20 s on; Goal AP 1, Corner 0 -> mAP 0.5
    assert curve.map_all == [0.0, 0.0, 0.0] + [0.5] * 9
    assert curve.average_map == evaluate.evaluate_games(labels, predictions, CLASSES, "loose")["a_mAP"]
    tight = tolerance_curve(labels, predictions, CLASSES, "tight")  # each point is the named atN metric
    assert tight.map_all == [evaluate.evaluate_games(labels, predictions, CLASSES, f"at{t}")["a_mAP"]
                             for t in (1, 2, 3, 4, 5)]


def test_plots_written_with_bars(tmp_path):
    labels, predictions = season()
    paths = write_evaluation_plots(labels, predictions, CLASSES, tmp_path)
    assert [p.name for p in paths] == ["average_map_tolerance.png", "per_class_ap_loose.png", "per_class_ap_tight.png"]
    image = np.asarray(Image.open(paths[1]).convert("RGB")).astype(float)
    assert image.shape[:2] == (int(round((1.4 + 0.42 * 2) * 100)), 900)
    blue = np.abs(image - np.array(to_rgb(VISIBLE_COLOR)) * 255).max(axis=2) < 20
    rows = np.flatnonzero(blue.sum(axis=1) > 50)
    # Goal's visible bar is long; Corner (0 %) has none: blue rows sit in the top half
    assert rows.size and rows.max() < image.shape[0] / 2
    # tight tolerances (<= 5 s) never find an 8 s error: no bar at all, only the legend's small swatch
    tight = np.asarray(Image.open(paths[2]).convert("RGB")).astype(float)
    blue = np.abs(tight - np.array(to_rgb(VISIBLE_COLOR)) * 255).max(axis=2) < 20
    assert blue.any() and blue.sum(axis=1).max() < 50
