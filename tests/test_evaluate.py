"""Average-mAP: hand-computed cases, and equality with the official SoccerNet scorer on random data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.errors import DataError
from soccerspot.data.labels import Event, GameLabels, GamePredictions, Prediction
from soccerspot.pipeline.evaluation.average_map import (
    CLASS_NAMES_V1_OFFICIAL, RESULT_KEYS, evaluate_arrays, evaluate_folders, evaluate_games, frames_of,
    make_sparse,
)

HALF_FRAMES = 120 * 60 * 2


def max_abs_diff(ours: dict, official: dict) -> float:
    """Largest difference over every field; a field None on one side only counts as infinite."""
    worst = 0.0
    for key in RESULT_KEYS:
        a, b = ours[key], official[key]
        if a is None or b is None:
            if (a is None) != (b is None):
                return float("inf")
            continue
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        assert a.shape == b.shape, key
        worst = max(worst, float(np.max(np.abs(a - b))) if a.size else 0.0)
    return worst


# ---------------------------------------------------------------------------------------------------------
# Hand-computed cases on dense grids (one half, a few classes).

def grids(num_classes: int = 2, frames: int = 400):
    return np.zeros((frames, num_classes)), np.full((frames, num_classes), -1.0)


def test_perfect_spot_scores_one_and_classes_without_labels_score_zero():
    target, detection = grids()
    target[100, 0] = 1
    detection[100, 0] = 0.7
    detection[50, 1] = 0.9  # class 1 has no ground truth: AP 0 whatever it predicts
    results = evaluate_arrays([target], [detection], "loose")
    assert results["a_mAP_per_class"] == [1.0, 0.0]
    assert results["a_mAP"] == 0.5
    assert results["a_mAP_visible"] == 0.5
    # Nothing is unshown: the prediction of class 1 falls in a half without labels, which the official
    # scorer counts as "unshown" - a false positive there - so unshown AP is 0 everywhere.
    assert results["a_mAP_per_class_unshown"] == [0.0, 0.0]


def test_offset_spot_counts_only_from_the_tolerance_that_reaches_it():
    target, detection = grids(1)
    target[200, 0] = 1
    detection[204, 0] = 1.0  # 2 s late: inside delta/2 only for delta >= 4 s
    results = evaluate_arrays([target], [detection], "tight")
    # mAP per delta (1..5 s) is 0, 0, 0, 1, 1; trapezoid: (0 + 0 + 0.5 + 1) / 4.
    assert results["a_mAP"] == pytest.approx(0.375, abs=1e-12)
    assert evaluate_arrays([target], [detection], "at4")["a_mAP"] == 1.0
    assert evaluate_arrays([target], [detection], "at3")["a_mAP"] == 0.0


def test_earlier_label_takes_the_best_prediction_first():
    target, detection = grids(1)
    target[100, 0] = target[104, 0] = 1
    detection[102, 0] = 0.9  # in both windows at 2 s (radius 2 frames): the first label takes it
    detection[107, 0] = 0.4  # outside the second label's window
    results = evaluate_arrays([target], [detection], "at2")
    # At thresholds <= 0.4: 2 predictions, 1 true -> precision 0.5, recall 0.5; above: 1/1, recall 0.5.
    # 11-point AP: levels 0.0..0.5 reach precision 1, levels 0.6..1.0 nothing: 6/11.
    assert results["a_mAP"] == pytest.approx(6 / 11, abs=1e-12)
    detection[107, 0], detection[106, 0] = -1, 0.4  # moved inside the second label's window
    assert evaluate_arrays([target], [detection], "at2")["a_mAP"] == 1.0


def test_unshown_average_is_scaled_by_17_over_13_only_with_several_deltas():
    target, detection = grids(1)
    target[100, 0] = -1
    detection[100, 0] = 0.8
    loose = evaluate_arrays([target], [detection], "loose")
    assert loose["a_mAP_per_class_unshown"] == [1.0] and loose["a_mAP_unshown"] == pytest.approx(17 / 13)
    single = evaluate_arrays([target], [detection], "at1")
    assert single["a_mAP_unshown"] == 1.0 and single["a_mAP_visible"] == 0.0


def test_frames_follow_official_arithmetic_and_clamp_to_the_grid():
    positions = np.array([0, 499, 500, 999, 1000, 2_700_000, 7_199_999, 7_200_000, 9_000_000])
    assert frames_of(positions).tolist() == [0, 0, 1, 1, 2, 5400, 14399, 14399, 14399]


def test_make_sparse_keeps_the_last_entry_of_a_frame():
    sparse = make_sparse(half=[0, 0, 0, 1], cls=[2, 2, 1, 2], frame=[5, 5, 5, 5], value=[0.3, 0.9, 0.5, 0.1],
                         num_classes=3)
    assert sorted(zip(sparse.half.tolist(), sparse.cls.tolist(), sparse.value.tolist())) == [
        (0, 1, 0.5), (0, 2, 0.9), (1, 2, 0.1)]


def test_in_memory_games_with_a_custom_class_list():
    classes = ["Pass", "Shot"]
    labels = {"g": GameLabels("g", [Event(1, 10_000, "Shot"), Event(2, 60_000, "Pass", visibility="not shown")])}
    predictions = {"g": GamePredictions("g", [Prediction(1, 10_400, "Shot", 0.9), Prediction(2, 60_400, "Pass", 0.6)])}
    results = evaluate_games(labels, predictions, classes, "tight")
    assert results["a_mAP_per_class"] == [1.0, 1.0]
    assert results["a_mAP_per_class_visible"] == [0.0, 1.0]
    assert results["a_mAP_per_class_unshown"] == [1.0, 0.0]
    with pytest.raises(DataError, match="unknown class 'Goal'; valid classes: Pass, Shot"):
        evaluate_games(labels, {"g": GamePredictions("g", [Prediction(1, 0, "Goal", 0.5)])}, classes)
    with pytest.raises(DataError, match="half 3"):
        evaluate_games(labels, {"g": GamePredictions("g", [Prediction(3, 0, "Pass", 0.5)])}, classes)
    with pytest.raises(DataError, match="no predictions for 1 of 1 games: g"):
        evaluate_games(labels, {}, classes)
    assert evaluate_games(labels, {}, classes, allow_missing=True)["a_mAP"] == 0.0


# ---------------------------------------------------------------------------------------------------------
# Random seasons written in the official formats, scored by us and by the official evaluator.

GAME_NAMES = [
    "england_epl/2015-2016/2015-08-08 - 19-30 Chelsea 2 - 2 Swansea",
    "europe_uefa-champions-league/2016-2017/2016-09-13 - 21-45 Paris SG 1 - 1 Arsenal (St. Denis)",
    "spain_laliga/2019-2020/2019-10-26 - 18-00 Atl. Madrid 2 - 0 Athletic Club's, U.E.",
]


def _game_time(half: int, position_ms: int, padded: bool) -> str:
    seconds = position_ms // 1000
    minutes, seconds = divmod(seconds, 60)
    return f"{half} - {minutes:02d}:{seconds:02d}" if padded else f"{half} - {minutes}:{seconds}"


def random_game(rng: np.random.Generator, classes: list[str], strings: bool) -> tuple[list, list]:
    """Annotations and predictions of one game, full of the official format's corner cases."""
    annotations, predictions = [], []
    num_classes = len(classes)
    active = rng.choice(num_classes, size=max(1, num_classes - 2), replace=False)  # some classes unlabelled
    for half in (1, 2):
        positions = [int(p) for p in rng.integers(0, 50 * 60_000, size=int(rng.integers(5, 40)))]
        positions += [int(rng.integers(45 * 60_000, 53 * 60_000 + 51_000))]  # stoppage time
        positions += [7_200_000 + int(rng.integers(0, 400_000))]  # past the 120-minute grid: clamped
        burst_start = len(positions)
        base = int(rng.integers(0, 50 * 60_000))
        positions += [base + int(step) for step in np.cumsum(rng.integers(300, 20_000, size=10))]  # a dense burst
        burst_class = classes[int(rng.choice(active))]
        for number, position in enumerate(positions):
            label = burst_class if number >= burst_start else classes[int(rng.choice(active))]
            visibility = "not shown" if rng.random() < 0.3 else "visible"
            game_time_ms = position if rng.random() > 0.05 else position + 61_000  # gameTime disagrees
            entry = {"gameTime": _game_time(half, game_time_ms, True), "label": label,
                     "position": str(position), "team": "home", "visibility": visibility}
            annotations.append(entry)
            if rng.random() < 0.1:  # duplicate, maybe with another visibility, same or neighbouring ms
                duplicate = dict(entry, position=str(position + int(rng.integers(0, 2))),
                                 visibility=str(rng.choice(["visible", "not shown"])))
                annotations.append(duplicate)
            for _ in range(int(rng.integers(0, 4))):  # predictions around each label
                offset = int(rng.normal(0, 15_000))
                predictions.append((half, max(0, position + offset), label, float(rng.random())))
            if rng.random() < 0.3:  # two equally confident candidates: the earlier one must win
                tie = float(np.round(rng.random(), 1))
                for offset in rng.choice(np.arange(-6_000, 6_001, 500), size=2, replace=False):
                    predictions.append((half, max(0, position + int(offset)), label, tie))
        for _ in range(int(rng.integers(10, 60))):  # spurious predictions, any class
            predictions.append((half, int(rng.integers(0, 55 * 60_000)), classes[int(rng.integers(num_classes))],
                                float(rng.random())))
        # Exact thresholds, ties, the extremes, and a later negative confidence that erases a prediction.
        thresholds = np.linspace(0, 1, 200)
        for value in [0.0, 1.0, float(thresholds[37]), float(thresholds[150]), 0.5, 0.5]:
            predictions.append((half, int(rng.integers(0, 50 * 60_000)), classes[int(rng.integers(num_classes))],
                                value))
        erased = (half, int(rng.integers(0, 50 * 60_000)), classes[0])
        predictions += [(*erased, 0.99), (erased[0], erased[1] + 100, erased[2], -1.0)]
        predictions.append((half, 7_300_000, classes[int(rng.integers(num_classes))], 0.8))  # clamped too
    entries = []
    for half, position, label, confidence in predictions:
        position = int(position)
        entries.append({"gameTime": _game_time(half, position, False), "label": label,
                        "position": str(position) if strings else position,
                        "half": str(half) if strings else half,
                        "confidence": str(confidence) if strings else confidence})
    return annotations, entries


