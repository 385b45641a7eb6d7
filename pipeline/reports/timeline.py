"""Timeline plot of a half: class score curves over match time, the kept spots, and the ground truth.

One panel per group of related classes (`class_groups.py`), so that 17 classes stay readable; the x axis
is match time in mm:ss. The classes that occur in the game (a label, a spot or a score of at least
`class_order.SCORE_FLOOR`, `class_order.occurring_first`) fill the panels first; the silent ones follow in
panels of up to 9 at the bottom (every curve in a colour of its own). Curves come from the per-frame scores
`soccerspot spot --save-scores` writes (`<half>_scores.npy` beside `results_spotting.json`, `data/scores.py`);
without them the kept spots are drawn as stems at their confidence. Ground truth (a `Labels-v2.json`) is drawn as triangles above the
curves: filled when the action is shown, hollow when it is not. Replays (a `Detection-replays.json`
beside the results, `soccerspot ground`) are grey bands, their grounded origins (each replay's best
detection) black stars joined to their replay by an arrow in the top panel.

A task (`data.tasks`, `--task`) gives the labels file, the class set and its order, the teams and the hit
tolerance. A dense task (`TaskSpec.minutes_per_row`: Ball Action Spotting) is drawn as lanes instead of panels,
one per class, with each team on its side of the lane's centre line (`pipeline.reports.lanes`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from soccerspot.data.atomic import atomic_open
from soccerspot.data.cameras import DETECTIONS_FILE, read_replay_detections
from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.data.games import LABELS_FILE, PREDICTIONS_FILE
from soccerspot.data.labels import HALVES, Event, Prediction, read_labels, read_predictions
from soccerspot.data.scores import HalfScores, read_scores, scores_path
from soccerspot.data.tasks import TaskSpec, action_task_names, task_spec
from soccerspot.errors import DataError
from soccerspot.pipeline.reports.class_groups import group_classes
from soccerspot.pipeline.reports.class_order import SCORE_FLOOR, occurring_first
from soccerspot.pipeline.reports.clock import set_match_time_axis
from soccerspot.pipeline.reports.lanes import lanes_extent, lanes_figure, lanes_figure_size, row_spans

DPI = 100
WIDTH_IN = 16.0
PANEL_HEIGHT_IN = 1.8
HEADER_IN = 1.5  # title, key and x axis
PANEL_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd")  # one per class of a panel
TRUTH_Y = 1.1  # ground-truth markers sit above the [0, 1] score range
Y_TOP = 1.2
HALF_NAMES = {1: "1st half", 2: "2nd half"}


@dataclass
class HalfTimeline:
    """What one half's plot shows."""

    half: int
    duration: float  # seconds shown on the x axis
    classes: list[str]  # those that occur in the game first, then the `silent` ones
    spots: list[Prediction]
    scores: HalfScores | None = None
    truth: list[Event] | None = None  # None: no labels given
    replays: list | None = None  # data.cameras.ReplayDetections of this half; None: not grounded
    silent: list[str] = field(default_factory=list)  # classes with no label, spot or score >= SCORE_FLOOR
    teams: tuple[str, ...] = ()  # the task's teams (Ball 2025: left, right); none: marks carry no team
    hit_seconds: float = 1.0  # a spot this close to a label of its class (and team) is a hit (lanes)
    minutes_per_row: float | None = None  # set: drawn as lanes in rows of this many minutes; None: panels


SILENT_GROUP = f"Silent in this game (no label, no spot or score ≥ {SCORE_FLOOR:g})"
SILENT_PER_PANEL = 9  # legend lines that fit a panel at a smaller font
SILENT_COLORS = tuple(f"C{i}" for i in range(9))  # matplotlib's default cycle: 9 distinct colours


