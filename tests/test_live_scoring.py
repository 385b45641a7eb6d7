"""Live scoring: rows scored as they become final equal the offline whole-half scores, for every head family."""
import numpy as np
import pytest
import torch

from soccerspot.models.heads import create_head, head_config
from soccerspot.pipeline.inference.scores import window_probabilities
from soccerspot.pipeline.live.scoring import IncrementalScores, run_start
from soccerspot.models.heads.context import RowContext

HEADS = [
    ("netvlad++", dict(window_frames=10, projection_dim=16, clusters=4)),
    ("maxpool", dict(window_frames=7, projection_dim=8)),
    ("transformer", dict(window_frames=8, model_dim=16, num_heads=2, num_layers=1, feedforward_dim=32)),
    ("calf", dict(window_frames=24, frame_hidden=16, frame_reduced=8, capsule_dim=4, num_detections=3)),
    ("calf", dict(window_frames=24, frame_hidden=16, frame_reduced=8, capsule_dim=4, num_detections=3,
                  inference_stride=1, vote="sum")),
    ("rmsnet", dict(window_frames=9, hidden_dim=16, kernel_size=3, fc_dim=8)),
]


def seeded_head(kind, options, seed=0):
    torch.manual_seed(seed)
    return create_head(head_config(kind, input_dim=12, num_classes=3, **options)).eval()


@pytest.mark.parametrize("kind,options", HEADS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(HEADS)])
def test_rows_scored_as_they_become_final_equal_the_offline_scores(kind, options):
    model = seeded_head(kind, options)
    features = np.random.default_rng(1).normal(size=(101, 12)).astype(np.float32)
    offline = window_probabilities(model, features)
    live = IncrementalScores(model, model.config.window_frames)
    rng = np.random.default_rng(2)
    count = 0
    while count < len(features):
        count = min(len(features), count + int(rng.integers(1, 12)))  # rows arrive in uneven bursts
        live.update(features[:count])
        # a row is final only once its whole context exists: never ahead of it
        assert live.final <= max(0, count - live.context.future)
        if live.final:
            np.testing.assert_allclose(live.array(), offline[: live.final], atol=1e-5, rtol=0)
    live.update(features, ended=True)
    assert live.final == len(features)
    np.testing.assert_allclose(live.array(), offline, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind,options", HEADS[:1] + HEADS[3:4] + HEADS[5:], ids=["pooling", "calf", "rmsnet"])
def test_the_context_is_tight_enough_to_matter(kind, options):
    """A row the context calls not final yet does change when the half grows (the context is not loose)."""
    model = seeded_head(kind, options)
    features = np.random.default_rng(3).normal(size=(90, 12)).astype(np.float32)
    context = IncrementalScores(model, model.config.window_frames).context
    short = window_probabilities(model, features[:60])
    full = window_probabilities(model, features)
    first_unsettled = 60 - context.future
    assert np.allclose(short[:first_unsettled], full[:first_unsettled], atol=1e-5)
    assert not np.allclose(short[first_unsettled:60], full[first_unsettled:60], atol=1e-5)


def test_run_start_is_aligned_to_the_period():
    assert run_start(5, RowContext(10, 3)) == 0
    assert run_start(50, RowContext(10, 3)) == 40
    assert run_start(50, RowContext(23, 24, period=16)) == 16
