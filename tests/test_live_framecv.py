"""`soccerspot live` on features of SoccerNet's FrameCV rule (`ExtractConfig.sampling == "framecv"`, the
`ResNET_TF2` recipe's rule), with a small stand-in network: a resnet18 (random weights) behind FrameCV's crop
at 64 px on 160x96 videos, where the recipe's ResNet-152 at 224 px would take minutes on CPU (the released
head itself runs live in `tests/test_model_names.py`).

Live keeps the frames and times `extract` keeps (FrameCV's counter from the stream's first frame, also when
resumed), ends with `spot`'s files on the finished file, and where FrameCV's rate check on the finished file
changes the frames (a container longer than its picture) re-makes the rows, saying so in one line."""
from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from soccerspot.data.features import load_features
from soccerspot.data.labels import read_predictions
from soccerspot.extract.extractor import ExtractConfig, Extractor
from soccerspot.extract.framecv import kept_numbers, nth_kept_number
from soccerspot.models.heads import create_head, head_config
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.live.broadcast import grow_file, to_mpegts
from soccerspot.pipeline.live.extraction import LiveFeatures
from test_live import standing_ids
from video_helpers import constant_rate_times, index_frame, write_video, write_with_long_audio

CLASSES = ["Goal", "Foul", "Corner"]
FEATURES = "resnet18"


def framecv_extractor(input_size: int = 64) -> Extractor:
    return Extractor(ExtractConfig(backbone="resnet18", weights="none", input_size=input_size, precision="fp32",
                                   transform="imutils-crop", sampling="framecv", device="cpu", progress=False))


def framecv_head(out: Path, input_size: int = 64) -> Path:
    """A seeded NetVLAD++ checkpoint whose features are FrameCV's rows (what `extract` with that rule makes)."""
    settings = framecv_extractor(input_size).meta_template().settings()
    assert settings["sampling"] == "framecv" and settings["transform"] == "imutils-crop"
    torch.manual_seed(0)
    config = head_config("netvlad++", input_dim=settings["dim"], num_classes=len(CLASSES), window_frames=4,
                         projection_dim=16, clusters=2)
    return save_checkpoint(out, create_head(config), config, classes=CLASSES, feature_settings=settings, fps=2.0,
                           nms=NmsSettings("hard", 6.0, 0.0), extra={"features": FEATURES})


def live_args(source, model, out, *flags) -> list[str]:
    return ["live", str(source), "--model", str(model), "--out", str(out), "--precision", "fp32", "--device", "cpu",
            "--idle", "1.5", "--status-every", "0", *flags]


def spot_args(video, model, out) -> list[str]:
    return ["spot", str(video), "--model", str(model), "--out", str(out), "--precision", "fp32", "--device", "cpu",
            "--no-progress"]


def assert_same_files(live_out: Path, spot_out: Path) -> None:
    live, ref = load_features(live_out, 1, FEATURES), load_features(spot_out, 1, FEATURES)
    assert np.array_equal(live.array, ref.array)
    assert live.meta.timestamps == ref.meta.timestamps
    assert live.meta.extra["framecv"] == ref.meta.extra["framecv"]
    assert read_predictions(live_out / "results_spotting.json").predictions == \
        read_predictions(spot_out / "results_spotting.json").predictions


# ---------------------------------------------------------------------------------------------- the counter


def test_kept_numbers_and_the_nth_kept_frame_follow_framecvs_loop():
    """Against FrameCV's own loop: `i_frame += 1` per frame read, kept when `i_frame % (fps_video / FPS) < 1`."""
    for fps_video in (25.0, 29.97, 16 / 1.2, 17.0):
        kept, i_frame = [], 0
        for _ in range(300):
            i_frame += 1
            if i_frame % (fps_video / 2) < 1:
                kept.append(i_frame)
        assert kept_numbers(300, fps_video, 2.0) == kept
        assert [nth_kept_number(n, fps_video, 2.0) for n in range(1, len(kept) + 1)] == kept
    assert nth_kept_number(0, 25.0, 2.0) == 0 and kept_numbers(50, 25.0, 2.0) == [13, 25, 38, 50]


