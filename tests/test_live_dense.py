"""Dense frame models live: per-frame probabilities final as frames arrive and equal to the whole half, the peers'
NMS kinds in the event tracker, and `soccerspot live --model DENSE_DIR` on a growing file equal to `spot`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dense_helpers import TinyDense
from soccerspot.data.labels import read_predictions
from soccerspot.data.scores import read_scores
from soccerspot.pipeline.inference.dense_clips import E2E_SPOT_RULE, TDEED_RULE
from soccerspot.pipeline.inference.dense_half import half_probabilities
from soccerspot.pipeline.inference.nms import grouped_soft_nms, peak_nms
from soccerspot.pipeline.live.dense_scoring import IncrementalDenseProbabilities
from soccerspot.pipeline.live.events import EventTracker, event_id, latency_bound_s

CLASSES = ["Goal", "Corner", "Foul"]


class Batch:
    def __init__(self, frames: np.ndarray, times: np.ndarray):
        self.frames, self.times = frames, times


def models():
    return {"e2e-spot": (TinyDense(16, len(CLASSES), seed=1).eval(), E2E_SPOT_RULE),
            "t-deed": (TinyDense(20, len(CLASSES), displacement=True, team=True, pad_black=True, seed=2).eval(),
                       TDEED_RULE)}


@pytest.mark.parametrize("name", ["e2e-spot", "t-deed"])
@pytest.mark.parametrize("count", [7, 30, 43, 61])  # shorter than a clip; 43: E2E's last clip fits, alone in its batch
def test_incremental_probabilities_equal_the_whole_half_and_final_frames_never_change(name, count):
    model, rule = models()[name]
    rng = np.random.default_rng(count)
    frames = rng.integers(0, 256, size=(count, 12, 16, 3), dtype=np.uint8)
    whole = half_probabilities(model, [Batch(frames[i: i + 5], np.arange(i, min(i + 5, count)))
                                       for i in range(0, count, 5)],
                               clip_len=model.clip_len, rule=rule, spec=model.input_spec)
    whole, clips = whole.probabilities, whole.clips
    live = IncrementalDenseProbabilities(model, model.clip_len, rule, model.input_spec)
    seen = []
    position = 0
    for size in rng.integers(1, 7, size=count):  # frames arrive in irregular pieces
        if position >= count:
            break
        live.add(frames[position: position + size])
        position += size
        assert live.final >= min(position, live.received) - model.clip_len  # final at most a clip after arriving
        seen.append(live.array().copy())
    result = live.finish()
    np.testing.assert_allclose(result, whole, atol=1e-5, rtol=0)
    assert result.shape == whole.shape and live.clips == clips
    last_clip = max(0, -rule.pad_len + (live.clips - 1) * rule.step(model.clip_len))
    lone = live.clips % live.clips_per_batch == 1  # the last clip runs alone, as in the whole half: its frames again
    for earlier in filter(len, seen):  # what was final stays
        upto = min(len(earlier), last_clip) if lone else len(earlier)
        assert np.array_equal(earlier[:upto], result[:upto])


def live_vs_whole_half(model, rule, frames: np.ndarray) -> float:
    """The largest difference between `frames` given one by one to the live path and as one whole half."""
    count = len(frames)
    whole = half_probabilities(model, [Batch(frames[i: i + 16], np.arange(i, min(i + 16, count)))
                                       for i in range(0, count, 16)],
                               clip_len=model.clip_len, rule=rule, spec=model.input_spec).probabilities
    live = IncrementalDenseProbabilities(model, model.clip_len, rule, model.input_spec)
    for index in range(count):
        live.add(frames[index: index + 1])
    return float(np.abs(live.finish() - whole).max())


@pytest.mark.parametrize("name,count", [("e2e-spot", 43), ("t-deed", 125)])
def test_incremental_probabilities_are_bit_equal_on_cpu_to_the_whole_half(name, count):
    """Frames one by one (clips in other batches than the whole half's 4, other frame layouts), the same bits."""
    model, rule = models()[name]
    frames = np.random.default_rng(3).integers(0, 256, size=(count, 12, 16, 3), dtype=np.uint8)
    assert live_vs_whole_half(model, rule, frames) <= 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("name,count", [("e2e-spot", 19), ("tdeed-soccernetball-baseline", 45)])
def test_the_real_models_give_the_same_bits_live(name, count):
    """E2E-Spot (rny002_gsm + GRU; 19 frames: its last clip fits and runs alone at the end) and T-DEED (rny002_gsf +
    SGP-Mixer, team and displacement), random weights and BatchNorm statistics, frames one by one. Within 1e-6,
    not bit for bit: with several torch threads a clip's last bit can depend on how many clips share its forward
    pass (seen once: 2e-8 apart on CI's two threads)."""
    from soccerspot.models.dense import create_dense_model

    torch.manual_seed(0)
    if name == "e2e-spot":
        model, rule = create_dense_model(name, num_classes=3, clip_len=8), E2E_SPOT_RULE
    else:
        model, rule = create_dense_model(name, clip_len=16, event_team=True), TDEED_RULE
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    model.eval()
    frames = np.random.default_rng(3).integers(0, 256, size=(count, 64, 96, 3), dtype=np.uint8)
    assert live_vs_whole_half(model, rule, frames) <= 1e-6


def smooth(rng, rows: int, columns: int, sparse: bool = False) -> np.ndarray:
    """Random score curves: everywhere above the 0.01 threshold, or (`sparse`) bumps with gaps between them."""
    if sparse:
        spikes = (rng.random((rows, columns)) < 0.04) * rng.random((rows, columns))
        kernel = np.array([0.2, 0.5, 1.0, 0.5, 0.2]) / 2.4  # probabilities: at most 1
        return np.stack([np.convolve(spikes[:, k], kernel, mode="same") for k in range(columns)], 1).astype(np.float32)
    kernel = np.ones(4) / 4
    return np.stack([np.convolve(rng.random(rows), kernel, mode="same") for _ in range(columns)], 1).astype(np.float32)


def offline_spots(kind: str, scores: np.ndarray, window: int, teams: tuple) -> dict[str, float]:
    sides = list(teams) or [""]
    spots = {}
    for index, label in enumerate(CLASSES):
        group = scores[:, index * len(sides): (index + 1) * len(sides)]
        found = ([(row, column, score) for column in range(len(sides)) for row, score in peak_nms(group[:, column], window, 0.01)]
                 if kind == "peaks" else grouped_soft_nms(group, window, 0.01))
        for row, column, score in found:
            spots[event_id(1, label, row * 100, sides[column])] = score
    return spots


@pytest.mark.parametrize("kind,teams", [("peaks", ()), ("grouped-soft", ("left", "right")), ("grouped-soft", ())])
@pytest.mark.parametrize("seed,sparse", [(0, False), (1, False), (2, True), (3, True)])
def test_dense_nms_kinds_emit_certain_events_once_and_settle_to_the_offline_spots(kind, teams, seed, sparse):
    rng = np.random.default_rng(seed)
    columns = len(CLASSES) * max(1, len(teams))
    scores = smooth(rng, 200, columns, sparse)
    times = np.arange(200) / 10.0  # positions in ms = row * 100
    window = 4
    tracker = EventTracker(CLASSES, 1, kind, window, 0.01, max_latency_s=1e9, teams=teams)
    lines = []
    for count in range(3, 201, 3):
        lines += tracker.update(scores[:count], times[:count], times[count - 1])
    assert not [line for line in lines if line.kind == "correction"]  # what was certain stays
    expected = offline_spots(kind, scores, window, teams)
    from soccerspot.data.labels import Prediction

    predictions = []
    for key, score in expected.items():
        *_, position = key.split("-")
        label = next(name for name in CLASSES if f"-{name}-" in key)
        team = next((side for side in teams if f"-{side}-" in key), "")
        predictions.append(Prediction(1, int(position), label, score, team))
    lines += tracker.finish(predictions, times)
    assert not [line for line in lines if line.kind == "correction"]  # nothing emitted live was wrong
    standing = {}
    for line in lines:
        if line.kind == "event":
            assert line.id not in standing
            standing[line.id] = line.confidence
        elif line.reason == "retracted":
            del standing[line.id]
        else:
            standing[line.id] = line.confidence
    assert standing == pytest.approx(expected)
    if teams:
        assert {line.team for line in lines} <= set(teams) and all(line.to_json()["team"] for line in lines)
    if kind == "peaks":  # decided within the radius: nothing waits for the end but the last rows
        assert all(line.stream_time_s >= times[-1] - window / 10 for line in lines if line.reason == "late")


@pytest.mark.parametrize("kind,teams", [("peaks", ()), ("grouped-soft", ("left", "right"))])
def test_dense_nms_kinds_with_a_tiny_max_latency_correct_to_the_offline_spots(kind, teams):
    """Events out before NMS decided them are corrected when overturned: what stands at the end is offline's."""
    from soccerspot.data.labels import Prediction

    rng = np.random.default_rng(5)
    scores = smooth(rng, 240, len(CLASSES) * max(1, len(teams)))
    times = np.arange(240) / 10.0
    tracker = EventTracker(CLASSES, 1, kind, 6, 0.01, max_latency_s=0.0, teams=teams)
    lines = []
    for count in range(4, 241, 4):
        lines += tracker.update(scores[:count], times[:count], times[count - 1])
    expected = offline_spots(kind, scores, 6, teams)
    predictions = [Prediction(1, int(key.rsplit("-", 1)[1]), next(n for n in CLASSES if f"-{n}-" in key), score,
                              next((side for side in teams if f"-{side}-" in key), "")) for key, score in expected.items()]
    lines += tracker.finish(predictions, times)
    standing = {}
    for line in lines:
        if line.reason == "retracted":
            del standing[line.id]
        else:
            assert line.kind == "correction" or line.id not in standing
            standing[line.id] = line.confidence
    assert standing == pytest.approx(expected)


def test_decided_rows_of_the_dense_kinds_keep_their_spots_whatever_comes_after():
    from soccerspot.pipeline.live.events import decided_upto

    rng = np.random.default_rng(8)
    scores = smooth(rng, 300, 2, sparse=True)
    final = {(row, column): score for row, column, score in grouped_soft_nms(scores, 6, 0.01)}
    start = 0
    for count in range(10, 301, 10):
        cut = decided_upto("grouped-soft", scores[:count], 6, 0.01, start)
        assert start <= cut <= count
        now = {(row, column): score for row, column, score in grouped_soft_nms(scores[:count], 6, 0.01) if row < cut}
        assert now == {key: value for key, value in final.items() if key[0] < cut}
        start = cut
    assert start > 150  # the decided rows follow the edge


def test_latency_bound_of_a_dense_model_is_a_clip_plus_the_radius():
    assert latency_bound_s(2, 100, 25 / 12, "peaks") == pytest.approx(102 * 12 / 25)
    assert latency_bound_s(12, 50, 12.5, "grouped-soft") == pytest.approx(62 / 12.5)


# --- end to end: soccerspot live on a growing file against soccerspot spot ------------------------------------------

@pytest.fixture
def tiny_format(monkeypatch):
    """A test-only peer folder format loading `TinyDense` as the peer `variant` reading `recipe` frames."""
    from soccerspot.models.dense import registry

    def load(folder: Path, **options) -> registry.PeerDenseModel:
        config = json.loads((folder / "tiny.json").read_text())
        model = TinyDense(config["clip_len"], len(config["classes"]), displacement=config["team"],
                          team=config["team"], pad_black=config["team"], seed=5)
        model.load_state_dict(torch.load(folder / "tiny.pt", weights_only=True))
        return registry.PeerDenseModel(model.eval(), tuple(config["classes"]), config["recipe"], config["variant"],
                                       folder / "tiny.pt")

    monkeypatch.setitem(registry._PEER_FORMATS, "tiny-test",
                        registry.PeerDenseFormat("tiny-test", lambda folder: (folder / "tiny.json").is_file(), load))

    def make(folder: Path, *, clip_len: int, recipe: str, variant: str, team: bool, seed: int) -> Path:
        folder.mkdir()
        model = TinyDense(clip_len, len(CLASSES), displacement=team, team=team, pad_black=team, seed=seed)
        torch.save(model.state_dict(), folder / "tiny.pt")
        (folder / "tiny.json").write_text(json.dumps({"clip_len": clip_len, "classes": CLASSES, "recipe": recipe,
                                                      "variant": variant, "team": team}))
        return folder
    return make


@pytest.mark.slow
@pytest.mark.parametrize("variant,recipe,clip_len,team", [("E2E-Spot", "e2e-soccernetv2", 8, False),
                                                          ("T-DEED", "tdeed-ball", 20, True)])
def test_live_on_a_growing_file_equals_spot(tmp_path, tiny_format, variant, recipe, clip_len, team):
    from soccerspot.pipeline.cli import main
    from soccerspot.pipeline.live.broadcast import grow_file, to_mpegts
    from video_helpers import constant_rate_times, write_video

    (tmp_path / "game").mkdir()
    video = write_video(tmp_path / "game" / "1_224p.mkv", constant_rate_times(25, 10.0), width=96, height=64)
    ts = to_mpegts(video, tmp_path / "half.ts")
    model = tiny_format(tmp_path / "model", clip_len=clip_len, recipe=recipe, variant=variant, team=team, seed=9)
    spot_out = tmp_path / "spot"
    assert main(["spot", str(video), "--model", str(model), "--out", str(spot_out), "--save-scores",
                 "--no-progress", "--precision", "fp32"]) == 0
    writer = grow_file(ts, tmp_path / "rec.ts", duration_s=10.0, speed=5.0)
    out = tmp_path / "live"
    assert main(["live", str(tmp_path / "rec.ts"), "--model", str(model), "--out", str(out), "--precision", "fp32",
                 "--idle", "2", "--status-every", "0", "--events", str(tmp_path / "events.jsonl")]) == 0
    writer.join()
    live, offline = read_scores(out, 1), read_scores(spot_out, 1)
    np.testing.assert_allclose(live.times, offline.times, atol=1e-6)
    np.testing.assert_allclose(live.probabilities, offline.probabilities, atol=1e-5, rtol=0)
    assert live.classes == offline.classes
    predictions = read_predictions(out / "results_spotting.json").predictions
    assert predictions and predictions == read_predictions(spot_out / "results_spotting.json").predictions
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert lines == [json.loads(line) for line in (out / "1_live_events.jsonl").read_text().splitlines()]
    standing = set()
    for line in lines:
        if line["type"] == "event":
            standing.add(line["id"])
        elif line.get("reason") == "retracted":
            standing.remove(line["id"])
    assert standing == {event_id(p.half, p.label, p.position_ms, p.team) for p in predictions}
    if team:
        assert {line["team"] for line in lines} <= {"left", "right"}
    assert not (out / ".live").exists()
    # the same command again refuses to overwrite what it made
    assert main(["live", str(tmp_path / "rec.ts"), "--model", str(model), "--out", str(out), "--idle", "1",
                 "--status-every", "0"]) == 1
    if team:
        return
    # as after kill -9 half-way: the state and the first events are there, the final files not yet
    for name in ("1_scores.npy", "1_scores.json", "results_spotting.json"):
        (out / name).unlink()
    (out / ".live").mkdir()
    (out / ".live" / "1_dense.json").write_text(json.dumps({"source": str(tmp_path / "rec.ts"), "model": str(model),
                                                             "kind": variant}))
    first = [line for line in lines[: len(lines) // 2] if line["type"] == "event"]
    (out / "1_live_events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in first))
    assert main(["live", str(tmp_path / "rec.ts"), "--model", str(model), "--out", str(out), "--precision", "fp32",
                 "--idle", "1", "--status-every", "0"]) == 0
    again = [json.loads(line) for line in (out / "1_live_events.jsonl").read_text().splitlines()]
    assert again[: len(first)] == first
    ids = [line["id"] for line in again if line["type"] == "event"]
    assert len(ids) == len(set(ids))  # no event twice
    assert set(ids) == standing and read_predictions(out / "results_spotting.json").predictions == predictions


def test_live_dense_refuses_the_feature_heads_flags(tmp_path, tiny_format, capsys):
    from soccerspot.pipeline.cli import main

    model = tiny_format(tmp_path / "model", clip_len=8, recipe="e2e-soccernetv2", variant="E2E-Spot", team=False, seed=1)
    (tmp_path / "rec.ts").write_bytes(b"")
    assert main(["live", str(tmp_path / "rec.ts"), "--model", str(model), "--out", str(tmp_path / "o"),
                 "--nms-window", "3"]) == 2
    assert "--nms-window: not for a dense frame model" in capsys.readouterr().err
    assert main(["live", str(tmp_path / "missing.ts"), "--model", str(model), "--out", str(tmp_path / "o")]) == 1
    assert "missing.ts" in capsys.readouterr().err and not (tmp_path / "o" / ".live").exists()


def test_an_earlier_dense_run_is_continued_only_where_it_can_be(tmp_path):
    from soccerspot.errors import DataError
    from soccerspot.pipeline.live.dense_session import claim_state, remove_state

    recording = {"source": "rec.ts", "model": "m", "kind": "e2e-spot"}
    claim_state(tmp_path, 1, recording)
    claim_state(tmp_path, 1, recording)  # the same command again: read the recording from its start
    with pytest.raises(DataError, match="another source or model"):
        claim_state(tmp_path, 1, {**recording, "model": "other"})
    stream = {"source": "udp://127.0.0.1:9", "model": "m", "kind": "e2e-spot"}
    claim_state(tmp_path, 2, stream)
    with pytest.raises(DataError, match="cannot resume"):
        claim_state(tmp_path, 2, stream)
    remove_state(tmp_path, 1)
    (tmp_path / "1_scores.npy").write_bytes(b"")
    with pytest.raises(DataError, match="already spotted"):
        claim_state(tmp_path, 1, recording)
