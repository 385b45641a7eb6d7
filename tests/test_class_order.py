"""Classes that occur in a game (a label, a spot at or above the shown confidence, a score curve off the
floor) are listed before the silent ones, by one function, in the timeline plot and the review page's payload."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from soccerspot.data.classes import CLASS_NAMES_V2
from soccerspot.data.features import FeatureMeta
from soccerspot.data.labels import Event, GameLabels, GamePredictions, Prediction, write_labels, write_predictions
from soccerspot.data.scores import write_scores
from soccerspot.pipeline.reports.class_order import SCORE_FLOOR, occurring_first
from soccerspot.pipeline.reports.timeline import SILENT_GROUP, load_timelines, timeline_panels


def test_a_label_a_confident_spot_or_a_score_off_the_floor_make_a_class_occur():
    classes = ["Penalty", "Kick-off", "Goal", "Substitution", "Offside", "Corner"]
    order = occurring_first(classes, labels=["Corner"], spots=[("Goal", 0.5), ("Kick-off", 0.29)],
                            min_confidence=0.3, score_peaks={"Offside": SCORE_FLOOR, "Penalty": SCORE_FLOOR / 2})
    assert order.occurring == ["Goal", "Offside", "Corner"]  # the given order, not the order of the evidence
    assert order.silent == ["Penalty", "Kick-off", "Substitution"]
    assert order.ordered == ["Goal", "Offside", "Corner", "Penalty", "Kick-off", "Substitution"]
    nothing = occurring_first(classes + ["Goal"])  # repeated names are listed once
    assert nothing.occurring == [] and nothing.silent == classes


def write_game(folder: Path) -> None:
    """Two halves, 17 classes scored: Goal spotted in the first, Corner labelled in the second, Foul's curve
    rising to 0.4 in the second; every other class at 0.02, with one weak spot of Offside."""
    rows = 120
    for half in (1, 2):
        probabilities = np.full((rows, len(CLASS_NAMES_V2)), 0.02, np.float32)
        if half == 2:
            probabilities[50, CLASS_NAMES_V2.index("Foul")] = 0.4
        write_scores(folder, half, probabilities, FeatureMeta(num_frames=rows, step=0.5), CLASS_NAMES_V2,
                     feature_name="t", model="t")
    write_predictions(folder / "results_spotting.json", GamePredictions("g", [
        Prediction(1, 10_000, "Goal", 0.9), Prediction(2, 20_000, "Offside", 0.05)]))
    write_labels(folder / "Labels-v2.json", GameLabels("g", [Event(2, 30_000, "Corner")]))


def test_the_timeline_panels_list_the_games_classes_first_and_the_silent_ones_last(tmp_path):
    write_game(tmp_path)
    first, second = load_timelines(tmp_path, labels=tmp_path)
    occurring = [c for c in CLASS_NAMES_V2 if c in ("Goal", "Foul", "Corner")]
    for timeline in (first, second):  # the whole game decides, so both halves show the same panels
        assert timeline.classes[:3] == occurring
        assert timeline.silent == [c for c in CLASS_NAMES_V2 if c not in occurring]
        panels = timeline_panels(timeline)
        assert [name for _, members in panels[:-2] for name in members] == ["Goal", "Foul", "Corner"]
        assert all(title.startswith(SILENT_GROUP) for title, _ in panels[-2:])
        assert [name for _, members in panels[-2:] for name in members] == timeline.silent  # 14: two panels


def test_the_review_page_lists_the_games_classes_first(tmp_path):
    from soccerspot.pipeline.view.payload import SHOWN_CONFIDENCE, game_payload
    from soccerspot.pipeline.view.catalog import find_view_games
    from soccerspot.pipeline.view.review import ReviewStore
    from view_helpers import GAME, make_view_tree

    tree = make_view_tree(tmp_path)
    store = ReviewStore(tmp_path / "reviewed")
    game = next(g for g in find_view_games(tree.results, tree.season) if g.key == GAME)
    payload = game_payload(game, store)
    # Goal, Corner, Throw-in and Substitution are labelled; Yellow card's spot (0.40) is above the slider's 0.30
    occurring = [c for c in CLASS_NAMES_V2 if c in ("Goal", "Corner", "Throw-in", "Substitution", "Yellow card")]
    assert payload["all_classes"] == occurring + payload["silent"]
    assert payload["silent"] == [c for c in CLASS_NAMES_V2 if c not in occurring]
    assert payload["classes"] == occurring and payload["shown_confidence"] == SHOWN_CONFIDENCE
    page = (Path(__file__).parents[1] / "pipeline" / "view" / "static" / "index.html").read_text()
    slider = re.search(r'<input id="threshold"[^>]*value="([0-9.]+)"', page)
    assert slider and float(slider.group(1)) == SHOWN_CONFIDENCE  # the order is the one the page opens with


def test_the_games_list_counts_the_games_classes_first():
    from soccerspot.pipeline.view.payload import per_class

    spots = [Prediction(1, 0, "Penalty", 0.1), Prediction(1, 500, "Goal", 0.9), Prediction(2, 0, "Penalty", 0.2)]
    assert list(per_class(spots).items()) == [("Goal", 1), ("Penalty", 2)]  # Penalty leads in official order
