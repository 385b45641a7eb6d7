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
