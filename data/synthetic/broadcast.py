"""Synthetic soccer broadcasts: a match half rendered as a real H.264 video plus its `Labels-v2.json`.

No SoccerNet video and no pretrained weights reach these machines; the generator lets the whole chain
(decode -> backbone -> head -> NMS -> Average-mAP) be run, and shown to *learn*, anywhere.

Each event class is a short script of camera shots around its anchor (`EVENT_SCRIPTS`), built the way
the NetVLAD++ paper (Giancola & Ghanem, CVPRW 2021) argues real actions are: what happens before and
after the anchor carries different meaning.

- Goal, Shots on target and Shots off target share their lead-up (the same run and shot at goal) and
  differ only afterwards: celebration + GOAL graphic + replay, the goalkeeper holding the ball, the
  ball flying over the boards behind the goal.
- Penalty and Goal share their aftermath (the celebration) and differ before: the penalty set-up vs
  the open-play run.
- Yellow and Red card share the foul before and differ in the card shown; Substitution shows the LED
  board; Throw-in, Corner and Kick-off show their restart formations after the ball went out (or after
  the players walked back); the kick-off's kick is its anchor.
- Every class cuts to its own scene at its anchor, so the two 2 fps rows around it differ clearly
  (tests/test_synthetic_anchors.py measures it).

Timelines are drawn at random (seeded, class mix chosen by weights) or taken from a real
`Labels-v2.json` (its classes, spacing and teams; unsupported classes and events whose scripts would
overlap an earlier one are dropped). The same seed gives the same bytes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from soccerspot.data.atomic import atomic_open
from soccerspot.data.cameras import CAMERAS_FILE, CameraChange, CameraLabels, write_camera_labels
from soccerspot.data.classes import EVENT_DICTIONARY_V2
from soccerspot.data.games import HALVES, LABELS_FILE
from soccerspot.data.labels import Event, GameLabels, write_labels
from soccerspot.data.synthetic.parallel import run_render_tasks
from soccerspot.data.synthetic.replays import ReplayConfig, SyntheticReplay, camera_labels, insert_replays
from soccerspot.data.synthetic.scenes import Look, Shot, build_look, render_shot

VIDEO_NAME = "{half}_224p.mkv"  # SoccerNet's name for the 224p halves


@dataclass(frozen=True)
class ScriptShot:
    """One shot of an event's script, in seconds relative to the anchor."""

    scene: str
    start: float
    end: float


# What the camera shows around each class's anchor (negative = before).
EVENT_SCRIPTS: dict[str, tuple[ScriptShot, ...]] = {
    "Goal": (ScriptShot("shot_run", -6, 0), ScriptShot("celebration", 0, 6), ScriptShot("replay", 6, 11)),
    "Shots on target": (ScriptShot("shot_run", -6, 0), ScriptShot("keeper_save", 0, 5)),
    "Shots off target": (ScriptShot("shot_run", -6, 0), ScriptShot("miss", 0, 5)),
    "Penalty": (ScriptShot("penalty_setup", -6, 0), ScriptShot("celebration", 0, 6)),
    "Yellow card": (ScriptShot("foul", -5, 0), ScriptShot("card", 0, 5)),
    "Red card": (ScriptShot("foul", -5, 0), ScriptShot("card", 0, 5)),
    "Substitution": (ScriptShot("sideline", -4, 0), ScriptShot("sub_board", 0, 6)),
    "Throw-in": (ScriptShot("sideline", -3, 0), ScriptShot("throw_in", 0, 4)),
    "Corner": (ScriptShot("sideline", -3, 0), ScriptShot("corner_setup", 0, 5)),
    "Kick-off": (ScriptShot("walk_back", -4, 0), ScriptShot("kickoff", 0, 4)),
}

# The classes the generator draws, in official SoccerNet-v2 order.
SYNTHETIC_CLASSES: list[str] = sorted(EVENT_SCRIPTS, key=EVENT_DICTIONARY_V2.__getitem__)

# Random timelines: a balanced mix by default (a demo must see every class), or roughly a real
# match's proportions among the supported classes (many throw-ins, rare penalties and red cards).
BALANCED_WEIGHTS: dict[str, float] = {name: 1.0 for name in SYNTHETIC_CLASSES if name != "Kick-off"}
MATCH_WEIGHTS: dict[str, float] = {
    "Throw-in": 19.0, "Corner": 4.5, "Shots off target": 5.0, "Shots on target": 4.0, "Goal": 1.3,
    "Substitution": 2.3, "Yellow card": 1.9, "Red card": 0.1, "Penalty": 0.15,
}


