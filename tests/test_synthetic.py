"""The synthetic broadcast generator: determinism, labels that match the pixels, timelines."""
from __future__ import annotations

import hashlib

import av
import numpy as np
import pytest

from soccerspot.data.labels import Event, GameLabels, read_labels
from soccerspot.data.games import LABELS_FILE
from soccerspot.data.synthetic.broadcast import (
    EVENT_SCRIPTS,
    SYNTHETIC_CLASSES,
    BroadcastConfig,
    TimelineConfig,
    game_is_complete,
    make_game,
    plan_game,
    plan_shots,
    random_game_timeline,
    random_timeline,
    render_games,
    render_half,
    script_span,
    timeline_from_labels,
)
from soccerspot.data.synthetic.scenes import (
    BOARDS_END,
    BOARDS_SIDE,
    CORNER_FLAG,
    GOAL_BANNER,
    KEEPER,
    LED_GREEN,
    LED_RED,
    RED_CARD,
    YELLOW_CARD,
)

SMALL = BroadcastConfig(duration_s=12.0)


def all_classes_timeline(half: int = 1) -> tuple[list[Event], float]:
    """One event of every synthetic class, back to back with 3 s of open play between."""
    events, cursor = [], 1.0
    for index, label in enumerate(SYNTHETIC_CLASSES):
        before, after = script_span(label)
        anchor = cursor + 3.0 + before
        events.append(Event(half, int(anchor * 1000), label, ("home", "away")[index % 2]))
        cursor = anchor + after
    return events, cursor + 3.0


def decode_at(path, times: list[float]) -> dict[float, np.ndarray]:
    """RGB frames shown at the given seconds (the frame whose presentation time is closest)."""
    wanted = {t: None for t in times}
    best = {t: np.inf for t in times}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            pts = float(frame.pts * stream.time_base)
            for t in times:
                if abs(pts - t) < best[t]:
                    best[t] = abs(pts - t)
                    wanted[t] = frame.to_ndarray(format="rgb24")
    return wanted


def fraction_near(frame: np.ndarray, colour, tolerance: int = 40) -> float:
    """Share of pixels within `tolerance` (per channel, after H.264) of `colour`."""
    difference = np.abs(frame.astype(np.int16) - np.asarray(colour, dtype=np.int16)[None, None, :])
    return float((difference.max(axis=2) <= tolerance).mean())


# What each class must show shortly after its anchor (the "after" half of its signature).
AFTER_CHECKS = {
    "Goal": lambda f: fraction_near(f, GOAL_BANNER) > 0.12,
    "Penalty": lambda f: fraction_near(f, GOAL_BANNER) > 0.12,
    "Shots on target": lambda f: fraction_near(f, KEEPER) > 0.08,
    "Shots off target": lambda f: fraction_near(f, BOARDS_END[0]) + fraction_near(f, BOARDS_END[1]) > 0.15,
    "Yellow card": lambda f: fraction_near(f, YELLOW_CARD) > 0.03 and fraction_near(f, RED_CARD) < 0.005,
    "Red card": lambda f: fraction_near(f, RED_CARD) > 0.03 and fraction_near(f, YELLOW_CARD) < 0.005,
    "Substitution": lambda f: fraction_near(f, LED_GREEN) > 0.03 and fraction_near(f, LED_RED) > 0.03,
    "Throw-in": lambda f: fraction_near(f, BOARDS_SIDE[0]) > 0.05,
    "Corner": lambda f: fraction_near(f, CORNER_FLAG) > 0.02,
    "Kick-off": lambda f: fraction_near(f, (245, 245, 245)) > 0.02 and fraction_near(f, GOAL_BANNER) < 0.005,
}
NET_GREY = (200, 200, 200)
# ...and shortly before it (the "before" half).
BEFORE_CHECKS = {
    "Goal": lambda f: fraction_near(f, NET_GREY, 50) > 0.08,
    "Shots on target": lambda f: fraction_near(f, NET_GREY, 50) > 0.08,
    "Shots off target": lambda f: fraction_near(f, NET_GREY, 50) > 0.08,
    "Penalty": lambda f: fraction_near(f, NET_GREY, 50) > 0.25 and fraction_near(f, KEEPER) > 0.005,
    "Yellow card": lambda f: fraction_near(f, (15, 15, 15), 30) > 0.05,
    "Red card": lambda f: fraction_near(f, (15, 15, 15), 30) > 0.05,
}
EVENT_SIGNATURE_COLOURS = [GOAL_BANNER, KEEPER, YELLOW_CARD, RED_CARD, LED_GREEN, CORNER_FLAG]