class FakeSource:
    """Frames as a live source delivers them: (time s, av.VideoFrame), `header_fps` known once open."""

    kind, spec = "url", "udp://127.0.0.1:9"

    def __init__(self, first: int, count: int, fps: float = 25.0):
        self.first, self.count, self.fps = first, count, fps
        self.header_fps = self.last_arrival = None

    def frames(self):
        self.header_fps = self.fps
        for index in range(self.first, self.count):
            yield index / self.fps, av.VideoFrame.from_ndarray(index_frame(index, 160, 96), format="rgb24")


def live_times(extractor, source, **resume) -> list[float]:
    live = LiveFeatures(extractor, source, **resume).start()
    times = []
    while (rows := live.take(16, wait_s=1.0)) is not None:
        times.extend(rows.times.tolist())
    return times


@pytest.mark.parametrize("rate", [25.0, 29.97])
def test_live_keeps_framecvs_frames_and_resumes_counting_from_the_first_frame(rate):
    extractor = framecv_extractor()
    kept = kept_numbers(80, rate, 2.0)  # at 25 fps frames 13, 25, 38, 50, ... at 0.48 s, 0.96 s, ...
    every = [round((n - 1) / rate, 6) for n in kept]
    assert live_times(extractor, FakeSource(0, 80, rate)) == every
    # a source that replays (a file): counted again from its first frame, the 3 rows already made skipped
    assert live_times(extractor, FakeSource(0, 80, rate), skip_rows=3) == every[3:]
    # one that does not (a URL): the counter goes on after the last stored row's frame
    assert live_times(extractor, FakeSource(kept[2], 80, rate), rows_before=3, start_s=1.5) == every[3:]