@dataclass(frozen=True)
class BroadcastConfig:
    """How a half is rendered and encoded."""

    width: int = 398
    height: int = 224
    fps: float = 25.0
    duration_s: float = 180.0
    audio: bool = False
    audio_rate: int = 16000
    crf: int = 23
    preset: str = "ultrafast"
    replays: ReplayConfig | None = None  # replays after some events + Labels-cameras.json (data.synthetic.replays)


@dataclass(frozen=True)
class TimelineConfig:
    """Random timelines: gaps of open play between events, and the class mix."""

    min_gap_s: float = 3.0
    max_gap_s: float = 10.0
    weights: dict = field(default_factory=lambda: dict(BALANCED_WEIGHTS))
    # "bag": every class with a positive weight once per shuffled round (a few minutes already show each
    # class, so a held-out game never lacks one); "weighted": independent draws by weight (real mixes).
    draw: str = "bag"
    kickoff_after_goal_s: tuple[float, float] = (6.0, 12.0)
    close_up_probability: float = 0.35  # distractor close-ups cut into open play


def script_span(label: str) -> tuple[float, float]:
    """(seconds before, seconds after) the anchor that the class's script occupies."""
    script = EVENT_SCRIPTS[label]
    return -script[0].start, script[-1].end


def _event_window(event: Event) -> tuple[float, float]:
    before, after = script_span(event.label)
    return event.seconds - before, event.seconds + after


class ClassStream:
    """The classes of a game's events, in order, shared by its halves (see `TimelineConfig.draw`)."""

    def __init__(self, seed: int, config: TimelineConfig):
        self.names = [n for n in config.weights if n in EVENT_SCRIPTS and config.weights[n] > 0]
        if not self.names:
            raise ValueError(f"no supported class in the timeline weights {config.weights}; supported: {SYNTHETIC_CLASSES}")
        if config.draw not in ("bag", "weighted"):
            raise ValueError(f"TimelineConfig.draw must be 'bag' or 'weighted', got {config.draw!r}")
        self.draw = config.draw
        self.probabilities = np.array([config.weights[n] for n in self.names], dtype=np.float64)
        self.probabilities /= self.probabilities.sum()
        self.rng = np.random.default_rng([seed, 99])
        self.bag: list[str] = []

    def peek(self) -> str:
        """The next class; it stays next until `take()` (a class that no longer fits in a half opens the next)."""
        if not self.bag:
            if self.draw == "weighted":
                self.bag.append(self.names[self.rng.choice(len(self.names), p=self.probabilities)])
            else:
                self.bag.extend(str(n) for n in self.rng.permutation(self.names))
        return self.bag[-1]

    def take(self) -> str:
        label = self.peek()
        self.bag.pop()
        return label


def _half_timeline(seed: int, half: int, duration_s: float, config: TimelineConfig, classes: ClassStream) -> list[Event]:
    rng = np.random.default_rng([seed, half, 101])
    events: list[Event] = []
    cursor = 0.0  # end of the last script
    pending_kickoff = True
    while True:
        if pending_kickoff:
            label = "Kick-off"
            gap = 0.5 if not events else rng.uniform(*config.kickoff_after_goal_s)
        else:
            label = classes.peek()
            gap = rng.uniform(config.min_gap_s, config.max_gap_s)
        before, after = script_span(label)
        anchor = cursor + gap + before
        if anchor + after > duration_s - 1.0:
            break
        if not pending_kickoff:
            classes.take()
        anchor_ms = int(round(anchor * 1000))
        events.append(Event(half=half, position_ms=anchor_ms, label=label, team=str(rng.choice(["home", "away"]))))
        cursor = anchor_ms / 1000 + after
        pending_kickoff = label in ("Goal", "Penalty")
    return events


def random_game_timeline(seed: int, duration_s: float, config: TimelineConfig = TimelineConfig(),
                         halves: tuple[int, ...] = HALVES) -> dict[int, list[Event]]:
    """Events of a game's halves at random: each half opens with a kick-off, then classes come from one
    stream for the whole game (so a "bag" game shows every class once before any class twice) with gaps
    of open play; every Goal and Penalty is followed by a kick-off."""
    classes = ClassStream(seed, config)
    return {half: _half_timeline(seed, half, duration_s, config, classes) for half in sorted(halves)}


def random_timeline(seed: int, half: int, duration_s: float, config: TimelineConfig = TimelineConfig()) -> list[Event]:
    """One half of `random_game_timeline` (the halves before it are drawn too, to continue their stream)."""
    return random_game_timeline(seed, duration_s, config, halves=tuple(range(1, half + 1)))[half]


