"""Spotting: a head checkpoint + frame features -> `results_spotting.json` per game.

Input: one feature file (`<game>/1_<name>.npy`), one game folder, or a tree of game folders
(SoccerNet layout). For each game, every half that has `<half>_<name>.npy` is scored frame by frame
(`soccerspot.pipeline.infer`), NMS keeps the peaks (`soccerspot.pipeline.postprocess`), and the spots are written with
`data.labels.write_predictions` (integer ms positions from each row's own timestamp).

Where results go: beside the features (`<game>/results_spotting.json`) unless `out` is given; with `out`,
a tree keeps its layout below `out` (`<out>/<league>/<season>/<game>/results_spotting.json`, what the
official evaluator reads) and a single game writes `<out>/results_spotting.json`.
An existing results file is never replaced silently: the game is *skipped* and reported (so a batch run
that was interrupted resumes where it stopped); `overwrite=True` replaces it.

Checks before scoring, each a `DataError` naming the file: NaN/inf (first bad row), feature width
different from the head's input, and — for our checkpoints — features made with other settings than the
head was trained on (backbone, weights, fps, transform, PCA... `FeatureMeta.settings()`). Peer
checkpoints carry no feature settings (they were trained on the official files) and skip that check.
A batch goes on past a bad game and reports it.

`spot_features(head, game_dir, feature_name, ...)` spots one game and is what other front-ends (e.g.
video input: extract first, then spot) call.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from soccerspot.data.errors import DataError
from soccerspot.data.features import HALVES, check_finite, feature_path, load_features
from soccerspot.data.labels import PREDICTIONS_FILE, GamePredictions, Prediction, write_predictions
from soccerspot.pipeline.checkpoints import LoadedHead, NmsSettings
from soccerspot.pipeline.infer import DEFAULT_BATCH, frame_scores
from soccerspot.pipeline.postprocess import NMS_KINDS, scores_to_predictions, window_in_frames

_FEATURE_FILE = re.compile(r"^([12])_(.+)\.npy$")


@dataclass
class SpotOptions:
    """Inference choices; None = the checkpoint's own default."""

    nms: str | None = None  # "hard" | "soft"
    nms_window: float | None = None  # seconds
    threshold: float | None = None
    overwrite: bool = False
    method: str = "auto"  # "auto" | "fast" | "per-window" (see pipeline.infer)
    batch_size: int = DEFAULT_BATCH


@dataclass
class GameResult:
    game: str  # game folder, relative to the input root ("." for a single game)
    output: Path | None
    status: str  # "spotted" | "skipped" (results exist) | "error"
    predictions: int = 0
    halves: list[int] = field(default_factory=list)
    error: str | None = None


@dataclass
class SpotReport:
    results: list[GameResult]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def errors(self) -> list[GameResult]:
        return [r for r in self.results if r.status == "error"]


def resolve_nms(head: LoadedHead, options: SpotOptions) -> NmsSettings:
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


def check_compatible(head: LoadedHead, array: np.ndarray, settings: dict, path: Path) -> None:
    """Raise `DataError` when features cannot be scored by this head."""
    if array.shape[1] != head.config.input_dim:
        raise DataError(path, f"features are {array.shape[1]}-d but the head {head.path} expects "
                              f"{head.config.input_dim}-d inputs")
    fps = settings.get("fps")
    if fps is not None and abs(float(fps) - head.fps) > 1e-6:
        raise DataError(path, f"features are sampled at {fps} fps but the head {head.path} works on {head.fps} fps "
                              f"windows of {head.config.window_frames} rows")
    if head.feature_settings is not None and settings != head.feature_settings:
        differences = sorted(k for k in set(settings) | set(head.feature_settings)
                             if settings.get(k) != head.feature_settings.get(k))
        detail = "; ".join(f"{k}: features {settings.get(k)!r}, head {head.feature_settings.get(k)!r}" for k in differences)
        raise DataError(path, f"features were made with other settings than the head {head.path} was trained on ({detail}); "
                              "extract them again with the head's settings, or use a head trained on these")


def spot_half(head: LoadedHead, game_dir: Path, half: int, feature_name: str, nms: NmsSettings,
              options: SpotOptions) -> list[Prediction]:
    """One half's spots (all checks first)."""
    features = load_features(game_dir, half, feature_name)
    check_compatible(head, features.array, features.meta.settings(), features.path)
    check_finite(features.array, features.path)
    scores = frame_scores(head.model, features.array, head.config.window_frames,
                          method=options.method, batch_size=options.batch_size)
    return scores_to_predictions(
        scores,
        features.meta.frame_times(),
        head.classes,
        half,
        kind=nms.kind,
        window_frames=window_in_frames(nms.window_seconds, features.meta.fps),
        threshold=nms.threshold,
    )


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
    predictions: list[Prediction] = []
    for half in halves:
        predictions += spot_half(head, game_dir, half, feature_name, nms, options)
    write_predictions(out_path, GamePredictions(url=url if url is not None else game_dir.name, predictions=predictions))
    return GameResult(game, out_path, "spotted", len(predictions), halves)


def feature_names_in(game_dir: Path) -> list[str]:
    """Feature names present in a game folder (`1_<name>.npy` / `2_<name>.npy`)."""
    names = {m.group(2) for p in game_dir.glob("[12]_*.npy") if (m := _FEATURE_FILE.match(p.name))}
    return sorted(names)


def find_feature_games(root: Path, feature_name: str) -> list[Path]:
    """Game folders below `root` holding a half of `feature_name`, sorted."""
    games = {p.parent for half in HALVES for p in root.rglob(f"{half}_{feature_name}.npy")}
    return sorted(games)


def resolve_input(path: str | Path, feature_name: str | None, head: LoadedHead) -> tuple[Path, str, list[Path], bool]:
    """(root, feature name, game folders, single game?) for a feature file, a game folder or a tree."""
    path = Path(path)
    if path.is_file():
        match = _FEATURE_FILE.match(path.name)
        if not match:
            raise DataError(path, "not a feature file: expected <half>_<name>.npy (e.g. 1_ResNET_TF2_PCA512.npy)")
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
