"""Per-frame class probabilities of a half, stored in the feature layout.

`soccerspot spot --save-scores` writes, beside each game's `results_spotting.json`,
`<half>_scores.npy` (float32, frames x classes, the head's probabilities before NMS) and its sidecar
`<half>_scores.json`: a `FeatureMeta` whose rows carry the features' own timestamps, with
`extra = {"classes": [...], "features": <feature name>, "model": <checkpoint>}`. Plots, threshold
tuning and ensembles read them back with `read_scores`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soccerspot.errors import DataError
from soccerspot.data.features import FeatureMeta, feature_path, load_features, write_features
from soccerspot.data.games import SCORES_NAME



@dataclass
class HalfScores:
    probabilities: np.ndarray  # (frames, classes) in [0, 1]
    times: np.ndarray  # (frames,) seconds from the start of the half
    classes: list[str]
    meta: FeatureMeta
    path: Path


def scores_path(game_dir: str | Path, half: int) -> Path:
    return feature_path(game_dir, half, SCORES_NAME)


def write_scores(game_dir: str | Path, half: int, probabilities: np.ndarray, feature_meta: FeatureMeta,
                 classes: list[str], *, feature_name: str, model: str) -> Path:
    """Write one half's probabilities with the timestamps of the feature rows they were computed from."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(classes):
        raise ValueError(f"scores must be (frames, {len(classes)}), got {probabilities.shape}")
    if probabilities.shape[0] != feature_meta.num_frames:
        raise ValueError(f"{probabilities.shape[0]} score rows for {feature_meta.num_frames} feature rows")
    meta = dataclasses.replace(
        feature_meta, pca=None, precision="float32",
        extra={"classes": list(classes), "features": feature_name, "model": str(model)},
    )
    return write_features(game_dir, half, SCORES_NAME, probabilities, meta)


def read_scores(game_dir: str | Path, half: int) -> HalfScores:
    """Read one half's saved scores; `DataError` naming the file when absent or inconsistent."""
    half_features = load_features(game_dir, half, SCORES_NAME)
    classes = half_features.meta.extra.get("classes")
    if not isinstance(classes, list) or len(classes) != half_features.array.shape[1]:
        raise DataError(half_features.path, "not a scores file: its sidecar lists no classes matching its columns "
                                            "(write scores with soccerspot spot --save-scores)")
    return HalfScores(probabilities=np.asarray(half_features.array), times=half_features.meta.frame_times(),
                      classes=[str(c) for c in classes], meta=half_features.meta, path=half_features.path)
