"""`soccerspot archive --ground`: games with camera labels beside their videos get Detection-replays.json."""
from __future__ import annotations

from soccerspot.pipeline.archive.manifest import Manifest

from soccerspot.data.cameras import (
    CAMERAS_FILE, DETECTIONS_FILE, CameraChange, CameraLabels, ReplayLink, read_replay_detections, write_camera_labels,
)
from soccerspot.pipeline.cli import main
from test_archive import GAMES, make_archive, make_checkpoint


def test_archive_grounds_the_games_with_camera_labels(tmp_path):
    root = make_archive(tmp_path / "season", GAMES[:2])
    write_camera_labels(root / GAMES[0] / CAMERAS_FILE, CameraLabels("a", [
        CameraChange(1, 0, "Main camera center", 0),
        CameraChange(1, 14, "Other", 14000, "logo", "replay"),
        CameraChange(1, 20, "Main camera center", 20000, "logo", "real-time", ReplayLink("Goal", 1, "00:05", 5000)),
    ]))
    checkpoint = make_checkpoint(tmp_path / "head")
    out = tmp_path / "out"
    assert main(["archive", str(root), "--model", str(checkpoint), "--out", str(out), "--ground", "similarity",
                 "--no-progress"]) == 0
    [replay] = read_replay_detections(out / GAMES[0] / DETECTIONS_FILE)
    assert (replay.half, replay.start, replay.end) == (1, 14, 20) and replay.detections
    assert all(t <= 20 for t, _ in replay.detections)
    assert not (out / GAMES[1] / DETECTIONS_FILE).exists()
    records = Manifest(out).records
    done = [r for r in records if r.get("type") == "game" and r["game"] == GAMES[0] and r["status"] == "done"]
    assert f"{GAMES[0]}/{DETECTIONS_FILE}" in done[-1]["files"] and "ground" in done[-1]["timings"]


def test_archive_ground_fusion_reaches_the_grounder_and_bad_values_are_usage_errors(tmp_path, capsys):
    from soccerspot.pipeline.archive.grounding import _grounder
    from soccerspot.pipeline.inference.grounding import BAIDU_FUSION, ground_folder, load_grounder

    assert _grounder("similarity", "off").options.fusion is False
    explicit = _grounder("similarity", "30,0.1,1.5,0.5").options
    assert (explicit.fusion, explicit.fusion_span_s, explicit.fusion_min_score) == (True, 30.0, 0.1)
    assert (explicit.fusion_nearest_weight, explicit.fusion_second_weight) == (1.5, 0.5)
    baidu = _grounder("similarity", "baidu").options
    assert all(getattr(baidu, key) == value for key, value in BAIDU_FUSION.items()) and baidu.fusion
    assert _grounder("similarity", None).options == load_grounder("similarity").options  # the head's own

    root = make_archive(tmp_path / "season", GAMES[:1])
    labels = CameraLabels("a", [
        CameraChange(1, 0, "Main camera center", 0),
        CameraChange(1, 14, "Other", 14000, "logo", "replay"),
        CameraChange(1, 20, "Main camera center", 20000, "logo", "real-time", ReplayLink("Goal", 1, "00:05", 5000)),
    ])
    write_camera_labels(root / GAMES[0] / CAMERAS_FILE, labels)
    checkpoint = make_checkpoint(tmp_path / "head")
    out = tmp_path / "out"
    common = ["archive", str(root), "--model", str(checkpoint), "--out", str(out), "--no-progress"]
    assert main(common + ["--ground-fusion", "off"]) == 2
    assert "--ground-fusion is for --ground" in capsys.readouterr().err
    assert main(common + ["--ground", "similarity", "--ground-fusion", "42,2,1,1"]) == 2
    assert "--ground-fusion 42,2,1,1: W must be > 0, S in [0, 1]" in capsys.readouterr().err
    assert main(common + ["--ground", "similarity", "--ground-fusion", "off"]) == 0
    game_dir = out / GAMES[0]
    written = read_replay_detections(game_dir / DETECTIONS_FILE)
    feature_name = next(game_dir.glob("1_*.npy")).stem.split("_", 1)[1]  # what the archive extracted
    grounder = load_grounder("similarity", feature_name, overrides={"fusion": False})
    ground_folder(game_dir, grounder, tmp_path / "direct.json", root / GAMES[0] / CAMERAS_FILE, overwrite=True,
                  game=GAMES[0])
    assert written == read_replay_detections(tmp_path / "direct.json")


def test_another_ground_fusion_redoes_the_games_a_same_one_skips_them(tmp_path, capsys):
    root = make_archive(tmp_path / "season", GAMES[:1])
    write_camera_labels(root / GAMES[0] / CAMERAS_FILE, CameraLabels("a", [
        CameraChange(1, 0, "Main camera center", 0),
        CameraChange(1, 14, "Other", 14000, "logo", "replay"),
        CameraChange(1, 20, "Main camera center", 20000, "logo", "real-time", ReplayLink("Goal", 1, "00:05", 5000)),
    ]))
    common = ["archive", str(root), "--model", str(make_checkpoint(tmp_path / "head")), "--out", str(tmp_path / "out"),
              "--no-progress", "--ground", "similarity"]
    assert main(common + ["--ground-fusion", "off"]) == 0
    assert main(common + ["--ground-fusion", "off"]) == 0
    assert "0 done, 0 failed, 1 skipped (done before)" in capsys.readouterr().out
    assert main(common + ["--ground-fusion", "baidu"]) == 0  # other Detection-replays.json: done again
    assert "1 done, 0 failed, 0 skipped" in capsys.readouterr().out
