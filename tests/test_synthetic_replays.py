"""Replays in the synthetic broadcasts: the linked action is really shown again, the camera labels agree
with the action labels, the gap distribution is Baidu's measurement."""
from __future__ import annotations

import numpy as np
import pytest

from soccerspot.data.cameras import CAMERAS_FILE, read_camera_labels, replays_of
from soccerspot.data.labels import read_labels
from soccerspot.data.games import LABELS_FILE
from soccerspot.data.synthetic.broadcast import BroadcastConfig, TimelineConfig, make_game, plan_shots, random_timeline, render_frame
from soccerspot.data.synthetic.replays import FREE_SCENES, REPLAY_SCENE, ReplayConfig, camera_labels, draw_gap, replay_source_time
from soccerspot.data.synthetic.broadcast import half_shots
from soccerspot.data.synthetic.scenes import build_look

ROOMY = TimelineConfig(min_gap_s=8.0, max_gap_s=30.0)


def test_gap_distribution_follows_baidus_measurement():
    rng = np.random.default_rng(0)
    gaps = np.array([draw_gap(rng, ReplayConfig()) for _ in range(20000)])
    assert gaps.min() >= 5.0
    assert abs(np.mean(gaps <= 120.0) - 0.93) < 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_replays_are_carved_from_open_play_and_labelled_consistently(seed):
    events = random_timeline(seed, 1, 300.0, ROOMY)
    plain = plan_shots(events, 300.0, seed, ROOMY)
    shots, replays = half_shots(events, seed, 300.0, ROOMY, ReplayConfig())
    assert replays, "a 300 s half with goals and shots has replays"
    scripted = [(s.scene, s.start, s.end) for s in plain if s.scene not in FREE_SCENES]
    assert scripted == [(s.scene, s.start, s.end) for s in shots if s.scene not in FREE_SCENES + (REPLAY_SCENE,)]
    assert all(a.end == pytest.approx(b.start) for a, b in zip(shots, shots[1:]))  # still covers the half
    from_labels = replays_of(camera_labels(shots, replays, 1))
    assert len(from_labels) == len(replays)
    for labelled, drawn in zip(from_labels, replays):
        assert (labelled.start, labelled.end) == (int(drawn.start), int(drawn.end))
        assert labelled.label == drawn.event.label and labelled.half == drawn.event.half
        assert labelled.link.seconds == int(drawn.event.seconds) and labelled.link.position_ms == drawn.event.position_ms
        assert drawn.event.seconds < drawn.start <= drawn.event.seconds + ReplayConfig().max_gap_s


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    bins = (frame // 64).reshape(-1, 3).astype(np.int64)
    counts = np.bincount(bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2], minlength=64).astype(np.float64)
    return counts / counts.sum()


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.minimum(colour_histogram(a), colour_histogram(b)).sum())


def test_the_replay_shows_the_linked_action_again():
    seed = 1
    events = random_timeline(seed, 1, 300.0, ROOMY)
    shots, replays = half_shots(events, seed, 300.0, ROOMY, ReplayConfig())
    look = build_look(seed, 160, 90)
    checked = 0
    for shot in shots:
        if shot.scene != REPLAY_SCENE:
            continue
        for fraction in (0.3, 0.7):
            s = fraction * shot.duration
            shown = render_frame(shots, events, look, shot.start + s)
            source = render_frame(shots, events, look, replay_source_time(shot, s))
            others = [similarity(shown, render_frame(shots, events, look, t)) for t in np.linspace(5, 295, 25)
                      if abs(t - replay_source_time(shot, s)) > 8 and not shot.start - 1 < t < shot.end + 1]
            # the same moment, zoomed: its colours; the rest of the half mostly other colours (a shot of
            # another shot event shares its lead-up, so the maximum may be as high)
            assert similarity(shown, source) > 0.8
            assert similarity(shown, source) > float(np.median(others)) + 0.3
            checked += 1
    assert checked >= 4


def test_make_game_with_replays_writes_linked_camera_labels(tmp_path):
    config = BroadcastConfig(width=128, height=72, fps=5.0, duration_s=90.0, replays=ReplayConfig())
    labels = make_game(tmp_path / "game", 3, config, ROOMY)
    cameras = read_camera_labels(tmp_path / "game" / CAMERAS_FILE)
    replays = replays_of(cameras)
    assert replays and {r.half for r in replays} <= {1, 2}
    events = {(e.half, e.position_ms, e.label) for e in read_labels(tmp_path / "game" / LABELS_FILE).events}
    assert events == {(e.half, e.position_ms, e.label) for e in labels.events}
    for replay in replays:
        assert (replay.link.half, replay.link.position_ms, replay.label) in events
        assert replay.link.position_ms / 1000 < replay.start


def test_replays_are_opt_in():
    assert BroadcastConfig().replays is None
