"""`soccerspot live` end to end on a synthetic half pushed through loopback sources faster than real time:
the events and the final files equal offline `spot`; a stalled source, a restarted sender, `kill -9` and
a run that falls behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from soccerspot.data.features import load_features
from soccerspot.data.labels import read_predictions
from soccerspot.data.synthetic.broadcast import SYNTHETIC_CLASSES, BroadcastConfig, make_game
from soccerspot.extract.extractor import ExtractConfig, Extractor
from soccerspot.models.heads import create_head, head_config
from soccerspot.pipeline.inference.checkpoints import NmsSettings, save_checkpoint
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.live.broadcast import grow_file, send_udp, to_mpegts, write_hls
from soccerspot.pipeline.live.events import event_id

pytestmark = pytest.mark.slow
DURATION = 20.0
SPEED = 8.0
HEADS = {
    "netvlad++": dict(window_frames=10, projection_dim=32, clusters=4),
    "transformer": dict(window_frames=8, model_dim=16, num_heads=2, num_layers=1, feedforward_dim=32),
    "calf": dict(window_frames=24, frame_hidden=16, frame_reduced=8, capsule_dim=4, num_detections=3),
    "rmsnet": dict(window_frames=9, hidden_dim=16, kernel_size=3, fc_dim=8),
}


@pytest.fixture(scope="module")
def broadcast(tmp_path_factory):
    folder = tmp_path_factory.mktemp("broadcast")
    make_game(folder / "game", 3, BroadcastConfig(width=160, height=96, duration_s=DURATION), halves=(1,))
    return folder / "game" / "1_224p.mkv", to_mpegts(folder / "game" / "1_224p.mkv", folder / "half.ts")


def make_head(out: Path, kind: str) -> Path:
    settings = Extractor(ExtractConfig(backbone="resnet18", weights="none", input_size=64, precision="fp32",
                                       device="cpu", progress=False)).meta_template().settings()
    torch.manual_seed(0)
    config = head_config(kind, input_dim=settings["dim"], num_classes=len(SYNTHETIC_CLASSES), **HEADS[kind])
    return save_checkpoint(out, create_head(config), config, classes=SYNTHETIC_CLASSES, feature_settings=settings,
                           fps=2.0, nms=NmsSettings("hard", 6.0, 0.0), extra={"features": "resnet18"})


@pytest.fixture(scope="module")
def offline(broadcast, tmp_path_factory):
    """Each head's checkpoint and what offline `spot` makes of the recording."""
    root = tmp_path_factory.mktemp("offline")
    made = {}
    for kind in HEADS:
        model = make_head(root / f"model-{kind}", kind)
        out = root / f"spot-{kind}"
        assert main(["spot", str(broadcast[0]), "--model", str(model), "--out", str(out), "--no-progress",
                     "--precision", "fp32"]) == 0
        made[kind] = model, out
    return made


def live_args(source, model, out, *flags):
    return ["live", str(source), "--model", str(model), "--out", str(out), "--precision", "fp32", "--idle", "2",
            "--status-every", "0", *flags]


def events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_equal_to_offline(out: Path, spot_out: Path) -> None:
    live, ref = load_features(out, 1, "resnet18"), load_features(spot_out, 1, "resnet18")
    assert np.array_equal(live.array, ref.array)
    assert live.meta.timestamps == ref.meta.timestamps
    assert read_predictions(out / "results_spotting.json").predictions == \
        read_predictions(spot_out / "results_spotting.json").predictions


def offline_ids(spot_out: Path) -> set[str]:
    return {event_id(p.half, p.label, p.position_ms)
            for p in read_predictions(spot_out / "results_spotting.json").predictions}


def standing_ids(lines: list[dict]) -> set[str]:
    """The events out at the end: each event line adds its id (never one already out), a retraction removes
    it (only one that is out); undecided events go out at the max latency and may be retracted later."""
    out: set[str] = set()
    for line in lines:
        if line["type"] == "event":
            assert line["id"] not in out, f"{line['id']} emitted twice"
            out.add(line["id"])
        elif line.get("reason") == "retracted":
            assert line["id"] in out, f"{line['id']} retracted but not out"
            out.remove(line["id"])
    return out


class Hooks(BaseHTTPRequestHandler):
    received: list = []
    fail_first = True

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Hooks.fail_first:  # the first POST fails: the line must be retried
            Hooks.fail_first = False
            self.send_response(500)
        else:
            Hooks.received.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def start_source(kind, broadcast, folder, port):
    mkv, ts = broadcast
    if kind == "file":
        grow_file(ts, folder / "rec.ts", duration_s=DURATION, speed=SPEED)
        return folder / "rec.ts", None
    if kind == "udp":
        return f"udp://127.0.0.1:{port}", "udp"
    write = write_hls(mkv, folder / "hls", speed=SPEED)
    while not (folder / "hls" / "live.m3u8").exists():
        time.sleep(0.05)
    return folder / "hls" / "live.m3u8", write


