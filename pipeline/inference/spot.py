"""Spotting: a head checkpoint + frame features -> `results_spotting.json` per game.

Input: one feature file (`<game>/1_<name>.npy`), one game folder, or a tree of game folders
(SoccerNet layout). For each game, every half that has `<half>_<name>.npy` is scored frame by frame
(`soccerspot.pipeline.inference.scores`), NMS keeps the peaks (`soccerspot.pipeline.inference.nms`), and the spots are written with
`data.labels.write_predictions` (integer ms positions from each row's own timestamp).

Where results go: beside the features (`<game>/results_spotting.json`) unless `out` is given; with `out`,
a tree keeps its layout below `out` (`<out>/<league>/<season>/<game>/results_spotting.json`, what the
official evaluator reads) and a single game writes `<out>/results_spotting.json`.
An existing results file is never replaced silently: the game is *skipped* and reported (so a batch run
that was interrupted resumes where it stopped); `overwrite=True` replaces it.

Checks before scoring, each a `DataError` naming the file: NaN/inf (first bad row), feature width
different from the head's input, and — for our checkpoints — features whose identity differs from the
head's training features (backbone, weights, fps, transform, input size, PCA, width:
`FeatureMeta.identity()`). The precision the features were computed at is not part of their identity: a
head trained on fp32 features scores bf16 or fp16 ones (and the reverse) with a warning in
`GameResult.warnings`. Peer checkpoints carry no feature settings (they were trained on the official
files) and skip that check. A batch goes on past a bad game and reports it.

With `SpotOptions.save_scores`, each half's per-frame class probabilities are written beside the game's
results (`data.scores`: `<half>_scores.npy` + sidecar with the rows' timestamps), before the results file,
so a game whose results exist has its scores too.

`spot_features(head, game_dir, feature_name, ...)` spots one game and is what other front-ends (e.g.
video input: extract first, then spot) call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch import nn
from tqdm import tqdm

from soccerspot.data.features import (
    PRECISION_KEY, FeatureMeta, HalfFeatures, check_finite, feature_identity, feature_path, load_features,
)
from soccerspot.data.games import FEATURE_FILE, HALVES, PREDICTIONS_FILE, feature_names_in
from soccerspot.data.labels import GamePredictions, Prediction, write_predictions
from soccerspot.data.scores import SCORES_NAME, write_scores
from soccerspot.errors import DataError
from soccerspot.models.heads import head_entry
from soccerspot.pipeline.inference.checkpoints import LoadedHead, NmsSettings
from soccerspot.pipeline.inference.nms import NMS_KINDS, scores_to_predictions, window_in_frames
from soccerspot.pipeline.inference.scores import DEFAULT_BATCH, frame_scores



@dataclass
class SpotOptions:
    """Inference choices; None = the checkpoint's own default."""

    nms: str | None = None  # "hard" | "soft"
    nms_window: float | None = None  # seconds
    threshold: float | None = None
    overwrite: bool = False
    method: str = "auto"  # "auto" | "fast" | "per-window" (see pipeline.inference.scores)
    batch_size: int = DEFAULT_BATCH
    save_scores: bool = False  # also write each half's per-frame probabilities (data.scores)


@dataclass
class HalfSpots:
    """One half scored: its spots, the per-frame probabilities they came from, and the features' metadata."""

    half: int
    predictions: list[Prediction]
    scores: np.ndarray  # (frames, classes), before NMS
    meta: FeatureMeta
    warning: str | None = None  # e.g. features at another precision than the head's training features


@dataclass
class GameResult:
    game: str  # game folder, relative to the input root ("." for a single game)
    output: Path | None
    status: str  # "spotted" | "skipped" (results exist) | "error"
    predictions: int = 0
    halves: list[int] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class SpotReport:
    results: list[GameResult]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def errors(self) -> list[GameResult]:
        return [r for r in self.results if r.status == "error"]


def resolve_nms(head: LoadedHead, options: SpotOptions) -> NmsSettings:
    """The NMS settings of a spotting run (every spotting path calls it first: a replay grounding head is
    refused here, naming its checkpoint)."""
    if head_entry(head.config.kind).task != "spotting":
        raise DataError(head.path, f"a {head.config.kind} head grounds replays, it does not spot actions: use "
                                   "soccerspot ground")
    nms = NmsSettings(
        kind=options.nms or head.nms.kind,
        window_seconds=head.nms.window_seconds if options.nms_window is None else float(options.nms_window),
        threshold=head.nms.threshold if options.threshold is None else float(options.threshold),
    )
    if nms.kind not in NMS_KINDS:
        raise ValueError(f"unknown NMS kind {nms.kind!r}; choose one of {', '.join(NMS_KINDS)}")
    if nms.window_seconds <= 0:
        raise ValueError(f"the NMS window must be positive, got {nms.window_seconds} s")
    return nms