def probe_times(events: list[Event]) -> dict[str, list[tuple[str, float]]]:
    """Where each check looks: 1.5 s after the anchor, 2 s before it, and mid-gap in open play."""
    return {
        "after": [(e.label, e.seconds + 1.5) for e in events],
        "before": [(e.label, e.seconds - 2.0) for e in events if e.label in BEFORE_CHECKS],
        "open_play": [(e.label, e.seconds - script_span(e.label)[0] - 1.5) for e in events],
    }


@pytest.fixture(scope="module")
def all_classes_half(tmp_path_factory):
    events, duration = all_classes_timeline()
    video = tmp_path_factory.mktemp("synthetic") / "1_224p.mkv"
    rendered = render_half(video, events, seed=3, config=BroadcastConfig(duration_s=duration, fps=10.0),
                           timeline=TimelineConfig(close_up_probability=0.0))
    probes = probe_times(events)
    frames = decode_at(video, [t for group in probes.values() for _, t in group])
    return rendered, probes, frames


def test_every_class_has_a_script_and_at_least_eight_classes():
    assert len(SYNTHETIC_CLASSES) >= 8
    assert set(AFTER_CHECKS) == set(SYNTHETIC_CLASSES)
    for label, script in EVENT_SCRIPTS.items():
        assert script[0].start < 0 < script[-1].end, label


