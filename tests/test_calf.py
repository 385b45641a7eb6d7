"""CALF (Cioppa et al., CVPR 2020): time-shift encoding, context-aware loss, slot matching, chunks, head."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from soccerspot.data.calf_targets import (
    background_stretches,
    chunk_anchors,
    class_shifts,
    default_slicing,
    detection_targets,
    anchor_chunk_starts,
    draw_chunk_starts,
    foreground_start,
    neighbour_shifts,
    time_shift_encoding,
)
from soccerspot.models.heads.calf import SpottingLoss, chunk_starts_for, match_slots, segmentation_loss

K = (-20.0, -10.0, 10.0, 30.0)


# --- time-shift encoding ----------------------------------------------------------------------------------


def test_paper_example_past_and_future_shifts():
    past, future = neighbour_shifts(np.array([9, 42]), 60, K[0], K[3])
    assert past[29] == 20 and future[29] == -13


def shift_at(actions: list[int], rows: int, row: int) -> float:
    return float(class_shifts(np.array(actions), rows, K)[row])


def test_just_after_the_past_action_keeps_the_past_shift():
    assert shift_at([9, 42], 60, 15) == 6  # s1 = 6 < K3


def test_past_zone_with_a_far_future_action_keeps_the_past_shift():
    assert shift_at([0, 50], 80, 20) == 20  # K3 <= s1 = 20 < K4, s2 = -30 <= K1


def test_between_two_close_actions_the_relatively_deeper_shift_wins():
    # row 29: s1 = 20 is (20 - 10) / (30 - 10) = 0.5 into its zone, s2 = -13 is (-10 + 13) / 10 = 0.3 -> s2
    assert shift_at([9, 42], 60, 29) == -13
    # row 25: s1 = 16 -> 0.3, s2 = -17 -> 0.7 -> s1
    assert shift_at([9, 42], 60, 25) == 16


def test_far_past_action_gives_the_future_shift():
    assert shift_at([0, 50], 80, 35) == -15  # s1 = 35 >= K4


def test_rows_without_a_past_or_future_action_land_in_the_far_zones():
    assert shift_at([30], 100, 5) == -25  # no past action: the future shift
    assert shift_at([0], 100, 80) <= K[0]  # past action far, no future one: far before a virtual action
    assert shift_at([0], 100, 5) == 5
    np.testing.assert_array_equal(class_shifts(np.array([], dtype=np.int64), 7, K), np.full(7, K[0]))


def test_encoding_has_one_column_per_class():
    slicing = np.array([K, K])
    shifts = time_shift_encoding(np.array([3, 10]), np.array([1, 1]), 20, slicing)
    assert shifts.shape == (20, 2) and shifts.dtype == np.float32
    np.testing.assert_array_equal(shifts[:, 0], np.full(20, K[0]))
    assert shifts[3, 1] == 0 and shifts[10, 1] == 0 and shifts[2, 1] == -1


def test_default_slicing_is_ordered_and_scaled_to_the_chunk():
    k = default_slicing(240, 3)
    assert k.shape == (3, 4)
    np.testing.assert_array_equal(k[0], [-120, -60, 60, 120])


# --- context-aware segmentation loss ----------------------------------------------------------------------


def reference_loss(p: float, s: float, k=K, tau_min: float = 0.1, tau_max: float = 0.9) -> float:
    """The paper's six cases, written out one by one."""
    k1, k2, k3, k4 = k
    if s <= k1:
        value = -math.log(1 - p) - (-math.log(1 - tau_min))
    elif s < k2:
        value = -math.log(1 - (k2 - s) / (k2 - k1) * p) - (-math.log(1 - tau_min))
    elif s < 0:
        value = 0.0
    elif s < k3:
        value = -math.log(s / k3 + (1 - s / k3) * p) - (-math.log(tau_max))
    elif s < k4:
        value = -math.log(1 - (s - k3) / (k4 - k3) * p) - (-math.log(1 - tau_min))
    else:
        value = -math.log(1 - p) - (-math.log(1 - tau_min))
    return max(0.0, value)


