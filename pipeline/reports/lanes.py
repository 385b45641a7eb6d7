"""The lane timeline of a dense task (Ball Action Spotting: 100+ actions in 3 minutes): one lane per class,
the half cut into rows of `TaskSpec.minutes_per_row` minutes, each row its own axes.

In a lane, a team's marks sit on its side of the lane's centre line, in its colour (`team_styles`: the task's
first team above, in blue; the second below, in orange; a spot without a team on the line, grey): a label is a
triangle pointing at the line (hollow where the action is not shown), a spot a stem from the line whose length
is its confidence, ending in a dot that is filled where the spot hits a label (`pipeline.reports.hits`: same
class and team within the task's tolerance) and hollow where it hits none. No score curves are drawn here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from soccerspot.pipeline.reports.clock import format_clock, set_match_time_axis
from soccerspot.pipeline.reports.hits import hit_flags

TEAM_COLORS = ("#1f5fbf", "#e8710a")  # the task's teams in order: blue, orange
NO_TEAM_COLOR = "#6b6b6b"
LANE_IN = 0.40  # inches per lane
ROW_EXTRA_IN = 0.75  # a row's title and its time axis
TOP_IN = 1.2  # the figure's title and key
STEM = 0.30  # a confidence-1 spot's stem, in lanes (the label triangles sit at `TRUTH_OFFSET`)
TRUTH_OFFSET = 0.36


@dataclass(frozen=True)
class TeamStyle:
    team: str  # "" for marks without a team
    color: str
    side: int  # +1 above the centre line, -1 below, 0 on it
    where: str  # "above" / "below" / "on": for the key


def team_styles(teams: Sequence[str]) -> dict[str, TeamStyle]:
    """The style of each of the task's teams (the first two: above and below the line) and of no team."""
    styles = {"": TeamStyle("", NO_TEAM_COLOR, 0, "on")}
    for team, color, side, where in zip(teams, TEAM_COLORS, (1, -1), ("above", "below")):
        styles[team] = TeamStyle(team, color, side, where)
    return styles


def lanes_extent(timeline) -> float:
    """Seconds the rows cover: the scored span where there are scores, else up to the last spot or label (the
    30 s margin of a panel plot would make a row of its own)."""
    if timeline.scores is not None:
        return timeline.duration
    marks = [s.position_ms / 1000 for s in timeline.spots] + [e.seconds for e in timeline.truth or ()]
    return max(marks + [1.0])


ROW_GRACE_S = 5.0  # up to this much past a row's end widens the last row instead of starting one


def row_spans(duration: float, minutes_per_row: float) -> list[tuple[float, float]]:
    """[start, end) seconds of each row, `minutes_per_row` wide so that rows share one scale; the last row ends at
    `duration` where that lies less than `ROW_GRACE_S` past its width."""
    width = minutes_per_row * 60
    count = max(1, math.ceil((duration - ROW_GRACE_S) / width))
    spans = [(i * width, (i + 1) * width) for i in range(count)]
    start, end = spans[-1]
    spans[-1] = (start, max(end, duration + 0.5))
    return spans


def lanes_figure_size(classes: int, rows: int, width_in: float) -> tuple[float, float]:
    return width_in, TOP_IN + rows * (classes * LANE_IN + ROW_EXTRA_IN)


def _style_of(team: str, styles: dict[str, TeamStyle]) -> TeamStyle:
    return styles.get(team, styles[""])


