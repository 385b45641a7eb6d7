"""Dense models' frame recipes: the frames the peers' extraction scripts keep, at their size, with true times."""
from __future__ import annotations

import numpy as np
import pytest

from soccerspot.errors import DataError
from soccerspot.extract.decode import probe
from soccerspot.extract.frame_recipes import (
    E2E_BALL, E2E_SOCCERNETV2, TDEED_BALL, FrameRecipe, frame_recipe, iter_recipe_frames,
)
from video_helpers import constant_rate_times, read_index, write_video


def opencv_extraction(path, sample_fps: int, width: int, height: int) -> list[np.ndarray]:
    """The loop of jhong93/spot's frames_as_jpg_soccernet.py, without the JPEG files (RGB out)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    stride = int(capture.get(cv2.CAP_PROP_FPS) / sample_fps)
    frames, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % stride == 0:
            if frame.shape[0] != height or frame.shape[1] != width:
                frame = cv2.resize(frame, (width, height))
            frames.append(frame[:, :, ::-1])
        index += 1
    capture.release()
    return frames


@pytest.fixture(scope="module")
def video_25fps(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("recipes") / "half.mp4", constant_rate_times(25, 6.0))


def collect(path, recipe: FrameRecipe, batch_size: int = 32):
    batches = list(iter_recipe_frames(probe(path), recipe, batch_size=batch_size))
    assert all(len(batch.frames) <= batch_size for batch in batches)
    return np.concatenate([b.frames for b in batches]), np.concatenate([b.times for b in batches])


def test_e2e_soccernetv2_keeps_every_twelfth_frame_resized_as_opencv_does(video_25fps):
    frames, times = collect(video_25fps, E2E_SOCCERNETV2, batch_size=5)
    assert frames.shape == (13, 224, 398, 3)  # frames 0, 12, ..., 144 of 150
    np.testing.assert_allclose(times, np.arange(0, 150, 12) / 25, atol=1e-6)
    assert [read_index(frame) for frame in frames] == list(range(0, 150, 12))
    theirs = opencv_extraction(video_25fps, 2, 398, 224)
    assert len(theirs) == len(frames)
    assert all(np.array_equal(ours, their) for ours, their in zip(frames, theirs))
    assert E2E_SOCCERNETV2.model_fps(25.0) == pytest.approx(25 / 12)


def test_ball_recipes_every_frame_and_tdeed_reads_every_second(video_25fps):
    frames, times = collect(video_25fps, E2E_BALL)
    assert len(frames) == 150 and [read_index(f) for f in frames[:3]] == [0, 1, 2]
    frames, times = collect(video_25fps, TDEED_BALL, batch_size=16)
    assert frames.shape == (75, 448, 796, 3)
    np.testing.assert_allclose(times, np.arange(0, 150, 2) / 25, atol=1e-6)
    theirs = opencv_extraction(video_25fps, 25, 796, 448)[::2]
    assert all(np.array_equal(ours, their) for ours, their in zip(frames, theirs))
    assert TDEED_BALL.model_fps(25.0) == 12.5


def test_stride_follows_the_video_rate(tmp_path):
    video = write_video(tmp_path / "fifty.mp4", constant_rate_times(50, 2.0), rate=50)
    frames, times = collect(video, E2E_SOCCERNETV2)
    assert [read_index(f) for f in frames] == [0, 25, 50, 75]  # int(50 / 2) = 25
    np.testing.assert_allclose(times, [0, 0.5, 1.0, 1.5], atol=1e-6)


def test_unknown_recipe_and_a_video_slower_than_the_recipe(tmp_path):
    with pytest.raises(ValueError, match="unknown frame recipe"):
        frame_recipe("nope")
    video = write_video(tmp_path / "slow.mp4", constant_rate_times(10, 1.0), rate=10)
    with pytest.raises(DataError, match="fewer frames than 25"):
        list(iter_recipe_frames(probe(video), E2E_BALL))
    with pytest.raises(DataError):
        probe(tmp_path / "missing.mp4")
