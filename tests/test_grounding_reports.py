"""Replays for people: the highlight reel places each replay after its action; the timeline plot marks the
replays and their grounded origins."""
from __future__ import annotations

import json

import pytest

from soccerspot.data.cameras import CAMERAS_FILE, DETECTIONS_FILE, ReplayDetections, read_camera_labels, \
    replays_of, write_replay_detections
from soccerspot.data.labels import GamePredictions, Prediction, read_labels, write_predictions
from soccerspot.data.games import LABELS_FILE
from soccerspot.data.synthetic.broadcast import BroadcastConfig, TimelineConfig, make_game
from soccerspot.data.synthetic.replays import ReplayConfig
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.reports.replay_windows import REPLAY_LABEL, with_replays
from soccerspot.pipeline.reports.windows import Window


def test_each_replay_follows_the_window_of_its_grounded_origin():
    windows = [Window(1, 10, 40), Window(1, 100, 130), Window(2, 5, 30)]
    replays = [ReplayDetections(1, 60, 68, [(20.0, 0.9), (110.0, 0.2)]),  # origin 20 s: after the first window
               ReplayDetections(1, 30, 36, [(15.0, 0.8)]),  # already inside the first window
               ReplayDetections(1, 140, 150, [(80.0, 0.9)]),  # its action is in no window
               ReplayDetections(2, 50, 59, [(12.0, 0.7)]),
               ReplayDetections(1, 200, 210, [])]  # not grounded
    ordered = with_replays(windows, replays, {1: 300.0, 2: 300.0})
    assert [(w.half, w.start, w.end) for w in ordered] == [(1, 10, 40), (1, 60, 68), (1, 100, 130), (2, 5, 30),
                                                          (2, 50, 59)]
    assert ordered[1].spots[0].label == REPLAY_LABEL and ordered[1].spots[0].confidence == 0.9


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    """A small synthetic game with replays, its spots (every event) and its replays grounded exactly."""
    folder = tmp_path_factory.mktemp("replays") / "game"
    make_game(folder, 3, BroadcastConfig(width=128, height=72, fps=5.0, duration_s=90.0, replays=ReplayConfig()),
              TimelineConfig(min_gap_s=8.0, max_gap_s=30.0))
    events = read_labels(folder / LABELS_FILE).events
    write_predictions(folder / "results_spotting.json",
                      GamePredictions("game", [Prediction(e.half, e.position_ms, e.label, 0.9) for e in events]))
    replays = replays_of(read_camera_labels(folder / CAMERAS_FILE))
    write_replay_detections(folder / DETECTIONS_FILE, [ReplayDetections(r.half, r.start, r.end,
                                                                        [(r.link.position_ms / 1000, 0.8)])
                                                       for r in replays])
    return folder, replays


def test_highlights_with_replays_puts_each_replay_after_its_action(game, tmp_path, capsys):
    folder, replays = game
    code = main(["highlights", str(folder), "--classes", "Goal,Shots on target,Shots off target,Yellow card,Penalty",
                 "--before", "3", "--after", "3", "--with-replays", "-o", str(tmp_path / "reel.mp4"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    chapters = json.loads((tmp_path / "reel.mp4.chapters.json").read_text())["chapters"]
    labels = [[spot["label"] for spot in c["spots"]] for c in chapters]
    assert any(REPLAY_LABEL in found for found in labels)
    for index, chapter in enumerate(chapters):
        if labels[index] == [REPLAY_LABEL]:
            replay = next(r for r in replays if r.half == chapter["half"] and r.start == chapter["match_start"])
            before = chapters[index - 1]
            while [s["label"] for s in before["spots"]] == [REPLAY_LABEL]:  # two replays of one action
                before = chapters[chapters.index(before) - 1]
            assert before["half"] == replay.half
            assert before["match_start"] <= replay.link.position_ms / 1000 <= before["match_end"]


def test_timeline_marks_replays_and_their_grounded_origins(game, tmp_path, capsys):
    from soccerspot.pipeline.reports.timeline import load_timelines, timeline_figure

    folder, replays = game
    assert main(["plot", str(folder), "--labels", str(folder), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "1_timeline.png").stat().st_size > 10_000
    timeline = next(t for t in load_timelines(folder / "results_spotting.json", folder) if t.replays)
    figure = timeline_figure(timeline, "game")
    top = figure.axes[0]
    bands = [p for p in top.patches if abs(p.get_width() - (timeline.replays[0].end - timeline.replays[0].start)) < 1e-6
             or hasattr(p, "get_xy")]
    assert len(bands) >= len(timeline.replays)
    assert len(top.texts) == len(timeline.replays)  # one arrow per grounded replay
    assert "grounded origin" in figure._suptitle.get_text()
