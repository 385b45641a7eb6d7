"""Replays in the synthetic broadcasts, and the `Labels-cameras.json` that links them to their actions.

Some seconds to two minutes after an action, a broadcast shows it again: a logo wipe, the same moment from
closer (zoomed in) and slower, a logo wipe out. `insert_replays` carves such replay shots out of the open
play of a planned half (`data.synthetic.broadcast.plan_shots`), never over an event's own script; the Goal script's
own replay shot (its "replay" scene right after the celebration) is a replay too. `camera_labels` turns
the shots into camera changes, with a `link` on the change closing each replay (the convention of
SoccerNet's grounding code, see `data.cameras`).

What the numbers follow: Baidu measured on SoccerNet-v2 (Zhou et al., arXiv 2106.14447) that 93 % of
replays come within 0-120 s of their action and that fouls, goals and shots are replayed most. Here the
time from the action to the replay's start is 5 s + an exponential of mean 43.2 s, which puts 93 % of
the draws within 120 s (1 - exp(-115 / 43.2) = 0.93); a replay starts at the first free second at or
after the drawn time (so later, never earlier, when open play is busy) and is dropped when that is more
than `max_gap_s` after the action. The per-class probabilities (`REPLAY_PROBABILITY`: goals, penalties,
shots and cards, whose lead-up is the foul, most; throw-ins almost never) are ours, ordered as Baidu's
measurement. Durations, speed and zoom are ours.

Replays are opt-in (`BroadcastConfig.replays`): the spotting demo's season is drawn without them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from soccerspot.data.cameras import (
    CLOSE_UP, MAIN_CAMERA, REAL_TIME, REPLAY, REPLAY_CAMERA, CameraChange, CameraLabels, ReplayLink, mm_ss,
)
from soccerspot.data.labels import Event
from soccerspot.data.synthetic.draw import draw_text, text_width
from soccerspot.data.synthetic.scenes import REPLAY_LOGO, SCENES, Look, Shot, replay_logo

REPLAY_PROBABILITY: dict[str, float] = {
    "Goal": 1.0, "Penalty": 1.0, "Shots on target": 0.8, "Shots off target": 0.7, "Yellow card": 0.8,
    "Red card": 1.0, "Corner": 0.25, "Substitution": 0.05, "Throw-in": 0.02, "Kick-off": 0.0,
}
FREE_SCENES = ("open_play", "close_up")  # what a replay may be cut into
BUILT_IN_REPLAY_SCENE = "replay"  # the Goal script's own replay shot
REPLAY_SCENE = "replay_of"


@dataclass(frozen=True)
class ReplayConfig:
    """How replays are drawn (see the module docstring for what follows Baidu's measurement)."""

    probability: dict = field(default_factory=lambda: dict(REPLAY_PROBABILITY))
    min_gap_s: float = 5.0  # action -> replay start, at least
    mean_extra_gap_s: float = 43.2  # exponential part: 93 % of draws within 120 s
    max_gap_s: float = 150.0  # a replay that cannot start by then is dropped
    durations_s: tuple[int, ...] = (8, 9, 10)  # whole seconds: camera changes fall on gameTime seconds
    source_s: tuple[float, float] = (-2.5, 1.5)  # what is shown again, around the action's anchor
    wipe_s: float = 0.6  # the logo wipe in and out
    zoom: float = 1.3  # closer than the live view
    margin_s: float = 1.0  # live play kept between a replay and the scripts around it


@dataclass(frozen=True)
class SyntheticReplay:
    event: Event
    start: float
    end: float


def draw_gap(rng: np.random.Generator, config: ReplayConfig) -> float:
    return config.min_gap_s + float(rng.exponential(config.mean_extra_gap_s))


def _free_runs(shots: list[Shot]) -> list[tuple[float, float]]:
    runs: list[tuple[float, float]] = []
    for shot in shots:
        if shot.scene not in FREE_SCENES:
            continue
        if runs and abs(runs[-1][1] - shot.start) < 1e-6:
            runs[-1] = (runs[-1][0], shot.end)
        else:
            runs.append((shot.start, shot.end))
    return runs


def _carve(shots: list[Shot], start: float, end: float, inserted: Shot) -> list[Shot]:
    """`shots` with [start, end) replaced by `inserted` (shots cut there keep their other parts)."""
    out: list[Shot] = []
    for shot in shots:
        if shot.end <= start or shot.start >= end:
            out.append(shot)
            continue
        if shot.start < start - 0.05:
            out.append(Shot(shot.scene, shot.start, start, shot.params))
        if shot.end > end + 0.05:
            out.append(Shot(shot.scene, end, shot.end, shot.params))
    out.append(inserted)
    return sorted(out, key=lambda s: s.start)


def script_shots(shots: list[Shot], event: Event, config: ReplayConfig) -> list[Shot]:
    """The shots the replay of `event` shows again (those covering its source span)."""
    low, high = event.seconds + config.source_s[0], event.seconds + config.source_s[1]
    return [shot for shot in shots if shot.end > low and shot.start < high and shot.scene not in FREE_SCENES]


def insert_replays(shots: list[Shot], events: list[Event], seed: int, config: ReplayConfig,
                   duration_s: float) -> tuple[list[Shot], list[SyntheticReplay]]:
    """Replay shots carved into the open play of a half; returns the shots and every replay (the Goal
    script's own replay shots included)."""
    rng = np.random.default_rng([seed, 404])
    replays: list[SyntheticReplay] = []
    ordered = sorted(events, key=lambda e: e.position_ms)
    for shot in shots:
        if shot.scene == BUILT_IN_REPLAY_SCENE:
            before = [e for e in ordered if e.seconds <= shot.start]
            if before:
                replays.append(SyntheticReplay(before[-1], shot.start, shot.end))
    for event in ordered:
        draw, gap, length = rng.random(), draw_gap(rng, config), int(rng.choice(config.durations_s))
        if draw >= config.probability.get(event.label, 0.0):
            continue
        earliest = math.ceil(event.seconds + gap)
        slot = None
        for run_start, run_end in _free_runs(shots):
            begin = max(earliest, math.ceil(run_start + config.margin_s))
            if begin + length <= run_end - config.margin_s and begin + length <= duration_s - 1.0:
                slot = begin
                break
        if slot is None or slot - event.seconds > config.max_gap_s:
            continue
        params = {"event_s": event.seconds, "source": script_shots(shots, event, config), "config": config,
                  "seed": int(rng.integers(1 << 30))}
        shots = _carve(shots, slot, slot + length, Shot(REPLAY_SCENE, float(slot), float(slot + length), params))
        replays.append(SyntheticReplay(event, float(slot), float(slot + length)))
    return shots, sorted(replays, key=lambda r: r.start)


def zoom_in(frame: np.ndarray, zoom: float) -> np.ndarray:
    """The centre 1/zoom of the frame blown up to full size (nearest neighbour)."""
    h, w = frame.shape[:2]
    rows = (h / 2 + (np.arange(h) - h / 2) / zoom).astype(np.int64).clip(0, h - 1)
    cols = (w / 2 + (np.arange(w) - w / 2) / zoom).astype(np.int64).clip(0, w - 1)
    return frame[rows][:, cols]


def replay_source_time(shot: Shot, s: float) -> float:
    """The second of the half the replay shows at `s` seconds into its shot (slowed to fill the shot)."""
    config: ReplayConfig = shot.params["config"]
    inner = max(shot.duration - 2 * config.wipe_s, 1e-6)
    u = min(max((s - config.wipe_s) / inner, 0.0), 1.0)
    low, high = config.source_s
    return shot.params["event_s"] + low + u * (high - low)


def scene_replay_of(look: Look, shot: Shot, s: float) -> np.ndarray:
    """Logo wipe, the action again (closer, slower), logo wipe out."""
    config: ReplayConfig = shot.params["config"]
    if s < config.wipe_s:
        return replay_logo(look, s / config.wipe_s)
    if s > shot.duration - config.wipe_s:
        return replay_logo(look, (s - shot.duration + config.wipe_s) / config.wipe_s)
    t = replay_source_time(shot, s)
    sources = shot.params["source"]
    source = next((x for x in sources if x.start <= t < x.end), sources[-1] if sources else None)
    if source is None:
        frame = np.zeros((look.height, look.width, 3), dtype=np.uint8)
    else:
        frame = zoom_in(SCENES[source.scene](look, source, t - source.start), config.zoom)
    scale = max(1, look.height // 75)
    draw_text(frame, "REPLAY", look.width - text_width("REPLAY", scale) - 8, 6, scale, REPLAY_LOGO[0])
    return frame


SCENES.setdefault(REPLAY_SCENE, scene_replay_of)

# Camera labels of the synthetic scenes (SoccerNet-v2 camera classes).
SCENE_CAMERAS: dict[str, str] = {"open_play": MAIN_CAMERA, "walk_back": MAIN_CAMERA, "close_up": CLOSE_UP,
                                 "celebration": CLOSE_UP, "card": CLOSE_UP, "sub_board": CLOSE_UP,
                                 "keeper_save": CLOSE_UP, "foul": CLOSE_UP}


def _is_replay(shot: Shot) -> bool:
    return shot.scene in (REPLAY_SCENE, BUILT_IN_REPLAY_SCENE)


def camera_labels(shots: list[Shot], replays: list[SyntheticReplay], half: int, url: str = "") -> CameraLabels:
    """A camera change at every shot start; the change closing a replay carries its link."""
    ends = {round(r.end, 3): r for r in replays}
    changes: list[CameraChange] = []
    previous: Shot | None = None
    for shot in shots:
        replay = ends.get(round(shot.start, 3)) if previous is not None and _is_replay(previous) else None
        link = None
        if replay is not None:
            event = replay.event
            link = ReplayLink(event.label, event.half, mm_ss(int(event.seconds)), event.position_ms,
                              event.team, event.visibility)
        camera = REPLAY_CAMERA if _is_replay(shot) else SCENE_CAMERAS.get(shot.scene, REPLAY_CAMERA)
        changes.append(CameraChange(half, int(shot.start), camera, int(round(shot.start * 1000)),
                                    "logo" if _is_replay(shot) or _is_replay(previous or shot) else "abrupt",
                                    REPLAY if _is_replay(shot) else REAL_TIME, link))
        previous = shot
    return CameraLabels(url=url, changes=changes)




