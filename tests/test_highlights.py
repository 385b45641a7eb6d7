"""Highlight reels on small synthetic videos: windows, cuts on the asked times, chapters, bad input."""
from __future__ import annotations

import json

import av
import pytest

from soccerspot.errors import DataError
from soccerspot.data.labels import GamePredictions, Prediction, write_predictions
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.reports.highlights import make_highlight_reel
from soccerspot.pipeline.reports.windows import HighlightOptions, Window, merge_windows
from video_helpers import constant_rate_times, read_index, write_video

FPS = 25


def decoded_indices(path) -> list[int]:
    with av.open(str(path)) as container:
        return [read_index(frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]


def test_merge_windows_joins_overlaps_per_half_only():
    windows = [Window(1, 10, 20), Window(1, 18, 25), Window(1, 30, 31), Window(2, 19, 22), Window(1, 25, 26)]
    merged = merge_windows(windows)
    assert [(w.half, w.start, w.end) for w in merged] == [(1, 10, 26), (1, 30, 31), (2, 19, 22)]


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    folder = tmp_path_factory.mktemp("game")
    write_video(folder / "1_224p.mkv", constant_rate_times(FPS, 40), gop=50)  # keyframes every 2 s
    write_video(folder / "2_224p.mkv", constant_rate_times(FPS, 30), gop=50)
    spots = [Prediction(1, 10000, "Goal", 0.9), Prediction(1, 11500, "Corner", 0.8),  # overlap: one window
             Prediction(1, 30000, "Goal", 0.7), Prediction(2, 5300, "Yellow card", 0.6),
             Prediction(2, 8000, "Foul", 0.1)]
    write_predictions(folder / "results_spotting.json", GamePredictions("game", spots))
    return folder


def test_reel_of_two_halves_cuts_the_merged_windows(game, tmp_path):
    options = HighlightOptions(min_confidence=0.5, before_s=2, after_s=3)
    reel = make_highlight_reel(game, None, tmp_path / "reel.mp4", options, progress=False)
    # windows: half 1 [8, 14.5] (two spots) and [28, 33]; half 2 [3.3, 8.3] (Foul is below 0.5)
    windows = [(1, 8.0, 14.5), (1, 28.0, 33.0), (2, 3.3, 8.3)]
    assert [(c.half, c.match_start, c.match_end) for c in reel.chapters] == windows
    assert [s.copy for s in reel.segments] == [True, True, False]  # 8 and 28 are keyframes, 3.3 is not
    indices = decoded_indices(reel.path)
    total = sum(end - start for _, start, end in windows)
    assert abs(len(indices) / FPS - total) <= 1 / FPS
    # each segment starts on the frame shown at its asked time (half 1 frame 200 = 8 s, half 2 frame 83 ~ 3.3 s)
    starts = [0] + [i + 1 for i in range(len(indices) - 1) if indices[i + 1] != indices[i] + 1]
    assert [indices[i] for i in starts] == [200, 700, 83]
    # chapters: embedded ones match the lists written beside the reel
    with av.open(str(reel.path)) as container:
        embedded = [(float(c["start"] * c["time_base"]), c["metadata"]["title"]) for c in container.chapters()]
    listed = json.loads(reel.chapters_json.read_text())["chapters"]
    assert [title for _, title in embedded] == [c["title"] for c in listed]
    assert [start for start, _ in embedded] == pytest.approx([c["reel_start"] for c in listed], abs=0.002)
    assert listed[0]["title"] == "1 - 00:08-00:14 Goal, Corner"
    text = reel.chapters_text.read_text().splitlines()
    assert text[0].startswith("00:00 1 - 00:08-00:14 Goal, Corner") and text[2].startswith("00:11 2 - 00:03")


def test_single_file_and_class_filter(game, tmp_path):
    reel = make_highlight_reel(game / "1_224p.mkv", game / "results_spotting.json", tmp_path / "goals.mkv",
                               HighlightOptions(classes=("Goal",), before_s=1, after_s=1), progress=False)
    assert [(c.half, c.match_start, c.match_end) for c in reel.chapters] == [(1, 9.0, 11.0), (1, 29.0, 31.0)]
    assert abs(len(decoded_indices(reel.path)) / FPS - 4.0) <= 1 / FPS


def test_bad_input_is_reported_before_any_work(game, tmp_path, capsys):
    other = tmp_path / "other.json"
    write_predictions(other, GamePredictions("other", [Prediction(1, 2_000_000, "Goal", 0.9)]))
    with pytest.raises(DataError, match="another game"):
        make_highlight_reel(game, other, tmp_path / "reel.mp4", progress=False)
    assert main(["highlights", str(game), "--classes", "Goal,Gaol", "-o", str(tmp_path / "r.mp4")]) == 2
    assert "valid classes: Penalty, Kick-off, Goal" in capsys.readouterr().err
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert main(["highlights", str(game), "-o", str(blocked / "r.mp4"), "--quiet"]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["highlights", str(game), "--predictions", str(other), "-o", str(tmp_path / "r.mp4")]) == 1
    assert not list(tmp_path.glob("r.mp4*"))
