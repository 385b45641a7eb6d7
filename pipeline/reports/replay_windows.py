"""Replays in a highlight reel: each replay (Detection-replays.json) right after the window of its action.

A replay's action is its grounded origin, the best-scored detection of its entry. A replay follows the
window holding its origin (in the reel's order); a replay whose action is in no window, or that the window
already shows whole, is left out. In the chapters a replay is a chapter of its own, titled "Replay".
"""
from __future__ import annotations

from typing import Sequence

from soccerspot.data.cameras import ReplayDetections
from soccerspot.data.labels import Prediction
from soccerspot.pipeline.reports.windows import Window

REPLAY_LABEL = "Replay"


def grounded_origin(replay: ReplayDetections) -> tuple[float, float] | None:
    """(seconds, score) of the replay's best detection, or None without any."""
    return max(replay.detections, key=lambda d: d[1]) if replay.detections else None


def with_replays(windows: Sequence[Window], replays: Sequence[ReplayDetections],
                 durations: dict[int, float]) -> list[Window]:
    """`windows` with each replay's window inserted after the window of its action."""
    after: dict[int, list[Window]] = {}
    for replay in sorted(replays, key=lambda r: (r.half, r.start)):
        origin = grounded_origin(replay)
        end = min(replay.end, durations.get(replay.half, 0.0))
        if origin is None or end <= replay.start:
            continue
        for index, window in enumerate(windows):
            if window.half != replay.half or not window.start <= origin[0] <= window.end:
                continue
            if window.start <= replay.start and end <= window.end:
                break  # already in the reel
            spot = Prediction(replay.half, int(round(replay.start * 1000)), REPLAY_LABEL, origin[1])
            after.setdefault(index, []).append(Window(replay.half, float(replay.start), float(end), [spot]))
            break
    ordered: list[Window] = []
    for index, window in enumerate(windows):
        ordered.append(window)
        ordered.extend(after.get(index, []))
    return ordered