def timeline_from_labels(labels: GameLabels, half: int, duration_s: float | None = None, time_scale: float = 1.0) -> list[Event]:
    """A real match's events of `half` (positions multiplied by `time_scale`), restricted to the
    supported classes, within `duration_s`, dropping events whose script would overlap an earlier one."""
    kept: list[Event] = []
    last_end = -math.inf
    for event in sorted(labels.events, key=lambda e: e.position_ms):
        if event.half != half or event.label not in EVENT_SCRIPTS:
            continue
        scaled = Event(half, int(round(event.position_ms * time_scale)), event.label, event.team or "home", "visible")
        start, end = _event_window(scaled)
        if start < 0.0 or start < last_end + 1.0:
            continue
        if duration_s is not None and end > duration_s - 1.0:
            break
        kept.append(scaled)
        last_end = end
    return kept


# --------------------------------------------------------------------------------------------------
# From events to camera shots


def _event_params(event: Event, rng: np.random.Generator, label: str) -> dict:
    team = event.team if event.team in ("home", "away") else "home"
    return {
        "team": team,
        "seed": int(rng.integers(1 << 30)),
        "left_goal": bool(rng.random() < 0.5),
        "lane": float(rng.uniform(14, 54)),
        "target_y": float(rng.uniform(31, 37)),
        "card": "red" if label == "Red card" else "yellow",
        "numbers": (int(rng.integers(2, 30)), int(rng.integers(2, 30))),
        "x": float(rng.uniform(25, 80)),
        "grass": bool(rng.random() < 0.5),
    }


def plan_shots(events: list[Event], duration_s: float, seed: int, config: TimelineConfig = TimelineConfig()) -> list[Shot]:
    """Cover [0, duration_s] with shots: each event's script, open play between, with distractor
    close-ups cut in now and then. Events must not overlap (as both timeline builders ensure)."""
    rng = np.random.default_rng([seed, 202])
    shots: list[Shot] = []
    cursor = 0.0

    def fill(until: float) -> None:
        nonlocal cursor
        while until - cursor > 0.05:
            length = until - cursor
            if length > 6.0 and rng.random() < config.close_up_probability:
                start = cursor + rng.uniform(1.0, length - 4.0)
                shots.append(Shot("open_play", cursor, start))
                end = start + rng.uniform(1.5, 3.0)
                shots.append(Shot("close_up", start, end, {"team": str(rng.choice(["home", "away"])), "seed": int(rng.integers(1 << 30)), "grass": bool(rng.random() < 0.5)}))
                cursor = end
                continue
            shots.append(Shot("open_play", cursor, until))
            cursor = until

    for event in sorted(events, key=lambda e: e.position_ms):
        if event.label not in EVENT_SCRIPTS:
            raise ValueError(f"no script for class {event.label!r}; supported: {SYNTHETIC_CLASSES}")
        start, end = _event_window(event)
        if start < cursor - 1e-6:
            raise ValueError(f"event {event} overlaps the previous one's script (which ends at {cursor:.2f} s)")
        fill(start)
        params = _event_params(event, rng, event.label)
        for part in EVENT_SCRIPTS[event.label]:
            shots.append(Shot(part.scene, event.seconds + part.start, min(event.seconds + part.end, duration_s), params))
        cursor = min(end, duration_s)
    fill(duration_s)
    return shots


def score_at(events: list[Event], seconds: float, previous: tuple[int, int] = (0, 0)) -> tuple[int, int]:
    home, away = previous
    for event in events:
        if event.label in ("Goal", "Penalty") and event.seconds <= seconds:
            if event.team == "away":
                away += 1
            else:
                home += 1
    return home, away


# --------------------------------------------------------------------------------------------------
# Rendering and encoding


def frame_times(duration_s: float, fps: float) -> np.ndarray:
    return np.arange(int(math.floor(duration_s * fps + 1e-9))) / fps


def iter_frames(shots: list[Shot], events: list[Event], look: Look, fps: float, duration_s: float) -> Iterator[np.ndarray]:
    """Every frame of the half, in order."""
    index = 0
    for t in frame_times(duration_s, fps):
        while index + 1 < len(shots) and t >= shots[index].end:
            index += 1
        shot = shots[index]
        yield render_shot(look, shot, t - shot.start, score_at(events, t))


def render_frame(shots: list[Shot], events: list[Event], look: Look, t: float) -> np.ndarray:
    """The frame shown at second t (for tests and previews; iter_frames is the fast path)."""
    for shot in shots:
        if shot.start <= t < shot.end:
            return render_shot(look, shot, t - shot.start, score_at(events, t))
    shot = shots[-1]
    return render_shot(look, shot, t - shot.start, score_at(events, t))


