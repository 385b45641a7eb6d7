"""Timeline plots: written at the expected size, not blank, and the spots and labels drawn where they are."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgb
from PIL import Image

from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.data.features import FeatureMeta
from soccerspot.data.labels import Event, GameLabels, GamePredictions, Prediction, write_labels, write_predictions
from soccerspot.data.scores import write_scores
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.reports.class_groups import group_classes
from soccerspot.pipeline.reports.clock import format_clock, tick_step
from soccerspot.pipeline.reports.timeline import DPI, figure_size, load_timelines, panel_colors, timeline_figure

HALF_S = 120.0
SPOT_S, LABEL_S = 30.0, 90.0


def test_clock_is_minutes_and_seconds_past_an_hour():
    assert format_clock(0) == "00:00" and format_clock(75.9) == "01:15" and format_clock(3725) == "62:05"
    assert tick_step(45 * 60) == 300 and tick_step(120) == 10


def test_groups_cover_every_v2_class_once_in_small_panels():
    panels = group_classes(CLASS_NAMES_V2 + ["Dribble"])
    names = [name for _, members in panels for name in members]
    assert sorted(names) == sorted(CLASS_NAMES_V2 + ["Dribble"])
    assert all(len(members) <= 5 for _, members in panels)


def make_game(folder):
    frames = int(HALF_S * 2)
    probabilities = np.zeros((frames, len(CLASS_NAMES_V2)), dtype=np.float32)
    goal = CLASS_NAMES_V2.index("Goal")
    probabilities[int(SPOT_S * 2), goal] = 0.9
    write_scores(folder, 1, probabilities, FeatureMeta(num_frames=frames, step=0.5), CLASS_NAMES_V2,
                 feature_name="test", model="test")
    write_predictions(folder / "results_spotting.json",
                      GamePredictions("g", [Prediction(1, int(SPOT_S * 1000), "Goal", 0.9)]))
    write_labels(folder / "Labels-v2.json", GameLabels("g", [Event(1, int(LABEL_S * 1000), "Goal")]))


def colour_columns(image: np.ndarray, colour: str, rows: slice) -> np.ndarray:
    """Columns holding at least 4 pixels of `colour` (within a small tolerance) in the given rows."""
    target = np.array(to_rgb(colour)) * 255
    near = np.abs(image[rows, :, :3].astype(float) - target).max(axis=2) < 30
    return np.flatnonzero(near.sum(axis=0) >= 4)


def test_plot_shows_the_spot_and_the_label_where_they_are(tmp_path):
    make_game(tmp_path)
    assert main(["plot", str(tmp_path), "--labels", str(tmp_path), "--out", str(tmp_path / "plots")]) == 0
    png = tmp_path / "plots" / "1_timeline.png"
    image = np.asarray(Image.open(png).convert("RGB"))
    timeline = load_timelines(tmp_path, labels=tmp_path)[0]
    width, height = figure_size(timeline)
    assert image.shape[:2] == (round(height * DPI), round(width * DPI))
    assert image.std() > 10  # not blank

    figure = timeline_figure(timeline, tmp_path.name)
    figure.canvas.draw()
    ax = figure.axes[0]  # "Goals and shots" panel, Goal in its first colour
    colour = panel_colors(group_classes(timeline.classes)[0][1])["Goal"]
    to_pixel = lambda t, y: ax.transData.transform((t, y))
    (spot_x, spot_y), (label_x, label_y) = to_pixel(SPOT_S, 0.9), to_pixel(LABEL_S, 1.1)
    spot_row, label_row = image.shape[0] - spot_y, image.shape[0] - label_y
    top = int(image.shape[0] - ax.transData.transform((0, 1.2))[1])
    bottom = int(image.shape[0] - ax.transData.transform((0, 0))[1])
    # the spot marker: the Goal colour sits at its time and confidence, nowhere else in the panel's columns
    columns = colour_columns(image, colour, slice(int(spot_row) - 4, int(spot_row) + 5))
    assert columns.size and np.abs(columns - spot_x).max() <= 8
    # the ground truth marker: above the curves at 90 s
    columns = colour_columns(image, colour, slice(int(label_row) - 4, int(label_row) + 5))
    assert columns.size and np.abs(columns - label_x).max() <= 8
    # the x axis spans the half: 90 s lies three quarters along the panel
    left, right = to_pixel(0, 0)[0], to_pixel(HALF_S, 0)[0]
    assert abs((label_x - left) / (right - left) - 0.75) < 0.01
    assert top < spot_row < bottom
