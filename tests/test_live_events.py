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


CHAIN_WINDOW = 6  # NMS window in rows: a row suppresses the rows up to 3 before it


def chain_scores(rows: int = 40) -> np.ndarray:
    """Row 10 at 0.5 and a rising chain after it (rows 13, 16, 19, each one suppressing the one before under
    a 6-row NMS window): row 10's fate flips with every new link, so NMS cannot decide it until the chain
    ends; three links leave it suppressed."""
    scores = np.zeros((rows, 1))
    scores[10] = 0.5
    for link, row in enumerate((13, 16, 19)):
        scores[row] = 0.6 + 0.02 * link
    return scores


def test_the_head_bound_counts_the_rivals_and_the_rows_their_scores_read():
    from soccerspot.pipeline.live.events import LATENCY_MARGIN_S, default_max_latency_s, latency_bound_s

    # a 20-row window (9 rows ahead) and a 40-row NMS window (rivals up to 20 rows ahead) at 2 fps
    assert latency_bound_s(40, 9, 2.0) == (20 + 9) / 2.0
    assert latency_bound_s(4, 0, 2.0) == rival_span(0, 4)[1] / 2.0 == 1.0
    assert default_max_latency_s(40, 9, 2.0) == 14.5 + LATENCY_MARGIN_S


def test_an_event_held_by_nms_past_the_bound_is_emitted_at_bound_plus_2_s_and_corrected_later():
    from soccerspot.pipeline.inference.nms import scores_to_predictions
    from soccerspot.pipeline.live.events import default_max_latency_s, latency_bound_s

    scores, window, future = chain_scores(), CHAIN_WINDOW, 1
    times = np.arange(len(scores)) / 2.0
    bound, max_latency = latency_bound_s(window, future, 2.0), default_max_latency_s(window, future, 2.0)
    tracker = EventTracker(["Goal"], 1, "hard", window, 0.1, max_latency_s=max_latency)
    out: dict[int, list] = {}
    held: dict[int, bool] = {}
    for count in range(1, len(scores) + 1):  # one final row at a time; the stream is `future` rows ahead
        stream_time = times[count - 1] + future / 2.0
        out[count] = tracker.update(scores[:count], times[:count], stream_time)
        held[count] = "1-Goal-5000" in tracker.pending
    emitted_at = min(count for count, lines in out.items() for line in lines if line.id == "1-Goal-5000")
    # row 10 (5 s), kept but undecided from its bound on (rows 13 and 16 form a chain), goes out when it is
    # bound + 2 s old, not before
    assert times[emitted_at - 1] + future / 2.0 - times[10] == max_latency > bound
    assert held[emitted_at - 1], "just before, NMS kept it without having decided it"
    corrections = [line for lines in out.values() for line in lines if line.kind == "correction"]
    assert [(line.id, line.reason) for line in corrections] == [("1-Goal-5000", "retracted")]
    retracted_at = next(count for count, lines in out.items() if any(line.kind == "correction" for line in lines))
    assert retracted_at > emitted_at
    # the events standing at the end are the offline spots
    predictions = scores_to_predictions(scores, times, ["Goal"], 1, window_frames=window, threshold=0.1)
    lines = [line for lines in out.values() for line in lines] + tracker.finish(predictions, times)
    standing = {line.id for line in lines if line.kind == "event"} - \
        {line.id for line in lines if line.reason == "retracted"}
    assert standing == {f"1-Goal-{p.position_ms}" for p in predictions}


def test_a_row_nms_keeps_only_after_its_deadline_goes_out_marked_late():
    """Row 10 (5 s) loses to row 13 just before its 2 s deadline; row 16 suppresses 13, so NMS keeps 10 again,
    after the deadline: it goes out then as a "late" event (NMS overturning its decision at the deadline), and
    so does row 13 when row 19 suppresses 16. The rows kept at their deadline go out without the mark."""
    scores = chain_scores()
    times = np.arange(len(scores)) / 2.0
    tracker = EventTracker(["Goal"], 1, "hard", CHAIN_WINDOW, 0.1, max_latency_s=2.0)
    out = []
    for count in range(1, len(scores) + 1):  # one final row at a time, the stream one row (0.5 s) ahead
        out += [(count, line.kind, line.id, line.reason)
                for line in tracker.update(scores[:count], times[:count], times[count - 1] + 0.5)]
    assert out == [(17, "event", "1-Goal-5000", "late"),  # row 16 arrived: 13 suppressed, 10 kept again
                   (20, "event", "1-Goal-6500", "late"),  # row 19 arrived: 16 suppressed, 13 kept again...
                   (20, "correction", "1-Goal-5000", "retracted"),  # ...and 10 suppressed by it
                   (23, "event", "1-Goal-9500", "")]  # row 19 wins its chain: out at its deadline (4 rows)
    # with a deadline far enough (4 s), row 10 is kept at its own: emitted on time, retracted later
    tracker = EventTracker(["Goal"], 1, "hard", CHAIN_WINDOW, 0.1, max_latency_s=4.0)
    lines = [line for count in range(1, len(scores) + 1)
             for line in tracker.update(scores[:count], times[:count], times[count - 1] + 0.5)]
    assert not [line for line in lines if line.reason == "late"]


def test_an_undecided_event_goes_out_when_its_frame_arrived_max_latency_ago_even_without_new_rows():
    scores = chain_scores()[:18]  # the chain is still growing: row 10's fate is open (kept for now)
    times = np.arange(len(scores)) / 2.0
    tracker = EventTracker(["Goal"], 1, "hard", CHAIN_WINDOW, 0.1, max_latency_s=6.0)
    arrived = times + 100.0  # wall clock of each row's frame
    assert not [line for line in tracker.update(scores, times, times[-1], waited=100.0 + times[-1] - arrived)
                if line.id == "1-Goal-5000"]
    assert "1-Goal-5000" in tracker.pending
    assert tracker.overdue(105.9 + 5.0 - arrived) == []  # 5.9 s after row 10's frame: not yet
    lines = tracker.overdue(106.0 + 5.0 - arrived)  # 6 s after it, with no new row scored
    assert [line.id for line in lines] == ["1-Goal-5000"] and lines[0].kind == "event"
    assert "1-Goal-5000" not in {line.id for line in tracker.overdue(200.0 - arrived)}, "emitted once"


def test_deadlines_look_one_loop_turn_ahead_but_never_more_than_the_cap():
    from soccerspot.pipeline.live.events import MAX_TURN_LEAD_S, waited_by_next_turn

    arrivals = [100.0, 103.5]
    assert waited_by_next_turn(arrivals, 110.0, 0.25).tolist() == [10.25, 6.75]
    assert waited_by_next_turn(arrivals, 110.0, 30.0).tolist() == [10.0 + MAX_TURN_LEAD_S, 6.5 + MAX_TURN_LEAD_S]
    assert waited_by_next_turn(arrivals, 110.0, -1.0).tolist() == [10.0, 6.5]
    # an undecided event whose deadline falls before the next look goes out at this one
    scores = chain_scores()[:18]
    times = np.arange(len(scores)) / 2.0
    tracker = EventTracker(["Goal"], 1, "hard", CHAIN_WINDOW, 0.1, max_latency_s=6.0)
    arrived = times + 100.0
    now = 100.0 + times[10] + 5.8  # row 10 is 5.8 s old, its deadline 0.2 s away
    assert not tracker.update(scores, times, times[-1], waited=now - arrived)
    lines = tracker.overdue(waited_by_next_turn(arrived, now, 0.25))
    assert [line.id for line in lines] == ["1-Goal-5000"]