def draw_lane_row(ax, timeline, start: float, end: float, styles: dict[str, TeamStyle], hits: list[bool]) -> None:
    """One row: every class of `timeline.classes` as a lane (the first on top), marks in [start, end)."""
    lanes = {name: len(timeline.classes) - 1 - i for i, name in enumerate(timeline.classes)}
    for y in lanes.values():
        ax.axhline(y, color="#c8c8c8", lw=0.6, zorder=0)
        if y % 2:
            ax.axhspan(y - 0.5, y + 0.5, color="#f4f4f4", lw=0, zorder=-1)
    stems: dict[str, list] = {}  # colour -> [(t, y0, y1)]: one vlines call each
    dots: dict[tuple[str, bool], list] = {}  # (colour, filled) -> [(t, y)]: one scatter call each
    triangles: dict[tuple[str, str, bool], list] = {}  # (colour, marker, filled) -> [(t, y)]
    for spot, hit in zip(timeline.spots, hits):
        t = spot.position_ms / 1000
        if not start <= t < end or spot.label not in lanes:
            continue
        style = _style_of(spot.team, styles)
        y = lanes[spot.label]
        tip = y + (style.side or 1) * STEM * spot.confidence
        stems.setdefault(style.color, []).append((t, y, tip))
        dots.setdefault((style.color, hit), []).append((t, tip))
    for event in timeline.truth or ():
        if not start <= event.seconds < end or event.label not in lanes:
            continue
        style = _style_of(event.team, styles)
        y = lanes[event.label] + (style.side or 1) * TRUTH_OFFSET
        marker = "v" if style.side >= 0 else "^"
        triangles.setdefault((style.color, marker, event.shown), []).append((event.seconds, y))
    for color, lines in stems.items():
        t, y0, y1 = zip(*lines)
        ax.vlines(t, y0, y1, color=color, lw=1.0, zorder=2)
    for (color, filled), points in dots.items():
        t, y = zip(*points)
        ax.scatter(t, y, s=16, zorder=3, linewidths=0.9, edgecolors=color, facecolors=color if filled else "white")
    for (color, marker, filled), points in triangles.items():
        t, y = zip(*points)
        ax.scatter(t, y, marker=marker, s=26, zorder=4, linewidths=0.8, edgecolors=color,
                   facecolors=color if filled else "white")
    ax.set_ylim(-0.5, len(lanes) - 0.5)
    ax.set_yticks(list(lanes.values()))
    ax.set_yticklabels(list(lanes), fontsize=9)
    silent = set(timeline.silent)
    for label in ax.get_yticklabels():
        if label.get_text() in silent:
            label.set_color("#9a9a9a")
    set_match_time_axis(ax, end - start, label="")
    ax.set_xlim(start, end)
    ax.grid(axis="x", color="#e2e2e2", lw=0.6)
    ax.set_title(f"{format_clock(start)}–{format_clock(min(end, lanes_extent(timeline)))}", loc="left", fontsize=10)


def lanes_key(teams: Sequence[str], styles: dict[str, TeamStyle], hit_seconds: float, has_truth: bool) -> str:
    """The figure's key, in words: which side and colour is which team, what the marks mean."""
    names = {TEAM_COLORS[0]: "blue", TEAM_COLORS[1]: "orange"}
    sides = "; ".join(f'team "{t}" {styles[t].where} the line ({names[styles[t].color]})' for t in teams if t in styles)
    key = "one lane per class (grey: silent in this game); spots: stem = confidence, ● hits a label of its class"
    key += f"{' and team' if teams else ''} within ±{hit_seconds:g} s, ○ hits none"
    if has_truth:
        key += "; ▼▲ labels (hollow: not shown)"
    if sides:
        key += f"\n{sides} — the side of the video each team is named by in the labels"
    return key


def lanes_figure(timeline, title: str, *, teams: Sequence[str], hit_seconds: float, minutes_per_row: float,
                 width_in: float, dpi: int):
    """The whole half as rows of lanes (matplotlib, Agg)."""
    from matplotlib.figure import Figure

    if not timeline.classes:
        raise ValueError("nothing to plot: no classes")
    spans = row_spans(lanes_extent(timeline), minutes_per_row)
    width, height = lanes_figure_size(len(timeline.classes), len(spans), width_in)
    figure = Figure(figsize=(width, height), dpi=dpi)
    axes = figure.subplots(len(spans), 1, squeeze=False)[:, 0]
    figure.subplots_adjust(left=0.16, right=0.98, top=1 - TOP_IN / height, bottom=0.45 / height,
                           hspace=ROW_EXTRA_IN / (len(timeline.classes) * LANE_IN))
    styles = team_styles(teams)
    hits = hit_flags(timeline.spots, timeline.truth or [], hit_seconds, teams=bool(teams))
    for ax, (start, end) in zip(axes, spans):
        draw_lane_row(ax, timeline, start, end, styles, hits)
    key = lanes_key(teams, styles, hit_seconds, timeline.truth is not None)
    figure.suptitle(f"{title}\n{key}", x=0.02, ha="left", y=1 - 0.08 / height, va="top", fontsize=10.5,
                    linespacing=1.5)
    return figure
