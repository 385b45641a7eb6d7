"""Replays and the live action each one shows, from SoccerNet's replay-grounding files (both optional).

- `Labels-cameras.json` (SoccerNet-v2 camera changes): {"annotations": [{"gameTime": "1 - 12:34", "label":
  <camera>, "change_type": ..., "replay": "replay" | "real-time", "link": {"label", "half", "time": "MM:SS"}},
  ...]}. A replay runs from a change marked "replay" to the next change of the half; its `link` is the
  action it replays (its grounded origin).
- `Detection-replays.json` (replay-grounding results): {"Replays": [{"half", "start", "end" (seconds),
  "detection": [{"time", "score"}]}]}; the best-scored detection is drawn as the origin.

A file that cannot be read gives no replays and a one-line `problem`, never a failed page.
"""
from __future__ import annotations

import json
from pathlib import Path


def _clock_seconds(text: str) -> float | None:
    """Seconds of "H - MM:SS" or "MM:SS"."""
    clock = str(text).split("-", 1)[-1].strip()
    try:
        minutes, seconds = clock.split(":")
        return int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _half_of(text: str) -> int | None:
    head = str(text).strip()[:1]
    return int(head) if head in ("1", "2") else None


def camera_replays(obj: dict) -> list[dict]:
    """Replay segments of a `Labels-cameras.json`, each with its linked action as origin."""
    changes = []
    for entry in obj.get("annotations", []):
        if not isinstance(entry, dict):
            continue
        half, start = _half_of(entry.get("gameTime", "")), _clock_seconds(entry.get("gameTime", ""))
        if entry.get("position") is not None and str(entry["position"]).isdigit():
            start = int(entry["position"]) / 1000
        if half is None or start is None:
            continue
        changes.append((half, start, entry))
    changes.sort(key=lambda c: (c[0], c[1]))
    replays = []
    for i, (half, start, entry) in enumerate(changes):
        if str(entry.get("replay", "")).lower() != "replay":
            continue
        nxt = changes[i + 1] if i + 1 < len(changes) else None
        end = nxt[1] if nxt is not None and nxt[0] == half else start + 5.0
        origin = None
        link = entry.get("link")
        if isinstance(link, dict):
            o_half = _half_of(link.get("half", "")) if link.get("half") is not None else half
            o_time = (int(link["position"]) / 1000 if str(link.get("position", "")).isdigit()
                      else _clock_seconds(link.get("time", "")))
            if o_half is not None and o_time is not None:
                origin = {"half": o_half, "t": o_time, "label": str(link.get("label", ""))}
        replays.append({"half": half, "start": start, "end": max(end, start + 0.5), "origin": origin,
                        "source": "cameras", "camera": str(entry.get("label", ""))})
    return replays


def detection_replays(obj: dict) -> list[dict]:
    replays = []
    for entry in obj.get("Replays", []):
        if not isinstance(entry, dict):
            continue
        try:
            half, start, end = int(entry["half"]), float(entry["start"]), float(entry["end"])
        except (KeyError, TypeError, ValueError):
            continue
        detections = [d for d in entry.get("detection", []) if isinstance(d, dict)
                      and isinstance(d.get("time"), (int, float)) and isinstance(d.get("score"), (int, float))]
        best = max(detections, key=lambda d: d["score"], default=None)
        origin = None if best is None else {"half": half, "t": float(best["time"]), "score": float(best["score"])}
        replays.append({"half": half, "start": start, "end": max(end, start + 0.5), "origin": origin,
                        "source": "detection"})
    return replays


def read_replays(cameras: Path | None, detections: Path | None) -> tuple[list[dict], list[str]]:
    """(replays, problems): the cameras' ground truth and the grounding results, whichever exist."""
    replays, problems = [], []
    for path, parse in ((cameras, camera_replays), (detections, detection_replays)):
        if path is None:
            continue
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            replays.extend(parse(obj))
        except (OSError, ValueError) as error:
            problems.append(f"{path.name}: unreadable ({str(error)[:120]}); replays not shown")
    return replays, problems
