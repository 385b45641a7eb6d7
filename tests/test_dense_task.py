"""Which task a dense model spots (`spot --task`, read from the folder), and the Ball task's reference NMS:
T-DEED's soft NMS, equal to their `soft_non_maximum_supression`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dense_task_helpers import BALL, SMALL_BALL, V2, tiny_folder, tiny_format  # noqa: F401 (a fixture)
from peer_code import imported_from, peer_repo
from soccerspot.data.tasks import task_spec, tasks_of_model
from soccerspot.extract.frame_recipes import TDEED_BALL
from soccerspot.pipeline.inference.dense_models import PEER_INFERENCE, load_dense_spotter, task_nms
from soccerspot.pipeline.inference.nms import grouped_soft_nms
from video_helpers import constant_rate_times, write_video


def their_soft_nms(root: Path, scores: np.ndarray, sides: tuple, window: int) -> list[tuple[int, str, float]]:
    """sn-teamspotting's `soft_non_maximum_supression` on the events their `process_frame_predictions` makes of
    one action's columns (frame-major, then left, right)."""
    events = []
    for frame in range(scores.shape[0]):
        for column, side in enumerate(sides):
            if scores[frame, column] >= 0.01:
                event = {"label": "PASS", "frame": frame, "score": float(scores[frame, column])}
                events.append({**event, "team": side} if side else event)
    with imported_from(root):
        from util.eval import soft_non_maximum_supression

        [video] = soft_non_maximum_supression([{"video": "g", "events": events, "fps": 12.5}], window, threshold=0.01)
    return [(e["frame"], e.get("team", ""), e["score"]) for e in video["events"]]


@pytest.mark.parametrize("sides,window,seed", [(("left", "right"), 12, 0), (("",), 12, 1), (("left", "right"), 6, 2)])
def test_grouped_soft_nms_is_their_soft_nms(peer_code_root, sides, window, seed):
    root = peer_repo("SoccerNet/sn-teamspotting", peer_code_root)
    generator = np.random.default_rng(seed)
    scores = generator.random((160, len(sides))) ** 3
    scores[generator.random(scores.shape) < 0.3] = 0.0
    scores[40:44] = 0.5  # equal maxima across frames and sides: their `max` keeps the first, as ours
    theirs = their_soft_nms(root, scores, sides, window)
    kept = grouped_soft_nms(scores.astype(np.float32), window, 0.01)
    ours = sorted(((frame, sides[column], score) for frame, column, score in kept), key=lambda e: e[0])  # their sort
    assert [e[:2] for e in ours] == [e[:2] for e in theirs] and len(ours) > 10
    np.testing.assert_allclose([e[2] for e in ours], [e[2] for e in theirs], rtol=0, atol=1e-7)


def test_the_ball_task_nms_is_their_window_in_t_deed_frames():
    nms = task_spec("ball").nms
    assert nms.kind == "grouped-soft" and nms.threshold == 0.01
    assert task_nms("ball", TDEED_BALL) == PEER_INFERENCE[("T-DEED", "tdeed-ball")].nms
    assert (task_nms("ball", TDEED_BALL).window, TDEED_BALL.model_fps(25)) == (12, 12.5)  # WINDOWS_SNB[1] at stride 2


def test_a_model_s_task_is_what_its_outputs_fit():
    assert tasks_of_model(BALL, team=False) == ("ball",)
    assert tasks_of_model(V2, team=False) == ("spotting",)
    assert tasks_of_model(["a", "b"], team=True) == ("ball",)  # a team head is a ball model
    assert tasks_of_model(["a", "b"], team=False) == ()  # a season's own classes: the model does not say


