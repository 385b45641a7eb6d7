"""Clip extraction for video backbones: centring, replicated edges, one decode, ring buffer = one by one."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from soccerspot.extract.clips import ClipStats, clip_indices, clip_offsets, iter_clips
from soccerspot.extract.decode import frames_at, iter_frames, probe
from soccerspot.extract.extractor import ExtractConfig, Extractor
from soccerspot.extract.transforms import apply_transform, frames_to_tensor
from video_helpers import constant_rate_times, read_index, variable_rate_times, write_video


def raw_images(frames) -> torch.Tensor:
    return frames_to_tensor(np.stack([frame.to_ndarray(format="rgb24") for frame in frames])).contiguous()


def streamed_clips(path, fps=2.0, frames=8, rate=15.0, batch_size=3, **trim):
    stats = ClipStats()
    batches = list(iter_clips(probe(path), fps=fps, offsets=clip_offsets(frames, rate), prepare=raw_images,
                              batch_size=batch_size, stats=stats, **trim))
    clips = torch.cat([b.clips for b in batches]) if batches else torch.zeros(0)
    times = np.concatenate([b.times for b in batches]) if batches else np.zeros(0)
    return clips, times, stats


def indices_shown(clips: torch.Tensor) -> np.ndarray:
    return np.array([[read_index(image.permute(1, 2, 0).numpy()) for image in clip] for clip in clips])


def brute_force_indices(frame_times, row_times, offsets):
    """The definition, one sample at a time: the last frame shown at or before the sample, else the first."""
    out = np.zeros((len(row_times), len(offsets)), dtype=np.int64)
    for r, row in enumerate(row_times):
        for i, offset in enumerate(offsets):
            shown = [k for k, t in enumerate(frame_times) if t <= row + offset + 1e-3]
            out[r, i] = shown[-1] if shown else 0
    return out


# ---------------------------------------------------------------------------------------------- the rule


def test_offsets_are_centred_at_the_model_rate():
    offsets = clip_offsets(16, 15.0)
    assert len(offsets) == 16 and offsets.mean() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(np.diff(offsets), 1 / 15.0)
    np.testing.assert_allclose(clip_offsets(3, 2.0), [-0.5, 0.0, 0.5])
    with pytest.raises(ValueError):
        clip_offsets(0, 15.0)


@pytest.mark.parametrize("times", [constant_rate_times(25, 6.0), constant_rate_times(17, 6.0), variable_rate_times(6.0)],
                         ids=["25fps", "17fps", "vfr"])
def test_clip_indices_follow_the_definition(times):
    rows = np.array([0.0, 0.04, 1.5, 3.0, float(times[-1])])
    offsets = clip_offsets(8, 15.0)
    np.testing.assert_array_equal(clip_indices(times, rows, offsets), brute_force_indices(times, rows, offsets))


# ---------------------------------------------------------------------------------------------- streaming


@pytest.fixture(scope="module", params=["25fps", "17fps", "vfr"])
def clip_video(request, tmp_path_factory):
    times = {"25fps": constant_rate_times(25, 8.0), "17fps": constant_rate_times(17, 8.0),
             "vfr": variable_rate_times(8.0, seed=3)}[request.param]
    path = write_video(tmp_path_factory.mktemp("clips") / f"{request.param}.mkv", times, width=160, height=96, gop=20)
    return path, np.asarray(times)


def test_each_clip_is_centred_on_its_row_with_replicated_edges(clip_video):
    path, frame_times = clip_video
    clips, rows, stats = streamed_clips(path)
    image_rows = np.concatenate([b.times for b in iter_frames(path, fps=2.0)])
    np.testing.assert_allclose(rows, image_rows, atol=1e-6)  # same rows as image features
    offsets = clip_offsets(8, 15.0)
    np.testing.assert_array_equal(indices_shown(clips), brute_force_indices(frame_times, rows, offsets))
    assert stats.decoded_frames == len(frame_times)  # every frame decoded exactly once
    assert stats.converted_frames <= stats.decoded_frames


def test_clips_past_the_ends_replicate_the_first_and_last_frames(clip_video):
    path, frame_times = clip_video
    clips, rows, _ = streamed_clips(path, frames=9, rate=3.0)  # +-1.33 s around each row
    shown = indices_shown(clips)
    np.testing.assert_array_equal(shown, brute_force_indices(frame_times, rows, clip_offsets(9, 3.0)))
    assert (shown[0, :4] == 0).all() and shown[-1, -1] == len(frame_times) - 1


def test_trimmed_clips_after_a_seek_still_see_the_true_frames(tmp_path):
    times = constant_rate_times(25, 20.0)
    path = write_video(tmp_path / "long.mkv", times, gop=25)
    clips, rows, stats = streamed_clips(path, start=9.0, duration=4.0)
    assert rows[0] == pytest.approx(9.0) and len(rows) == 8
    np.testing.assert_array_equal(indices_shown(clips), brute_force_indices(times, rows, clip_offsets(8, 15.0)))
    assert stats.decoded_frames < len(times)  # the seek skipped the start


@pytest.mark.parametrize("decoder", ["pyav", "decord"])
def test_ring_buffer_clips_equal_clips_decoded_one_by_one(tmp_path, decoder):
    path = write_video(tmp_path / "v.mkv", constant_rate_times(25, 6.0), width=192, height=108)

    def prepare(frames):
        return apply_transform(raw_images(frames), "crop", 48).contiguous()

    offsets = clip_offsets(6, 7.5)
    batches = list(iter_clips(probe(path), fps=2.0, offsets=offsets, prepare=prepare, batch_size=4))
    clips = torch.cat([b.clips for b in batches])
    rows = np.concatenate([b.times for b in batches])
    for clip, row in zip(clips, rows):
        decoded = frames_at(path, np.maximum(row + offsets, 0.0), decoder=decoder)
        one_by_one = apply_transform(frames_to_tensor(decoded.frames), "crop", 48)
        assert torch.equal(clip, one_by_one)


def test_the_ring_buffer_does_not_grow_with_the_video(tmp_path):
    short = write_video(tmp_path / "short.mkv", constant_rate_times(25, 10.0), width=64, height=48)
    long = write_video(tmp_path / "long.mkv", constant_rate_times(25, 40.0), width=64, height=48)
    _, _, short_stats = streamed_clips(short, frames=16)
    _, _, long_stats = streamed_clips(long, frames=16)
    span_frames = 25 * 16 / 15.0  # frames a clip spans at 25 fps
    assert long_stats.peak_buffered == short_stats.peak_buffered
    assert long_stats.peak_buffered <= span_frames + 25 / 2.0 + 3  # one clip span + one row step + slack


# ---------------------------------------------------------------------------------------------- extractor


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("vx") / "1_224p.mkv", constant_rate_times(25, 5.0), width=96, height=64)


def video_config(**overrides):
    settings = dict(backbone="video:r3d_18", weights="none", input_size=32, precision="fp32", batch_size=4,
                    progress=False)
    return ExtractConfig(**{**settings, **overrides})


def test_video_backbone_features_equal_the_model_on_clips_decoded_one_by_one(small_video, tmp_path):
    extractor = Extractor(video_config())
    result = extractor.extract(small_video, tmp_path / "game", 1)
    features = np.load(result.path)
    meta = json.loads(result.path.with_suffix(".json").read_text())
    assert features.shape == (10, 512)
    assert meta["backbone"] == "video:r3d_18" and meta["clip_frames"] == 16 and meta["clip_fps"] == 15.0
    assert meta["input_size"] == 32 and meta["weights"] == "none"
    image_rows = np.concatenate([b.times for b in iter_frames(small_video, fps=2.0)])
    np.testing.assert_allclose(meta["timestamps"], image_rows, atol=1e-6)
    assert extractor.clip_stats.decoded_frames == 125

    offsets = clip_offsets(16, 15.0)
    expected = []
    for row in image_rows:
        decoded = frames_at(small_video, np.maximum(row + offsets, 0.0), decoder="pyav")
        clip = apply_transform(frames_to_tensor(decoded.frames), "crop", 32)
        expected.append(extractor.forward(clip[None]).numpy()[0])
    np.testing.assert_allclose(features, np.stack(expected), rtol=1e-4, atol=1e-5)
    assert extractor.extract(small_video, tmp_path / "game", 1).skipped  # resume: complete and current


def test_video_backbone_defaults_to_its_own_input_size(small_video):
    extractor = Extractor(video_config(input_size=None))
    assert extractor.input_size == 112 and extractor.meta_template().input_size == 112


@pytest.mark.parametrize("overrides, message", [
    (dict(backbone="video:mvit_v2_s", input_size=112), "exactly 16 frames of 224x224"),
    (dict(backbone="video:s3d", input_size=64), "at least 224 px"),
    (dict(decoder="decord"), "use --decoder pyav"),
])
def test_video_settings_a_model_cannot_take_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        Extractor(video_config(**overrides))


def test_kinetics_weights_offline_say_where_to_put_the_file(monkeypatch, tmp_path):
    from soccerspot.models.backbones import BackboneWeightsError, create_backbone

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # an empty hub cache
    with pytest.raises(BackboneWeightsError) as caught:
        create_backbone("video:r2plus1d_18", weights="kinetics")
    message = str(caught.value)
    assert "Kinetics-400 weights for video:r2plus1d_18" in message and "--weights /path/to/r2plus1d_18-" in message


def test_a_batch_of_videos_goes_on_past_a_bad_one(tmp_path, capsys):
    from soccerspot.pipeline.cli import main

    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "good.mkv", constant_rate_times(25, 3.0), width=64, height=48)
    (videos / "broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3 not really a video" * 50)
    truncated = write_video(videos / "truncated.mkv", constant_rate_times(25, 6.0), width=64, height=48)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    code = main(["extract", str(videos), "--out", str(tmp_path / "out"), "--backbone", "video:r3d_18", "--weights",
                 "none", "--input-size", "32", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert (tmp_path / "out" / "good" / "1_r3d_18.npy").is_file()
    failed = [line for line in captured.out.splitlines() if line.strip().startswith("failed:")]
    assert len(failed) == 2 and any("broken.mkv" in line for line in failed)
    assert any("truncated.mkv" in line for line in failed)
    assert "Traceback" not in captured.err