def check_compatible(head: LoadedHead, array: np.ndarray, settings: dict, path: Path) -> str | None:
    """Raise `DataError` when features cannot be scored by this head; return a warning when they can but
    were computed at another precision than the head's training features."""
    if array.shape[1] != head.config.input_dim:
        raise DataError(path, f"features are {array.shape[1]}-d but the head {head.path} expects "
                              f"{head.config.input_dim}-d inputs")
    fps = settings.get("fps")
    if fps is not None and abs(float(fps) - head.fps) > 1e-6:
        raise DataError(path, f"features are sampled at {fps} fps but the head {head.path} works on {head.fps} fps "
                              f"windows of {head.config.window_frames} rows")
    if head.feature_settings is None:
        return None
    ours, theirs = feature_identity(settings), feature_identity(head.feature_settings)
    if ours != theirs:
        differences = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        detail = "; ".join(f"{k}: features {ours.get(k)!r}, head {theirs.get(k)!r}" for k in differences)
        raise DataError(path, f"features were made with other settings than the head {head.path} was trained on ({detail}); "
                              "extract them again with the head's settings, or use a head trained on these")
    return precision_warning(head, settings.get(PRECISION_KEY))


def precision_warning(head: LoadedHead, precision: object) -> str | None:
    """The warning for features computed at another precision than the head's training features (the same
    text for every half, so a batch reports it once)."""
    trained = (head.feature_settings or {}).get(PRECISION_KEY)
    if precision is None or trained is None or precision == trained:
        return None
    return (f"features computed at {precision} scored by the head {head.path}, trained on {trained} features: "
            "spotted anyway (precision is not part of the features' identity; per-frame probabilities move "
            "slightly: see 'Precision is not identity' in the README)")


def half_spots(model: nn.Module, features: HalfFeatures, classes: list[str], half: int, nms: NmsSettings, *,
               method: str = "auto", batch_size: int = DEFAULT_BATCH) -> tuple[np.ndarray, list[Prediction]]:
    """The chain every spotting path shares (`spot`, training's validation Average-mAP): per-frame scores of
    a whole half, then NMS, each spot at its row's own timestamp. Returns (scores, spots)."""
    scores = frame_scores(model, features.array, model.config.window_frames, method=method, batch_size=batch_size)
    predictions = scores_to_predictions(scores, features.meta.frame_times(), classes, half, kind=nms.kind,
                                        window_frames=window_in_frames(nms.window_seconds, features.meta.fps),
                                        threshold=nms.threshold)
    return scores, predictions


def spot_half(head: LoadedHead, game_dir: Path, half: int, feature_name: str, nms: NmsSettings,
              options: SpotOptions) -> HalfSpots:
    """One half's spots and per-frame scores (all checks first)."""
    features = load_features(game_dir, half, feature_name)
    warning = check_compatible(head, features.array, features.meta.settings(), features.path)
    check_finite(features.array, features.path)
    scores, predictions = half_spots(head.model, features, head.classes, half, nms,
                                     method=options.method, batch_size=options.batch_size)
    return HalfSpots(half, predictions, scores, features.meta, warning)


def write_game(head: LoadedHead, spotted: list[HalfSpots], out_path: Path, *, feature_name: str, url: str,
               options: SpotOptions, game: str = ".") -> GameResult:
    """Write the scores (when asked) then `results_spotting.json`, last: results on disk mean a finished game."""
    if options.save_scores:
        for half in spotted:
            write_scores(out_path.parent, half.half, half.scores, half.meta, head.classes,
                         feature_name=feature_name, model=str(head.path))
    predictions = [p for half in spotted for p in half.predictions]
    write_predictions(out_path, GamePredictions(url=url, predictions=predictions))
    warnings = list(dict.fromkeys(half.warning for half in spotted if half.warning))
    return GameResult(game, out_path, "spotted", len(predictions), [half.half for half in spotted], warnings=warnings)


