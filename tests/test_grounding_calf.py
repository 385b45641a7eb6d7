"""The CALF-based replay grounding baseline (`models.heads.calf_grounding`): its losses against the formulas
of the benchmark's released code (SoccerNet/sn-grounding, written here from them), its chunk layout at
inference, and its training + grounding through the commands on a planted season."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grounding_helpers import FEATURES, planted_season
from soccerspot.data.cameras import CAMERAS_FILE, DETECTIONS_FILE, Replay, ReplayLink, read_camera_labels, \
    read_replay_detections, replays_of
from soccerspot.models.heads import create_head, head_config
from soccerspot.models.heads.calf_grounding import CALFGroundingLoss, symmetric_segmentation_loss
from soccerspot.pipeline.cli import main
from soccerspot.pipeline.inference.grounding import GroundingOptions, HalfTrack, candidate_starts, kept_positions, \
    tiled_replay_rows


def released_segmentation_loss(prediction: np.ndarray, x: np.ndarray, k: list[float], hit: float = 0.1,
                               miss: float = 0.9) -> np.ndarray:
    """The released SymmetricContextAwareLoss, elementwise, on its own output (1 - our score)."""
    k1, k2, k3, k4 = k
    p = np.clip(prediction, 0.001, 0.999)

    def part(a, b):
        return np.minimum(np.maximum(x, a), b)

    cases = [
        (x < k1, -np.log(p) + np.log(miss)),
        ((x >= k1) & (x < k2), -np.log(p + (1 - p) * (part(k1, k2) - k1) / (k2 - k1)) + np.log(miss)),
        ((x >= k2) & (x < 0), -np.log(1 - p + p * part(k2, 0) / k2) + np.log(1 - hit)),
        ((x >= 0) & (x < k3), -np.log(1 - p + p * part(0, k3) / k3) + np.log(1 - hit)),
        ((x >= k3) & (x < k4), -np.log(p + (1 - p) * (part(k3, k4) - k4) / (k3 - k4)) + np.log(miss)),
        (x >= k4, -np.log(p) + np.log(miss)),
    ]
    return sum(mask * np.maximum(0.0, value) for mask, value in cases)


def test_segmentation_loss_equals_the_released_symmetric_context_aware_loss():
    rng = np.random.default_rng(0)
    shifts = rng.integers(-90, 90, size=2000).astype(np.float64)
    scores = rng.uniform(0.002, 0.998, size=2000)
    k = [-40.0, -20.0, 20.0, 40.0]  # the released K_MATRIX x 10 x 2 fps, in rows
    ours = symmetric_segmentation_loss(torch.tensor(scores), torch.tensor(shifts), k).numpy()
    np.testing.assert_allclose(ours, released_segmentation_loss(1.0 - scores, shifts, k), rtol=1e-6, atol=1e-9)


def small_config(**options):
    return head_config("calf-grounding", input_dim=8, num_classes=4, window_frames=60, **options)


def test_loss_is_the_released_weighted_sum_over_central_rows_and_the_slot():
    config = small_config()  # R = 20 rows: rows 10 .. 49 count
    loss = CALFGroundingLoss(config, fps=2.0)
    rng = np.random.default_rng(1)
    scores = rng.uniform(0.01, 0.99, size=(3, 60))
    slots = rng.uniform(0.01, 0.99, size=(3, 2))
    shifts = np.arange(60)[None, :] - np.array([[30], [200], [5]])
    present = np.array([1.0, 0.0, 1.0])
    where = np.array([30 / 59, 0.0, 5 / 59])
    outputs = torch.tensor(np.concatenate([scores, slots], axis=1))
    targets = torch.tensor(np.concatenate([shifts, np.stack([present, where], 1)], axis=1), dtype=torch.float64)
    segmentation = released_segmentation_loss(1.0 - scores, shifts.astype(np.float64), [-40.0, -20.0, 20.0, 40.0])
    segmentation[:, :10] = 0
    segmentation[:, -10:] = 0
    detection = (present * 5.0 * (where - slots[:, 1]) ** 2 + present * (present - slots[:, 0]) ** 2
                 + (1 - present) * 0.5 * (present - slots[:, 0]) ** 2)
    expected = (0.002 * segmentation.sum() + detection.sum()) / 3
    assert float(loss(outputs, targets)) == pytest.approx(expected, rel=1e-6)


def test_head_outputs_row_scores_and_one_slot_and_refuses_other_lengths():
    model = create_head(small_config()).eval()
    with torch.no_grad():
        out = model(torch.randn(4, 60, 8), torch.randn(4, 60, 8))
        located = model.ground_chunks(torch.randn(4, 60, 8), torch.randn(4, 60, 8))
    assert out.shape == (4, 62) and float(out.min()) >= 0 and float(out.max()) <= 1
    assert located.shape == (4, 2) and float(located[:, 1].max()) <= 59
    with pytest.raises(ValueError, match="chunks of 60 rows"):
        model(torch.randn(4, 59, 8), torch.randn(4, 60, 8))
    with pytest.raises(ValueError, match="slicing_seconds"):
        create_head(small_config(slicing_seconds=[-10, -20, 10, 20]))


def test_chunks_cover_the_search_span_with_their_central_rows_and_the_replay_is_repeated():
    track = HalfTrack(np.zeros((600, 2), np.float32), np.arange(600) * 0.5)
    replay = Replay(1, 200, 207, ReplayLink("Goal", 1, "02:30", 150000))
    options = GroundingOptions(search_before_s=120.0, stride_s=80.0)
    starts = candidate_starts(track, replay, 240, options, margin=40)  # span: rows 160 .. 400
    central = set()
    for start in starts:
        low, high = (0 if start <= 0 else 40), (240 if start + 240 >= 600 else 200)
        central |= set(range(start + low, start + high))
    assert set(range(160, 400)) <= central
    keep = kept_positions(np.array([0, 100, 360]), np.array([10, 10, 230]), 600, 240, 40)
    assert keep.tolist() == [True, False, True]  # half borders keep their rows; a middle chunk does not
    rows = tiled_replay_rows(track, replay, 40)
    assert rows.tolist() == list(range(400, 414)) * 2 + list(range(400, 412))


def test_train_and_ground_from_the_command_line(tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        games = planted_season(tmp_path, 2, "train")
        (tmp_path / "train.txt").write_text("\n".join(games))
        code = main(["train", "--preset", "calf-grounding", "--features-root", str(tmp_path), "--features", FEATURES,
                     "--train-split", str(tmp_path / "train.txt"), "--valid-split", "none", "--epochs", "6",
                     "--out", str(tmp_path / "run"), "--no-progress"])
    finally:
        torch.set_num_threads(threads)
    assert code == 0, capsys.readouterr().err
    history = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    game = tmp_path / games[0]
    assert main(["ground", str(game), "--model", str(tmp_path / "run" / "last")]) == 0
    replays = replays_of(read_camera_labels(game / CAMERAS_FILE))
    found = read_replay_detections(game / DETECTIONS_FILE)
    assert [(r.half, r.start, r.end) for r in found] == [(r.half, r.start, r.end) for r in replays]
    for replay, detections in zip(replays, found):
        assert all(replay.start - 100 <= t <= replay.end for t, _ in detections.detections)