def test_the_spotter_reads_its_task_from_the_folder(tiny_format, tmp_path):
    ball = load_dense_spotter(tiny_folder(tmp_path / "ball", BALL, True, SMALL_BALL.name, "T-DEED"))
    assert (ball.task, ball.eval_framerate, ball.team, ball.nms.kind, ball.nms.window) == ("ball", 25, True,
                                                                                          "grouped-soft", 12)
    v2 = load_dense_spotter(tiny_folder(tmp_path / "v2", V2, False))
    assert (v2.task, v2.eval_framerate, v2.team) == ("spotting", 2, False)
    own = tiny_folder(tmp_path / "own", ["a", "b"], False, SMALL_BALL.name, "T-DEED")
    assert load_dense_spotter(own).task == "ball"  # the classes say nothing: the recipe's task
    assert load_dense_spotter(own, task="spotting").eval_framerate == 2  # stated, nothing contradicts it


@pytest.fixture(scope="module")
def ball_video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("ball_game") / "1_224p.mkv", constant_rate_times(25, 4.0),
                       width=64, height=48)


def test_spot_task_mismatch_is_a_usage_error_naming_both(tiny_format, ball_video, tmp_path, capsys):
    from soccerspot.pipeline.cli import main

    ball = tiny_folder(tmp_path / "ball", BALL, True, SMALL_BALL.name, "T-DEED")
    assert main(["spot", str(ball_video), "--model", str(ball), "--task", "spotting", "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--task spotting" in err and "spots ball" in err and "Traceback" not in err
    v2 = tiny_folder(tmp_path / "v2", V2, False)
    assert main(["spot", str(ball_video), "--model", str(v2), "--task", "ball", "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    assert "--task ball" in (err := capsys.readouterr().err) and "spots spotting" in err
    assert not (tmp_path / "o").exists()


def test_spot_task_ball_writes_team_spots_on_the_25_fps_grid(tiny_format, ball_video, tmp_path, capsys):
    from soccerspot.pipeline.cli import main

    ball = tiny_folder(tmp_path / "ball", BALL, True, SMALL_BALL.name, "T-DEED")
    for task, out in ((None, tmp_path / "read"), ("ball", tmp_path / "stated")):
        assert main(["spot", str(ball_video), "--model", str(ball), "--out", str(out), "--no-progress",
                     "--precision", "fp32", *(["--task", task] if task else [])]) == 0
    said = capsys.readouterr().out
    assert "T-DEED model, 3 classes with teams: Ball Action Spotting (task ball, read from the model)" in said
    read = json.loads((tmp_path / "read" / "results_spotting.json").read_text())
    assert read == json.loads((tmp_path / "stated" / "results_spotting.json").read_text())
    entries = read["predictions"]
    assert entries and {e["team"] for e in entries} <= {"left", "right"} and {e["label"] for e in entries} <= set(BALL)
    assert all(int(e["position"]) % 80 == 0 for e in entries)  # the 12.5 fps frames' times, kept on the 25 fps grid


def test_spot_task_on_a_feature_head_must_be_its_task(tmp_path, capsys):
    from soccerspot.models.heads import create_head
    from soccerspot.models.heads.pooling_head import PoolingHeadConfig
    from soccerspot.pipeline.cli import main
    from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint

    torch.manual_seed(0)
    config = PoolingHeadConfig(kind="avgpool", input_dim=8, num_classes=3, window_frames=4, projection_dim=None)
    checkpoint = save_checkpoint(tmp_path / "head", create_head(config), config, classes=V2, fps=2.0, feature_settings=None,
                                 nms=NmsSettings("hard", 5.0, 0.0))
    game = tmp_path / "game"
    game.mkdir()
    np.save(game / "1_feat.npy", np.random.default_rng(0).random((40, 8), dtype=np.float32))
    assert main(["spot", str(game), "--model", str(checkpoint), "--features", "feat", "--task", "ball"]) == 2
    assert "--task ball" in (err := capsys.readouterr().err) and "spots spotting" in err
    assert main(["spot", str(game), "--model", str(checkpoint), "--features", "feat", "--task", "spotting",
                 "--no-progress"]) == 0