# ---------------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A 6 s 160x96 25 fps video, its MPEG-TS remux (what a recorder writes), a FrameCV head, and `spot`'s
    files for the finished recording."""
    folder = tmp_path_factory.mktemp("framecv_live")
    video = write_video(folder / "match.mkv", constant_rate_times(25, 6.0), width=160, height=96, gop=25)
    ts = to_mpegts(video, folder / "match.ts")
    model = framecv_head(folder / "model")
    assert main(spot_args(ts, model, folder / "spot")) == 0
    return ts, model, folder / "spot"


@pytest.mark.slow
def test_live_on_a_growing_recording_equals_extract_and_spot(tmp_path, recording, capsys):
    ts, model, spot_out = recording
    grow_file(ts, tmp_path / "rec.ts", duration_s=6.0, speed=4.0)
    out = tmp_path / "live"
    assert main(live_args(tmp_path / "rec.ts", model, out, "--events", str(tmp_path / "events.jsonl"))) == 0
    assert "warning" not in capsys.readouterr().err  # the header's rate is FrameCV's: nothing to re-make
    assert_same_files(out, spot_out)
    features = load_features(out, 1, FEATURES)
    np.testing.assert_allclose(features.meta.timestamps, [(n - 1) / 25 for n in kept_numbers(150, 25.0, 2.0)],
                               atol=1e-6)
    assert features.meta.extra["remade_rows"] == 0 and features.meta.extra["framecv"]["fps_video"] == 25.0
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    spotted = read_predictions(spot_out / "results_spotting.json").predictions
    assert standing_ids(lines) == {f"1-{p.label}-{p.position_ms}" for p in spotted}


@pytest.mark.slow
def test_a_killed_run_resumed_counts_from_the_first_frame_and_ends_with_spots_files(tmp_path, recording, monkeypatch):
    """A run cut off after its first rows were stored (as `kill -9` leaves it), then the same command again."""
    from soccerspot.pipeline.inference.checkpoints import load_checkpoint
    from soccerspot.pipeline.live.session import LiveOptions, run_live
    from soccerspot.pipeline.live.state import RowStore

    ts, model, spot_out = recording
    out = tmp_path / "live"
    append = RowStore.append

    def append_then_die(self, times, features):
        append(self, times, features)
        raise RuntimeError("killed")

    monkeypatch.setattr(RowStore, "append", append_then_die)
    with pytest.raises(RuntimeError, match="killed"):
        run_live(load_checkpoint(model), LiveOptions(source=str(ts), out_dir=out, idle_s=1.5, status_every_s=0,
                                                     precision="fp32", device="cpu"))
    monkeypatch.setattr(RowStore, "append", append)
    stored = RowStore(out / ".live" / f"1_{FEATURES}.rows", 512).read()[0]
    assert 1 <= len(stored) < 12
    assert main(live_args(ts, model, out)) == 0
    assert_same_files(out, spot_out)
    assert load_features(out, 1, FEATURES).meta.extra["resumed_rows"] == len(stored)


@pytest.mark.slow
def test_a_rate_corrected_recording_is_settled_at_the_end_with_one_line(tmp_path, recording, capsys):
    _, model, _ = recording
    video = write_with_long_audio(tmp_path / "long_audio.mkv", 3.0, 6.0, 160, 96)
    assert main(spot_args(video, model, tmp_path / "spot")) == 0
    capsys.readouterr()
    out = tmp_path / "live"
    assert main(live_args(video, model, out, "--events", str(tmp_path / "events.jsonl"))) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1, warnings
    timing = load_features(tmp_path / "spot", 1, FEATURES).meta.extra["framecv"]
    assert timing["header_fps"] == 25.0 and timing["frames"] == 75 and timing["fps_video"] == 76 / timing["duration"]
    assert f"FrameCV's frame rate for {video} is {timing['fps_video']:g} fps" in warnings[0]
    kept = kept_numbers(75, timing["fps_video"], 2.0)  # frames 7, 13, 20, ... of 75, not 13, 25, ...
    assert len(kept) == 11 and len(kept_numbers(75, 25.0, 2.0)) == 6
    assert "not the 25 fps live counted frames by: its 6 rows are replaced by the 11 rows FrameCV keeps" in warnings[0]
    assert_same_files(out, tmp_path / "spot")
    features = load_features(out, 1, FEATURES)
    assert features.meta.extra["remade_rows"] == 11
    np.testing.assert_allclose(features.meta.timestamps, [(n - 1) / 25 for n in kept], atol=1e-6)
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    spotted = read_predictions(tmp_path / "spot" / "results_spotting.json").predictions
    assert standing_ids(lines) == {f"1-{p.label}-{p.position_ms}" for p in spotted}


def test_a_stopped_run_or_a_stream_keeps_its_rows_and_says_why(tmp_path):
    """FrameCV's rate check needs the finished file: a run stopped before its recording ended keeps the rows it
    made, as does a stream (no container duration); each says so in its note."""
    from types import SimpleNamespace

    from soccerspot.pipeline.live.framecv import settle_framecv

    video = write_with_long_audio(tmp_path / "long_audio.mkv", 3.0, 6.0, 160, 96)  # FrameCV re-reads it at 76 / 6.0x fps
    extractor = SimpleNamespace(config=SimpleNamespace(fps=2.0))
    live = SimpleNamespace(framecv_fps=25.0, counted=60)
    rows, times = np.ones((5, 4), np.float32), [0.48, 0.96, 1.48, 1.96, 2.48]
    file = SimpleNamespace(kind="file", path=video, spec=str(video))
    stopped = settle_framecv(extractor, file, live, rows, times, stopped=True)
    assert stopped.features is rows and stopped.times == times and not stopped.remade
    assert stopped.timing == {"header_fps": 25.0, "duration": None, "frames": 60, "fps_video": 25.0}
    assert f"FrameCV's frame rate for {video} is " in stopped.note and "the run was stopped before the recording " \
        "ended, so its 5 rows stay as live made them" in stopped.note
    stream = settle_framecv(extractor, SimpleNamespace(kind="url", spec="udp://127.0.0.1:9"), live, rows, times,
                            stopped=False)
    assert stream.features is rows and not stream.remade and stream.timing["duration"] is None
    assert stream.note == ("udp://127.0.0.1:9: FrameCV checks its frame rate against a file's duration, which a "
                           "stream does not have: the rows follow the stream's header rate (25 fps)")


# ---------------------------------------------------------------------------------------------- bad data


def test_a_video_framecvs_crop_cannot_cut_exits_1_naming_it_in_spot_and_live(tmp_path, capsys):
    """160x96 resized to height 224 is 373 wide: FrameCV's crop gives 225 columns, not 224."""
    video = write_video(tmp_path / "small.mkv", constant_rate_times(25, 1.0), width=160, height=96)
    model = framecv_head(tmp_path / "model224", input_size=224)
    for argv in (spot_args(video, model, tmp_path / "spot"), live_args(video, model, tmp_path / "live")):
        assert main(argv) == 1
        errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        assert len(errors) == 1, errors
        assert errors[0].startswith(f"soccerspot {argv[0]}: error: {video}: FrameCV's crop of 160x96 frames gives "
                                    "225x224"), errors[0]