def spot_features(
    head: LoadedHead,
    game_dir: str | Path,
    feature_name: str,
    out_path: str | Path | None = None,
    *,
    options: SpotOptions | None = None,
    url: str | None = None,
    game: str = ".",
) -> GameResult:
    """Spot one game folder holding `<half>_<feature_name>.npy` files; write `out_path`
    (default `<game_dir>/results_spotting.json`). Raises `DataError` on bad input."""
    options = options or SpotOptions()
    game_dir = Path(game_dir)
    out_path = Path(out_path) if out_path is not None else game_dir / PREDICTIONS_FILE
    if out_path.exists() and not options.overwrite:
        return GameResult(game, out_path, "skipped")
    halves = [h for h in HALVES if feature_path(game_dir, h, feature_name).is_file()]
    if not halves:
        raise DataError(game_dir, f"no feature files {' or '.join(f'{h}_{feature_name}.npy' for h in HALVES)}")
    nms = resolve_nms(head, options)
    spotted = [spot_half(head, game_dir, half, feature_name, nms, options) for half in halves]
    return write_game(head, spotted, out_path, feature_name=feature_name,
                      url=url if url is not None else game_dir.name, options=options, game=game)


def find_feature_games(root: Path, feature_name: str) -> list[Path]:
    """Game folders below `root` holding a half of `feature_name`, sorted."""
    games = {p.parent for half in HALVES for p in root.rglob(f"{half}_{feature_name}.npy")}
    return sorted(games)


def resolve_input(path: str | Path, feature_name: str | None, head: LoadedHead) -> tuple[Path, str, list[Path], bool]:
    """(root, feature name, game folders, single game?) for a feature file, a game folder or a tree."""
    path = Path(path)
    if path.is_file():
        match = FEATURE_FILE.match(path.name)
        if not match:
            raise DataError(path, "not a feature file: expected <half>_<name>.npy (e.g. 1_ResNET_TF2_PCA512.npy)")
        if match.group(2) == SCORES_NAME:
            raise DataError(path, "a scores file written by --save-scores, not features")
        if feature_name and feature_name != match.group(2):
            raise DataError(path, f"file is feature {match.group(2)!r} but --features says {feature_name!r}")
        return path.parent, match.group(2), [path.parent], True
    if not path.is_dir():
        raise DataError(path, "no such feature file or folder")
    here = feature_names_in(path)
    if here:  # a game folder
        name = feature_name or _default_name(head, here, path)
        return path, name, [path], True
    name = feature_name or head.feature_name or head.training.get("features")
    if not name:
        raise DataError(path, "a tree of games: say which features to use with --features NAME (e.g. ResNET_TF2_PCA512)")
    games = find_feature_games(path, name)
    if not games:
        raise DataError(path, f"no game folder below holds 1_{name}.npy or 2_{name}.npy")
    return path, name, games, False


def _default_name(head: LoadedHead, present: list[str], game_dir: Path) -> str:
    preferred = head.feature_name or head.training.get("features")
    if preferred in present:
        return preferred
    if len(present) == 1:
        return present[0]
    raise DataError(game_dir, f"several features here ({', '.join(present)}): choose one with --features NAME")


def spot_paths(
    input_path: str | Path,
    head: LoadedHead,
    *,
    feature_name: str | None = None,
    out_dir: str | Path | None = None,
    options: SpotOptions | None = None,
    progress: bool = True,
) -> SpotReport:
    """Spot a feature file, a game folder or a tree; bad games are reported, the batch goes on."""
    options = options or SpotOptions()
    resolve_nms(head, options)  # fail early on bad options
    root, name, games, single = resolve_input(input_path, feature_name, head)
    results = []
    for game_dir in tqdm(games, desc="spotting", unit="game", disable=not progress or len(games) < 2):
        relative = "." if single else game_dir.relative_to(root).as_posix()
        if out_dir is None:
            out_path = game_dir / PREDICTIONS_FILE
        elif single:
            out_path = Path(out_dir) / PREDICTIONS_FILE
        else:
            out_path = Path(out_dir) / relative / PREDICTIONS_FILE
        url = game_dir.name if single else relative
        try:
            results.append(spot_features(head, game_dir, name, out_path, options=options, url=url, game=relative))
        except DataError as error:
            results.append(GameResult(relative, out_path, "error", error=str(error)))
    return SpotReport(results)
