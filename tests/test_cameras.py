"""Labels-cameras.json / Detection-replays.json: round trips and the refusals of the strict replay reader."""
from __future__ import annotations

import json

import pytest

from soccerspot.data.cameras import (
    CAMERAS_FILE, CameraChange, CameraLabels, ReplayDetections, ReplayLink, games_without_camera_labels,
    read_camera_labels, read_replay_detections, replays_of, write_camera_labels, write_replay_detections,
)
from soccerspot.errors import DataError


def labels_with(link: ReplayLink) -> CameraLabels:
    return CameraLabels(url="g", changes=[
        CameraChange(1, 0, "Main camera center", 0),
        CameraChange(1, 70, "Other", 70000, replay="replay"),
        CameraChange(1, 78, "Main camera center", 78000, replay="replay", link=link),
    ])


def test_round_trip_and_replays(tmp_path):
    labels = labels_with(ReplayLink("Goal", 1, "01:02", 62400, "home"))
    write_camera_labels(tmp_path / CAMERAS_FILE, labels)
    raw = json.loads((tmp_path / CAMERAS_FILE).read_text())
    assert raw["annotations"][2]["link"] == {"label": "Goal", "half": "1", "time": "01:02", "position": "62400",
                                             "team": "home", "visibility": "visible"}
    assert raw["annotations"][2]["gameTime"] == "1 - 01:18"
    back = read_camera_labels(tmp_path / CAMERAS_FILE)
    assert back.changes == labels.changes
    [replay] = replays_of(back)
    assert (replay.half, replay.start, replay.end, replay.label, replay.link.seconds) == (1, 70, 78, "Goal", 62)


@pytest.mark.parametrize("link,match", [(ReplayLink("Dive", 1, "01:02", 62000), "unknown class 'Dive'"),
                                        (ReplayLink("Goal", 2, "01:02", 62000), "half 1 of an action in half 2")])
def test_strict_reader_refuses_bad_links_and_lenient_skips(tmp_path, link, match):
    write_camera_labels(tmp_path / CAMERAS_FILE, labels_with(link))
    labels = read_camera_labels(tmp_path / CAMERAS_FILE)
    with pytest.raises(DataError, match=match) as caught:
        replays_of(labels)
    assert CAMERAS_FILE in str(caught.value)
    assert replays_of(labels, strict=False) == []


def test_malformed_files_name_the_file(tmp_path):
    path = tmp_path / CAMERAS_FILE
    path.write_text('{"annotations": [{"gameTime": "1 - 0:5"}]}')
    with pytest.raises(DataError, match="annotation 0"):
        read_camera_labels(path)
    path.write_text("{not json")
    with pytest.raises(DataError, match=CAMERAS_FILE):
        read_camera_labels(path)


def test_detections_round_trip_and_missing_camera_labels(tmp_path):
    replays = [ReplayDetections(1, 70, 78, [(62.0, 0.9), (10.5, 0.1)]), ReplayDetections(2, 5, 9, [])]
    write_replay_detections(tmp_path / "d.json", replays, game="g")
    assert read_replay_detections(tmp_path / "d.json") == replays
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / CAMERAS_FILE).write_text('{"annotations": []}')
    assert games_without_camera_labels(tmp_path, ["a", "b"]) == ["a"]
