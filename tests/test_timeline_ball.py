"""`soccerspot plot --task ball`: one lane per ball class, each team on its side of the lane's centre line in its
colour, spots that hit a label (same class and team within ±12.5 frames) filled. Structural checks on the figure."""
from __future__ import annotations

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba

from ball_game import dense_ball_labels, write_ball_game
from soccerspot.data.classes import CLASS_NAMES_BALL
from soccerspot.data.labels import Event, Prediction
from soccerspot.data.tasks import task_spec
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.reports.hits import hit_flags
from soccerspot.pipeline.reports.lanes import STEM, TEAM_COLORS, TRUTH_OFFSET, row_spans
from soccerspot.pipeline.reports.timeline import load_timelines, timeline_figure


def test_a_hit_is_same_class_and_team_within_the_ball_tolerance():
    truth = [Event(1, 10_000, "PASS", "left"), Event(1, 20_000, "SHOT", "right")]
    spots = [Prediction(1, 10_500, "PASS", 0.9, "left"),  # 12.5 frames late: a hit
             Prediction(1, 10_520, "PASS", 0.9, "left"),  # 13 frames: none
             Prediction(1, 9_700, "PASS", 0.9, "right"),  # other team
             Prediction(1, 20_100, "DRIVE", 0.9, "right"),  # other class
             Prediction(2, 20_000, "SHOT", 0.9, "right")]  # other half
    seconds = task_spec("ball").hit_seconds
    assert seconds == 0.5
    assert hit_flags(spots, truth, seconds, teams=True) == [True, False, False, False, False]
    assert hit_flags(spots, truth, seconds, teams=False) == [True, False, True, False, False]


def _row_points(ax) -> list[tuple[float, float, tuple, tuple]]:
    """(x, y, edge colour, face colour) of every scatter point of an axes."""
    points = []
    for collection in ax.collections:
        if not isinstance(collection, PathCollection):  # the stems (vlines)
            continue
        edges, faces = collection.get_edgecolors(), collection.get_facecolors()
        for i, (x, y) in enumerate(collection.get_offsets()):
            points.append((float(x), float(y), tuple(edges[i % len(edges)]), tuple(faces[i % len(faces)])))
    return points


def test_ball_plot_has_a_lane_per_class_and_each_team_on_its_side(tmp_path):
    events, _ = write_ball_game(tmp_path / "game", dense_ball_labels(minutes=7.0, per_minute=40))
    assert len(events) == 280  # 120 per 3 minutes
    assert main(["plot", str(tmp_path / "game"), "--labels", str(tmp_path / "game"), "--task", "ball",
                 "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "1_timeline.png").stat().st_size > 10_000

    timeline, = load_timelines(tmp_path / "game", labels=tmp_path / "game", task="ball")
    assert timeline.teams == ("left", "right") and timeline.minutes_per_row == 3.0
    spots = timeline.spots  # as written: one per class, team and 25 fps frame
    figure = timeline_figure(timeline, "game")
    axes = figure.axes
    assert len(axes) == len(row_spans(max(e.seconds for e in events), 3.0)) == 3  # 0-3, 3-6, 6-7 minutes
    lanes = [label.get_text() for label in axes[0].get_yticklabels()]
    assert sorted(lanes) == sorted(CLASS_NAMES_BALL)  # every ball class has a lane
    centre = {name: y for name, y in zip(lanes, axes[0].get_yticks())}
    colour = {"left": to_rgba(TEAM_COLORS[0]), "right": to_rgba(TEAM_COLORS[1])}
    points = [p for ax in axes for p in _row_points(ax)]

    # every label drawn at its time on its team's side of its lane, in its team's colour (hollow: not shown)
    for event in events:
        y = centre[event.label] + (TRUTH_OFFSET if event.team == "left" else -TRUTH_OFFSET)
        found = [p for p in points if abs(p[0] - event.seconds) < 1e-6 and abs(p[1] - y) < 1e-6]
        assert found and all(np.allclose(p[2], colour[event.team]) for p in found), event
        assert np.allclose(found[0][3], colour[event.team] if event.shown else to_rgba("white")), event

    # every spot's dot on its team's side, at its confidence; filled exactly where it hits a label
    hits = hit_flags(spots, events, 0.5, teams=True)
    assert 0 < sum(hits) < len(spots)
    for spot, hit in zip(spots, hits):
        side = 1 if spot.team == "left" else -1
        y = centre[spot.label] + side * STEM * spot.confidence
        found = [p for p in points if abs(p[0] - spot.position_ms / 1000) < 1e-6 and abs(p[1] - y) < 1e-6]
        assert len(found) == 1, spot
        assert np.allclose(found[0][2], colour[spot.team])
        assert np.allclose(found[0][3], colour[spot.team] if hit else to_rgba("white")), spot
    key = figure._suptitle.get_text()
    assert 'team "left" above the line (blue)' in key and 'team "right" below the line (orange)' in key
    assert "±0.5 s" in key


def test_ball_plot_told_the_wrong_task_names_the_missing_labels_file_and_the_task(tmp_path, capsys):
    write_ball_game(tmp_path / "game", dense_ball_labels(minutes=1.0))
    assert main(["plot", str(tmp_path / "game"), "--labels", str(tmp_path / "game"), "--task", "spotting"]) == 1
    err = capsys.readouterr().err
    assert "no Labels-v2.json" in err and "it holds Labels-ball.json: give --task ball" in err
    assert len(err.strip().splitlines()) == 1


def test_ball_plot_without_its_task_reads_it_from_the_results(tmp_path, capsys):
    write_ball_game(tmp_path / "game", dense_ball_labels(minutes=1.0))
    assert main(["plot", str(tmp_path / "game" / "results_spotting.json"), "--labels",
                 str(tmp_path / "game" / "Labels-ball.json"), "--out", str(tmp_path / "plots")]) == 0
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["1_timeline.png"]
