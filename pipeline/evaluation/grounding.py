"""Replay grounding Average-AP, equal to `SoccerNet.Evaluation.ReplayGrounding.evaluate` (which no longer
runs on current numpy: it allocates with `np.float`).

How the official function scores (and this module, step by step):

1. For each predicted replay of `Detection-replays.json` (games in order, replays in file order) a score
   track of 3,500 s at 2 fps (7,000 rows, -1 = nothing): each detection writes its score at row
   `int(time * 2)` (a later detection in the same row overwrites an earlier one).
2. The replay is matched to the labels by its end: walking `Labels-cameras.json`, the first linked change
   of the replay's half (by the link's half), of a known class, whose gameTime second x 2 equals
   `int(end) * 2` and whose second differs from the "previous timestamp" (the last change that was not
   such a linked change, carried over from the previous walk: the official keeps that variable between
   replays and games). Its link's "MM:SS" gives the one ground-truth row. Unmatched predicted replays are
   left out; labelled replays without a predicted replay are not counted at all.
3. One class, NMS on: per track, greedy maxima, each clearing rows [i - d/2, i + d/2) (d = tolerance in
   rows); per tolerance, a prediction is a true positive when it is the best-scored one within d/2 rows of
   the ground truth; precision and recall at 200 thresholds in [0, 1]; 11-point interpolated AP.
4. Average-AP: the trapezoid mean of the APs over the tolerances, loose 5..60 s (step 5) or tight 1..5 s.

Documented refusals (the official code crashes or silently mis-reads these): a detection at 3,500 s or
later (official: IndexError), a negative time (official: wraps to the end of the track), a non-finite
time or score, an action link past 3,500 s (official: IndexError), no predicted replay matching any label
(official: IndexError). Each is a `DataError` naming the file. Where the official code would read a
"previous timestamp" it never set (a linked change first in the first file it walks: UnboundLocalError),
this module takes "no previous change".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soccerspot.data.atomic import write_json_atomic
from soccerspot.data.cameras import (
    CAMERAS_FILE, DETECTIONS_FILE, CameraLabels, ReplayDetections, games_without_camera_labels,
    read_camera_labels, read_replay_detections,
)
from soccerspot.data.classes import EVENT_DICTIONARY_V2
from soccerspot.data.games import LABELS_FILE, find_games
from soccerspot.errors import DataError
from soccerspot.pipeline.evaluation.average_map import resolve_games

FRAMERATE = 2
CAP_SECONDS = 3500  # the official score tracks' length
TRACK_ROWS = CAP_SECONDS * FRAMERATE
GROUNDING_METRICS = {"loose": np.arange(12) * 5 + 5, "tight": np.arange(5) * 1 + 1}
THRESHOLDS = np.linspace(0, 1, 200)


@dataclass
class GroundingPairs:
    """Score tracks and their one-hot ground truth, one pair per matched predicted replay."""

    targets: list[np.ndarray] = field(default_factory=list)  # (TRACK_ROWS,) 0/1
    detections: list[np.ndarray] = field(default_factory=list)  # (TRACK_ROWS,) score or -1
    unmatched: dict[str, int] = field(default_factory=dict)  # game -> predicted replays without a label
    games: int = 0


def detection_track(replay: ReplayDetections, path: Path | None) -> np.ndarray:
    track = np.full(TRACK_ROWS, -1.0)
    for time, score in replay.detections:
        row = int(time * FRAMERATE)
        if time < 0 or row >= TRACK_ROWS:
            raise DataError(path, f"a detection at {time:g} s of half {replay.half}: the official evaluator "
                                  f"scores 0 <= time < {CAP_SECONDS} s")
        track[row] = score
    return track


class _Walk:
    """The official label walk, with its "previous timestamp" kept between walks."""

    def __init__(self) -> None:
        self.previous: int | None = None

    def match(self, labels: CameraLabels, half: int, end_row: int) -> int | None:
        """The ground-truth row of the replay of `half` ending at `end_row`, or None."""
        for change in labels.changes:
            row = FRAMERATE * change.seconds
            link = change.link
            if link is None or link.half != half or link.label not in EVENT_DICTIONARY_V2:
                self.previous = row
                continue
            if self.previous == row:
                continue
            if row == end_row:
                target = FRAMERATE * link.seconds
                if target >= TRACK_ROWS:
                    raise DataError(labels.path, f"a replay links an action at {link.time}: the official "
                                                 f"evaluator scores actions before {CAP_SECONDS} s")
                return target
        return None


def pair_game(labels: CameraLabels, replays: list[ReplayDetections], walk: _Walk, pairs: GroundingPairs,
              game: str, detections_path: Path | None = None) -> None:
    pairs.games += 1
    for replay in replays:
        track = detection_track(replay, detections_path)
        target_row = walk.match(labels, replay.half, int(replay.end) * FRAMERATE)
        if target_row is None:
            pairs.unmatched[game] = pairs.unmatched.get(game, 0) + 1
            continue
        target = np.zeros(TRACK_ROWS)
        target[target_row] = 1
        pairs.targets.append(target)
        pairs.detections.append(track)


def nms(track: np.ndarray, delta: int) -> np.ndarray:
    """Greedy maxima (first row on ties), each clearing [i - delta/2, i + delta/2) as the official NMS."""
    work = track.copy()
    kept = np.full(track.shape, -1.0)
    half = delta / 2
    while work.max() >= 0:
        index = int(np.argmax(work))
        kept[index] = work[index]
        work[int(max(index - half, 0)):int(min(index + int(half), track.shape[0]))] = -1
    return kept


def scored_detections(target: np.ndarray, kept: np.ndarray, delta: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores, true-positive flags, ground truths) of one track at tolerance `delta` rows."""
    rows = np.flatnonzero(kept >= 0)
    scores = kept[rows]
    positives = np.zeros(rows.shape[0])
    truths = np.flatnonzero(target != 0)
    taken: set[int] = set()
    for truth in truths:
        best, best_score = None, -1.0
        for position, (row, score) in enumerate(zip(rows, scores)):
            if abs(row - truth) <= delta / 2 and score > best_score and row not in taken:
                best, best_score = position, score
        if best is not None:
            positives[best] = 1
            taken.add(int(rows[best]))
    return scores, positives, truths.shape[0]


