"""An archive's finished games scored against labels (`soccerspot archive --labels ROOT`): the games whose
folder under ROOT holds the task's labels file (`Labels-v2.json`, `Labels-ball.json`), by the task's default
metric on the class set the model's outputs fit (`data.tasks.class_set_of_model`: Ball 2025 with teams for a
team model), as `soccerspot evaluate --task` scores them (`pipeline.evaluation.task_scores`)."""
from __future__ import annotations

from pathlib import Path

from soccerspot.data.classes import class_setup
from soccerspot.data.tasks import class_set_of_model
from soccerspot.errors import DataError
from soccerspot.pipeline.evaluation.task_scores import score_task


def evaluate_archive(labels_root: Path, out_dir: Path, finished: list[str], task: str, classes: list[str],
                     team: bool) -> dict:
    """The evaluation the summary records: the score, or why there is none (`error`), and the finished games
    that have no labels."""
    class_set = class_set_of_model(task, classes, team)
    labels_file = class_setup(class_set).labels_file
    games = [game for game in finished if (labels_root / game / labels_file).is_file()]
    unlabelled = [game for game in finished if game not in games]
    base = {"labels": str(labels_root), "unlabelled_games": unlabelled}
    if not games:
        return {**base, "task": task, "class_set": class_set, "games": 0,
                "error": f"no finished game has a {labels_file} under {labels_root}"}
    try:
        return {**base, **score_task(labels_root, out_dir, games, task, class_set=class_set)}
    except DataError as error:
        return {**base, "task": task, "class_set": class_set, "games": len(games), "error": str(error)}