HAND = [  # (p, s, value computed by hand with K = (-20, -10, 10, 30), tau_min 0.1, tau_max 0.9)
    (0.5, -40, math.log(2) + math.log(0.9)),  # far before
    (0.5, -20, math.log(2) + math.log(0.9)),  # at K1: full negative weight
    (0.5, -15, -math.log(0.75) + math.log(0.9)),  # halfway down the K1..K2 ramp: weight 1/2
    (0.99, -10, 0.0),  # at K2: nothing
    (0.99, -1, 0.0),  # ambiguous zone
    (0.5, 0, math.log(2) + math.log(0.9)),  # at the action: must be high
    (0.95, 0, 0.0),  # above tau_max: free
    (0.2, 5, -math.log(0.6) + math.log(0.9)),  # halfway to K3: g = 1/2, 1/2 + 1/2 x 0.2 = 0.6
    (0.5, 10, 0.0),  # at K3: weight 0 either way
    (0.5, 20, -math.log(0.75) + math.log(0.9)),  # halfway up K3..K4
    (0.5, 30, math.log(2) + math.log(0.9)),  # at K4
    (0.1, -40, 0.0),  # exactly at tau_min
    (0.05, 100, 0.0),  # below tau_min
]


@pytest.mark.parametrize("p, s, expected", HAND)
def test_segmentation_loss_at_zone_boundaries(p, s, expected):
    got = segmentation_loss(torch.tensor([[p]]), torch.tensor([[float(s)]]), torch.tensor([K]))
    assert float(got) == pytest.approx(expected, abs=1e-5)
    assert float(got) == pytest.approx(reference_loss(p, s), abs=1e-5)


def test_segmentation_loss_matches_the_cases_on_a_grid_and_per_class():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, size=(200, 2))
    s = rng.integers(-50, 50, size=(200, 2)).astype(float)
    k2 = (-30.0, -5.0, 4.0, 40.0)
    got = segmentation_loss(torch.tensor(p), torch.tensor(s), torch.tensor([K, k2])).numpy()
    want = np.array([[reference_loss(p[i, 0], s[i, 0], K), reference_loss(p[i, 1], s[i, 1], k2)]
                     for i in range(200)])
    np.testing.assert_allclose(got, want, atol=1e-6)


# --- slots: targets, matching, spotting loss --------------------------------------------------------------


def test_detection_targets_hold_the_chunks_actions_in_row_order():
    targets = detection_targets(np.array([150, 10, 105]), np.array([1, 0, 0]), start=100, length=61,
                                num_detections=3, num_classes=2)
    np.testing.assert_allclose(targets, [[1, 5 / 60, 1, 0], [1, 50 / 60, 0, 1], [0, 0, 0, 0]])


def test_matching_takes_nearest_predictions_one_to_one():
    # action 0 (0.5): predictions 1 and 2 tie at 0.25, the lower index wins; action 1 (0.95) takes prediction 0
    assert match_slots([0.5, 0.95, 0.0], [True, True, False], [0.9, 0.25, 0.75]) == [1, 0, 2]
    # both actions want prediction 0; it takes the nearer (0.5); the other action gets the next nearest free
    assert match_slots([0.62, 0.5, 0.0], [True, True, False], [0.55, 0.9, 0.0]) == [1, 0, 2]
    assert match_slots([0.0, 0.0], [False, False], [0.3, 0.1]) == [0, 1]