@pytest.mark.parametrize("kind,source", [("netvlad++", "file"), ("transformer", "udp"), ("calf", "file"),
                                         ("rmsnet", "hls")])
def test_live_events_and_final_files_equal_offline_spot(tmp_path, broadcast, offline, kind, source, capsys):
    model, spot_out = offline[kind]
    port = 24000 + list(HEADS).index(kind)
    spec, sender = start_source(source, broadcast, tmp_path, port)
    server = HTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hooks.received, Hooks.fail_first = [], True
    if sender == "udp":  # the receiver listens first, then the sender starts
        threading.Timer(1.0, lambda: send_udp(broadcast[1], port, speed=SPEED)).start()
    out = tmp_path / "live"
    flags = ["--events", str(tmp_path / "events.jsonl"), "--webhook", f"http://127.0.0.1:{server.server_port}/hook"]
    assert main(live_args(spec, model, out, *flags)) == 0
    server.shutdown()
    assert_equal_to_offline(out, spot_out)
    lines = events(tmp_path / "events.jsonl")
    assert lines == events(out / "1_live_events.jsonl")
    assert standing_ids(lines) == offline_ids(spot_out)
    assert sorted(Hooks.received, key=lambda l: l["id"]) == sorted(lines, key=lambda l: l["id"])
    early = [line for line in lines if line.get("reason") != "late"]
    assert early, "events are emitted while the broadcast goes on (the rest once it ended: CALF looks 12 s ahead)"
    assert {"id", "half", "gameTime", "position", "label", "confidence", "stream_time", "emitted_at"} <= set(lines[0])


def test_a_stalled_recording_is_waited_for_and_the_gap_recorded(tmp_path, broadcast, offline):
    model, spot_out = offline["netvlad++"]
    grow_file(broadcast[1], tmp_path / "rec.ts", duration_s=DURATION, speed=SPEED, pause_at=10.0, pause_s=3.0)
    out = tmp_path / "live"
    assert main(live_args(tmp_path / "rec.ts", model, out, "--idle", "4")) == 0
    assert_equal_to_offline(out, spot_out)
    gaps = load_features(out, 1, "resnet18").meta.extra["gaps"]
    assert [gap["kind"] for gap in gaps] == ["stall"] and 2.5 < gaps[0]["seconds"] < 4.0


def test_an_hls_gap_is_waited_for_and_the_stream_goes_on(tmp_path, broadcast, offline):
    """A live playlist whose next segment comes 3 s late (an encoder or uplink hiccup): live waits, then reads
    on; the final files still equal offline spot's."""
    model, spot_out = offline["netvlad++"]
    full = tmp_path / "full"
    write_hls(broadcast[0], full, speed=100.0).wait()  # every segment, made at once
    lines = (full / "live.m3u8").read_text().splitlines()
    header = [line for line in lines if line.startswith("#") and not line.startswith(("#EXTINF", "#EXT-X-ENDLIST"))]
    segments = [(lines[i], lines[i + 1]) for i, line in enumerate(lines) if line.startswith("#EXTINF")]
    assert len(segments) >= 2  # segments cut at keyframes (every 10 s here)
    folder = tmp_path / "hls"
    folder.mkdir()

    def publish():
        for index, (info, name) in enumerate(segments):
            (folder / name).write_bytes((full / name).read_bytes())
            listed = [line for item in segments[: index + 1] for line in item]
            ended = ["#EXT-X-ENDLIST"] if index == len(segments) - 1 else []
            (folder / "live.m3u8.tmp").write_text("\n".join(header + listed + ended) + "\n")
            os.replace(folder / "live.m3u8.tmp", folder / "live.m3u8")
            time.sleep(3.0 if index == 0 else 2.0 / SPEED)  # the gap after the first segment

    publish_thread = threading.Thread(target=publish, daemon=True)
    publish_thread.start()
    while not (folder / "live.m3u8").exists():
        time.sleep(0.05)
    out = tmp_path / "live"
    assert main(live_args(folder / "live.m3u8", model, out, "--idle", "6")) == 0
    publish_thread.join()
    assert_equal_to_offline(out, spot_out)
    gaps = load_features(out, 1, "resnet18").meta.extra["gaps"]
    assert [gap["kind"] for gap in gaps] == ["stall"] and abs(gaps[0]["stream_time"] - 10.0) < 0.5  # the boundary


