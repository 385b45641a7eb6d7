"""NMS keeps the right peaks; spots carry the rows' own timestamps."""
import numpy as np
import pytest

from soccerspot.pipeline.inference.nms import hard_nms, nms, scores_to_predictions, soft_nms, window_in_frames


def reference_greedy_nms(scores, window, threshold):
    """The baselines' documented loop: take the max, blank [i - w/2, i + w/2), repeat while max >= thr."""
    work = np.array(scores, dtype=np.float64)
    kept = []
    while work.max() >= threshold:
        index = int(np.argmax(work))
        kept.append((index, float(work[index])))
        work[int(max(index - window / 2, 0)) : int(min(index + int(window / 2), len(work)))] = -1
    return kept


def test_hard_nms_keeps_the_peaks_and_suppresses_their_neighbourhood():
    scores = np.zeros(100)
    scores[[10, 12, 50, 90]] = [0.9, 0.8, 0.7, 0.3]
    kept = hard_nms(scores, window_frames=10, threshold=0.25)
    assert [i for i, _ in kept] == [10, 50, 90]  # 12 is within 5 frames of 10
    assert kept[0] == (10, 0.9)


def test_hard_nms_suppression_window_is_half_open_like_the_baselines():
    scores = np.zeros(40)
    scores[20], scores[15], scores[25] = 1.0, 0.5, 0.4
    kept = [i for i, _ in hard_nms(scores, window_frames=10, threshold=0.1)]
    assert kept == [20, 25]  # [15, 25) suppressed: 15 goes, 25 stays


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("window", [7, 20, 60])
def test_hard_nms_equals_the_greedy_loop(seed, window):
    scores = np.random.default_rng(seed).random(300).round(2)  # rounding makes ties
    assert hard_nms(scores, window, 0.0) == reference_greedy_nms(scores, window, 0.0)
    assert hard_nms(scores, window, 0.5) == reference_greedy_nms(scores, window, 0.5)


def test_threshold_above_everything_keeps_nothing():
    assert hard_nms(np.full(10, 0.2), 4, threshold=0.5) == []
    assert soft_nms(np.full(10, 0.2), 4, threshold=0.5) == []


def test_soft_nms_keeps_a_close_second_action_with_a_lower_score():
    scores = np.zeros(100)
    scores[40], scores[44] = 0.9, 0.8
    hard = [i for i, _ in hard_nms(scores, 20, 0.1)]
    soft = soft_nms(scores, 20, 0.1)
    assert hard == [40]
    assert [i for i, _ in soft] == [40, 44]
    assert soft[1][1] == pytest.approx(0.8 * 4 / 10)  # linear decay |j - i| / (w / 2)


def test_soft_nms_leaves_far_frames_untouched_and_stops_at_min_score():
    scores = np.zeros(100)
    scores[10], scores[80] = 0.9, 0.6
    soft = soft_nms(scores, 20, 0.0)
    assert soft == [(10, 0.9), (80, 0.6)]  # zeros are below the 1e-3 floor


def test_nms_dispatch_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown NMS kind"):
        nms(np.zeros(3), "fuzzy", 2)


def test_window_in_frames():
    assert window_in_frames(30, 2.0) == 60
    assert window_in_frames(20, 2.0) == 40
    assert window_in_frames(0.1, 1.0) == 1


def test_scores_to_predictions_uses_frame_times_and_class_names():
    scores = np.zeros((6, 2))
    scores[1, 0], scores[4, 1] = 0.8, 0.6
    times = np.array([0.0, 0.52, 1.04, 1.56, 2.08, 2.6])  # not a multiple of 0.5 s: variable frame rate
    predictions = scores_to_predictions(scores, times, ["Goal", "Corner"], 2, window_frames=2, threshold=0.5)
    assert {(p.label, p.position_ms, p.half, p.confidence) for p in predictions} == {
        ("Goal", 520, 2, 0.8), ("Corner", 2080, 2, 0.6)}


def test_scores_to_predictions_checks_shapes():
    with pytest.raises(ValueError, match="3 classes"):
        scores_to_predictions(np.zeros((4, 2)), np.zeros(4), ["a", "b", "c"], 1)
    with pytest.raises(ValueError, match="frame times"):
        scores_to_predictions(np.zeros((4, 2)), np.zeros(3), ["a", "b"], 1)
