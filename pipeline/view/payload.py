"""The JSON the page draws one game from: halves (video, duration, fps), spots, labels, score curves,
replays and the saved review. Also the games list with counts per class and review progress.

Classes are listed as the timeline plot lists them (`pipeline.reports.class_order.occurring_first`): those
that occur in the game (a label, a spot at or above the page's starting confidence `SHOWN_CONFIDENCE`, or a
score curve off the floor) first, then the silent ones (`silent` in the payload).

The task (`data.tasks`, `soccerspot view --task`) gives the class set, the teams and the hit tolerance: spots
and labels carry their `team`, and the payload names the task's `teams` and `hit_seconds`, by which the page
marks a spot as a hit (a label of its class, and team, that close)."""
from __future__ import annotations

from collections import Counter

from soccerspot.data.labels import GameLabels, Prediction, read_predictions
from soccerspot.data.tasks import TaskSpec, task_spec
from soccerspot.errors import DataError
from soccerspot.pipeline.reports.class_order import occurring_first
from soccerspot.pipeline.view.catalog import ViewGame
from soccerspot.pipeline.view.media import probe
from soccerspot.pipeline.view.replays import read_replays
from soccerspot.pipeline.view.review import ReviewStore

MAX_CURVE_POINTS = 12_000  # per half and class: enough for a 45-minute half at 4 points a second
SHOWN_CONFIDENCE = 0.3  # the confidence slider's starting value (static/index.html): spots below it are hidden


SPOTTING = task_spec("spotting")


def prediction_id(p: Prediction) -> str:
    """`p:<half>:<ms>:<class>`, and `:<team>` where the spot names one (two teams' spots of a frame differ)."""
    return f"p:{p.half}:{p.position_ms}:{p.label}" + (f":{p.team}" if p.team else "")


def read_spots(game: ViewGame) -> tuple[list[Prediction], list[str]]:
    """The game's spots, one per id (the most confident), and problems met."""
    if game.predictions is None:
        return [], []
    try:
        found = read_predictions(game.predictions, strict=False).predictions
    except DataError as error:
        return [], [str(error)]
    best: dict[str, Prediction] = {}
    for p in found:
        if prediction_id(p) not in best or p.confidence > best[prediction_id(p)].confidence:
            best[prediction_id(p)] = p
    return sorted(best.values(), key=lambda p: (p.half, p.position_ms, p.label)), []


def ordered_classes(names: set[str], known: list[str] | None = None) -> list[str]:
    known = SPOTTING.classes if known is None else known
    return [c for c in known if c in names] + sorted(names - set(known))


def score_curves(game: ViewGame, lanes: set[str]) -> tuple[dict, dict[str, float], list[str]]:
    """{half: {"times": [...], "classes": {class: [...]}}} for the lanes' classes, 3 decimals; each class's
    highest score over the halves (every class scored); problems met."""
    import numpy as np

    from soccerspot.data.scores import read_scores

    curves, peaks, problems = {}, {}, []
    for half, path in sorted(game.scores.items()):
        try:
            scores = read_scores(path.parent, half)
        except (DataError, ValueError, OSError) as error:
            problems.append(str(error))
            continue
        if len(scores.times):
            for name, peak in zip(scores.classes, scores.probabilities.max(axis=0)):
                peaks[name] = max(float(peak), peaks.get(name, 0.0))
        step = max(1, int(np.ceil(len(scores.times) / MAX_CURVE_POINTS)))
        keep = slice(None, None, step)
        curves[str(half)] = {
            "times": np.round(scores.times[keep], 3).tolist(),
            "classes": {c: np.round(scores.probabilities[keep, i].astype(float), 3).tolist()
                        for i, c in enumerate(scores.classes) if c in lanes},
        }
    return curves, peaks, problems


def game_payload(game: ViewGame, store: ReviewStore, task: TaskSpec = SPOTTING) -> dict:
    spots, problems = read_spots(game)
    original: GameLabels | None = None
    if game.labels is not None:
        try:
            original = store.original_labels(game.labels)
        except DataError as error:
            problems.append(str(error))
    truth = original.events if original is not None else []
    problems += [f"no {task.labels_file} for this game, but {path} is there: open it with soccerspot view --task {name}"
                 for name, path in game.other_labels]
    halves = []
    for half, video in sorted(game.videos.items()):
        info = probe(video)
        halves.append({"half": half, "video": video.name, "duration": info.duration, "fps": info.fps,
                       "problem": info.problem})
    for half in sorted(({p.half for p in spots} | {e.half for e in truth}) - set(game.videos)):
        halves.append({"half": half, "video": None, "duration": None, "fps": 25.0,
                       "problem": "no video for this half (looked beside the results and under --labels)"})
    halves.sort(key=lambda h: h["half"])
    lanes = ordered_classes({p.label for p in spots} | {e.label for e in truth}, task.classes)
    curves, peaks, curve_problems = score_curves(game, set(lanes))
    order = occurring_first(ordered_classes(set(task.classes) | set(lanes), task.classes),
                            labels=[e.label for e in truth],
                            spots=[(p.label, p.confidence) for p in spots], min_confidence=SHOWN_CONFIDENCE,
                            score_peaks=peaks)
    replays, replay_problems = read_replays(game.cameras, game.replays)
    saved = store.load(game.key)
    stale = store.stale(saved, game.labels)
    if stale:
        problems.append(stale)
    return {
        "key": game.key,
        "task": task.name,
        "teams": list(task.teams),  # a spot's or label's `team` is one of these (or "")
        "hit_seconds": task.hit_seconds,
        "halves": halves,
        "classes": [name for name in order.ordered if name in set(lanes)],  # with a spot or a label
        "all_classes": order.ordered,
        "silent": order.silent,
        "shown_confidence": SHOWN_CONFIDENCE,
        "spots": [{"id": prediction_id(p), "half": p.half, "t": p.position_ms / 1000, "label": p.label,
                   "confidence": round(p.confidence, 4), "team": p.team} for p in spots],
        "truth": [{"id": f"t:{i}", "half": e.half, "t": e.position_ms / 1000, "label": e.label,
                   "visibility": e.visibility, "team": e.team} for i, e in enumerate(truth)],
        "has_labels": original is not None,
        "scores": curves,
        "replays": replays,
        "review": {"decisions": saved.get("decisions", {}), "saved_at": saved.get("saved_at"),
                   "labels": str(store.labels_target(game.key, game.labels, game.folder or store.review_dir)),
                   "in_place": store.in_place},
        "problems": problems + curve_problems + replay_problems,
    }


def per_class(spots: list[Prediction], known: list[str] | None = None) -> dict[str, int]:
    """Spots per class, the classes with a spot at or above `SHOWN_CONFIDENCE` first (`occurring_first`)."""
    counts = Counter(p.label for p in spots)
    order = occurring_first(ordered_classes(set(counts), known), spots=[(p.label, p.confidence) for p in spots],
                            min_confidence=SHOWN_CONFIDENCE)
    return {name: counts[name] for name in order.ordered}


def games_listing(games: list[ViewGame], store: ReviewStore, task: TaskSpec = SPOTTING) -> list[dict]:
    rows = []
    for game in games:
        spots, problems = read_spots(game)
        saved = store.load(game.key) if (store.folder(game.key) / "review.json").is_file() else {}
        rows.append({
            "key": game.key,
            "spots": len(spots),
            "per_class": per_class(spots, task.classes),
            "has_labels": game.labels is not None,
            "halves": sorted(game.videos),
            "progress": saved.get("progress"),
            "problems": problems,
        })
    return rows
