"""Frame caches: the same frames and times as decoding, reused without decoding, redone when incomplete."""
from __future__ import annotations

import numpy as np
import pytest

from soccerspot.data.errors import DataError
from soccerspot.data.frame_store import frame_cache_path, open_frame_cache, sidecar_of
from soccerspot.extract import frame_store
from soccerspot.extract.decode import frames_at, iter_frames
from soccerspot.extract.frame_store import ensure_frame_cache
from soccerspot.extract.transforms import apply_transform, frames_to_tensor
from video_helpers import constant_rate_times, read_index, variable_rate_times, write_video


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("cache") / "1_224p.mkv", constant_rate_times(25, 12.0),
                       width=192, height=108)


def cache_of(video, tmp_path, **settings):
    path = frame_cache_path(tmp_path / "cache", "league/game", 1, settings.get("fps", 2.0),
                            settings.get("transform", "short-side"), settings.get("input_size", 54))
    defaults = dict(fps=2.0, transform="short-side", input_size=54, progress=False)
    return ensure_frame_cache(video, path, **{**defaults, **settings})


@pytest.mark.parametrize("decoder", ["pyav", "decord"])
def test_cache_equals_decoding_at_the_rows_times(video, tmp_path, decoder):
    cache = cache_of(video, tmp_path, decoder=decoder)
    streamed = np.concatenate([b.times for b in iter_frames(video, fps=2.0)])
    np.testing.assert_allclose(cache.meta.timestamps, streamed, atol=1e-6)  # extract's feature-row times
    assert cache.array.shape == (24, 54, 96, 3) and cache.array.dtype == np.uint8
    rows = np.random.default_rng(0).choice(len(streamed), size=8, replace=False)
    decoded = frames_at(video, streamed[rows], decoder="pyav")
    expected = apply_transform(frames_to_tensor(decoded.frames), "short-side", 54).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(cache.array[rows], expected)


def test_variable_frame_rate_rows_are_the_frames_on_screen(tmp_path):
    times = variable_rate_times(8.0, seed=3)
    video = write_video(tmp_path / "vfr.mkv", times, width=192, height=108)
    cache = cache_of(video, tmp_path, input_size=108)  # short side already 108: frames as decoded
    for row, t in enumerate(cache.meta.timestamps):
        shown = int(np.searchsorted(times - times[0], row * 0.5 + 1e-6, side="right") - 1)
        assert abs(t - (times[shown] - times[0])) < 1e-3
        assert read_index(cache.array[row]) == shown
    assert len(cache.meta.timestamps) == len(cache.array)


def test_a_current_cache_is_reused_without_decoding(video, tmp_path, monkeypatch):
    first = cache_of(video, tmp_path)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(frame_store, "iter_frames", no_decoding)
    again = cache_of(video, tmp_path)
    np.testing.assert_array_equal(first.array, again.array)
    with pytest.raises(AssertionError, match="decoded again"):
        cache_of(video, tmp_path, input_size=40)  # other settings: redone


def test_interrupted_or_torn_caches_are_redone(video, tmp_path, capsys):
    cache = cache_of(video, tmp_path)
    reference = np.array(cache.array)
    sidecar_of(cache.path).unlink()  # a run killed between the array and its sidecar
    assert np.array_equal(cache_of(video, tmp_path).array, reference)
    assert "interrupted" in capsys.readouterr().err
    with open(cache.path, "r+b") as handle:  # torn: shorter than its sidecar says
        handle.truncate(1000)
    with pytest.raises(DataError, match="torn"):
        open_frame_cache(cache.path)
    assert np.array_equal(cache_of(video, tmp_path).array, reference)


def test_another_video_of_another_size_makes_the_cache_stale(tmp_path, capsys):
    video = write_video(tmp_path / "1_224p.mkv", constant_rate_times(25, 4.0), width=192, height=108)
    first = cache_of(video, tmp_path)
    write_video(video, constant_rate_times(25, 6.0), width=192, height=108)
    second = cache_of(video, tmp_path)
    assert len(second.meta.timestamps) == 12 and len(first.meta.timestamps) == 8
    assert "other settings (source_size)" in capsys.readouterr().err


def test_bad_videos_are_data_errors_and_leave_no_cache(tmp_path):
    text = tmp_path / "1_224p.mkv"
    text.write_text("not a video\n")
    with pytest.raises(DataError) as caught:
        cache_of(text, tmp_path)
    assert str(text) in str(caught.value)
    assert not list(tmp_path.rglob("*_frames_*"))  # neither a raw file nor a sidecar
