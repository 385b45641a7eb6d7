"""`soccerspot archive --model DENSE_DIR`: a dense frame model spots every game of a season as `spot VIDEO` does,
resumes, records a bad video and goes on; a ball (team) model's results and spots CSV carry each spot's team.

The models are `TinyDense` behind a test-only folder format (registered in this process: `--jobs 1`)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.pipeline.archive.manifest import MANIFEST_FILE
from soccerspot.pipeline.archive.summary import SPOTS_FILE, SUMMARY_FILE
from soccerspot.pipeline.cli import main
from dense_task_helpers import BALL, SMALL_BALL, V2, tiny_folder, tiny_format  # noqa: F401 (a fixture)
from video_helpers import constant_rate_times, write_video

GAMES = ["league/2020/game-a", "league/2020/game-b"]


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dense_season") / "season"
    for number, game in enumerate(GAMES):
        (root / game).mkdir(parents=True)
        for half in (1, 2):
            write_video(root / game / f"{half}_224p.mkv", constant_rate_times(25, 3.0 + number + half / 2),
                        width=64, height=48)
    return root


def spots_of(path: Path) -> list[dict]:
    return json.loads(path.read_text())["predictions"]


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST_FILE).read_text().splitlines()]


def test_a_dense_archive_equals_spot_per_game_and_resumes(tiny_format, season, tmp_path):
    model = tiny_folder(tmp_path / "v2", V2, False)
    out = tmp_path / "out"
    assert main(["archive", str(season), "--model", str(model), "--out", str(out), "--no-progress",
                 "--precision", "fp32"]) == 0
    for game in GAMES:
        assert main(["spot", str(season / game), "--model", str(model), "--out", str(tmp_path / "spot" / game),
                     "--no-progress", "--precision", "fp32"]) == 0
        ours = spots_of(out / game / PREDICTIONS_FILE)
        assert ours and ours == spots_of(tmp_path / "spot" / game / PREDICTIONS_FILE)
        assert {e["half"] for e in ours} <= {"1", "2", 1, 2} and not list((out / game).glob("*.npy"))
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert (summary["done"], summary["failed"], summary["skipped"]) == (2, 0, 0)
    run = records(out)[0]
    assert run["type"] == "run" and run["task"] == "spotting" and run["settings"]["frames"] == "e2e-soccernetv2"

    assert main(["archive", str(season), "--model", str(model), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert (summary["done"], summary["skipped"]) == (0, 2)
    assert [r["status"] for r in records(out)[-2:]] == ["skipped", "skipped"]


def test_a_bad_video_is_recorded_and_the_rest_finishes_then_it_is_redone(tiny_format, season, tmp_path, capsys):
    root = tmp_path / "season"
    for game in GAMES:
        (root / game).mkdir(parents=True)
        for video in (season / game).glob("*.mkv"):
            (root / game / video.name).symlink_to(video)
    bad = root / "league/2020/game-bad"
    bad.mkdir(parents=True)
    (bad / "1_224p.mkv").write_bytes(b"not a video at all" * 100)
    model = tiny_folder(tmp_path / "v2", V2, False)
    out = tmp_path / "out"
    assert main(["archive", str(root), "--model", str(model), "--out", str(out), "--no-progress"]) == 1
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert (summary["done"], summary["failed"]) == (2, 1) and "game-bad" in next(iter(summary["failures"]))
    assert "failed: league/2020/game-bad" in capsys.readouterr().out
    assert not (out / "league/2020/game-bad" / PREDICTIONS_FILE).exists()

    (bad / "1_224p.mkv").unlink()
    write_video(bad / "1_224p.mkv", constant_rate_times(25, 3.0), width=64, height=48)
    assert main(["archive", str(root), "--model", str(model), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert (summary["done"], summary["failed"], summary["skipped"]) == (1, 0, 2)
    assert (out / "league/2020/game-bad" / PREDICTIONS_FILE).is_file()


def test_a_ball_archive_writes_each_spot_s_team(tiny_format, season, tmp_path):
    model = tiny_folder(tmp_path / "ball", BALL, True, SMALL_BALL.name, "T-DEED")
    out = tmp_path / "out"
    assert main(["archive", str(season), "--model", str(model), "--task", "ball", "--out", str(out),
                 "--no-progress"]) == 0
    for game in GAMES:
        entries = spots_of(out / game / PREDICTIONS_FILE)
        assert entries and {e["team"] for e in entries} <= {"left", "right"} and {e["label"] for e in entries} <= set(BALL)
    with open(out / SPOTS_FILE) as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {row["team"] for row in rows} <= {"left", "right"}
    assert len(rows) == sum(len(spots_of(out / game / PREDICTIONS_FILE)) for game in GAMES)
    assert records(out)[0]["task"] == "ball"


def test_dense_archive_refusals_are_usage_errors(tiny_format, season, tmp_path, capsys):
    ball = tiny_folder(tmp_path / "ball", BALL, True, SMALL_BALL.name, "T-DEED")
    assert main(["archive", str(season), "--model", str(ball), "--task", "spotting", "--out", str(tmp_path / "a"),
                 "--no-progress"]) == 2
    assert "--task spotting" in (err := capsys.readouterr().err) and "spots ball" in err
    assert main(["archive", str(season), "--model", str(ball), "--nms-window", "3", "--out", str(tmp_path / "b"),
                 "--no-progress"]) == 2
    assert "--nms-window: not for a dense frame model" in capsys.readouterr().err
    for out in ("a", "b"):
        assert not any((tmp_path / out).glob("*/*/*/" + PREDICTIONS_FILE))


def write_ball_labels(root: Path, game: str, spots: list[dict], seed: int = 0) -> Path:
    """Labels-ball.json of a game: every 2025 class once in half 1, at the most confident of its `spots` where
    there is one (so the score is not 0), else at a random time, by a random team."""
    from soccerspot.data.classes import class_setup

    rng = np.random.default_rng(seed)
    annotations = []
    for name in class_setup("ball-2025").names:
        found = sorted((s for s in spots if s["label"] == name), key=lambda s: -float(s["confidence"]))
        position = int(found[0]["position"]) if found else int(rng.integers(0, 3000))
        team = found[0]["team"] if found else str(rng.choice(["left", "right"]))
        annotations.append({"gameTime": f"1 - 00:{position // 1000:02d}", "label": name, "position": str(position),
                            "team": team, "visibility": "visible"})
    (root / game).mkdir(parents=True, exist_ok=True)
    (root / game / "Labels-ball.json").write_text(json.dumps({"annotations": annotations}))
    return root


def test_a_ball_archive_with_labels_records_evaluate_s_team_map(tiny_format, season, tmp_path, capsys):
    model = tiny_folder(tmp_path / "ball", BALL, True, SMALL_BALL.name, "T-DEED")
    out = tmp_path / "out"
    assert main(["archive", str(season), "--model", str(model), "--out", str(out), "--no-progress"]) == 0
    assert "evaluation" not in json.loads((out / SUMMARY_FILE).read_text())
    # the other game has no labels: left out
    labels = write_ball_labels(tmp_path / "labels", GAMES[0], spots_of(out / GAMES[0] / PREDICTIONS_FILE))
    capsys.readouterr()
    assert main(["archive", str(season), "--model", str(model), "--out", str(out), "--labels", str(labels),
                 "--no-progress"]) == 0  # every game done before: scored all the same
    assert "evaluation (ball, ball-2025, at1, 1 game(s) with labels): mAP " in capsys.readouterr().out
    evaluation = json.loads((out / SUMMARY_FILE).read_text())["evaluation"]
    assert (evaluation["task"], evaluation["class_set"], evaluation["games"]) == ("ball", "ball-2025", 1)
    assert evaluation["unlabelled_games"] == GAMES[1:]
    assert main(["evaluate", "--task", "ball", "--labels", str(labels), "--predictions", str(out), "--json",
                 str(tmp_path / "official.json"), "--quiet"]) == 0
    assert evaluation["results"] == json.loads((tmp_path / "official.json").read_text())
    assert evaluation["headline"] == {key: evaluation["results"][key] for key in ("mAP", "mAP_no_team")}
    assert evaluation["results"]["mAP"] > 0 and evaluation["results"]["mAP_no_team"] > 0


def test_a_released_dense_name_is_resolved_to_its_cached_folder(tiny_format, season, tmp_path, monkeypatch):
    """`archive --model NAME` for a `RELEASED_DENSE` name goes through `resolve_model` to the cached folder (its
    files are stand-ins here, beside the test format's JSON, since nothing can be downloaded)."""
    from soccerspot.pipeline.inference.released_models import RELEASED_DENSE

    monkeypatch.setenv("SOCCERSPOT_CACHE", str(tmp_path / "cache"))
    name = "soccer_rny002gsm_gru_rgb"
    folder = tiny_folder(tmp_path / "cache" / "models" / name, V2, False)
    for spec in RELEASED_DENSE[name].files:
        (folder / spec.filename).write_bytes(b"stand-in")
    out = tmp_path / "out"
    assert main(["archive", str(season), "--model", name, "--out", str(out), "--no-progress"]) == 0
    assert all((out / game / PREDICTIONS_FILE).is_file() for game in GAMES)
    assert records(out)[0]["settings"]["checkpoint"].keys() >= {spec.filename for spec in RELEASED_DENSE[name].files}


@pytest.mark.slow
def test_a_trained_dense_folder_archived_by_two_processes_equals_one(season, tmp_path):
    """A real folder format (`train-dense`'s, an E2E-Spot rny002_gsm + GRU with random weights) in spawned pool
    processes: the same results as in the driver's process alone."""
    from soccerspot.data.classes import CLASS_NAMES_V2
    from soccerspot.models.dense import TRAINED_FORMAT, create_dense_model

    torch.manual_seed(0)
    settings = {"num_classes": 17, "feature_arch": "rny002_gsm", "temporal_arch": "gru", "clip_len": 8}
    model = create_dense_model("e2e-spot", **settings, pretrained=False)
    folder = tmp_path / "run" / "best"
    folder.mkdir(parents=True)
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / "config.json").write_text(json.dumps({
        "format": TRAINED_FORMAT, "model": "e2e-spot", "settings": settings, "classes": list(CLASS_NAMES_V2),
        "frame_recipe": "e2e-soccernetv2", "variant": "E2E-Spot"}))
    for jobs in ("1", "2"):
        assert main(["archive", str(season), "--model", str(folder), "--out", str(tmp_path / jobs), "--jobs", jobs,
                     "--threads", "1", "--no-progress", "--precision", "fp32"]) == 0
    for game in GAMES:
        one, two = spots_of(tmp_path / "1" / game / PREDICTIONS_FILE), spots_of(tmp_path / "2" / game / PREDICTIONS_FILE)
        assert one and one == two
    assert records(tmp_path / "2")[0]["task"] == "spotting"


def test_archive_task_on_a_feature_head_must_be_its_task(season, tmp_path, capsys):
    from test_archive import make_checkpoint

    checkpoint = make_checkpoint(tmp_path / "head")
    assert main(["archive", str(season), "--model", str(checkpoint), "--task", "ball", "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    assert "--task ball" in (err := capsys.readouterr().err) and "spots spotting, not ball" in err
    assert not list((tmp_path / "o").glob("*/*/*/*.npy"))