def test_a_restarted_udp_sender_is_waited_for_and_the_gap_recorded(tmp_path, broadcast, offline):
    model, _ = offline["netvlad++"]
    port = 24100

    def senders():
        time.sleep(1.0)
        first = send_udp(broadcast[1], port, speed=SPEED)
        time.sleep(8.0 / SPEED)  # 8 s of stream, then the sender dies ...
        first.kill()
        time.sleep(1.5)  # ... and is restarted at 10 s (a keyframe, as a restarted encoder begins with one)
        send_udp(broadcast[1], port, speed=SPEED, start_s=10.0).wait()

    threading.Thread(target=senders, daemon=True).start()
    out = tmp_path / "live"
    assert main(live_args(f"udp://127.0.0.1:{port}", model, out, "--idle", "8")) == 0
    features = load_features(out, 1, "resnet18")
    gaps = [gap for gap in features.meta.extra["gaps"] if gap["kind"] in ("discontinuity", "reconnect")]
    assert gaps
    times = np.asarray(features.meta.timestamps)
    assert np.all(np.diff(times) > 0) and times[-1] > gaps[-1]["stream_time"] + 3.0  # it went on after the gap


def test_kill_9_then_the_same_command_continues_without_emitting_an_event_twice(tmp_path, broadcast, offline):
    model, spot_out = offline["netvlad++"]
    out = tmp_path / "live"
    grow_file(broadcast[1], tmp_path / "rec.ts", duration_s=DURATION, speed=SPEED / 4)
    args = live_args(tmp_path / "rec.ts", model, out, "--events", str(tmp_path / "events.jsonl"))
    process = subprocess.Popen([sys.executable, "-m", "soccerspot", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    log = out / "1_live_events.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.is_file() and log.read_text().count("\n") >= 3):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    first = events(out / "1_live_events.jsonl")
    assert first, "the killed run had emitted events"
    assert main(args) == 0  # the same command again
    assert_equal_to_offline(out, spot_out)
    lines = events(out / "1_live_events.jsonl")
    assert standing_ids(lines) == offline_ids(spot_out), "no event twice while it is out"
    assert load_features(out, 1, "resnet18").meta.extra["resumed_rows"] > 0
    assert not (out / ".live").exists()


def test_falling_behind_is_said_and_no_frame_is_dropped(tmp_path, broadcast, offline, capsys, monkeypatch):
    from soccerspot.pipeline.live.extraction import LiveFeatures

    model, spot_out = offline["netvlad++"]
    out = tmp_path / "live"
    # a finished recording arrives at decoding speed; a backbone made slow here (0.5 s a pass, whatever the
    # machine's load) takes it far slower, so frames wait
    forward = LiveFeatures.forward

    def slow_forward(self, images):
        time.sleep(0.5)
        return forward(self, images)

    monkeypatch.setattr(LiveFeatures, "forward", slow_forward)
    assert main(live_args(broadcast[1], model, out, "--idle", "0.5", "--status-every", "0.3")) == 0
    err = capsys.readouterr().err
    assert "falls behind real time" in err and "none is dropped" in err
    status = [line for line in err.splitlines() if line.startswith("live half 1: stream")]
    assert status and all(k in status[-1] for k in ("lag", "x real time", "events", "gaps"))
    assert_equal_to_offline(out, spot_out)


def test_bad_options_exit_2_naming_the_flag(tmp_path, offline, capsys):
    model, _ = offline["netvlad++"]
    assert main(["live", "udp://127.0.0.1:9", "--model", str(model)]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["live", "x.ts", "--model", str(model), "--out", str(tmp_path), "--max-latency", "0"]) == 2
    assert "--max-latency" in capsys.readouterr().err
    assert main(["live", str(tmp_path / "missing.ts"), "--model", str(model), "--out", str(tmp_path)]) == 1
    assert "missing.ts" in capsys.readouterr().err


def test_sigterm_ends_the_run_with_the_files_of_the_part_seen(tmp_path, broadcast, offline):
    model, _ = offline["netvlad++"]
    out = tmp_path / "live"
    grow_file(broadcast[1], tmp_path / "rec.ts", duration_s=DURATION, speed=1.0)  # real time: 20 s
    args = live_args(tmp_path / "rec.ts", model, out, "--idle", "30")
    process = subprocess.Popen([sys.executable, "-m", "soccerspot", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    rows = out / ".live" / "1_resnet18.rows"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (rows.is_file() and rows.stat().st_size >= 8 * (8 + 4 * 512)):
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, process.stderr.read()
    seen = load_features(out, 1, "resnet18")
    assert 8 <= len(seen.array) < DURATION * 2  # the part seen, not the whole half
    # the results are what offline spot makes of those features
    again = tmp_path / "again"
    again.mkdir()
    (again / "1_resnet18.npy").write_bytes((out / "1_resnet18.npy").read_bytes())
    (again / "1_resnet18.json").write_bytes((out / "1_resnet18.json").read_bytes())
    assert main(["spot", str(again), "--model", str(model)]) == 0
    assert read_predictions(out / "results_spotting.json").predictions == \
        read_predictions(again / "results_spotting.json").predictions
