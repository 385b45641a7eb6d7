"""`soccerspot archive`: discovery, the manifest, the local engine, the summary and the faults.

A small synthetic archive (three games of two 24 s halves, 160x96 video) spotted by a random avgpool head
on resnet18 features (`--weights none`, 64 px: seeded, the same in every process).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from soccerspot.errors import DataError
from soccerspot.data.labels import read_predictions
from soccerspot.data.games import PREDICTIONS_FILE
from soccerspot.extract.extractor import ExtractConfig, Extractor
from soccerspot.models.heads import create_head
from soccerspot.models.heads.pooling_head import PoolingHeadConfig
from soccerspot.pipeline.archive.discover import discover_games
from soccerspot.pipeline.archive.manifest import MANIFEST_FILE, GameRecord, Manifest
from soccerspot.pipeline.archive.summary import SPOTS_COLUMNS, SPOTS_FILE, SUMMARY_FILE
from soccerspot.pipeline.archive.settings import threads_per_job
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.cli import main

from video_helpers import constant_rate_times, write_video

GAMES = ["league/2020/game-a", "league/2020/game-b", "league/2020/game-c"]
CLASSES = ["Goal", "Corner", "Foul"]
HALF_SECONDS = 24.0


def make_archive(root: Path, games=GAMES) -> Path:
    for game in games:
        (root / game).mkdir(parents=True)
        for half in (1, 2):
            write_video(root / game / f"{half}_224p.mkv", constant_rate_times(5, HALF_SECONDS), gop=25)
    return root


def extractor_settings(**overrides) -> dict:
    config = ExtractConfig(backbone="resnet18", weights="none", input_size=64, precision="fp32", progress=False)
    return {**Extractor(config).meta_template().settings(), **overrides}


def make_checkpoint(out: Path, input_dim: int = 512, **setting_overrides) -> Path:
    torch.manual_seed(0)
    config = PoolingHeadConfig(kind="avgpool", input_dim=input_dim, num_classes=len(CLASSES), window_frames=6,
                        projection_dim=None)
    head = create_head(config)
    return save_checkpoint(out, head, config, classes=CLASSES, feature_settings=extractor_settings(**setting_overrides),
                           fps=2.0, nms=NmsSettings("hard", 5.0, 0.0), extra={"features": "resnet18"})


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "season")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "head")


@pytest.fixture(scope="module")
def local_run(archive, checkpoint, tmp_path_factory) -> Path:
    """The archive spotted once by the local engine, --jobs 1 (the reference outputs)."""
    out = tmp_path_factory.mktemp("local") / "out"
    assert main(["archive", str(archive), "--model", str(checkpoint), "--out", str(out), "--no-progress"]) == 0
    return out


def game_records(out: Path) -> list[dict]:
    return [r for r in Manifest(out).records if r.get("type") == "game"]


def statuses(out: Path, status: str) -> list[str]:
    return sorted(r["game"] for r in game_records(out) if r["status"] == status)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "soccerspot", "archive", *args, "--no-progress"]


# ------------------------------------------------------------------------------------------- units


def test_discovery_groups_halves_into_games_and_lone_videos_into_their_own(tmp_path):
    make_archive(tmp_path / "root", games=["l/s/g1"])
    (tmp_path / "root" / "extra").mkdir()
    write_video(tmp_path / "root" / "extra" / "match.mp4", constant_rate_times(5, 2.0))
    games, problems = discover_games(tmp_path / "root")
    assert [g.key for g in games] == ["extra/match", "l/s/g1"]
    assert [h.half for h in games[1].halves] == [1, 2] and [h.half for h in games[0].halves] == [1]
    assert problems == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no videos found"):
        discover_games(tmp_path / "empty")


@pytest.mark.parametrize("jobs,cores,expected", [(1, 2, 2), (2, 2, 1), (3, 2, 1), (4, 16, 4), (3, 16, 5)])
def test_threads_per_job_never_oversubscribes(jobs, cores, expected):
    threads = threads_per_job(jobs, cores)
    assert threads == expected
    assert threads * jobs <= max(cores, jobs)


def test_manifest_drops_a_torn_last_line_and_refuses_a_bad_middle_line(tmp_path):
    path = tmp_path / MANIFEST_FILE
    path.write_text('{"type": "game", "game": "a", "status": "done", "fingerprint": "f"}\n{"type": "ga')
    manifest = Manifest(tmp_path)
    assert [r["game"] for r in manifest.records] == ["a"]
    assert path.read_text().endswith("}\n")  # repaired, so the next append starts on a fresh line
    manifest.append({"type": "game", "game": "b", "status": "started", "fingerprint": "f"})
    assert set(Manifest(tmp_path).finished("f")) == {"a"} and set(Manifest(tmp_path).latest()) == {"a", "b"}
    path.write_text('{"type": "run"}\nnot json\n{"type": "run"}\n')
    with pytest.raises(DataError, match="line 2"):
        Manifest(tmp_path)


# ------------------------------------------------------------------------------------------- local engine


def test_local_run_writes_results_manifest_summary_and_csv(local_run):
    assert statuses(local_run, "done") == GAMES
    for game in GAMES:
        predictions = read_predictions(local_run / game / PREDICTIONS_FILE)
        assert predictions.url == game and predictions.predictions
        assert (local_run / game / "1_resnet18.npy").is_file() and (local_run / game / "2_resnet18.json").is_file()
    done = [r for r in game_records(local_run) if r["status"] == "done"]
    assert all(r["frames"] == int(2 * 2 * HALF_SECONDS) and r["video_seconds"] == pytest.approx(2 * HALF_SECONDS) for r in done)
    assert all(f"{r['game']}/{PREDICTIONS_FILE}" in r["files"] and r["timings"]["total"] > 0 for r in done)
    summary = json.loads((local_run / SUMMARY_FILE).read_text())
    with open(local_run / SPOTS_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    total = sum(len(read_predictions(local_run / g / PREDICTIONS_FILE).predictions) for g in GAMES)
    assert (summary["done"], summary["failed"], summary["skipped"]) == (3, 0, 0)
    assert len(rows) == total == summary["spots"] == sum(summary["events_per_class"].values())
    assert tuple(rows[0]) == SPOTS_COLUMNS and rows[0]["game"] == GAMES[0] and rows[0]["match_time"].startswith("1 - ")
    assert summary["video_hours"] == pytest.approx(3 * 2 * HALF_SECONDS / 3600, abs=1e-6)


def test_corrupt_video_in_the_middle_is_recorded_and_the_rest_finishes(checkpoint, tmp_path, capsys):
    root = make_archive(tmp_path / "season")
    (root / GAMES[1] / "1_224p.mkv").write_bytes(b"\x00not a video" * 100)
    out = tmp_path / "out"
    assert main(["archive", str(root), "--model", str(checkpoint), "--out", str(out), "--no-progress"]) == 1
    assert statuses(out, "done") == [GAMES[0], GAMES[2]]
    failed = [r for r in game_records(out) if r["status"] == "failed"]
    assert [r["game"] for r in failed] == [GAMES[1]] and "1_224p.mkv" in failed[0]["error"]
    assert "failed: league/2020/game-b" in capsys.readouterr().out
    assert not (out / GAMES[1] / PREDICTIONS_FILE).exists()
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["failed"] == 1 and GAMES[1] in summary["failures"]

    mtimes = {g: (out / g / PREDICTIONS_FILE).stat().st_mtime_ns for g in (GAMES[0], GAMES[2])}
    assert main(["archive", str(root), "--model", str(checkpoint), "--out", str(out), "--no-progress"]) == 1
    assert statuses(out, "skipped") == [GAMES[0], GAMES[2]]  # not redone
    assert statuses(out, "done") == [GAMES[0], GAMES[2]]
    assert {g: (out / g / PREDICTIONS_FILE).stat().st_mtime_ns for g in mtimes} == mtimes
    assert len([r for r in game_records(out) if r["status"] == "failed"]) == 2  # the failed game was tried again


def test_kill_9_during_a_game_then_resume_loses_and_redoes_nothing(archive, checkpoint, local_run, tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(cli(str(archive), "--model", str(checkpoint), "--out", str(out)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if (out / MANIFEST_FILE).is_file() and GAMES[1] in statuses(out, "started"):
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert statuses(out, "done") == [GAMES[0]], "the kill did not land during the second game"

    assert main(["archive", str(archive), "--model", str(checkpoint), "--out", str(out), "--no-progress"]) == 0
    assert statuses(out, "done") == GAMES  # nothing lost, and one done record per game: nothing redone
    assert statuses(out, "skipped") == [GAMES[0]]
    assert list(out.rglob(".*.tmp")) == []
    for game in GAMES:  # the interrupted game, redone from a clean state, equals an uninterrupted run
        assert (out / game / PREDICTIONS_FILE).read_bytes() == (local_run / game / PREDICTIONS_FILE).read_bytes()


def test_a_resumed_run_with_every_game_done_starts_no_workers(archive, checkpoint, local_run, tmp_path, monkeypatch,
                                                             capsys):
    from soccerspot.pipeline.archive import local_engine

    out = tmp_path / "out"
    shutil.copytree(local_run, out)
    calls = []
    real_start = local_engine.start
    monkeypatch.setattr(local_engine, "start", lambda *args: calls.append(args) or real_start(*args))
    base = ["archive", str(archive), "--model", str(checkpoint), "--out", str(out), "--no-progress"]
    assert main(base + ["--jobs", "2"]) == 0
    assert calls == []  # no pool spawned (and closed) for nothing
    assert "archive: 0 done, 0 failed, 3 skipped (done before)" in capsys.readouterr().out
    assert statuses(out, "skipped") == GAMES

    Manifest(out).add(GameRecord(GAMES[0], "started", "f"))  # an interrupted game: work left, started early
    assert main(base) == 0
    assert len(calls) == 1
    assert "archive: 1 done, 0 failed, 2 skipped (done before)" in capsys.readouterr().out


def test_unwritable_output_folder_is_refused_before_any_work(archive, checkpoint, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["archive", str(archive), "--model", str(checkpoint), "--out", str(blocker / "out")]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "cannot be written" in error and str(blocker / "out") in error
    if os.geteuid() != 0:  # root writes anywhere: the mode check only means something for other users
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(["archive", str(archive), "--model", str(checkpoint), "--out", str(locked)]) == 1


def test_checkpoint_whose_feature_width_differs_from_the_extractor_is_refused(archive, tmp_path, capsys):
    head = make_checkpoint(tmp_path / "wide", input_dim=256, dim=256)
    out = tmp_path / "out"
    assert main(["archive", str(archive), "--model", str(head), "--out", str(out)]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "dim" in error and str(head) in error
    assert list(out.iterdir()) == []  # no manifest, no game folder


def test_pool_processes_started_before_the_checks_leave_a_bad_checkpoint_to_them(archive, tmp_path):
    """With --jobs 2 the pool processes start loading the model before the driver checks it: a checkpoint
    that cannot load is still one line from the driver, with no traceback from a pool process."""
    head = tmp_path / "broken"
    head.mkdir()
    (head / "config.json").write_text("{not json")
    done = subprocess.run(cli(str(archive), "--model", str(head), "--out", str(tmp_path / "out"), "--jobs", "2"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert str(head) in done.stderr


def test_usage_errors_exit_2(archive, checkpoint, tmp_path):
    base = ["archive", str(archive), "--model", str(checkpoint), "--out", str(tmp_path / "o")]
    assert main(base + ["--jobs", "0"]) == 2
    assert main(base + ["--address", "ray://x:1"]) == 2


def test_two_jobs_give_the_same_results_within_the_cores(archive, checkpoint, local_run, tmp_path):
    out = tmp_path / "out"
    assert main(["archive", str(archive), "--model", str(checkpoint), "--out", str(out), "--jobs", "2",
                 "--no-progress"]) == 0
    run = [r for r in Manifest(out).records if r.get("type") == "run"][-1]
    assert run["jobs"] == 2 and run["torch_threads"] * 2 <= max(2, len(os.sched_getaffinity(0)))
    for game in GAMES:
        assert (out / game / PREDICTIONS_FILE).read_bytes() == (local_run / game / PREDICTIONS_FILE).read_bytes()


def test_features_made_differently_in_out_are_not_overwritten(archive, checkpoint, tmp_path):
    from soccerspot.data.features import FeatureMeta, load_features, write_features

    out = tmp_path / "out"
    other = FeatureMeta(**{**extractor_settings(), "transform": "resize"})
    write_features(out / GAMES[0], 1, "resnet18", torch.zeros(4, 512).numpy(), other)
    assert main(["archive", str(archive), "--model", str(checkpoint), "--out", str(out), "--no-progress"]) == 1
    failed = [r for r in game_records(out) if r["status"] == "failed"]
    assert [r["game"] for r in failed] == [GAMES[0]] and "not overwritten" in failed[0]["error"]
    assert statuses(out, "done") == GAMES[1:]
    assert load_features(out / GAMES[0], 1, "resnet18").meta.transform == "resize"


def test_missing_ray_and_missing_root_are_refused_before_any_work(archive, checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra sees: ImportError
    out = tmp_path / "out"
    assert main(["archive", str(archive), "--model", str(checkpoint), "--out", str(out), "--engine", "ray"]) == 2
    assert "pip install 'soccerspot[ray]'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["archive", str(tmp_path / "nowhere"), "--model", str(checkpoint), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "nowhere" in error and "no such archive" in error
    assert not (out / MANIFEST_FILE).exists()


def test_features_only_then_a_full_run_reuses_the_features(archive, checkpoint, local_run, tmp_path):
    out = tmp_path / "out"
    base = ["archive", str(archive), "--model", str(checkpoint), "--out", str(out), "--no-progress"]
    assert main(base + ["--features-only"]) == 0
    assert statuses(out, "done") == GAMES and not list(out.rglob(PREDICTIONS_FILE))
    sidecars = {p: p.stat().st_mtime_ns for p in out.rglob("*_resnet18.json")}
    assert len(sidecars) == 2 * len(GAMES)
    assert main(base) == 0  # other settings (spotting now): every game runs again, on the same features
    assert {p: p.stat().st_mtime_ns for p in sidecars} == sidecars
    for game in GAMES:
        assert (out / game / PREDICTIONS_FILE).read_bytes() == (local_run / game / PREDICTIONS_FILE).read_bytes()


def test_features_at_another_precision_in_out_are_reused_not_refused(archive, checkpoint, tmp_path):
    """Precision is not identity: features an earlier run made at bf16 are spotted by an fp32 run as they are."""
    from soccerspot.data.features import load_features

    out = tmp_path / "out"
    base = ["archive", str(archive), "--model", str(checkpoint), "--out", str(out), "--no-progress"]
    assert main(base + ["--features-only", "--precision", "bf16"]) == 0
    sidecars = {p: p.stat().st_mtime_ns for p in out.rglob("*_resnet18.json")}
    assert len(sidecars) == 2 * len(GAMES)
    assert main(base + ["--precision", "fp32"]) == 0
    assert {p: p.stat().st_mtime_ns for p in sidecars} == sidecars  # nothing re-extracted
    assert statuses(out, "done") == sorted(GAMES * 2) and not statuses(out, "failed")  # features-only, then spot
    for game in GAMES:
        assert load_features(out / game, 1, "resnet18").meta.precision == "bf16"
        assert read_predictions(out / game / PREDICTIONS_FILE).predictions


def test_a_head_on_combined_features_spots_the_archive_part_by_part(archive, tmp_path):
    """A head trained on combined features (`soccerspot combine`): each game's parts are extracted, combined,
    and spotted; the combined features equal combining the parts by hand."""
    import numpy as np

    from soccerspot.data.combined_features import CombineConfig, combine_half
    from soccerspot.data.features import load_features

    game = archive / GAMES[0]
    made = tmp_path / "made"
    for backbone in ("resnet18", "timm:regnety_002"):
        assert main(["extract", str(game), "--out", str(made), "--backbone", backbone, "--weights", "none",
                     "--input-size", "64", "--precision", "fp32", "--device", "cpu", "--no-progress"]) == 0
    combine_half(made / game.name, 1, CombineConfig(["resnet18", "regnety_002"], "both", "l2"))
    settings = load_features(made / game.name, 1, "both").meta.settings()
    torch.manual_seed(0)
    config = PoolingHeadConfig(kind="avgpool", input_dim=settings["dim"], num_classes=len(CLASSES), window_frames=6,
                               projection_dim=None)
    model = save_checkpoint(tmp_path / "head", create_head(config), config, classes=CLASSES, feature_settings=settings,
                            fps=2.0, nms=NmsSettings("hard", 5.0, 0.0), extra={"features": "both"})
    out = tmp_path / "out"
    assert main(["archive", str(archive), "--model", str(model), "--out", str(out), "--precision", "fp32",
                 "--no-progress"]) == 0
    assert statuses(out, "done") == sorted(GAMES)
    for key in GAMES:
        assert read_predictions(out / key / PREDICTIONS_FILE).predictions is not None
    remade = load_features(out / GAMES[0], 1, "both")
    assert remade.meta.identity() == load_features(made / game.name, 1, "both").meta.identity()
    np.testing.assert_allclose(remade.array, load_features(made / game.name, 1, "both").array, rtol=1e-5, atol=1e-6)