def test_spotting_loss_on_a_small_example():
    targets = torch.tensor([[[1.0, 0.5, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]])
    slots = torch.tensor([[[0.9, 0.1, 0.5, 0.5], [0.8, 0.45, 0.3, 0.7]]])
    # matched: the action with prediction 1: 5 x 0.05^2 + 0.2^2 + 0.3^2 + 0.3^2 = 0.2325; empty slot with
    # prediction 0: 0.5 x 0.9^2 = 0.405
    assert float(SpottingLoss(5.0, 0.5)(slots, targets)) == pytest.approx(0.6375)


# --- chunks -----------------------------------------------------------------------------------------------


def test_foreground_chunks_put_the_action_away_from_the_borders():
    rng = np.random.default_rng(1)
    for _ in range(200):
        start = foreground_start(500, 2000, 240, 80, rng)
        assert 40 <= 500 - start < 200
    assert foreground_start(3, 2000, 240, 80, rng) == 0  # kept inside the half
    assert foreground_start(1990, 2000, 240, 80, rng) == 1760
    assert foreground_start(10, 100, 240, 80, rng) == 0  # half shorter than a chunk


def test_background_stretches_are_long_far_zones():
    slicing = np.array([K])
    shifts = class_shifts(np.array([100]), 300, K)[:, None]
    # far before: rows <= 80; far after: rows >= 130
    assert background_stretches(shifts, slicing, 50) == [(0, 81), (130, 300)]
    assert background_stretches(shifts, slicing, 100) == [(130, 300)]


def test_chunk_draws_are_class_balanced_reproducible_and_inside_their_anchor():
    slicing = np.array([K, K])
    events = [(np.array([100, 400]), np.array([0, 0])), (np.array([250]), np.array([1]))]
    shifts = [time_shift_encoding(r, c, 600, slicing) for r, c in events]
    anchors = chunk_anchors(events, shifts, slicing, 60, 2)
    assert [len(a) for a in anchors] == [2, 1, len(anchors[2])] and anchors[2]
    draws = draw_chunk_starts(anchors, [600, 600], 3000, 60, 20, np.random.default_rng(5))
    assert draws == draw_chunk_starts(anchors, [600, 600], 3000, 60, 20, np.random.default_rng(5))
    holding = {0: 0, 1: 0, "bg": 0}
    for track, start in draws:
        assert 0 <= start <= 540
        rows, classes = events[track]
        inside = (rows >= start) & (rows < start + 60)
        if inside.any():
            holding[int(classes[inside][0])] += 1
        else:
            holding["bg"] += 1
            far = ((shifts[track][start:start + 60] <= -20) | (shifts[track][start:start + 60] >= 30)).all()
            assert far
    assert all(abs(n / 3000 - 1 / 3) < 0.04 for n in holding.values())


def test_validation_has_one_chunk_per_anchor():
    slicing = np.array([K])
    events = [(np.array([100, 400]), np.array([0, 0]))]
    shifts = [time_shift_encoding(*events[0], 600, slicing)]
    anchors = chunk_anchors(events, shifts, slicing, 60, 1)
    starts = anchor_chunk_starts(anchors, [600], 60, 20, np.random.default_rng(0))
    assert len(starts) == sum(len(a) for a in anchors)
    assert 10 <= 100 - starts[0][1] < 50 and 10 <= 400 - starts[1][1] < 50


def test_chunk_batches_pack_features_shifts_and_slots():
    from soccerspot.models.heads.calf import split_outputs
    from soccerspot.pipeline.training.tasks.calf import ChunkBatches

    track = planted_track(3)
    shifts = time_shift_encoding(track.event_rows, track.event_classes, 300, np.array([K] * 3))
    batches = ChunkBatches([track], [shifts], [(0, 0), (0, 270)], 48, 3, 4, batch_size=5)
    (features, targets), = list(batches)
    assert len(batches) == 1 and features.shape == (2, 48, 8)
    np.testing.assert_array_equal(features[1, :30].numpy(), track.features.array[270:300])
    np.testing.assert_array_equal(features[1, 30:].numpy(), np.repeat(track.features.array[299:], 18, axis=0))
    got_shifts, got_slots = split_outputs(targets, 48, 3, 4)
    np.testing.assert_array_equal(got_shifts[0].numpy(), shifts[:48])
    expected = detection_targets(track.event_rows, track.event_classes, 270, 48, 4, 3)
    np.testing.assert_array_equal(got_slots[1].numpy(), expected)


def test_inference_chunks_overlap_by_the_receptive_field_and_end_at_the_half_end():
    assert chunk_starts_for(100, 240, 80) == [0]
    assert chunk_starts_for(600, 240, 80) == [0, 160, 320, 360]
    assert chunk_starts_for(240, 240, 80) == [0]


# --- head, task, checkpoints ------------------------------------------------------------------------------

from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from soccerspot.data.clips import Track  # noqa: E402
from soccerspot.data.features import FeatureMeta, HalfFeatures  # noqa: E402
from soccerspot.models.heads import create_head, head_config  # noqa: E402
from soccerspot.pipeline.inference.checkpoints import load_checkpoint, save_checkpoint  # noqa: E402


def planted_track(seed: int, rows: int = 300, dim: int = 8, classes: int = 3) -> Track:
    """Noise with a spike on feature `class` at each event row (and a weaker one just after)."""
    rng = np.random.default_rng(seed)
    array = rng.normal(0.0, 0.3, size=(rows, dim)).astype(np.float32)
    event_rows = np.sort(rng.choice(np.arange(10, rows - 10, 25), size=8, replace=False))
    event_classes = rng.integers(0, classes, size=len(event_rows))
    array[event_rows, event_classes] += 3.0
    features = HalfFeatures(array, FeatureMeta(num_frames=rows, dim=dim), Path(f"f{seed}.npy"))
    return Track(f"g{seed}", 1, features, event_rows.astype(np.int64), event_classes.astype(np.int64))


def small_calf(window: int = 48, dim: int = 8, classes: int = 3, **options):
    return create_head(head_config("calf", input_dim=dim, num_classes=classes, window_frames=window, **options))


def test_outputs_pack_scores_and_slots_and_half_probabilities_keep_the_convention():
    model = small_calf().eval()
    with torch.no_grad():
        outputs = model(torch.randn(2, 48, 8))
    assert outputs.shape == (2, 48 * 3 + 15 * 5)
    scores = outputs[:, : 48 * 3]
    assert float(scores.min()) >= 0 and float(scores.max()) <= 1
    for rows in (0, 20, 48, 301):
        got = model.half_probabilities(torch.randn(rows, 8))
        assert got.shape == (rows, 4)
        if rows:
            torch.testing.assert_close(got[:, 0], 1 - got[:, 1:].max(dim=1).values)
            assert float(got.min()) >= 0 and float(got.max()) <= 1


def test_config_refuses_bad_settings():
    with pytest.raises(ValueError, match="15 rows"):
        small_calf(window=10)
    with pytest.raises(ValueError, match="K1 < K2 < 0 < K3 < K4"):
        small_calf(slicing_seconds=[[-1, -2, 1, 2]] * 3)
    with pytest.raises(ValueError, match="each of the 3 classes"):
        small_calf(slicing_seconds=[[-2, -1, 1, 2]])


def test_checkpoint_round_trip(tmp_path):
    model = small_calf(slicing_seconds=[[-20, -10, 10, 20]] * 3).eval()
    model.set_input_statistics(torch.arange(8.0), torch.full((8,), 2.0))
    save_checkpoint(tmp_path / "ckpt", model, model.config, classes=["A", "B", "C"], fps=2.0, feature_settings=None)
    loaded = load_checkpoint(tmp_path / "ckpt")
    features = torch.randn(130, 8)
    torch.testing.assert_close(loaded.model.half_probabilities(features), model.half_probabilities(features))
    assert loaded.config.slicing_seconds == [[-20, -10, 10, 20]] * 3 and loaded.config.receptive == 16
    torch.testing.assert_close(loaded.model.input_scale, torch.full((8,), 0.5))


def test_inputs_are_standardised_with_the_training_statistics():
    from soccerspot.pipeline.training.tasks.calf import input_statistics

    tracks = [planted_track(0), planted_track(1)]
    mean, std = input_statistics(tracks)
    rows = np.concatenate([t.features.array for t in tracks]).astype(np.float64)
    np.testing.assert_allclose(mean, rows.mean(axis=0))
    np.testing.assert_allclose(std, rows.std(axis=0))
    mean, _ = input_statistics(tracks, max_rows=100)  # every 6th row of the 600
    sampled = np.concatenate([t.features.array[::6] for t in tracks]).astype(np.float64)
    np.testing.assert_allclose(mean, sampled.mean(axis=0))
    model = small_calf().eval()
    x = torch.randn(1, 48, 8)
    expected = model.segment_and_spot(x)[0]
    model.set_input_statistics(torch.full((8,), 3.0), torch.full((8,), 0.1))
    torch.testing.assert_close(model.segment_and_spot(x * 0.1 + 3.0)[0], expected)


def test_calf_learns_a_planted_pattern_far_above_chance(tmp_path):
    """Through the registered task and the one training loop. Small settings of ours so it learns in seconds:
    4 slots and a segmentation weight of 0.01."""
    from soccerspot.pipeline.training.config import TrainConfig
    from soccerspot.pipeline.training.tasks import registered_task
    from soccerspot.pipeline.training.loop import fit, seed_everything

    seed_everything(0)
    tracks = [planted_track(seed) for seed in range(6)]
    data = SimpleNamespace(train=SimpleNamespace(tracks=tracks), valid=None, classes=["A", "B", "C"], fps=2.0,
                           feature_settings=None, description={}, train_games=[], valid_games=[])
    config = TrainConfig(head="calf", batch_size=16, max_epochs=30, scheduler="none", eval_every=0, lr=3e-3)
    head = small_calf(chunks_per_epoch=192, num_detections=4, segmentation_weight=0.01).config
    task = registered_task("calf")(config, data, head, tmp_path)
    result = fit(config, task, tmp_path / "run", progress=False)
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]

    hits, total = 0, 0
    for held_out in [planted_track(100 + k) for k in range(4)]:
        scores = task.model.eval().half_probabilities(torch.from_numpy(held_out.features.array))[:, 1:].numpy()
        for cls in range(3):
            truth = held_out.event_rows[held_out.event_classes == cls]
            top = np.argsort(-scores[:, cls], kind="stable")[: len(truth)]  # as many rows as events
            hits += sum(int(np.abs(truth - row).min() <= 2) for row in top)
            total += len(truth)
    # chance: a random row is within 2 rows of one of a class's ~3 events of 300 rows about 5% of the time
    assert hits / total >= 0.5