def timeline_panels(timeline: HalfTimeline) -> list[tuple[str, list[str]]]:
    """(title, classes) per panel, top to bottom: the occurring classes in their groups, then the silent ones
    (panels whose title starts with `SILENT_GROUP`)."""
    silent = [name for name in timeline.classes if name in set(timeline.silent)]
    panels = group_classes([name for name in timeline.classes if name not in set(silent)])
    for begin in range(0, len(silent), SILENT_PER_PANEL):
        suffix = f" ({begin // SILENT_PER_PANEL + 1})" if len(silent) > SILENT_PER_PANEL else ""
        panels.append((SILENT_GROUP + suffix, silent[begin:begin + SILENT_PER_PANEL]))
    return panels


def panel_colors(panel: Sequence[str], palette: Sequence[str] = PANEL_COLORS) -> dict[str, str]:
    return {name: palette[i % len(palette)] for i, name in enumerate(panel)}


def figure_size(timeline: HalfTimeline) -> tuple[float, float]:
    """Width and height in inches (times `DPI` gives the PNG's pixels)."""
    if timeline.minutes_per_row:
        rows = len(row_spans(lanes_extent(timeline), timeline.minutes_per_row))
        return lanes_figure_size(len(timeline.classes), rows, WIDTH_IN)
    return WIDTH_IN, HEADER_IN + PANEL_HEIGHT_IN * len(timeline_panels(timeline))


REPLAY_COLOR, ORIGIN_Y = "#9a9a9a", 1.02  # origins just under the ground truth's row


def _draw_replays(ax, timeline: HalfTimeline, arrows: bool) -> None:
    """Grey bands over the replays; in the top panel (`arrows`) each grounded origin and an arrow to it."""
    for replay in timeline.replays or ():
        ax.axvspan(replay.start, replay.end, color=REPLAY_COLOR, alpha=0.3, lw=0, zorder=0)
        if arrows and replay.detections:
            origin, _ = max(replay.detections, key=lambda d: d[1])
            ax.scatter([origin], [ORIGIN_Y], marker="*", s=110, color="black", zorder=4)
            ax.annotate("", xy=(origin, ORIGIN_Y), xytext=(replay.start, ORIGIN_Y), annotation_clip=True,
                        arrowprops=dict(arrowstyle="->", color="#444444", lw=0.8, shrinkA=0, shrinkB=6,
                                        connectionstyle="arc3,rad=-0.08"))


def _draw_panel(ax, timeline: HalfTimeline, title: str, panel: list[str]) -> None:
    silent = title.startswith(SILENT_GROUP)
    colors = panel_colors(panel, SILENT_COLORS if silent else PANEL_COLORS)
    for name in panel:
        color = colors[name]
        if timeline.scores is not None and name in timeline.scores.classes:
            column = timeline.scores.classes.index(name)
            ax.plot(timeline.scores.times, timeline.scores.probabilities[:, column], color=color, lw=1.1,
                    label=name)
        else:
            ax.plot([], [], color=color, lw=1.1, label=name)
        spots = [s for s in timeline.spots if s.label == name]
        if spots:
            times = [s.position_ms / 1000 for s in spots]
            confidences = [s.confidence for s in spots]
            if timeline.scores is None:
                ax.vlines(times, 0, confidences, color=color, lw=1.5)
            ax.scatter(times, confidences, s=40, color=color, edgecolors="black", linewidths=0.8, zorder=3)
        if timeline.truth:
            events = [e for e in timeline.truth if e.label == name]
            shown = [e.seconds for e in events if e.shown]
            unshown = [e.seconds for e in events if not e.shown]
            ax.scatter(shown, [TRUTH_Y] * len(shown), marker="v", s=60, color=color, edgecolors="black",
                       linewidths=0.6, zorder=3)
            ax.scatter(unshown, [TRUTH_Y] * len(unshown), marker="v", s=60, facecolors="white",
                       edgecolors=color, linewidths=1.2, zorder=3)
    ax.set_ylim(0, Y_TOP)
    ax.set_yticks([0, 0.5, 1])
    ax.set_ylabel("score")
    ax.axhline(1.0, color="#cccccc", lw=0.6)
    ax.grid(axis="x", color="#e6e6e6", lw=0.6)
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8 if silent else 10, frameon=False,
              borderaxespad=0, labelspacing=0.3 if silent else 0.5)


