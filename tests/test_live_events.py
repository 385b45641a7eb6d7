"""Live events: NMS decisions called final never change when more rows arrive (random score curves)."""
import numpy as np
import pytest

from soccerspot.pipeline.live.events import EventTracker, rival_span, unsettled_rows
from soccerspot.pipeline.inference.nms import _suppression_range, hard_nms


@pytest.mark.parametrize("window", [4, 5, 12])
def test_rival_span_is_exactly_the_rows_whose_suppression_reaches_a_row(window):
    for index in range(20, 40):
        rivals = [j for j in range(0, 80) if _suppression_range(j, window, 80)[0] <= index < _suppression_range(j, window, 80)[1]]
        assert rival_span(index, window) == (min(rivals), max(rivals))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("window", [5, 12])
def test_rows_called_settled_keep_their_fate_whatever_comes_after(seed, window):
    rng = np.random.default_rng(seed)
    smooth = np.convolve(rng.random(400), np.ones(5) / 5, mode="same")  # peaks and slopes, as heads give
    settled = np.zeros(0, dtype=bool)
    final_kept = {row for row, _ in hard_nms(smooth, window)}
    for count in range(10, 400, 7):
        prefix = smooth[:count]
        settled = np.concatenate([settled, np.zeros(count - len(settled), dtype=bool)])
        settled |= ~unsettled_rows(prefix, window, settled)
        kept_now = {row for row, _ in hard_nms(prefix, window)}
        for row in np.flatnonzero(settled):
            assert (row in kept_now) == (row in final_kept)
    # and the settled region follows the edge closely: only the tail is undecided
    assert settled[: 400 - 3 * window].mean() > 0.95


@pytest.mark.parametrize("threshold", [0.0, 0.45])
def test_tracker_emits_only_final_spots_and_settles_the_rest_at_the_end(threshold):
    rng = np.random.default_rng(7)
    scores = np.convolve(rng.random(300), np.ones(5) / 5, mode="same")[:, None]
    times = np.arange(300) / 2.0
    tracker = EventTracker(["Goal"], 1, "hard", 12, threshold, max_latency_s=1e9)
    lines = []
    for count in range(5, 301, 5):
        lines += tracker.update(scores[:count], times[:count], times[count - 1])
    from soccerspot.pipeline.inference.nms import scores_to_predictions

    predictions = scores_to_predictions(scores, times, ["Goal"], 1, window_frames=12, threshold=threshold)
    lines += tracker.finish(predictions, times)
    assert not [line for line in lines if line.kind == "correction"]
    assert sorted(line.position_ms for line in lines) == sorted(p.position_ms for p in predictions)
    late = [line for line in lines if line.reason == "late"]
    assert len(late) <= 3  # only spots near the end of the half wait for it


@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_events_emitted_early_at_max_latency_are_corrected_when_overturned(kind):
    """With a tiny max latency, undecided spots go out early; whatever NMS later overturns gets a correction
    line, so that the events standing at the end are exactly the offline spots."""
    from soccerspot.pipeline.inference.nms import scores_to_predictions

    rng = np.random.default_rng(11)
    scores = np.convolve(rng.random(240), np.ones(3) / 3, mode="same")[:, None]
    times = np.arange(240) / 2.0
    tracker = EventTracker(["Goal"], 1, kind, 12, 0.0, max_latency_s=0.0)
    lines = []
    for count in range(3, 241, 3):
        lines += tracker.update(scores[:count], times[:count], times[count - 1])
    predictions = scores_to_predictions(scores, times, ["Goal"], 1, kind=kind, window_frames=12)
    lines += tracker.finish(predictions, times)
    standing = {}
    for line in lines:
        if line.kind == "correction" and line.reason == "retracted":
            standing.pop(line.id)
        else:
            standing[line.id] = line.confidence
    expected = {f"1-Goal-{p.position_ms}": p.confidence for p in predictions}
    assert standing.keys() == expected.keys()
    assert all(abs(standing[key] - expected[key]) < 1e-4 for key in expected)
    if kind == "hard":
        assert any(line.kind == "correction" for line in lines), "the case exercises corrections"
