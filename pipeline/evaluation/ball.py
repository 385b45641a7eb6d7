"""Ball Action Spotting's Team mAP@1 and mAP@1, equal to sn-teamspotting's `util/eval.py`
`mAPevaluateCodabench` (the 2025 challenge's evaluator), computed in memory on the sparse machinery of
`average_map`.

What that evaluator does (and this module reproduces):

* One 25 fps grid of `120*60*25` frames per game; a label or prediction lands in frame
  `int(25 * (position_ms / 1000))`, later frames are clipped to the last one; one value per frame and
  column, the later entry in file order winning (a later "not shown" label turns +1 into -1, a later
  prediction replaces an earlier one whatever their confidences).
* Labels: only those of half 1 (gameTime "1 - ..."), but every label must name a known class and a team
  left/right (else its KeyError). Predictions: `half` is ignored (all fall in the one grid); each must name a
  known class and a team. A confidence of 0.0 is a detection (the grid's "nothing" is -1).
* Team mAP: SoccerNet's `average_mAP` (25 fps, the metric's tolerances: at1 = one second, a match within
  +-12.5 frames) over 2C columns, (class, left) and (class, right); then each class's AP is the average of its
  two sides weighted by the *sums* of their label columns (a "not shown" label counts -1; where the two sums
  add to 0, as for a class without labels, it divides by 0: NaN or infinite, which the mean carries), and mAP
  the mean over classes. The visible and unshown
  curves are weighted the same way. `mAP_no_team`: the same grid over C columns, teams ignored.

The 2023 and 2024 scores (no teams) are the SoccerNet pip package's `evaluate(..., task="spotting-ball",
framerate=25, metric="at1", label_files="Labels-ball.json")` over both halves: `average_map.evaluate_games`
with `framerate=25`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from soccerspot.data.classes import CLASS_NAMES_BALL, TEAMS_BALL
from soccerspot.data.labels import VISIBILITY_UNSHOWN, GameLabels, GamePredictions
from soccerspot.errors import DataError
from soccerspot.pipeline.evaluation.average_map import (
    HALF_MINUTES, average_map_sparse, frames_of, make_sparse,
)

BALL_FRAMERATE = 25
TEAM_RESULT_KEYS = ("mAP", "mAP_per_class", "mAP_visible", "mAP_per_class_visible", "mAP_unshown",
                    "mAP_per_class_unshown", "mAP_no_team", "mAP_per_class_no_team", "mAP_visible_no_team")
SCORED_HALF = 1  # the 2025 evaluator's labels: half 1 only (one video per game)


def _where(record: GameLabels | GamePredictions, game: str) -> str:
    return str(record.path) if record.path else game


def _column(label: str, team: str, index: int, kind: str, where: str, class_index: Mapping[str, int],
            teams: Sequence[str]) -> tuple[int, int]:
    """(class, team) indices of an entry, or a `DataError` where the official evaluator stops (KeyError)."""
    if label not in class_index:
        raise DataError(where, f"{kind} {index} has unknown class {label!r} (the official evaluator stops with "
                               f"a KeyError); valid classes: {', '.join(class_index)}")
    if team not in teams:
        hint = "; labels without teams are scored by --class-set ball-2024 or ball-2023" if not team else ""
        raise DataError(where, f"{kind} {index} ({label}) has team {team!r}; the team evaluator scores "
                               f"{' or '.join(teams)} (the official evaluator stops with a KeyError){hint}")
    return class_index[label], teams.index(team)


def _columns(labels: Mapping[str, GameLabels], predictions: Mapping[str, GamePredictions],
             class_index: Mapping[str, int], teams: Sequence[str]) -> tuple[list, list]:
    """(game, class, team, position, value) columns of the scored labels and of all predictions."""
    gt: list[list] = [[], [], [], [], []]
    pred: list[list] = [[], [], [], [], []]
    for number, (game, game_labels) in enumerate(labels.items()):
        where = _where(game_labels, game)
        for index, event in enumerate(game_labels.events):
            cls, team = _column(event.label, event.team, index, "label", where, class_index, teams)
            if event.position_ms < 0:
                raise DataError(where, f"label {index} has a negative position ({event})")
            if event.half != SCORED_HALF:
                continue
            for column, value in zip(gt, (number, cls, team, event.position_ms,
                                          -1.0 if event.visibility == VISIBILITY_UNSHOWN else 1.0)):
                column.append(value)
        game_predictions = predictions.get(game)
        if game_predictions is None:
            continue
        where = _where(game_predictions, game)
        for index, prediction in enumerate(game_predictions.predictions):
            cls, team = _column(prediction.label, prediction.team, index, "prediction", where, class_index, teams)
            if prediction.position_ms < 0:
                raise DataError(where, f"prediction {index} has a negative position ({prediction})")
            for column, value in zip(pred, (number, cls, team, prediction.position_ms, prediction.confidence)):
                column.append(value)
    return gt, pred


def _sparse(columns: list, num_columns: int, column_of, framerate: int):
    game, cls, team, position, value = (np.asarray(c) for c in columns)
    num_frames = HALF_MINUTES * 60 * framerate
    frames = frames_of(position.astype(np.int64), framerate, num_frames)
    return make_sparse(game.astype(np.int64), column_of(cls.astype(np.int64), team.astype(np.int64)),
                       frames, value.astype(np.float64), num_columns)


def _team_weighted(per_column: list[float], weights: np.ndarray) -> list:
    """Each class's AP: its two sides' APs weighted by their label sums, as `compute_amAP(event_team=True)`."""
    weighted = np.asarray(per_column, dtype=np.float64) * weights
    with np.errstate(divide="ignore", invalid="ignore"):
        return [(weighted[2 * i] + weighted[2 * i + 1]) / (weights[2 * i] + weights[2 * i + 1])
                for i in range(len(weighted) // 2)]


def evaluate_ball_teams(labels: Mapping[str, GameLabels], predictions: Mapping[str, GamePredictions],
                        classes: Sequence[str] = CLASS_NAMES_BALL, metric: str = "at1", *,
                        teams: Sequence[str] = TEAMS_BALL, framerate: int = BALL_FRAMERATE,
                        allow_missing: bool = False) -> dict:
    """`mAPevaluateCodabench`'s results (`TEAM_RESULT_KEYS`) for these games (the keys of `labels`).

    Predictions are read with their half ignored (`read_predictions(ignore_half=True)`); a game without
    predictions is an error unless `allow_missing`."""
    if not labels:
        raise DataError(None, "no games to evaluate")
    missing = [game for game in labels if game not in predictions]
    if missing and not allow_missing:
        raise DataError(None, f"no predictions for {len(missing)} of {len(labels)} games: " + "; ".join(missing))
    class_index = {name: i for i, name in enumerate(classes)}
    teams = list(teams)
    num_classes, num_teams = len(class_index), len(teams)
    gt, pred = _columns(labels, predictions, class_index, teams)
    num_frames = HALF_MINUTES * 60 * framerate

    team_columns = num_classes * num_teams

    def by_team(cls: np.ndarray, team: np.ndarray) -> np.ndarray:  # class c's sides are columns 2c, 2c + 1
        return cls * num_teams + team

    def by_class(cls: np.ndarray, team: np.ndarray) -> np.ndarray:
        return cls

    gt_team = _sparse(gt, team_columns, by_team, framerate)
    results_team = average_map_sparse(gt_team, _sparse(pred, team_columns, by_team, framerate), team_columns,
                                      metric, framerate, num_frames=num_frames)
    weights = np.bincount(gt_team.cls, weights=gt_team.value, minlength=team_columns).astype(np.float64)

    results_class = average_map_sparse(_sparse(gt, num_classes, by_class, framerate),
                                       _sparse(pred, num_classes, by_class, framerate), num_classes, metric,
                                       framerate, num_frames=num_frames)
    results: dict = {}
    for suffix in ("", "_visible", "_unshown"):
        per_class = _team_weighted(results_team[f"a_mAP_per_class{suffix}"], weights)
        with np.errstate(invalid="ignore"):  # +inf and -inf sides of a zero weight sum: NaN, as theirs
            results[f"mAP{suffix}"] = float(np.mean(per_class))
        results[f"mAP_per_class{suffix}"] = [float(x) for x in per_class]
    results["mAP_no_team"] = results_class["a_mAP"]
    results["mAP_per_class_no_team"] = results_class["a_mAP_per_class"]
    results["mAP_visible_no_team"] = results_class["a_mAP_visible"]
    return {key: results[key] for key in TEAM_RESULT_KEYS}


def classes_without_weight(results: dict, classes: Sequence[str]) -> list[str]:
    """Classes whose Team AP is not a finite number: their two sides' label sums add to 0 (a "not shown" label
    counts -1), so the official weighting divides by 0."""
    return [name for name, value in zip(classes, results["mAP_per_class"]) if not np.isfinite(value)]