def timeline_figure(timeline: HalfTimeline, title: str = ""):
    """The figure (matplotlib, Agg) of one half; see the module docstring for what it shows."""
    from matplotlib.figure import Figure

    if timeline.minutes_per_row:
        heading = f"{title} — {HALF_NAMES.get(timeline.half, f'half {timeline.half}')}" if title else \
            HALF_NAMES.get(timeline.half, f"half {timeline.half}")
        return lanes_figure(timeline, heading, teams=timeline.teams, hit_seconds=timeline.hit_seconds,
                            minutes_per_row=timeline.minutes_per_row, width_in=WIDTH_IN, dpi=DPI)
    panels = timeline_panels(timeline)
    if not panels:
        raise ValueError("nothing to plot: no classes")
    width, height = figure_size(timeline)
    figure = Figure(figsize=(width, height), dpi=DPI)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    bottom = 0.55 / height
    top = 1 - 0.95 / height
    figure.subplots_adjust(left=0.05, right=0.86, bottom=bottom, top=top, hspace=0.35)
    for index, (ax, (panel_title, panel)) in enumerate(zip(axes, panels)):
        _draw_replays(ax, timeline, arrows=index == 0)
        _draw_panel(ax, timeline, panel_title, panel)
    set_match_time_axis(axes[-1], timeline.duration)
    key = "lines: per-frame scores; ● kept spots (at their confidence)"
    if timeline.scores is None:
        key = "● kept spots (at their confidence; no per-frame scores saved: spot --save-scores)"
    if timeline.truth is not None:
        key += "; ▼ ground truth (hollow: not shown)"
    if timeline.replays is not None:
        key += "; grey: replays, ★ their grounded origin"
    heading = f"{title} — {HALF_NAMES.get(timeline.half, f'half {timeline.half}')}" if title else \
        HALF_NAMES.get(timeline.half, f"half {timeline.half}")
    figure.suptitle(f"{heading}\n{key}", x=0.05, ha="left", y=1 - 0.1 / height, va="top", fontsize=11, linespacing=1.5)
    return figure


def write_timeline_plot(timeline: HalfTimeline, path: str | Path, title: str = "") -> Path:
    """Write one half's timeline as a PNG, atomically."""
    figure = timeline_figure(timeline, title)
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=DPI)
    return path


# ------------------------------------------------------------------------------------------ loading


def resolve_results(path: str | Path) -> Path:
    """A `results_spotting.json`, given itself or its game folder."""
    path = Path(path)
    if path.is_dir():
        path = path / PREDICTIONS_FILE
    if not path.is_file():
        raise DataError(path, "predictions file not found (give a results_spotting.json or its game folder)")
    return path


def find_labels(labels: str | Path, game_dir: Path, labels_file: str = LABELS_FILE) -> Path:
    """The game's labels file (`Labels-v2.json`, or the task's): the file itself, a game folder, or a labels
    tree holding the game under the same league/season/game names as its predictions."""
    labels = Path(labels)
    if labels.is_file():
        return labels
    parts = game_dir.resolve().parts
    candidates = [labels / labels_file] + [labels.joinpath(*parts[-n:], labels_file) for n in (3, 2, 1)
                                           if len(parts) >= n]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    others = [spec for spec in map(task_spec, action_task_names()) if spec.labels_file != labels_file
              and any((c.parent / spec.labels_file).is_file() for c in candidates)]
    hint = "".join(f"; it holds {spec.labels_file}: give --task {spec.name}" for spec in others)
    raise DataError(labels, f"no {labels_file} for game {game_dir.name!r} here (give the file, its game folder, "
                            f"or a labels tree with the same <league>/<season>/<game> folders){hint}")


def _ordered_classes(names: set[str], known: list[str] = CLASS_NAMES_V2) -> list[str]:
    return [c for c in known if c in names] + sorted(names - set(known))


def half_duration(scores: HalfScores | None, spots: list[Prediction], truth: list[Event] | None) -> float:
    """Seconds the x axis covers: the scored frames' span, else the last spot or label plus a margin."""
    if scores is not None and scores.times.size:
        step = float(np.median(np.diff(scores.times))) if scores.times.size > 1 else 0.5
        return float(scores.times[-1] + step)
    last = max([s.position_ms / 1000 for s in spots] + [e.seconds for e in truth or []] + [0.0])
    return max(60.0, last + 30.0)


