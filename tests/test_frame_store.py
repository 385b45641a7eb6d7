"""Frame caches: the same frames and times as decoding, reused without decoding, redone when incomplete."""
from __future__ import annotations

import numpy as np
import pytest

from soccerspot.errors import DataError
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


# --- clip mode (video backbones): a row is the clip extract.clips gives it ----------------------------------


def clip_cache_of(video, tmp_path, clip_frames=4, clip_fps=5.0, **settings):
    path = frame_cache_path(tmp_path / "cache", "league/game", 1, 2.0, "short-side", 54, clip_frames, clip_fps)
    defaults = dict(fps=2.0, transform="short-side", input_size=54, progress=False)
    return ensure_frame_cache(video, path, clip_frames=clip_frames, clip_fps=clip_fps, **{**defaults, **settings})


def test_clip_cache_rows_are_the_clips_of_iter_clips(video, tmp_path):
    from soccerspot.extract.clips import clip_offsets, iter_clips
    from soccerspot.extract.decode import probe

    cache = clip_cache_of(video, tmp_path)
    assert cache.path.name.endswith("_clips4x5fps.u8")
    assert cache.array.shape == (24, 4, 54, 96, 3) and cache.meta.clip_frames == 4 and cache.meta.clip_fps == 5.0
    batches = list(iter_clips(probe(video), fps=2.0, offsets=clip_offsets(4, 5.0),
                              prepare=frame_store.frame_preparer("short-side", 54)))
    clips = np.concatenate([b.clips.numpy() for b in batches]).transpose(0, 1, 3, 4, 2)
    np.testing.assert_array_equal(cache.array, clips)
    np.testing.assert_allclose(cache.meta.timestamps, np.concatenate([b.times for b in batches]), atol=1e-6)
    # the same row times as the image cache
    np.testing.assert_allclose(cache.meta.timestamps, cache_of(video, tmp_path).meta.timestamps, atol=1e-6)


def test_clip_cache_frames_are_the_frames_on_screen_at_the_clip_samples(tmp_path):
    times = constant_rate_times(25, 6.0)
    video = write_video(tmp_path / "1_224p.mkv", times, width=192, height=108)
    cache = clip_cache_of(video, tmp_path, clip_frames=5, clip_fps=4.0, input_size=108)  # frames as decoded
    offsets = (np.arange(5) - 2) / 4.0  # independent of extract.clips: 5 samples 0.25 s apart, centred
    for row, t in enumerate(cache.meta.timestamps):
        for sample, offset in enumerate(offsets):
            wanted = min(max(t + offset, 0.0), times[-1] - times[0])  # edges replicated
            shown = int(np.searchsorted(times - times[0], wanted + 1e-6, side="right") - 1)
            assert read_index(cache.array[row, sample]) == shown, (row, sample)


def test_a_clip_cache_of_other_clip_settings_is_stale(video, tmp_path, capsys):
    from soccerspot.data.frame_store import stale_reason
    from soccerspot.extract.frame_store import cache_settings

    cache = clip_cache_of(video, tmp_path)
    size = video.stat().st_size
    assert stale_reason(cache.path, cache_settings(size, 2.0, 0.0, "short-side", 54, 4, 5.0)) is None
    assert "clip_frames" in stale_reason(cache.path, cache_settings(size, 2.0, 0.0, "short-side", 54, 8, 5.0))
    assert "clip_fps" in stale_reason(cache.path, cache_settings(size, 2.0, 0.0, "short-side", 54, 4, 15.0))
    assert "clip_frames" in stale_reason(cache.path, cache_settings(size, 2.0, 0.0, "short-side", 54))
    redone = ensure_frame_cache(video, cache.path, fps=2.0, transform="short-side", input_size=54, clip_frames=2,
                                clip_fps=5.0, progress=False)
    assert redone.array.shape == (24, 2, 54, 96, 3)
    assert "other settings (clip_frames)" in capsys.readouterr().err
