"""Frame sampling by presentation timestamp, both decoders, trimming and bad inputs."""
from __future__ import annotations

import math
import os
from fractions import Fraction

import numpy as np
import pytest

from soccerspot.errors import DataError
from soccerspot.extract.decode import (
    iter_frames, on_screen_indices, probe, sample_targets, select_on_screen,
)
from video_helpers import (
    constant_rate_times, read_index, variable_rate_times, write_audio_only, write_video,
)

SECONDS = 4.0
DECODERS = ["pyav", "decord"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, tuple[str, np.ndarray]]:
    """name -> (path, true frame times): 25 fps mkv with audio, 17 fps mp4, variable-rate mkv."""
    root = tmp_path_factory.mktemp("videos")
    made = {}
    times25 = constant_rate_times(25, SECONDS)
    made["25fps"] = (str(write_video(root / "v25.mkv", times25, audio=True)), times25)
    times17 = constant_rate_times(17, SECONDS)
    made["17fps"] = (str(write_video(root / "v17.mp4", times17, rate=17, time_base=Fraction(1, 17))), times17)
    vfr = variable_rate_times(SECONDS)
    made["vfr"] = (str(write_video(root / "vfr.mkv", vfr)), vfr)
    return made


def sample(path: str, **kwargs) -> tuple[np.ndarray, list[int], np.ndarray]:
    batches = list(iter_frames(path, **kwargs))
    if not batches:
        return np.zeros(0), [], np.zeros((0,))
    frames = np.concatenate([batch.frames for batch in batches])
    times = np.concatenate([batch.times for batch in batches])
    return times, [read_index(frame) for frame in frames], frames


def on_screen_oracle(frame_times: np.ndarray, target: float) -> int:
    """The last frame shown at or before `target` (a plain loop, independent of the implementation)."""
    shown = 0
    for index, time in enumerate(frame_times):
        if time <= target + 1e-6:
            shown = index
    return shown


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("fps", [2.0, 1.0])
@pytest.mark.parametrize("name", ["25fps", "17fps"])
def test_constant_rate_samples_follow_timestamps(videos, name, fps, decoder):
    path, frame_times = videos[name]
    rate = {"25fps": 25, "17fps": 17}[name]
    times, indices, _ = sample(path, fps=fps, decoder=decoder, batch_size=3)
    assert len(indices) == int(SECONDS * fps)  # 4 s -> 8 rows at 2 fps, 4 at 1 fps
    # Frame on screen at k / fps: floor(k * rate / fps) - at 17 fps that is not k * 25 / fps.
    expected = [math.floor(k * rate / fps + 1e-9) for k in range(len(indices))]
    assert indices == expected
    np.testing.assert_allclose(times, frame_times[expected], atol=1e-3)


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("fps", [2.0, 1.0])
def test_variable_rate_samples_follow_timestamps(videos, fps, decoder):
    path, frame_times = videos["vfr"]
    times, indices, _ = sample(path, fps=fps, decoder=decoder, batch_size=4)
    end = frame_times[-1] + (frame_times[-1] - frame_times[-2])
    targets = [k / fps for k in range(int(math.ceil(end * fps))) if k / fps < end - 1e-3]
    expected = [on_screen_oracle(frame_times, target) for target in targets]
    assert indices == expected
    np.testing.assert_allclose(times, frame_times[expected], atol=1e-3)
    assert len(set(expected)) < len(expected) or fps == 1.0  # a 0.9 s gap holds one frame for two samples


@pytest.mark.parametrize("name", ["25fps", "vfr"])
def test_decord_and_pyav_give_identical_frames(videos, name):
    path, _ = videos[name]
    times_a, _, frames_a = sample(path, fps=2.0, decoder="pyav")
    times_b, _, frames_b = sample(path, fps=2.0, decoder="decord")
    np.testing.assert_allclose(times_a, times_b, atol=1e-4)
    assert frames_a.shape == frames_b.shape
    assert np.array_equal(frames_a, frames_b)