def write_random_season(root: Path, seed: int, classes: list[str], labels_file: str = "Labels-v2.json") -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    labels_root, predictions_root = root / "labels", root / "predictions"
    for index, game in enumerate(GAME_NAMES[: 2 + seed % 2]):
        annotations, predictions = random_game(rng, classes, strings=index % 2 == 0)
        (labels_root / game).mkdir(parents=True)
        (labels_root / game / labels_file).write_text(json.dumps({"UrlLocal": game, "annotations": annotations}))
        (predictions_root / game).mkdir(parents=True)
        (predictions_root / game / "results_spotting.json").write_text(
            json.dumps({"Url": game, "predictions": predictions}))
    return labels_root, predictions_root


def official_evaluate(labels_root: Path, predictions_root: Path, metric: str, dictionary: dict, **kwargs) -> dict:
    from SoccerNet.Evaluation.ActionSpotting import evaluate

    return evaluate(str(labels_root), str(predictions_root), split=None, dataset=None, metric=metric,
                    EVENT_DICTIONARY=dictionary, **kwargs)


# The official scorer costs seconds even on tiny inputs (12 deltas x 17 classes x 200 thresholds of numpy
# calls), so few seeds: the custom-class and v1 tests below add three more random seasons.
@pytest.mark.parametrize("seed, metric", [(0, "loose"), (1, "tight"), (2, "at3")])
def test_equals_official_on_random_v2_seasons(tmp_path, seed, metric):
    from SoccerNet.Evaluation.utils import EVENT_DICTIONARY_V2

    labels_root, predictions_root = write_random_season(tmp_path, seed, CLASS_NAMES_V2)
    ours = evaluate_folders(labels_root, predictions_root, None, metric, progress=False)
    official = official_evaluate(labels_root, predictions_root, metric, EVENT_DICTIONARY_V2)
    assert max_abs_diff(ours, official) <= 1e-6
    assert 0.0 < ours["a_mAP"] < 1.0  # a real mixture of hits and misses, not a degenerate case