def test_shared_lead_up_and_shared_aftermath_by_design():
    scenes = {label: ([s.scene for s in script if s.end <= 0], [s.scene for s in script if s.start >= 0])
              for label, script in EVENT_SCRIPTS.items()}
    assert scenes["Goal"][0] == scenes["Shots on target"][0] == scenes["Shots off target"][0]
    assert len({scenes[c][1][0] for c in ("Goal", "Shots on target", "Shots off target")}) == 3
    assert scenes["Penalty"][1][0] == scenes["Goal"][1][0] and scenes["Penalty"][0] != scenes["Goal"][0]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    events = random_timeline(5, 1, SMALL.duration_s)
    digests = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        render_half(tmp_path / f"{name}.mkv", events, seed=seed, config=SMALL)
        digests.append(hashlib.sha256((tmp_path / f"{name}.mkv").read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_odd_frame_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="even"):
        render_half(tmp_path / "odd.mkv", [], seed=1, config=BroadcastConfig(width=397, duration_s=2.0))


def test_video_is_h264_at_the_requested_size_rate_and_length(tmp_path):
    render_half(tmp_path / "v.mkv", random_timeline(1, 1, 12.0), seed=1, config=BroadcastConfig(duration_s=12.0))
    with av.open(str(tmp_path / "v.mkv")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (398, 224)
        assert float(stream.average_rate) == pytest.approx(25.0)
        times = [float(frame.pts * stream.time_base) for frame in container.decode(stream)]
    assert len(times) == 12 * 25
    assert np.allclose(np.diff(times), 0.04)


def test_every_event_signature_is_on_screen_at_its_anchor(all_classes_half):
    _, probes, frames = all_classes_half
    failures = [f"{label} after" for label, t in probes["after"] if not AFTER_CHECKS[label](frames[t])]
    failures += [f"{label} before" for label, t in probes["before"] if not BEFORE_CHECKS[label](frames[t])]
    assert not failures, f"signatures missing on screen: {failures}"


def test_open_play_shows_no_event_signature(all_classes_half):
    _, probes, frames = all_classes_half
    for label, t in probes["open_play"]:  # mid-gap, 1.5 s before each event's script starts
        for colour in EVENT_SIGNATURE_COLOURS:
            assert fraction_near(frames[t], colour, 30) < 0.01, (label, t, colour)


def test_random_timeline_is_seeded_ordered_and_fits():
    config = TimelineConfig()
    a = random_timeline(7, 2, 300.0, config)
    assert a == random_timeline(7, 2, 300.0, config)
    assert a != random_timeline(8, 2, 300.0, config)
    assert a[0].label == "Kick-off" and all(e.half == 2 for e in a)
    windows = [(e.seconds - script_span(e.label)[0], e.seconds + script_span(e.label)[1]) for e in a]
    assert windows[0][0] >= 0 and windows[-1][1] <= 300.0
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(windows, windows[1:]))
    for prev, nxt in zip(a, a[1:]):
        if prev.label in ("Goal", "Penalty"):
            assert nxt.label == "Kick-off"
    shots = plan_shots(a, 300.0, seed=7)
    assert shots[0].start == 0 and shots[-1].end == pytest.approx(300.0)
    assert all(abs(p.end - n.start) < 1e-9 for p, n in zip(shots, shots[1:]))


def test_bag_draw_shows_every_class_in_a_few_minutes_and_weighted_draw_follows_weights():
    for seed in range(5):  # a game of two 2-minute halves already shows every class
        game = random_game_timeline(seed, 120.0)
        assert {e.label for half in (1, 2) for e in game[half]} == set(SYNTHETIC_CLASSES), seed
        assert game[2] == random_timeline(seed, 2, 120.0)
    mix = TimelineConfig(draw="weighted", weights={"Throw-in": 9.0, "Corner": 1.0})
    drawn = [e.label for e in random_timeline(1, 1, 1800.0, mix) if e.label != "Kick-off"]
    assert set(drawn) == {"Throw-in", "Corner"}
    assert 0.8 < drawn.count("Throw-in") / len(drawn) < 0.97


def test_timeline_from_labels_keeps_supported_non_overlapping_events():
    labels = GameLabels(url="x", events=[
        Event(1, 20_000, "Throw-in", "home"),
        Event(1, 21_000, "Corner", "away"),  # its script would overlap the throw-in's: dropped
        Event(1, 40_000, "Foul", "home"),  # no synthetic script: dropped
        Event(1, 60_000, "Goal", "away"),
        Event(2, 30_000, "Yellow card", "home"),
        Event(1, 200_000, "Corner", "home"),  # beyond the duration
    ])
    kept = timeline_from_labels(labels, half=1, duration_s=120.0)
    assert [(e.label, e.position_ms) for e in kept] == [("Throw-in", 20_000), ("Goal", 60_000)]
    halved = timeline_from_labels(labels, half=1, duration_s=120.0, time_scale=0.5)
    assert [e.position_ms for e in halved] == [10_000, 30_000, 100_000]


@pytest.mark.real
def test_timeline_from_a_real_match(soccernet_data):
    path = next(iter(sorted((soccernet_data / "labels").rglob(LABELS_FILE))))
    real = read_labels(path)
    kept = timeline_from_labels(real, half=1, duration_s=45 * 60.0)
    real_supported = [e for e in real.events if e.half == 1 and e.label in EVENT_SCRIPTS]
    assert 0 < len(kept) <= len(real_supported)
    assert {e.label for e in kept} <= set(SYNTHETIC_CLASSES)
    shots = plan_shots(kept, 45 * 60.0, seed=1)  # raises if any scripts overlap
    assert shots[-1].end == pytest.approx(45 * 60.0)


def test_make_game_writes_soccernet_layout_with_audio(tmp_path):
    config = BroadcastConfig(duration_s=12.0, audio=True)
    labels = make_game(tmp_path / "game", seed=2, config=config)
    assert (tmp_path / "game" / "1_224p.mkv").is_file() and (tmp_path / "game" / "2_224p.mkv").is_file()
    written = read_labels(tmp_path / "game" / LABELS_FILE)
    assert sorted((e.half, e.position_ms, e.label) for e in written.events) == sorted(
        (e.half, e.position_ms, e.label) for e in labels.events)
    assert {e.half for e in written.events} == {1, 2}
    with av.open(str(tmp_path / "game" / "1_224p.mkv")) as container:
        audio = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(audio))
    assert samples == pytest.approx(12.0 * config.audio_rate, rel=0.02)


def test_games_rendered_in_parallel_equal_make_game_byte_for_byte(tmp_path):
    config = BroadcastConfig(width=160, height=96, fps=10.0, duration_s=20.0)
    make_game(tmp_path / "serial", seed=5, config=config)
    plans = [plan_game(tmp_path / "parallel", seed=5, config=config), plan_game(tmp_path / "other", seed=6, config=config)]
    assert not game_is_complete(tmp_path / "parallel")
    render_games(plans, config, workers=2)
    assert game_is_complete(tmp_path / "parallel") and game_is_complete(tmp_path / "other")
    for name in ("1_224p.mkv", "2_224p.mkv", LABELS_FILE):
        serial, parallel = (tmp_path / "serial" / name).read_bytes(), (tmp_path / "parallel" / name).read_bytes()
        assert hashlib.sha256(serial).digest() == hashlib.sha256(parallel).digest(), name
    assert (tmp_path / "other" / "1_224p.mkv").read_bytes() != (tmp_path / "parallel" / "1_224p.mkv").read_bytes()