def test_calf_short_changes_only_its_labelled_choices():
    """calf-paper keeps the released code's values; calf-short (ours, for small training sets) differs from
    it only in the chunk length, the chunks per epoch and the inference's votes, each named in its source."""
    import dataclasses

    from soccerspot.pipeline.training.presets import get_preset

    paper, short = get_preset("calf-paper"), get_preset("calf-short")
    assert (paper.window_seconds, paper.lr, paper.batch_size) == (120.0, 1e-3, 32)
    assert "chunks_per_epoch" not in paper.head_options  # the head's default: the released 18000
    changed = {f.name for f in dataclasses.fields(paper) if getattr(paper, f.name) != getattr(short, f.name)}
    assert changed == {"preset", "source", "window_seconds", "head_options"}
    assert short.window_seconds == 20.0
    assert short.head_options == {**paper.head_options, "chunks_per_epoch": 1024, "inference_stride": 1,
                                  "vote": "sum"}
    assert "vote" not in paper.head_options and "inference_stride" not in paper.head_options  # released: max, L - R
    for named in ("20 s", "1024 chunks", "our choices", "vote 'sum'", "inference_stride 1"):
        assert named in short.source


@torch.no_grad()
def slot_votes_by_loop(model, features: torch.Tensor, stride: int, vote: str) -> torch.Tensor:
    """An independent reading of the inference: every chunk on its own, its kept slots listed one by one."""
    config = model.config
    frames, length, classes = features.shape[0], config.window_frames, config.num_classes
    starts = list(range(0, frames - length, stride)) + [frames - length] if frames > length else [0]
    half = config.receptive // 2
    total = torch.zeros(frames, classes)
    best = torch.zeros(frames, classes)
    cover = torch.zeros(frames)
    for start in starts:
        rows = [min(max(start + k, 0), frames - 1) for k in range(length)]
        _, slots = model.segment_and_spot(features[rows][None])
        low = 0 if start <= 0 else half
        high = length if start + length >= frames else length - half
        for k in range(low, high):
            if start + k < frames:
                cover[start + k] += 1
        chunk_votes = {}
        for slot in slots[0]:
            position = int(torch.round(slot[1] * (length - 1)))
            cls = int(slot[2:].argmax())
            if low <= position < high and start + position < frames:
                key = (start + position, cls)
                chunk_votes[key] = max(chunk_votes.get(key, 0.0), float(slot[0]))
        for (row, cls), confidence in chunk_votes.items():
            total[row, cls] += confidence
            best[row, cls] = max(float(best[row, cls]), confidence)
    return best if vote == "max" else total / cover.clamp_min(1)[:, None]