@pytest.mark.parametrize("metric", ["loose", "tight"])
def test_equals_official_with_a_custom_class_list(tmp_path, metric):
    classes = ["Pass", "Drive", "Header", "Tackle"]
    labels_root, predictions_root = write_random_season(tmp_path, 10, classes)
    ours = evaluate_folders(labels_root, predictions_root, None, metric, classes=classes, progress=False)
    official = official_evaluate(labels_root, predictions_root, metric, {name: i for i, name in enumerate(classes)})
    assert len(ours["a_mAP_per_class"]) == 4
    assert max_abs_diff(ours, official) <= 1e-6


def test_equals_official_v1_scoring(tmp_path):
    from SoccerNet.Evaluation.utils import EVENT_DICTIONARY_V1

    raw_labels = ["soccer-ball", "soccer-ball-own", "r-card", "y-card", "yr-card", "substitution-in"]
    labels_root, predictions_root = write_random_season(tmp_path, 11, raw_labels, labels_file="Labels.json")
    # v1 predictions name the official classes (card, subs, soccer): rename the raw ones.
    for path in predictions_root.rglob("results_spotting.json"):
        obj = json.loads(path.read_text())
        for entry in obj["predictions"]:
            entry["label"] = next(name for name in CLASS_NAMES_V1_OFFICIAL if name in entry["label"])
        path.write_text(json.dumps(obj))
    ours = evaluate_folders(labels_root, predictions_root, None, "loose", version=1, progress=False)
    official = official_evaluate(labels_root, predictions_root, "loose", EVENT_DICTIONARY_V1, version=1,
                                 label_files="Labels.json")
    assert ours["a_mAP_visible"] is None
    assert max_abs_diff(ours, official) <= 1e-6