def crowd_audio(events: list[Event], seed: int, duration_s: float, rate: int) -> np.ndarray:
    """Mono float32 in [-1, 1]: crowd murmur, whistles at restarts and cards, a roar after goals."""
    rng = np.random.default_rng([seed, 303])
    n = int(duration_s * rate)
    noise = rng.standard_normal(n).astype(np.float32)
    kernel = np.ones(8, dtype=np.float32) / 8  # a crude low-pass: a murmur, not hiss
    signal = np.convolve(noise, kernel, mode="same") * 0.08
    t = np.arange(n, dtype=np.float32) / rate
    for event in events:
        a = int(event.seconds * rate)
        if event.label in ("Goal", "Penalty"):
            b = min(n, a + 6 * rate)
            envelope = np.linspace(4.0, 1.0, b - a, dtype=np.float32)
            signal[a:b] *= envelope
        if event.label in ("Kick-off", "Yellow card", "Red card", "Penalty"):
            b = min(n, a + rate // 2)
            tone = 0.3 * np.sin(2 * np.pi * 3200 * t[a:b] + 8 * np.sin(2 * np.pi * 30 * t[a:b]))
            signal[a:b] += tone
    return np.clip(signal, -1.0, 1.0)


def encode_video(path: Path, frames: Iterator[np.ndarray], config: BroadcastConfig, audio: np.ndarray | None = None) -> None:
    """Write an H.264 (+ AAC) Matroska file with PyAV, atomically, bit-exact for identical input."""
    import av
    from av.codec.context import Flags
    from fractions import Fraction

    path = Path(path)
    with atomic_open(path, "wb") as handle:
        container = av.open(handle, mode="w", format="matroska", options={"fflags": "+bitexact"})
        rate = Fraction(config.fps).limit_denominator(1001)
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = config.width, config.height, "yuv420p"
        stream.options = {"preset": config.preset, "crf": str(config.crf), "x264-params": "keyint=250"}
        stream.codec_context.flags |= int(Flags.bitexact)
        audio_stream = None
        if audio is not None:
            audio_stream = container.add_stream("aac", rate=config.audio_rate)
            audio_stream.layout = "mono"
            audio_stream.codec_context.flags |= int(Flags.bitexact)
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if audio_stream is not None:
            chunk = 1024
            for start in range(0, len(audio), chunk):
                piece = audio[start : start + chunk].reshape(1, -1)
                audio_frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
                audio_frame.sample_rate = config.audio_rate
                audio_frame.pts = start
                container.mux(audio_stream.encode(audio_frame))
            container.mux(audio_stream.encode())
        container.close()


@dataclass
class RenderedHalf:
    video: Path
    events: list[Event]
    shots: list[Shot]
    look: Look


def check_config(config: BroadcastConfig) -> None:
    if config.width % 2 or config.height % 2:
        raise ValueError(f"synthetic video size {config.width}x{config.height}: H.264 4:2:0 needs even sizes")
    if config.fps <= 0 or config.duration_s <= 0:
        raise ValueError(f"synthetic half needs fps > 0 and a positive duration (got {config.fps} fps, {config.duration_s} s)")


def render_half(video: str | Path, events: list[Event], seed: int, config: BroadcastConfig = BroadcastConfig(),
                timeline: TimelineConfig = TimelineConfig(), progress: bool = False) -> RenderedHalf:
    """Render `events` (one half) into `video`; returns what was drawn."""
    check_config(config)
    video = Path(video)
    look = build_look(seed, config.width, config.height)
    shots = plan_shots(events, config.duration_s, seed, timeline)
    if config.replays is not None:
        shots, _ = insert_replays(shots, events, seed, config.replays, config.duration_s)
    frames = iter_frames(shots, events, look, config.fps, config.duration_s)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, total=len(frame_times(config.duration_s, config.fps)), desc=f"render {video.name}", unit="frame", leave=False)
    audio = crowd_audio(events, seed, config.duration_s, config.audio_rate) if config.audio else None
    encode_video(video, frames, config, audio)
    return RenderedHalf(video, events, shots, look)


def half_events(seed: int, half: int, config: BroadcastConfig = BroadcastConfig(), timeline: TimelineConfig = TimelineConfig(),
                real_labels: GameLabels | None = None, time_scale: float = 1.0) -> list[Event]:
    """A game's events for one half: from `real_labels` when given (see `timeline_from_labels`), else at random."""
    if real_labels is not None:
        return timeline_from_labels(real_labels, half, config.duration_s, time_scale)
    return random_timeline(seed, half, config.duration_s, timeline)


