"""Live events: NMS on the final rows of a growing half, an event emitted once NMS can no longer change it.

NMS (`pipeline.inference.nms`, hard or soft, the offline code) runs on every final row of each class.
A kept row `i` is *certain* when every row that could suppress it exists (rows `j` with `i` in `j`'s
suppression range: `i - floor(w/2) < j <= i + w/2`) and `i` wins the greedy order against each of them
(a higher score; an equal score only before it, the offline tie rule): then nothing that arrives later
can remove it or change its confidence, under hard and soft NMS alike. Such events are emitted at once.
The head's own bound (`latency_bound_s`) is how long that takes in stream time: the rows that could
suppress a row, and the rows their scores read (the head's `RowContext.future`), must exist. A kept row
that is not certain (it survives because a stronger neighbour was itself suppressed, a chain that later
rows could in principle undo) is emitted once it is `max_latency` seconds old, in stream time or since its
frame arrived (wall clock, `overdue`; the loop checks once a turn and so looks one turn ahead,
`waited_by_next_turn`), whichever comes first; if NMS on more rows then drops it, or moves
its confidence, a correction line says so. The other side of that correction: a row NMS did not keep at its
deadline (it lost to a rival) and keeps later (the rival has since been suppressed by a newer row) goes out
when NMS first keeps it, as an event line marked `"reason": "late"`; with the rival's retraction it is NMS
overturning what it had decided at the deadline, and counts among the corrections. The default `max_latency` is the head's bound plus
`LATENCY_MARGIN_S` (`default_max_latency_s`), so every event NMS keeps at its deadline is out by then, whatever the head learned. At the end the
offline spots of the whole half (`finish`) settle every event: each one emitted and not among them is
retracted, each one missing is emitted late.

Dense frame models (`pipeline.live.dense_session`) bring their peers' NMS kinds, whose window is a radius in
frames: `peaks` (E2E-Spot's `peak_nms`: a row is decided, kept or not, once the `window` rows after it are
final: no correction ever) and `grouped-soft` (T-DEED's `grouped_soft_nms` over the (left, right) columns of
one class: a kept entry is certain when its score is strictly above every other entry of its class within
`window` rows, all of them final, since soft NMS only lowers scores, or once `window` rows without an entry
follow it and its neighbours (`decided_upto`); others go out at `max_latency`, with corrections). Only the rows
not decided yet are reconsidered on each update. A team model's columns are (class, team) pairs, class-major, left then right (`teams`): each
event is one (class, team), with `team` in its line and id.

Event ids are `<half>-<class>-<position ms>` (`<half>-<class>-<team>-<position ms>` with a team): the same
event gets the same id after a restart, so a resumed run skips the ids it already emitted (`emitted`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from soccerspot.data.labels import Prediction, game_time
from soccerspot.pipeline.inference.nms import grouped_soft_nms, nms, peak_nms


LATENCY_MARGIN_S = 2.0  # seconds past the head's own bound before an undecided event is emitted anyway
RADIUS_KINDS = ("peaks", "grouped-soft")  # dense models' NMS kinds: the window is a radius in frames


MAX_TURN_LEAD_S = 1.0  # at most this much ahead of its deadline does the loop emit an undecided event


def waited_by_next_turn(arrivals, now: float, turn_s: float) -> np.ndarray:
    """Seconds since each row's frame arrived, as they will be when the live loop, which checks deadlines once a
    turn, next looks (`turn_s`: its last turn's duration, at most `MAX_TURN_LEAD_S`): an event whose deadline
    falls before that look goes out now, so deadlines are met rather than overshot by up to a turn."""
    return now - np.asarray(arrivals, dtype=np.float64) + min(max(turn_s, 0.0), MAX_TURN_LEAD_S)


def event_id(half: int, label: str, position_ms: int, team: str = "") -> str:
    side = f"{team}-" if team else ""
    return f"{half}-{label.replace(' ', '_')}-{side}{position_ms}"


def rival_reach(kind: str, window_frames: int) -> int:
    """How many rows after a row can still change its fate under NMS of `kind` (hard/soft: `rival_span`'s last;
    `peaks` / `grouped-soft`: the radius)."""
    return window_frames if kind in RADIUS_KINDS else rival_span(0, window_frames)[1]


def rival_span(index: int, window_frames: int) -> tuple[int, int]:
    """[first, last] rows j whose suppression range `[floor(j - w/2), j + floor(w/2))` holds row `index`."""
    half = window_frames / 2
    return index - math.floor(half) + 1, math.ceil(index + 1 + half) - 1


def latency_bound_s(nms_window_frames: int, future_rows: int, fps: float, kind: str = "hard") -> float:
    """Stream seconds from a row's frame until its fate can be decided: every row that could suppress it
    exists (the last is `rival_reach`'s) and has its final score (`future_rows` more rows: the head's
    `RowContext.future`, a dense model's clip length). Rival chains under hard NMS can take longer (see the
    module docstring)."""
    return (rival_reach(kind, nms_window_frames) + future_rows) / fps


def default_max_latency_s(nms_window_frames: int, future_rows: int, fps: float, kind: str = "hard") -> float:
    """`max_latency_s` when none is given: the head's own bound plus `LATENCY_MARGIN_S`."""
    return latency_bound_s(nms_window_frames, future_rows, fps, kind) + LATENCY_MARGIN_S


def certain(scores: np.ndarray, index: int, window_frames: int) -> bool:
    """Soft NMS: is row `index` ahead of every row that could touch it (so nothing later can change it)?"""
    first, last = rival_span(index, window_frames)
    if last >= len(scores):
        return False
    score = scores[index]
    before, after = scores[max(0, first):index], scores[index + 1 : last + 1]
    return bool((before < score).all() and (after < score).all())


def grouped_certain(scores: np.ndarray, index: int, column: int, window: int) -> bool:
    """T-DEED's grouped soft NMS: is entry (`index`, `column`) of one class's (rows, columns) scores above every
    other entry within `window` rows (all of them final)? Then it is taken before any of them, undecayed,
    whatever later rows hold."""
    if index + window >= len(scores):
        return False
    near = np.array(scores[max(0, index - window): index + window + 1], dtype=np.float64)
    near[index - max(0, index - window), column] = -np.inf
    return bool((near < scores[index, column]).all())


def radius_spots(kind: str, scores: np.ndarray, window: int, threshold: float) -> list[tuple[int, int, float, bool]]:
    """(row, column, confidence, certain) of the entries the dense NMS `kind` keeps in one group's (rows, columns)
    scores: `peaks` per column (E2E-Spot), `grouped-soft` over the group's columns (T-DEED)."""
    if kind == "peaks":
        return [(row, column, score, row + window < len(scores)) for column in range(scores.shape[1])
                for row, score in peak_nms(scores[:, column], window, threshold)]
    return [(row, column, score, grouped_certain(scores, row, column, window))
            for row, column, score in grouped_soft_nms(scores, window, threshold)]


def decided_upto(kind: str, scores: np.ndarray, window: int, threshold: float, start: int) -> int:
    """The row before which the dense NMS `kind`'s outcome on one group's (rows, columns) scores is decided for good
    (at least `start`, a row before which it was). `peaks`: every row with `window` final rows after it.
    `grouped-soft`: the end of the last run of `window` rows without an entry (a score >= threshold): soft NMS
    only touches entries within `window` rows of the one taken, so the entries before such a run and those after
    it never meet, and the ones before are decided (their order of taking, hence their confidences, is theirs)."""
    if kind == "peaks":
        return max(start, len(scores) - window)
    free = (scores[start:] < threshold).all(axis=1)  # compared as `grouped_soft_nms` compares (float32 scores)
    if len(free) < window:
        return start
    runs = np.concatenate([[0], np.cumsum(free)])
    ends = np.flatnonzero(runs[window:] - runs[:len(runs) - window] == window) + window
    return start + int(ends[-1]) if len(ends) else start


def decide_rows(scores: np.ndarray, window_frames: int, threshold: float, settled: np.ndarray,
                kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hard NMS, incrementally: greedy NMS (`pipeline.inference.nms.hard_nms`) keeps a row unless a kept row ahead of it
    in its order (a higher score; an equal score, earlier) can suppress it. The rows not in `settled` are
    visited in that order: each one's fate on these rows (`kept`, updated in place), and whether a later row
    could still change it (returned `unsettled`): a row whose possible suppressors include a row not yet
    scored, or an unsettled row ahead of it, is unsettled. `settled` rows keep their fate (their possible
    suppressors all exist and are settled). Returns (visited rows, unsettled flags over all rows)."""
    unsettled = np.zeros(len(scores), dtype=bool)
    visited = np.flatnonzero(~settled)
    order = visited[np.lexsort((visited, -scores[visited]))]
    for index in order:
        score = scores[index]
        first, last = rival_span(int(index), window_frames)
        unsettled[index] = last >= len(scores)
        first, last = max(0, first), min(last, len(scores) - 1)
        rivals = scores[first : last + 1]
        ahead = (rivals > score) | ((rivals == score) & (np.arange(first, last + 1) < index))
        kept[index] = score >= threshold and not (ahead & kept[first : last + 1]).any()
        unsettled[index] |= bool((ahead & unsettled[first : last + 1]).any())
    return visited, unsettled


def overturned(row: int, kept_before: np.ndarray) -> bool:
    """Was `row` final at the last update (`kept_before` covers the rows then) and not kept by NMS then?"""
    return row < len(kept_before) and not bool(kept_before[row])


def unsettled_rows(scores: np.ndarray, window_frames: int, settled: np.ndarray) -> np.ndarray:
    """Which rows' fate under hard NMS later rows could still change (see `decide_rows`)."""
    return decide_rows(scores, window_frames, -np.inf, settled, np.zeros(len(scores), dtype=bool))[1]


@dataclass
class EventLine:
    """One line of the event stream (`to_json` is what is written and POSTed)."""

    kind: str  # "event" | "correction"
    id: str
    half: int
    position_ms: int
    label: str
    confidence: float
    stream_time_s: float
    emitted_at: str
    reason: str = ""  # corrections: "retracted" | "confidence"; events NMS kept past their deadline: "late"
    team: str = ""  # a team model's side ("left" / "right")

    def to_json(self) -> dict:
        line = {"type": self.kind, "id": self.id, "half": self.half, "gameTime": game_time(self.half, self.position_ms),
                "position": self.position_ms, "label": self.label, "confidence": round(self.confidence, 6),
                "stream_time": round(self.stream_time_s, 3), "emitted_at": self.emitted_at}
        if self.team:
            line["team"] = self.team
        if self.reason:
            line["reason"] = self.reason
        return line


@dataclass
class EventTracker:
    """Turns the final rows' scores into event lines (see the module docstring)."""

    classes: list[str]
    half: int
    kind: str  # NMS kind: "hard" | "soft" (`pipeline.inference.nms`), or a dense model's `RADIUS_KINDS`
    window_frames: int  # NMS window in rows (the radius for `RADIUS_KINDS`)
    threshold: float
    max_latency_s: float
    min_confidence: float = 0.0  # lines below this are not emitted (the final file keeps every spot)
    teams: tuple = ()  # a team model's sides: the score columns are (class, team), class-major
    emitted: dict = field(default_factory=dict)  # id -> (label, position ms, confidence, team) of the events out
    retracted: set = field(default_factory=set)
    settled: dict = field(default_factory=dict)  # hard NMS: class column -> rows whose fate is decided
    kept: dict = field(default_factory=dict)  # group -> rows (x its columns) NMS keeps on the rows so far
    decided: dict = field(default_factory=dict)  # radius kinds: group -> (row before which all is decided, its spots)
    pending: dict = field(default_factory=dict)  # id -> (confidence, time s, label, position ms, row, team): kept, undecided, not out
    clock: object = time.time

    def groups(self) -> list[tuple[str, list[str], list[int]]]:
        """(label, teams, score columns) of each NMS list: one per class for `grouped-soft` (its team columns
        together, as T-DEED), else one per column."""
        sides = list(self.teams) or [""]
        per_class = [(label, sides, [index * len(sides) + k for k in range(len(sides))])
                     for index, label in enumerate(self.classes)]
        if self.kind == "grouped-soft":
            return per_class
        return [(label, [side], [column]) for label, teams, columns in per_class for side, column in zip(teams, columns)]

    def remember(self, line: dict) -> None:
        """Take a line written by an earlier run of the same command (resume: no event twice)."""
        if line.get("half") != self.half:
            return
        if line.get("reason") == "retracted":
            self.emitted.pop(line["id"], None)
            self.retracted.add(line["id"])
        else:
            self.emitted[line["id"]] = (line["label"], int(line["position"]), float(line["confidence"]),
                                        line.get("team", ""))

    def update(self, scores: np.ndarray, times: np.ndarray, stream_time: float,
               waited: np.ndarray | None = None) -> list[EventLine]:
        """Lines for the final rows `scores` (rows, classes), `times` their timestamps (s), `stream_time`
        the latest frame's time; `waited`: seconds since each row's frame arrived (wall clock; NaN: unknown),
        or None to go by stream time alone."""
        current: dict[str, tuple] = {}
        considered: set[str] | None = set() if self.kind == "hard" else None
        for group, (label, teams, columns) in enumerate(self.groups()):
            # the dense kinds take the scores as they are (float32): their threshold compares as the offline code's
            group_scores = np.asarray(scores[:, columns], dtype=None if self.kind in RADIUS_KINDS else np.float64)
            for row, index, confidence, sure, overturned in self._spots(group, group_scores, considered, label,
                                                                        teams, times):
                position = max(0, int(round(float(times[row]) * 1000.0)))
                old_enough = stream_time - float(times[row]) >= self.max_latency_s or self._waited_long(waited, row)
                team = teams[index]
                current[event_id(self.half, label, position, team)] = (
                    min(1.0, max(0.0, confidence)), float(times[row]), sure or old_enough, label, position, row,
                    overturned and old_enough, team)
        lines = []
        for key, (confidence, at, ready, label, position, row, late, team) in current.items():
            if key in self.emitted or confidence < self.min_confidence:
                self.pending.pop(key, None)
            elif ready:
                self.pending.pop(key, None)
                lines.append(self._line("event", key, label, position, confidence, at, reason="late" if late else "",
                                        team=team))
            else:
                self.pending[key] = (confidence, at, label, position, row, team)
        if considered is None:  # soft NMS reconsiders every row: what it no longer keeps is not pending
            self.pending = {key: value for key, value in self.pending.items() if key in current}
        else:
            self.pending = {key: value for key, value in self.pending.items() if key in current or key not in considered}
        horizon_ms = int(round(float(times[len(scores) - 1]) * 1000.0)) if len(scores) else -1
        return lines + self._corrections(current, considered, horizon_ms)

    def overdue(self, waited: np.ndarray) -> list[EventLine]:
        """Events NMS keeps so far but has not decided whose frame arrived `max_latency_s` ago or more
        (`waited`: seconds since each row's frame arrived): emitted now, without waiting for more rows; a
        correction follows if NMS later overturns one."""
        lines = []
        for key, (confidence, at, label, position, row, team) in list(self.pending.items()):
            if self._waited_long(waited, row):
                del self.pending[key]
                lines.append(self._line("event", key, label, position, confidence, at, team=team))
        return lines

    def _waited_long(self, waited: np.ndarray | None, row: int) -> bool:
        return waited is not None and row < len(waited) and bool(waited[row] >= self.max_latency_s)

    def _spots(self, column: int, scores: np.ndarray, considered: set | None, label: str, teams: list[str],
               times: np.ndarray):
        """(row, column in the group, confidence, certain, overturned) of the entries NMS keeps in one group's
        (rows, columns) scores, of the rows reconsidered now (hard NMS: the rows not settled before, in O(those
        rows); the other kinds: all of them). `overturned`: the entry was final at the last update and NMS did
        not keep it then (a rival it lost to has since been suppressed)."""
        before = self.kept.get(column, np.zeros((0, scores.shape[1]), bool))
        if self.kind != "hard":
            if self.kind in RADIUS_KINDS:
                spots = self._radius_spots(column, scores)
            else:
                spots = [(row, 0, confidence, certain(scores[:, 0], row, self.window_frames))
                         for row, confidence in nms(scores[:, 0], self.kind, self.window_frames, self.threshold)]
            kept = np.zeros(scores.shape, dtype=bool)
            for row, index, _, _ in spots:
                kept[row, index] = True
            self.kept[column] = kept
            return [(row, index, confidence, sure, overturned(row, before[:, index]))
                    for row, index, confidence, sure in spots]
        scores = scores[:, 0]
        before = before[:, 0]
        grow = len(scores) - len(self.settled.get(column, ()))
        settled = np.concatenate([self.settled.get(column, np.zeros(0, bool)), np.zeros(grow, bool)])
        kept = np.concatenate([before, np.zeros(grow, bool)])
        visited, unsettled = decide_rows(scores, self.window_frames, self.threshold, settled, kept)
        settled[visited] = ~unsettled[visited]
        self.settled[column], self.kept[column] = settled, kept[:, None]
        for row in visited:
            considered.add(event_id(self.half, label, max(0, int(round(float(times[row]) * 1000.0))), teams[0]))
        return [(int(row), 0, float(scores[row]), bool(settled[row]), overturned(int(row), before))
                for row in visited if kept[row]]

    def _radius_spots(self, group: int, scores: np.ndarray) -> list[tuple[int, int, float, bool]]:
        """`radius_spots` on the rows not decided before (`decided_upto`), in O(those rows): the spots before the
        new decided row are kept as they are, certain."""
        start, done = self.decided.get(group, (0, []))
        low = max(0, start - self.window_frames) if self.kind == "peaks" else start  # peaks look `window` back
        fresh = [(row + low, index, score, sure) for row, index, score, sure
                 in radius_spots(self.kind, scores[low:], self.window_frames, self.threshold) if row + low >= start]
        cut = decided_upto(self.kind, scores, self.window_frames, self.threshold, start)
        done = done + [(row, index, score, True) for row, index, score, _ in fresh if row < cut]
        self.decided[group] = (cut, done)
        return done + [spot for spot in fresh if spot[0] >= cut]

    def finish(self, predictions: list[Prediction], times: np.ndarray) -> list[EventLine]:
        """Settle against the offline spots of the whole half: late events, retractions, corrected confidences."""
        current = {event_id(p.half, p.label, p.position_ms, p.team): (p.confidence, p.position_ms / 1000.0, True,
                                                                      p.label, p.position_ms, None, p.team)
                   for p in predictions if p.half == self.half}
        self.pending = {}
        lines = []
        for key, (confidence, at, _, label, position, _, team) in current.items():
            if key not in self.emitted and confidence >= self.min_confidence:
                lines.append(self._line("event", key, label, position, confidence, at, reason="late", team=team))
        return lines + self._corrections(current)

    def _corrections(self, current: dict, considered: set | None = None,
                     horizon_ms: int | None = None) -> list[EventLine]:
        """NMS decides on final rows only, so an emitted event it no longer keeps was dropped for good.
        `considered`: the events reconsidered now (None: all); `horizon_ms`: the last final row's position (an
        event a restarted run remembers past it is not judged yet: its rows are still to come)."""
        lines = []
        for key, (label, position, confidence, team) in list(self.emitted.items()):
            if considered is not None and key not in considered:
                continue
            if horizon_ms is not None and position > horizon_ms:
                continue
            if key not in current:
                lines.append(self._line("correction", key, label, position, confidence, position / 1000.0,
                                        reason="retracted", team=team))
            elif abs(current[key][0] - confidence) > 1e-4:
                lines.append(self._line("correction", key, label, position, current[key][0], position / 1000.0,
                                        reason="confidence", team=team))
        return lines

    def _line(self, kind: str, key: str, label: str, position: int, confidence: float, at: float,
              reason: str = "", team: str = "") -> EventLine:
        if reason == "retracted":
            self.emitted.pop(key, None)
            self.retracted.add(key)
        else:
            self.emitted[key] = (label, position, confidence, team)
            self.retracted.discard(key)
        stamp = datetime.fromtimestamp(self.clock(), timezone.utc).isoformat(timespec="milliseconds")
        return EventLine(kind, key, self.half, position, label, confidence, at, stamp.replace("+00:00", "Z"), reason,
                         team)