def load_timelines(results: str | Path, labels: str | Path | None = None,
                   scores_dir: str | Path | None = None, replays: str | Path | None = None,
                   task: TaskSpec | str = "spotting") -> list[HalfTimeline]:
    """One timeline per half that has spots, scores or labels; `replays`: a Detection-replays.json (default:
    the one beside the results, if any). `task` gives the labels file, the classes, teams and hit tolerance."""
    spec = task_spec(task) if isinstance(task, str) else task
    results = resolve_results(results)
    game_dir = results.parent
    predictions = read_predictions(results)
    replays = Path(replays) if replays is not None else game_dir / DETECTIONS_FILE
    grounded = read_replay_detections(replays) if replays.is_file() else None
    truth_all = read_labels(find_labels(labels, game_dir, spec.labels_file)).events if labels is not None else None
    scores_dir = Path(scores_dir) if scores_dir is not None else game_dir
    timelines = []
    for half in HALVES:
        scores = read_scores(scores_dir, half) if scores_path(scores_dir, half).is_file() else None
        spots = [p for p in predictions.predictions if p.half == half]
        truth = None if truth_all is None else [e for e in truth_all if e.half == half]
        if scores is None and not spots and not truth:
            continue
        names = {s.label for s in spots} | {e.label for e in truth or []}
        classes = list(scores.classes) if scores is not None else _ordered_classes(names, spec.classes)
        classes += _ordered_classes(names - set(classes), spec.classes)
        half_replays = None if grounded is None else [r for r in grounded if r.half == half]
        timelines.append(HalfTimeline(half, half_duration(scores, spots, truth), classes, spots, scores, truth,
                                      half_replays, teams=spec.teams, hit_seconds=spec.hit_seconds,
                                      minutes_per_row=spec.minutes_per_row))
    if not timelines:
        raise DataError(results, "holds no predictions, and no scores or labels were found: nothing to plot")
    return order_by_game(timelines)


def score_peaks(scores: HalfScores | None) -> dict[str, float]:
    """Each class's highest per-frame score in the half (none without scores)."""
    if scores is None or not scores.times.size:
        return {}
    return {name: float(peak) for name, peak in zip(scores.classes, scores.probabilities.max(axis=0))}


def order_by_game(timelines: list[HalfTimeline]) -> list[HalfTimeline]:
    """The halves with their classes ordered alike, by what occurs in the whole game (`occurring_first`: a
    label, a spot or a score of at least `SCORE_FLOOR`), so both halves' panels hold the same classes."""
    peaks: dict[str, float] = {}
    for timeline in timelines:
        for name, peak in score_peaks(timeline.scores).items():
            peaks[name] = max(peak, peaks.get(name, 0.0))
    order = occurring_first(
        [name for timeline in timelines for name in timeline.classes],
        labels=[event.label for timeline in timelines for event in timeline.truth or ()],
        spots=[(spot.label, spot.confidence) for timeline in timelines for spot in timeline.spots],
        min_confidence=SCORE_FLOOR, score_peaks=peaks)
    return [dataclasses.replace(timeline, classes=[name for name in order.ordered if name in timeline.classes],
                                silent=[name for name in order.silent if name in timeline.classes])
            for timeline in timelines]


def write_timeline_plots(results: str | Path, out_dir: str | Path | None = None, *, labels: str | Path | None = None,
                         scores_dir: str | Path | None = None, replays: str | Path | None = None,
                         task: TaskSpec | str = "spotting") -> list[Path]:
    """Write `<out_dir>/<half>_timeline.png` per half (out_dir: the results' folder); returns the paths."""
    results = resolve_results(results)
    out_dir = Path(out_dir) if out_dir is not None else results.parent
    title = results.parent.name
    return [write_timeline_plot(t, out_dir / f"{t.half}_timeline.png", title)
            for t in load_timelines(results, labels, scores_dir, replays, task)]