@pytest.mark.parametrize("stride, vote", [(0, "max"), (1, "sum"), (5, "sum"), (3, "max")])
def test_half_probabilities_gather_the_chunks_votes(stride, vote):
    model = small_calf(window=24, inference_stride=stride, vote=vote).eval()
    with torch.no_grad():  # confident, spread slots so that many votes land
        model.slots.bias.copy_(torch.tensor([3.0, 0.0] * 15) + torch.linspace(-2, 2, 30) * torch.tensor([0.0, 1.0] * 15))
    for frames in (60, 24, 17):
        features = torch.randn(frames, 8)
        got = model.half_probabilities(features, batch_size=7)
        expected = slot_votes_by_loop(model, features, stride or model.config.window_frames - model.config.receptive,
                                      vote)
        torch.testing.assert_close(got[:, 1:], expected)
        torch.testing.assert_close(got[:, 0], 1 - expected.max(dim=1).values)
        assert float(got[:, 1:].max()) > 0.5 and float(got.max()) <= 1.0


def test_vote_settings_are_checked():
    with pytest.raises(ValueError, match="vote"):
        small_calf(vote="mean")
    with pytest.raises(ValueError, match="inference_stride"):
        small_calf(inference_stride=-1)
    assert chunk_starts_for(100, 24, 8, 30) == [0, 30, 60, 76]
    assert chunk_starts_for(30, 24, 8, 1) == list(range(7))
