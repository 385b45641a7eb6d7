"""The task registry (`data.tasks`): each task once, and what it names exists where it is used."""
from __future__ import annotations

import pytest

from soccerspot.data.classes import class_setup
from soccerspot.data.tasks import TASK_SPECS, register_task_spec, task_spec
from soccerspot.pipeline.evaluation.average_map import METRIC_DELTAS_S
from soccerspot.pipeline.evaluation.grounding import GROUNDING_METRICS
from soccerspot.pipeline.inference.nms import DENSE_NMS_KINDS, NMS_KINDS


def test_each_task_is_registered_once():
    assert list(TASK_SPECS) == ["spotting", "grounding", "ball"]
    with pytest.raises(ValueError, match="registered twice"):
        register_task_spec(task_spec("ball"))
    with pytest.raises(ValueError, match="unknown task 'soccer'"):
        task_spec("soccer")


def test_what_a_task_names_exists():
    known_metrics = {"average_map": set(METRIC_DELTAS_S), "grounding": set(GROUNDING_METRICS)}
    for spec in TASK_SPECS.values():
        assert set(spec.metrics) <= known_metrics[spec.evaluation], spec.name
        for name in spec.class_sets:
            class_setup(name)  # raises for an unknown class set
        assert spec.nms is None or spec.nms.kind in NMS_KINDS + DENSE_NMS_KINDS


def test_ball_class_sets():
    spec = task_spec("ball")
    assert spec.framerate == 25 and spec.default_metric == "at1" and spec.game_lists == "spotting-ball"
    newest, older, oldest = (class_setup(name) for name in spec.class_sets)
    assert newest.teams == ("left", "right") and older.teams == () and oldest.teams == ()
    assert newest.names == older.names and len(newest.names) == 12 and oldest.names == ["PASS", "DRIVE"]
    assert {setup.labels_file for setup in (newest, older, oldest)} == {spec.labels_file} == {"Labels-ball.json"}
    assert class_setup(task_spec("spotting").default_class_set).labels_file == task_spec("spotting").labels_file


def test_evaluate_reads_the_class_set_from_the_registry(tmp_path, capsys):
    """`--class-set v1` scores SoccerNet-v1's Labels.json as the official v1 scorer (`evaluate_folders`)."""
    from test_evaluate import write_random_season

    from soccerspot.pipeline.cli import main
    from soccerspot.pipeline.evaluation.average_map import evaluate_folders

    raw_labels = ["soccer-ball", "r-card", "y-card", "substitution-in"]
    labels_root, predictions_root = write_random_season(tmp_path, 3, raw_labels, labels_file="Labels.json")
    for path in predictions_root.rglob("results_spotting.json"):  # v1 predictions name the official classes
        path.write_text(path.read_text().replace("soccer-ball", "soccer").replace("r-card", "card")
                        .replace("y-card", "card").replace("substitution-in", "subs"))
    expected = evaluate_folders(labels_root, predictions_root, None, "loose", version=1, progress=False)
    code = main(["evaluate", "--quiet", "--class-set", "v1", "--labels", str(labels_root), "--predictions",
                 str(predictions_root)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert 0.0 < expected["a_mAP"] < 1.0
    assert f"Average-mAP (loose): {expected['a_mAP']:.5f}" in out and "card" in out
