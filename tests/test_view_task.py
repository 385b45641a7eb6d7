"""`soccerspot view` without `--task` reads the task from the tree: the classes of its results, else its labels files."""
from __future__ import annotations

import json
from pathlib import Path

from ball_game import write_ball_game
from soccerspot.data.tasks import tasks_of_model
from soccerspot.pipeline.cli.view import add_arguments
from soccerspot.pipeline.reports.tree_task import task_of_tree


def test_the_class_sets_decide_which_task_a_set_of_labels_is_for():
    assert tasks_of_model(["Goal", "Throw-in"], team=False) == ("spotting",)
    assert tasks_of_model(["PASS", "DRIVE"], team=False) == ("ball",)
    assert tasks_of_model(["PASS", "Goal"], team=False) == ()


def _results(folder: Path, labels: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    entries = [{"gameTime": "1 - 00:01", "label": label, "position": "1000", "half": "1", "confidence": "0.5"}
               for label in labels]
    (folder / "results_spotting.json").write_text(json.dumps({"UrlLocal": folder.name, "predictions": entries}))


def test_a_ball_results_tree_is_read_as_ball_and_a_v2_one_as_spotting(tmp_path):
    write_ball_game(tmp_path / "ball" / "game")
    found = task_of_tree(tmp_path / "ball")
    assert found.name == "ball" and "results_spotting.json" in found.reason
    _results(tmp_path / "v2" / "a" / "game", ["Goal", "Corner"])
    assert task_of_tree(tmp_path / "v2").name == "spotting"


def test_without_results_the_labels_files_decide_and_an_empty_tree_is_spotting(tmp_path):
    (tmp_path / "labels" / "game").mkdir(parents=True)
    (tmp_path / "labels" / "game" / "Labels-ball.json").write_text(json.dumps({"annotations": []}))
    (tmp_path / "results").mkdir()
    found = task_of_tree(tmp_path / "results", tmp_path / "labels")
    assert (found.name, found.reason) == ("ball", "its Labels-ball.json")
    assert task_of_tree(tmp_path / "results").name == "spotting"
    _results(tmp_path / "odd" / "game", ["Not a class"])  # classes of no task: the labels files decide
    (tmp_path / "odd" / "game" / "Labels-v2.json").write_text(json.dumps({"annotations": []}))
    assert task_of_tree(tmp_path / "odd").name == "spotting"


def test_an_unreadable_results_file_is_passed_over(tmp_path):
    write_ball_game(tmp_path / "tree" / "b")
    (tmp_path / "tree" / "a").mkdir()
    (tmp_path / "tree" / "a" / "results_spotting.json").write_text("{not json")
    assert task_of_tree(tmp_path / "tree").name == "ball"


def test_view_leaves_task_unset_unless_told():
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["x"]).task is None
    assert parser.parse_args(["x", "--task", "ball"]).task == "ball"


def test_view_on_a_ball_tree_serves_it_as_ball_and_says_so(tmp_path):
    import signal
    import subprocess
    import sys

    write_ball_game(tmp_path / "tree" / "game")
    entry = "import sys; from soccerspot.pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen([sys.executable, "-c", entry, "view", str(tmp_path / "tree"), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        url = process.stdout.readline().split()[1]
        assert "task ball, read from the classes of its results_spotting.json" in first, first
        from urllib.request import urlopen

        with urlopen(url.replace("/#", "/").split("#")[0].rstrip("/") + "/api/game?key=game", timeout=30) as reply:
            payload = json.loads(reply.read())
        assert payload["teams"] == ["left", "right"]
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0 and "Traceback" not in process.stderr.read()
