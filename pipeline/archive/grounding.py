"""Replay grounding of an archive game (`soccerspot archive --ground CKPT`): where the game's source folder
(beside its videos) or its output folder holds a Labels-cameras.json, its replays are grounded on the
features the archive extracted and written as Detection-replays.json in the output folder."""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

from soccerspot.data.cameras import CAMERAS_FILE, DETECTIONS_FILE
from soccerspot.errors import DataError


@lru_cache(maxsize=4)
def _grounder(model: str, fusion: str | None = None):
    from soccerspot.pipeline.inference.grounding import fusion_options, load_grounder

    return load_grounder(model, overrides=fusion_options(fusion) if fusion is not None else None)


def camera_labels_of(game, game_dir: Path) -> Path | None:
    for folder in (game.halves[0].video.parent, game_dir):
        if (folder / CAMERAS_FILE).is_file():
            return folder / CAMERAS_FILE
    return None


def ground_archive_game(model: str, game, game_dir: Path, feature_name: str, fusion: str | None = None) -> list[str]:
    """The files written (none for a game without camera labels). `fusion`: `--ground-fusion`'s value (None: the
    head's own setting)."""
    from soccerspot.pipeline.inference.grounding import ground_folder

    labels = camera_labels_of(game, game_dir)
    if labels is None:
        return []
    grounder = dataclasses.replace(_grounder(model, fusion), feature_name=feature_name)
    if grounder.head is not None:
        features_dim = _features_dim(game_dir, feature_name, game.halves[0].half)
        if grounder.head.config.input_dim != features_dim:
            raise DataError(grounder.head.path, f"grounding head for {grounder.head.config.input_dim}-d features, "
                                                f"the archive's {feature_name} are {features_dim}-d")
    ground_folder(game_dir, grounder, game_dir / DETECTIONS_FILE, labels, overwrite=True, game=game.key)
    return [DETECTIONS_FILE]


def _features_dim(game_dir: Path, name: str, half: int) -> int:
    from soccerspot.data.features import load_features

    return int(load_features(game_dir, half, name).array.shape[1])