def half_seed(seed: int, half: int) -> int:
    """The rendering seed of a game's half (each half looks different, both follow the game's seed)."""
    return seed * 10 + half


@dataclass(frozen=True)
class HalfRender:
    """One half to render: where its video goes, what happens in it and the seed it is drawn with."""

    video: Path
    events: list[Event]
    seed: int


@dataclass(frozen=True)
class GamePlan:
    """A game folder to make: its halves' renders and its labels (written after every video)."""

    game_dir: Path
    halves: list[HalfRender]
    labels: GameLabels


def plan_game(game_dir: str | Path, seed: int, config: BroadcastConfig = BroadcastConfig(),
              timeline: TimelineConfig = TimelineConfig(), real_labels: GameLabels | None = None,
              time_scale: float = 1.0, halves: tuple[int, ...] = HALVES, url: str | None = None) -> GamePlan:
    """What `make_game` renders and writes for a game seeded `seed`; nothing is written here."""
    game_dir = Path(game_dir)
    renders, events = [], []
    for half in halves:
        events_of_half = half_events(seed, half, config, timeline, real_labels, time_scale)
        renders.append(HalfRender(game_dir / VIDEO_NAME.format(half=half), events_of_half, half_seed(seed, half)))
        events.extend(events_of_half)
    labels = GameLabels(url=url or f"synthetic/seed-{seed}", events=events, path=game_dir / LABELS_FILE)
    return GamePlan(game_dir, renders, labels)


def game_is_complete(game_dir: str | Path, halves: tuple[int, ...] = HALVES) -> bool:
    """True when the game's labels exist; they are written after its videos, so the videos are complete too."""
    game_dir = Path(game_dir)
    return (game_dir / LABELS_FILE).is_file() and all((game_dir / VIDEO_NAME.format(half=h)).is_file() for h in halves)


def _render_task(task: tuple[HalfRender, BroadcastConfig, TimelineConfig]) -> str:
    half, config, timeline = task
    render_half(half.video, half.events, half.seed, config, timeline)
    return str(half.video)


def render_games(plans: list[GamePlan], config: BroadcastConfig = BroadcastConfig(),
                 timeline: TimelineConfig = TimelineConfig(), workers: int = 1, progress: bool = False) -> None:
    """Render every half of `plans` (in `workers` processes when more than one), then write each game's
    labels."""
    check_config(config)
    tasks = [(half, config, timeline) for plan in plans for half in plan.halves]
    for plan in plans:
        plan.game_dir.mkdir(parents=True, exist_ok=True)
    run_render_tasks(_render_task, tasks, workers, progress, "render halves", "half")
    for plan in plans:
        if config.replays is not None:

            write_camera_labels(plan.game_dir / CAMERAS_FILE, game_camera_labels(plan, config, timeline))
        write_labels(plan.game_dir / LABELS_FILE, plan.labels)


def make_game(game_dir: str | Path, seed: int, config: BroadcastConfig = BroadcastConfig(),
              timeline: TimelineConfig = TimelineConfig(), real_labels: GameLabels | None = None,
              time_scale: float = 1.0, halves: tuple[int, ...] = HALVES, progress: bool = False) -> GameLabels:
    """A game folder in SoccerNet layout: `1_224p.mkv`, `2_224p.mkv` and `Labels-v2.json` (written last)."""
    plan = plan_game(game_dir, seed, config, timeline, real_labels, time_scale, halves)
    render_games([plan], config, timeline, progress=progress)
    return plan.labels


def season_game_names(num_games: int, split: str) -> list[str]:
    return [f"synthetic_league/season/{split}-game-{index:02d}" for index in range(num_games)]


def half_shots(events: list[Event], seed: int, duration_s: float, timeline, config: ReplayConfig
               ) -> tuple[list[Shot], list[SyntheticReplay]]:
    """The shots of a half with its replays (what `data.synthetic.broadcast.render_half` renders)."""
    return insert_replays(plan_shots(events, duration_s, seed, timeline), events, seed, config, duration_s)


def game_camera_labels(plan, broadcast, timeline) -> CameraLabels:
    """The Labels-cameras.json of a planned game (`data.synthetic.broadcast.GamePlan`), halves in order."""
    changes: list[CameraChange] = []
    for number, half in enumerate(plan.halves, start=1):
        events = half.events
        half_number = events[0].half if events else number
        shots, replays = half_shots(events, half.seed, broadcast.duration_s, timeline, broadcast.replays)
        changes.extend(camera_labels(shots, replays, half_number).changes)
    return CameraLabels(url=plan.labels.url, changes=changes)