# ---------------------------------------------------------------------------------------------------------
# The 100 real test games with the official NetVLAD baseline's predictions.

@pytest.fixture(scope="module")
def real_roots(soccernet_data):
    predictions = soccernet_data / "predictions" / "netvlad_v2_test"
    if not predictions.is_dir():
        pytest.skip(f"official NetVLAD test predictions not found at {predictions}")
    return soccernet_data / "labels", predictions


@pytest.mark.real
def test_real_test_split_matches_the_published_baseline_and_the_official_scorer(real_roots):
    from SoccerNet.Evaluation.ActionSpotting import evaluate

    labels_root, predictions_root = real_roots
    loose = evaluate_folders(labels_root, predictions_root, "test", "loose", progress=False)
    tight = evaluate_folders(labels_root, predictions_root, "test", "tight", progress=False)
    assert round(loose["a_mAP"], 5) == 0.31383
    assert round(tight["a_mAP"], 5) == 0.04222
    # The official scorer once per session (tight is its cheaper metric): every field must agree.
    official = evaluate(str(labels_root), str(predictions_root), split="test", metric="tight")
    assert max_abs_diff(tight, official) <= 1e-6


def add_untidy_entries(labels_root: Path, predictions_root: Path) -> None:
    """What the official scorer silently skips: classes outside the dictionary, halves other than 1 and 2."""
    for game in sorted(p.parent.relative_to(labels_root) for p in labels_root.rglob("Labels-v2.json")):
        labels_file, predictions_file = labels_root / game / "Labels-v2.json", predictions_root / game / "results_spotting.json"
        labels, predictions = json.loads(labels_file.read_text()), json.loads(predictions_file.read_text())
        labels["annotations"] += [
            {"gameTime": "1 - 02:00", "label": "Dive", "position": "120000", "team": "home", "visibility": "visible"},
            {"gameTime": "3 - 00:30", "label": "Goal", "position": "30000", "team": "away", "visibility": "visible"},
        ]
        predictions["predictions"] += [
            {"gameTime": "1 - 02:00", "label": "Dive", "position": 120000, "half": 1, "confidence": 0.9},
            {"gameTime": "3 - 00:30", "label": "Goal", "position": "30000", "half": "3", "confidence": "0.8"},
            {"gameTime": "0 - 00:30", "label": "Goal", "position": 30000, "half": 0, "confidence": 0.7},
        ]
        labels_file.write_text(json.dumps(labels))
        predictions_file.write_text(json.dumps(predictions))


@pytest.mark.parametrize("metric", ["loose", "tight"])
def test_equals_official_on_untidy_files_and_strict_refuses_them(tmp_path, metric):
    from SoccerNet.Evaluation.utils import EVENT_DICTIONARY_V2

    from soccerspot.pipeline.evaluation.average_map import load_folders

    labels_root, predictions_root = write_random_season(tmp_path, 4, CLASS_NAMES_V2)
    add_untidy_entries(labels_root, predictions_root)
    ours = evaluate_folders(labels_root, predictions_root, None, metric, progress=False)
    official = official_evaluate(labels_root, predictions_root, metric, EVENT_DICTIONARY_V2)
    assert max_abs_diff(ours, official) <= 1e-6
    games = sorted(str(p.parent.relative_to(labels_root)) for p in labels_root.rglob("Labels-v2.json"))
    loaded = load_folders(labels_root, predictions_root, games, progress=False)
    skipped = {path.name: counts for path, counts in loaded.skipped_entries()}
    assert len(loaded.skipped_entries()) == 2 * len(games)
    assert skipped["Labels-v2.json"] == {"unknown label": 1, "half not 1 or 2": 1}
    assert skipped["results_spotting.json"] == {"unknown label": 1, "half not 1 or 2": 2}
    with pytest.raises(DataError, match="unknown label 'Dive'|valid halves are 1 and 2"):
        load_folders(labels_root, predictions_root, games, progress=False, strict=True)
