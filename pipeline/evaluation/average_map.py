"""SoccerNet's Average-mAP, computed exactly as `SoccerNet.Evaluation.ActionSpotting.evaluate` does, fast.

What the official scorer does (and this module reproduces, number for number):

* Each half becomes a 2 fps grid of 120 minutes per class. A label or prediction lands in frame
  `int(framerate * position_ms / 1000)`; frames past the grid are clamped to its last frame; when several
  fall in one frame and class, the last one in file order wins (a later prediction with a negative
  confidence erases the earlier one). Labels are +1, or -1 when their visibility is "not shown".
* For a tolerance `delta` (seconds x framerate frames), ground truths are visited in time order; each
  takes the highest-scoring prediction not yet taken within `delta / 2` frames (ties: the earliest).
* Every prediction also carries the visibility of its *closest* ground truth of its class in its half
  (frames split at the midpoints between consecutive ground truths), or -1 where the half has none of that
  class; this decides whether it counts in the "visible" (+1) or "unshown" (-1) curves.
* Precision and recall at 200 confidence thresholds `linspace(0, 1, 200)` (a prediction counts at
  thresholds <= its confidence; 0/0 counts as 0), AP = 11-point interpolated precision, mAP = mean over
  all classes (a class with no ground truth scores 0), Average-mAP = trapezoidal mean over the deltas
  (loose: 5..60 s step 5; tight: 1..5 s; atN: N s alone). The unshown Average-mAP is scaled by 17/13
  when there are several deltas (SoccerNet-v2 has 4 classes never unshown), not for a single delta.

The official code loops in Python over every ground truth and prediction of every class, game and delta
over dense 14 400-frame matrices. Here the data stays sparse (one entry per label or prediction, keyed by
(half, class, frame)), matching is done for all halves and classes at once, one step per position in a
chain of ground truths whose windows share predictions, and the curves are histograms.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from soccerspot.data.classes import CLASS_NAMES_V1, CLASS_NAMES_V2, class_setup
from soccerspot.data.game_tree import GameTree, open_game_tree
from soccerspot.data.games import LABELS_FILE, PREDICTIONS_FILE
from soccerspot.data.games import resolve_games as games_named
from soccerspot.data.labels import (
    HALVES, VISIBILITY_UNSHOWN, Event, GameLabels, GamePredictions, Prediction, read_labels, read_predictions,
)
from soccerspot.errors import DataError

FRAMERATE = 2
HALF_MINUTES = 120  # length of the official per-half grid; later events are clamped to its last frame
METRIC_DELTAS_S: dict[str, tuple[int, ...]] = {
    "loose": tuple(range(5, 61, 5)),
    "tight": (1, 2, 3, 4, 5),
    "at1": (1,),
    "at2": (2,),
    "at3": (3,),
    "at4": (4,),
    "at5": (5,),
}
METRICS = tuple(METRIC_DELTAS_S)
RESULT_KEYS = ("a_mAP", "a_mAP_per_class", "a_mAP_visible", "a_mAP_per_class_visible",
               "a_mAP_unshown", "a_mAP_per_class_unshown")
# The official scorer's SoccerNet-v1 classes: labels map by substring, predictions by exact name.
CLASS_NAMES_V1_OFFICIAL = CLASS_NAMES_V1
_NUM_THRESHOLDS = 200


def v1_class_of(raw_label: str) -> str | None:
    """The official v1 class of a `Labels.json` label ("y-card" -> "card"), or None (not evaluated)."""
    for name in CLASS_NAMES_V1_OFFICIAL:
        if name in raw_label:
            return name
    return None


@dataclass
class SparseSpots:
    """Labels or predictions of many halves: one entry per (half, class, frame), sorted by that key.

    `half` indexes the evaluated halves (game i's first half is 2i, its second 2i+1); `value` is +1/-1
    (shown / not shown) for labels, the confidence for predictions."""

    half: np.ndarray
    cls: np.ndarray
    frame: np.ndarray
    value: np.ndarray


Metric = str | Sequence[int]  # a metric's name (loose, tight, atN), or its tolerances in seconds


def deltas_for(metric: Metric, framerate: int = FRAMERATE) -> np.ndarray:
    """The tolerances of `metric` in frames: a name's official tolerances, or the given seconds (a tolerance
    curve scores each one alone)."""
    if not isinstance(metric, str):
        seconds = [int(t) for t in metric]
        if not seconds or min(seconds) < 1:
            raise ValueError(f"tolerances must be whole seconds >= 1, got {list(metric)}")
        return np.asarray(seconds, dtype=np.int64) * framerate
    if metric not in METRIC_DELTAS_S:
        raise ValueError(f"unknown metric {metric!r}; valid metrics: {', '.join(METRICS)}")
    return np.asarray(METRIC_DELTAS_S[metric], dtype=np.int64) * framerate


def frames_of(position_ms: np.ndarray, framerate: int = FRAMERATE, num_frames: int | None = None) -> np.ndarray:
    """Grid frame of each position, with the official float arithmetic and clamping."""
    if num_frames is None:
        num_frames = HALF_MINUTES * 60 * framerate
    frames = np.trunc(framerate * (np.asarray(position_ms, dtype=np.int64) / 1000)).astype(np.int64)
    return np.minimum(frames, num_frames - 1)


def make_sparse(half: np.ndarray, cls: np.ndarray, frame: np.ndarray, value: np.ndarray,
                num_classes: int) -> SparseSpots:
    """Collapse entries sharing (half, class, frame) to the last one given, sorted by that key."""
    half = np.asarray(half, dtype=np.int64)
    cls = np.asarray(cls, dtype=np.int64)
    frame = np.asarray(frame, dtype=np.int64)
    value = np.asarray(value, dtype=np.float64)
    span = int(frame.max()) + 1 if frame.size else 1
    key = (half * num_classes + cls) * span + frame
    # np.unique keeps the first occurrence: reverse so that it is the last one in the input order.
    _, first_of_reversed = np.unique(key[::-1], return_index=True)
    keep = key.size - 1 - first_of_reversed
    return SparseSpots(half[keep], cls[keep], frame[keep], value[keep])


def _closest_visibility(gt_key: np.ndarray, gt_stream: np.ndarray, gt_frame: np.ndarray,
                        gt_value: np.ndarray, pred_key: np.ndarray, pred_stream: np.ndarray,
                        span: int) -> np.ndarray:
    """Value of the ground truth whose midpoint-bounded segment holds each prediction, else -1."""
    if gt_key.size == 0:
        return np.full(pred_key.shape, -1.0)
    first = np.ones(gt_key.size, dtype=bool)
    first[1:] = gt_stream[1:] != gt_stream[:-1]
    starts = np.empty(gt_key.size, dtype=np.int64)
    starts[1:] = (gt_frame[:-1] + gt_frame[1:]) // 2
    starts[first] = 0
    segment = np.searchsorted(gt_stream * span + starts, pred_key, side="right") - 1
    valid = segment >= 0
    valid[valid] = gt_stream[segment[valid]] == pred_stream[valid]
    return np.where(valid, gt_value[np.maximum(segment, 0)], -1.0)


def _match(gt_key: np.ndarray, pred_key: np.ndarray, pred_preference: np.ndarray,
           preference_to_pred: np.ndarray, radius: int) -> np.ndarray:
    """Greedy official matching; returns 1.0 for each prediction taken by a ground truth, else 0.0.

    Ground truths whose candidate ranges overlap form a chain and must be served in time order; distinct
    chains are independent, so step j serves the j-th ground truth of every chain at once."""
    taken = np.zeros(pred_key.size)
    if gt_key.size == 0 or pred_key.size == 0:
        return taken
    lo = np.searchsorted(pred_key, gt_key - radius, side="left")
    hi = np.searchsorted(pred_key, gt_key + radius, side="right")
    nonempty = hi > lo
    lo, hi = lo[nonempty], hi[nonempty]
    if lo.size == 0:
        return taken
    chain_start = np.ones(lo.size, dtype=bool)
    chain_start[1:] = lo[1:] >= hi[:-1]
    start_index = np.flatnonzero(chain_start)
    chain = np.cumsum(chain_start) - 1
    step = np.arange(lo.size) - start_index[chain]
    by_step = np.argsort(step, kind="stable")
    bounds = np.searchsorted(step[by_step], np.arange(step.max() + 2))
    # Preference rank of every free prediction (higher is better), -1 once taken; one sentinel at the end.
    available = np.append(pred_preference, -1)
    for j in range(step.max() + 1):
        serving = by_step[bounds[j]:bounds[j + 1]]
        ranges = np.empty(2 * serving.size, dtype=np.int64)
        ranges[0::2] = lo[serving]
        ranges[1::2] = hi[serving]
        best = np.maximum.reduceat(available, ranges)[0::2]
        best = best[best >= 0]
        chosen = preference_to_pred[best]
        available[chosen] = -1
        taken[chosen] = 1.0
    return taken


def _curves(pred_cls: np.ndarray, threshold_bin: np.ndarray, taken: np.ndarray, num_gt: np.ndarray,
            num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall (classes x thresholds) of the given predictions."""
    cells = pred_cls * (_NUM_THRESHOLDS + 1) + threshold_bin
    size = num_classes * (_NUM_THRESHOLDS + 1)

    def above(weights: np.ndarray | None) -> np.ndarray:
        counts = np.bincount(cells, weights=weights, minlength=size).reshape(num_classes, -1)
        # Count at threshold j = predictions whose bin (number of thresholds <= confidence) exceeds j.
        return np.cumsum(counts[:, ::-1], axis=1)[:, ::-1][:, 1:]

    detected = above(None).astype(np.float64)
    true_positives = above(taken).astype(np.float64)  # bincount gives int64 when there is nothing
    precision = np.divide(true_positives, detected, out=np.zeros_like(detected), where=detected > 0)
    denominator = np.broadcast_to(num_gt[:, None].astype(np.float64), true_positives.shape)
    recall = np.divide(true_positives, denominator, out=np.zeros_like(true_positives), where=denominator > 0)
    return precision, recall