def interpolated_ap(scores: np.ndarray, positives: np.ndarray, truths: int) -> float:
    """11-point interpolated AP over the precision/recall points at the 200 thresholds."""
    precision, recall = [], []
    for threshold in THRESHOLDS:
        chosen = scores >= threshold
        tp = positives[chosen].sum()
        precision.append(tp / chosen.sum() if chosen.sum() else 0.0)
        recall.append(tp / truths if truths else 0.0)
    precision, recall = np.asarray(precision), np.asarray(recall)
    ap = 0.0
    for level in np.arange(11) / 10:
        reached = precision[recall >= level]
        ap += reached.max() if reached.shape[0] else 0.0
    return ap / 11


def ap_at(pairs: GroundingPairs, delta_rows: int) -> float:
    scores, positives, truths = [], [], 0
    for target, track in zip(pairs.targets, pairs.detections):
        s, p, n = scored_detections(target, nms(track, delta_rows), delta_rows)
        scores.append(s)
        positives.append(p)
        truths += n
    return interpolated_ap(np.concatenate(scores), np.concatenate(positives), truths)


def average_ap(pairs: GroundingPairs, metric: str = "loose") -> dict:
    """{"a_AP": Average-AP, "AP_per_tolerance": [...], "tolerances_s": [...], "replays": n, ...}."""
    if metric not in GROUNDING_METRICS:
        raise ValueError(f"metric must be one of {', '.join(GROUNDING_METRICS)}; got {metric!r}")
    if not pairs.targets:
        raise DataError(None, "no predicted replay matches a labelled replay (matched by half and end second)")
    deltas = GROUNDING_METRICS[metric]
    aps = [ap_at(pairs, int(delta * FRAMERATE)) for delta in deltas]
    integral = sum(5 * (aps[i] + aps[i + 1]) / 2 for i in range(len(aps) - 1))
    return {"a_AP": integral / (5 * (len(aps) - 1)), "AP_per_tolerance": aps,
            "tolerances_s": [int(d) for d in deltas], "replays": len(pairs.targets),
            "unmatched_predicted_replays": sum(pairs.unmatched.values()), "games": pairs.games}


