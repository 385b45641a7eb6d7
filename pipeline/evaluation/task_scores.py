"""A task's score of a predictions tree over named games, as `soccerspot evaluate --task` computes it, for the
callers that score what they wrote (`soccerspot archive --labels`): Average-mAP (SoccerNet's `evaluate`) on the
task's grid, or, for a class set with teams, Team mAP (sn-teamspotting's `mAPevaluateCodabench`). Only tasks
evaluated by Average-mAP (`TaskSpec.evaluation == "average_map"`) are scored here."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from soccerspot.data.classes import class_setup
from soccerspot.data.tasks import task_spec
from soccerspot.pipeline.evaluation.average_map import evaluate_games, load_folders
from soccerspot.pipeline.evaluation.ball import evaluate_ball_teams

# the headline of each kind of result: Team mAP (and mAP without teams), or Average-mAP
HEADLINES = {True: ("mAP", "mAP_no_team"), False: ("a_mAP",)}


def score_task(labels_root: str | Path, predictions_root: str | Path, games: Sequence[str], task: str, *,
               class_set: str | None = None, metric: str | None = None) -> dict:
    """{task, class_set, metric, games, headline, results} of `games` (each with its labels file under
    `labels_root` and its predictions file under `predictions_root`); `DataError` naming a bad file."""
    spec = task_spec(task)
    if spec.evaluation != "average_map":
        raise ValueError(f"the {task} task is not scored by Average-mAP")
    class_set = class_set or spec.default_class_set
    metric = metric or spec.default_metric
    setup = class_setup(class_set)
    teams = bool(setup.teams)
    loaded = load_folders(labels_root, predictions_root, list(games), classes=setup.names,
                          labels_file=setup.labels_file, prediction_file=spec.predictions_file,
                          version=setup.version, progress=False, any_label=teams, ignore_prediction_half=teams)
    if teams:
        results = evaluate_ball_teams(loaded.labels, loaded.predictions, setup.names, metric, teams=setup.teams,
                                      framerate=spec.framerate)
    else:
        results = evaluate_games(loaded.labels, loaded.predictions, setup.names, metric, framerate=spec.framerate,
                                 version=setup.version)
    return strict_json({"task": task, "class_set": class_set, "metric": metric, "games": len(games),
                        "headline": {key: results[key] for key in HEADLINES[teams]}, "results": results})


def strict_json(value):
    """`value` with NaN and infinities as None (a class whose AP divides by 0 stays a valid JSON null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value