def _average_precision(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """11-point interpolated AP per class, summed level by level as the official code does."""
    ap = np.zeros(precision.shape[0])
    for level in np.arange(11) / 10:
        ap += np.where(recall >= level, precision, 0.0).max(axis=1)
    return ap / 11


def _trapezoid(values: list) -> object:
    integral = 0.0
    for i in range(len(values) - 1):
        integral += (values[i] + values[i + 1]) / 2
    return integral / (len(values) - 1)


def average_map_sparse(labels: SparseSpots, predictions: SparseSpots, num_classes: int, metric: Metric = "loose",
                       framerate: int = FRAMERATE, *, num_frames: int | None = None) -> dict:
    """The official results dictionary from sparse labels and predictions (see `make_sparse`).

    Predictions with a confidence below 0 (or NaN) are not predictions, as in the official grid."""
    deltas = deltas_for(metric, framerate)
    radii = np.floor(deltas / 2).astype(np.int64)  # frames are integers: |p - g| <= delta / 2
    keep = predictions.value >= 0
    pred_half, pred_cls = predictions.half[keep], predictions.cls[keep]
    pred_frame, pred_score = predictions.frame[keep], predictions.value[keep]

    max_frame = max(int(labels.frame.max(initial=0)), int(pred_frame.max(initial=0)))
    if num_frames is not None:
        max_frame = max(max_frame, num_frames - 1)
    span = max_frame + 2 * int(radii.max()) + 2  # keys of different halves/classes never fall in one window
    gt_stream = labels.half * num_classes + labels.cls
    pred_stream = pred_half * num_classes + pred_cls
    gt_key = gt_stream * span + labels.frame
    pred_key = pred_stream * span + pred_frame
    gt_order, pred_order = np.argsort(gt_key, kind="stable"), np.argsort(pred_key, kind="stable")
    gt_key, gt_stream, gt_frame = gt_key[gt_order], gt_stream[gt_order], labels.frame[gt_order]
    gt_value, gt_cls = labels.value[gt_order], labels.cls[gt_order]
    pred_key, pred_stream, pred_cls = pred_key[pred_order], pred_stream[pred_order], pred_cls[pred_order]
    pred_score = pred_score[pred_order]

    closest = _closest_visibility(gt_key, gt_stream, gt_frame, gt_value, pred_key, pred_stream, span)
    # Best score first; among equal scores the earliest frame (the official scan keeps the first maximum).
    by_preference = np.lexsort((-np.arange(pred_key.size), pred_score))
    preference = np.empty(pred_key.size, dtype=np.int64)
    preference[by_preference] = np.arange(pred_key.size)
    threshold_bin = np.searchsorted(np.linspace(0, 1, _NUM_THRESHOLDS), pred_score, side="right")

    num_visible = np.bincount(gt_cls[gt_value > 0], minlength=num_classes)
    num_unshown = np.bincount(gt_cls[gt_value < 0], minlength=num_classes)
    groups = {
        "": (np.ones(pred_key.size, dtype=bool), num_visible + num_unshown),
        "_visible": (closest > 0.5, num_visible),
        "_unshown": (closest < -0.5, num_unshown),
    }
    per_delta: dict[str, list] = {suffix: [] for suffix in groups}
    for radius in radii:
        taken = _match(gt_key, pred_key, preference, by_preference, int(radius))
        for suffix, (member, num_gt) in groups.items():
            precision, recall = _curves(pred_cls[member], threshold_bin[member], taken[member], num_gt, num_classes)
            per_delta[suffix].append(_average_precision(precision, recall))

    results = {}
    for suffix, per_class_list in per_delta.items():
        if len(per_class_list) == 1:
            per_class = per_class_list[0]
            overall = np.mean(per_class)
        else:
            overall = _trapezoid([np.mean(per_class) for per_class in per_class_list])
            per_class = _trapezoid(per_class_list)
            if suffix == "_unshown":
                overall = overall * 17 / 13
        results[f"a_mAP{suffix}"] = float(overall)
        results[f"a_mAP_per_class{suffix}"] = [float(x) for x in per_class]
    return results


def evaluate_arrays(targets: Sequence[np.ndarray], detections: Sequence[np.ndarray], metric: str = "loose",
                    framerate: int = FRAMERATE) -> dict:
    """The official `average_mAP` on dense per-half grids, without its closest-label matrices.

    `targets[i]`: (frames, classes), 0 = nothing, 1 = shown label, -1 = not-shown label.
    `detections[i]`: (frames, classes), the confidence of a prediction, or -1 (any negative) for none."""
    if len(targets) != len(detections):
        raise ValueError(f"{len(targets)} target halves but {len(detections)} detection halves")
    if not targets:
        raise ValueError("no halves to evaluate")
    num_classes = targets[0].shape[1]
    parts_gt, parts_pred = [], []
    num_frames = 0
    for index, (target, detection) in enumerate(zip(targets, detections)):
        if target.shape != detection.shape or target.ndim != 2 or target.shape[1] != num_classes:
            raise ValueError(f"half {index}: target {target.shape} and detection {detection.shape} differ")
        num_frames = max(num_frames, target.shape[0])
        frame, cls = np.nonzero(target)
        parts_gt.append((np.full(frame.size, index), cls, frame, target[frame, cls]))
        frame, cls = np.nonzero(detection >= 0)
        parts_pred.append((np.full(frame.size, index), cls, frame, detection[frame, cls]))
    labels = SparseSpots(*(np.concatenate(column).astype(dtype) for column, dtype in
                           zip(zip(*parts_gt), (np.int64, np.int64, np.int64, np.float64))))
    predictions = SparseSpots(*(np.concatenate(column).astype(dtype) for column, dtype in
                                zip(zip(*parts_pred), (np.int64, np.int64, np.int64, np.float64))))
    return average_map_sparse(labels, predictions, num_classes, metric, framerate, num_frames=num_frames)


def _class_index(classes: Sequence[str] | Mapping[str, int]) -> tuple[dict[str, int], int]:
    if isinstance(classes, Mapping):
        index = dict(classes)
        return index, len(set(index.values()))
    index = {name: i for i, name in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError(f"class names repeat: {list(classes)}")
    return index, len(index)


def _where(record: GameLabels | GamePredictions, game: str) -> str:
    return str(record.path) if record.path else game


def _bad_entry(entry: Event | Prediction, index: int, kind: str, where: str) -> None:
    if entry.half not in HALVES:
        raise DataError(where, f"{kind} {index} has half {entry.half!r}; valid halves are 1 and 2 ({entry})")
    if entry.position_ms < 0:
        raise DataError(where, f"{kind} {index} has a negative position ({entry})")


def evaluate_games(labels: Mapping[str, GameLabels], predictions: Mapping[str, GamePredictions],
                   classes: Sequence[str] | Mapping[str, int] = CLASS_NAMES_V2, metric: Metric = "loose", *,
                   framerate: int = FRAMERATE, allow_missing: bool = False, version: int = 2) -> dict:
    """Score in-memory predictions against labels; the games are the keys of `labels`.

    `classes`: class names in column order (e.g. a synthetic season's), or a name -> column dictionary.
    `version=1`: the official SoccerNet-v1 scoring (labels mapped by substring to card/subs/soccer, no
    visible/unshown results). Returns the official keys (a_mAP, a_mAP_per_class, a_mAP_visible, ...)."""
    if version == 1 and classes is CLASS_NAMES_V2:
        classes = CLASS_NAMES_V1_OFFICIAL
    class_index, num_classes = _class_index(classes)
    missing = [game for game in labels if game not in predictions]
    if missing and not allow_missing:
        raise DataError(None, f"no predictions for {len(missing)} of {len(labels)} games: " + "; ".join(missing))
    if not labels:
        raise DataError(None, "no games to evaluate")
    num_frames = HALF_MINUTES * 60 * framerate
    gt_columns: list[list] = [[], [], [], []]
    pred_columns: list[list] = [[], [], [], []]
    valid = ", ".join(class_index)
    for game_number, (game, game_labels) in enumerate(labels.items()):
        where = _where(game_labels, game)
        for index, event in enumerate(game_labels.events):
            name = v1_class_of(event.label) if version == 1 else event.label
            if version == 1 and name is None:
                continue  # the official v1 scorer ignores other labels
            if name not in class_index:
                raise DataError(where, f"label {index} has unknown class {event.label!r}; valid classes: {valid}")
            if event.half not in HALVES or event.position_ms < 0:
                _bad_entry(event, index, "label", where)
            gt_columns[0].append(2 * game_number + event.half - 1)
            gt_columns[1].append(class_index[name])
            gt_columns[2].append(event.position_ms)
            gt_columns[3].append(-1.0 if event.visibility == VISIBILITY_UNSHOWN else 1.0)
        game_predictions = predictions.get(game)
        if game_predictions is None:
            continue
        where = _where(game_predictions, game)
        for index, prediction in enumerate(game_predictions.predictions):
            if prediction.label not in class_index:
                raise DataError(where, f"prediction {index} has unknown class {prediction.label!r}; "
                                       f"valid classes: {valid}")
            if prediction.half not in HALVES or prediction.position_ms < 0:
                _bad_entry(prediction, index, "prediction", where)
            pred_columns[0].append(2 * game_number + prediction.half - 1)
            pred_columns[1].append(class_index[prediction.label])
            pred_columns[2].append(prediction.position_ms)
            pred_columns[3].append(prediction.confidence)
    sparse = []
    for half, cls, position, value in (gt_columns, pred_columns):
        frames = frames_of(np.asarray(position, dtype=np.int64), framerate, num_frames)
        sparse.append(make_sparse(np.asarray(half, dtype=np.int64), np.asarray(cls, dtype=np.int64), frames,
                                  np.asarray(value, dtype=np.float64), num_classes))
    results = average_map_sparse(sparse[0], sparse[1], num_classes, metric, framerate, num_frames=num_frames)
    if version != 2:
        for key in RESULT_KEYS[2:]:
            results[key] = None
    return results


@dataclass
class FolderGames:
    """What `load_folders` read: labels and predictions per game, and the games without predictions."""

    labels: dict[str, GameLabels]
    predictions: dict[str, GamePredictions]
    missing_predictions: list[str]

    def skipped_entries(self) -> list[tuple[Path, dict[str, int]]]:
        """(file, why -> count) for each file whose entries were skipped as the official evaluator skips them."""
        read = [*self.labels.values(), *self.predictions.values()]
        return [(found.path, found.skipped) for found in read if found.skipped]


def _list_problem(count_of: str, items: list[str], limit: int = 10) -> str:
    shown = "; ".join(items[:limit])
    more = f"; ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"{len(items)} {count_of}: {shown}{more}"


def load_folders(labels_root: str | Path, predictions_root: str | Path, games: Iterable[str], *,
                 classes: Sequence[str] | Mapping[str, int] = CLASS_NAMES_V2, labels_file: str = LABELS_FILE,
                 prediction_file: str = PREDICTIONS_FILE, allow_missing: bool = False, version: int = 2,
                 progress: bool = True, strict: bool = False, any_label: bool = False,
                 ignore_prediction_half: bool = False) -> FolderGames:
    """Read every game's labels and predictions. Bad files are all collected, then reported at once.
    Entries the official evaluator skips (a label outside `classes`, a half other than 1 or 2) are skipped and
    counted (`FolderGames.skipped_entries`), or, with `strict`, bad files too. `any_label`: labels and
    predictions of any name are read (their caller checks them); `ignore_prediction_half`: every prediction is of half 1
    (`data.labels.read_predictions`). `predictions_root` is a folder or a zip file of game folders
    (`data.game_tree`)."""
    labels_root, predictions_root = Path(labels_root), Path(predictions_root)
    if not labels_root.is_dir():
        raise DataError(labels_root, "labels folder not found")
    tree = open_game_tree(predictions_root, "predictions folder")
    try:
        return _load_games(labels_root, tree, list(games), classes=classes, labels_file=labels_file,
                           prediction_file=prediction_file, allow_missing=allow_missing, version=version,
                           progress=progress, strict=strict, any_label=any_label,
                           ignore_prediction_half=ignore_prediction_half)
    finally:
        tree.close()


def _load_games(labels_root: Path, tree: GameTree, games: list[str], *, classes: Sequence[str] | Mapping[str, int],
                labels_file: str, prediction_file: str, allow_missing: bool, version: int, progress: bool,
                strict: bool, any_label: bool, ignore_prediction_half: bool) -> FolderGames:
    from tqdm import tqdm

    predictions_root = tree.root
    no_labels = [g for g in games if not (labels_root / g / labels_file).is_file()]
    if no_labels:
        raise DataError(labels_root, _list_problem(f"games without {labels_file}", no_labels))
    missing = [g for g in games if not tree.has(g, prediction_file)]
    if missing and not allow_missing:
        raise DataError(predictions_root, _list_problem(
            f"of {len(games)} games have no {prediction_file} (--allow-missing scores them as empty)", missing))
    class_index, _ = _class_index(classes)
    label_names = None if version == 1 or any_label else list(class_index)
    prediction_names = None if any_label else list(class_index)
    result = FolderGames({}, {}, missing)
    errors: list[DataError] = []
    for game in tqdm(games, desc="reading", unit="game", disable=not progress, leave=False):
        try:
            result.labels[game] = read_labels(labels_root / game / labels_file, label_names, strict=strict)
        except DataError as error:
            errors.append(error)
        if game in missing:
            continue
        try:
            result.predictions[game] = read_predictions(tree.path(game, prediction_file), prediction_names,
                                                       strict=strict, ignore_half=ignore_prediction_half,
                                                       content=tree.read(game, prediction_file))
        except DataError as error:
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise DataError(None, _list_problem("bad files", [str(error) for error in errors]))
    return result


def resolve_games(labels_root: str | Path, split: str | Path | None, labels_file: str = LABELS_FILE,
                  game_lists: str = "spotting") -> list[str]:
    """The games of `split` (`data.games.resolve_games`, official splits from `game_lists`; without one, every
    game under `labels_root` with labels); none is an error."""
    games = games_named(split, labels_root, labels_file, folders=False, game_lists=game_lists)
    if not games:
        raise DataError(labels_root, f"no game folder holds a {labels_file}")
    return games


def evaluate_folders(labels_root: str | Path, predictions_root: str | Path, split: str | Path | None = None,
                     metric: str = "loose", *, classes: Sequence[str] | Mapping[str, int] | None = None,
                     labels_file: str | None = None, prediction_file: str = PREDICTIONS_FILE,
                     allow_missing: bool = False, version: int = 2, framerate: int = FRAMERATE,
                     progress: bool = True) -> dict:
    """Score a predictions tree against a labels tree, over a split (name or GAMES.txt) or, without one,
    every game under `labels_root` holding a labels file."""
    deltas_for(metric)  # fail on a bad metric before reading anything
    setup = class_setup(f"v{version}")
    classes = setup.names if classes is None else classes
    labels_file = setup.labels_file if labels_file is None else labels_file
    games = resolve_games(labels_root, split, labels_file)
    loaded = load_folders(labels_root, predictions_root, games, classes=classes, labels_file=labels_file,
                          prediction_file=prediction_file, allow_missing=allow_missing, version=version,
                          progress=progress)
    return evaluate_games(loaded.labels, loaded.predictions, classes, metric, framerate=framerate,
                          allow_missing=allow_missing, version=version)