def load_pairs(labels_root: str | Path, predictions_root: str | Path, games: list[str],
               prediction_file: str = DETECTIONS_FILE, labels_file: str = CAMERAS_FILE) -> GroundingPairs:
    """Pairs of every game, in the order given (the official walk's order)."""
    pairs, walk = GroundingPairs(), _Walk()
    for game in games:
        labels = read_camera_labels(Path(labels_root) / game / labels_file)
        path = Path(predictions_root) / game / prediction_file
        pair_game(labels, read_replay_detections(path), walk, pairs, game, path)
    return pairs


def evaluate_grounding(labels_root: str | Path, predictions_root: str | Path, games: list[str],
                       metric: str = "loose", prediction_file: str = DETECTIONS_FILE) -> dict:
    """The official `evaluate(...)["a_AP"]` of these games (plus per-tolerance APs and counts)."""
    return average_ap(load_pairs(labels_root, predictions_root, games, prediction_file), metric)


def report_lines(results: dict, metric: str, missing_labels: list[str]) -> list[str]:
    """What `soccerspot evaluate --task grounding` prints."""
    lines = [f"Replay grounding Average-AP ({metric}, tolerances {results['tolerances_s'][0]}.."
             f"{results['tolerances_s'][-1]} s), {results['replays']} replays of {results['games']} games"]
    lines += [f"  AP at {tolerance:>2} s: {100 * ap:6.2f} %"
              for tolerance, ap in zip(results["tolerances_s"], results["AP_per_tolerance"])]
    if results["unmatched_predicted_replays"]:
        lines.append(f"warning: {results['unmatched_predicted_replays']} predicted replays match no labelled replay "
                     "(half and end second); left out as the official evaluator leaves them out")
    if missing_labels:
        shown = "; ".join(missing_labels[:5]) + (" …" if len(missing_labels) > 5 else "")
        lines.append(f"warning: {len(missing_labels)} games have no {CAMERAS_FILE} and are not scored: {shown}")
    lines.append(f"Average-AP ({metric}): {results['a_AP']:.5f}")
    return lines


def run_grounding_command(args, metric: str, prediction_file: str = DETECTIONS_FILE,
                          labels_file: str = CAMERAS_FILE) -> int:
    """`soccerspot evaluate --task grounding`: `prediction_file` (Detection-replays.json) against `labels_file`
    (Labels-cameras.json) of each game; `metric` is loose or tight (`GROUNDING_METRICS`)."""
    if args.split is None:  # every game with camera labels; games with only Labels-v2.json are reported
        games = find_games(args.labels, labels_file)
        missing = [game for game in find_games(args.labels, LABELS_FILE) if game not in set(games)]
        if not games:
            raise DataError(args.labels, f"no game folder holds a {labels_file}")
    else:
        games = resolve_games(args.labels, args.split, labels_file)
        missing = games_without_camera_labels(args.labels, games)
    games = [game for game in games if game not in missing]
    if args.allow_missing:
        games = [game for game in games if (Path(args.predictions) / game / prediction_file).is_file()]
    results = evaluate_grounding(args.labels, args.predictions, games, metric, prediction_file)
    print("\n".join(report_lines(results, metric, missing)))
    if args.json is not None:
        write_json_atomic(args.json, results)
        print(f"wrote {args.json}")
    return 0


def add_pair(pairs: GroundingPairs, action_seconds: int, detections: ReplayDetections) -> None:
    """A replay whose label is known (training validation, benchmarks): its track and ground truth, built as
    the official function builds them from the files."""
    target = np.zeros(TRACK_ROWS)
    target[min(FRAMERATE * int(action_seconds), TRACK_ROWS - 1)] = 1
    pairs.targets.append(target)
    pairs.detections.append(detection_track(detections, None))