@pytest.mark.parametrize("decoder", DECODERS)
def test_start_and_duration_trim_keep_half_times(videos, decoder):
    path, frame_times = videos["25fps"]
    times, indices, _ = sample(path, fps=2.0, start=1.0, duration=1.0, decoder=decoder)
    assert indices == [25, 37]
    # start > 2 s takes the (single) seek path in the PyAV backend.
    times, indices, _ = sample(path, fps=2.0, start=3.0, duration=0.6, decoder=decoder)
    assert indices == [75, 87]
    np.testing.assert_allclose(times, [3.0, 3.48], atol=1e-3)  # times stay relative to the video start


def test_batches_are_bounded(videos):
    path, _ = videos["25fps"]
    sizes = [len(batch.times) for batch in iter_frames(path, fps=2.0, batch_size=3)]
    assert sizes == [3, 3, 2]


@pytest.mark.parametrize("decoder", DECODERS)
def test_video_shorter_than_one_sample_period_gives_one_row(tmp_path, decoder):
    path = write_video(tmp_path / "short.mkv", constant_rate_times(25, 0.12))  # 3 frames
    times, indices, _ = sample(str(path), fps=2.0, decoder=decoder)
    assert indices == [0] and times.tolist() == [0.0]


def test_streaming_selection_matches_vectorised_rule():
    rng = np.random.default_rng(3)
    for _ in range(20):
        times = np.round(np.cumsum(rng.uniform(0.005, 1.2, size=rng.integers(1, 60))) - 0.005, 3)
        times -= times[0]
        fps = float(rng.choice([0.5, 1.0, 2.0, 3.0]))
        streamed = [payload for _, payload in select_on_screen(((t, i) for i, t in enumerate(times)), fps, average_fps=25)]
        end = times[-1] + (times[-1] - times[-2] if len(times) > 1 else 1 / 25)
        assert streamed == on_screen_indices(times, sample_targets(fps, 0.0, end)).tolist()


def test_probe_reads_header(videos):
    info = probe(videos["17fps"][0])
    assert (info.width, info.height) == (160, 96)
    assert info.average_fps == pytest.approx(17)
    assert info.declared_duration == pytest.approx(SECONDS, abs=0.1)


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("decoder", DECODERS)
def test_bad_inputs_name_file_and_reason(tmp_path, videos, decoder):
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mkv"
    text.write_text("not a video at all\n" * 50)
    audio = write_audio_only(tmp_path / "audio.mkv")
    folder = tmp_path / "folder.mkv"
    folder.mkdir()
    original = open(write_video(tmp_path / "full.mkv", constant_rate_times(25, 8)), "rb").read()
    truncated = tmp_path / "truncated.mkv"
    truncated.write_bytes(original[: len(original) // 2])
    cases = {
        tmp_path / "missing.mkv": "not found",
        empty: "empty file",
        text: "not a readable video",
        audio: "no video stream",
        folder: "is a folder",
        truncated: "truncated",
    }
    for path, reason in cases.items():
        with pytest.raises(DataError) as caught:
            list(iter_frames(str(path), decoder=decoder))
        assert reason in caught.value.reason, (path, caught.value.reason)
        assert str(path) in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path):
    path = write_video(tmp_path / "locked.mkv", constant_rate_times(25, 1))
    path.chmod(0)
    with pytest.raises(DataError, match="permission denied"):
        probe(path)


@pytest.mark.parametrize("decoder", DECODERS)
def test_random_access_frames_at_arbitrary_times(videos, decoder):
    from soccerspot.extract.decode import frames_at

    path, frame_times = videos["vfr"]
    wanted = [2.95, 0.0, 1.234, 0.47, 10.0]  # unsorted; the last is past the end (last frame stays)
    batch = frames_at(path, wanted, decoder=decoder)
    expected = [on_screen_oracle(frame_times, t) for t in wanted]
    assert [read_index(frame) for frame in batch.frames] == expected
    np.testing.assert_allclose(batch.times, frame_times[expected], atol=1e-3)
