"""A planted feature season with replays, for the grounding tests (no video: seconds to make)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from soccerspot.data.cameras import (
    CAMERAS_FILE, MAIN_CAMERA, REAL_TIME, REPLAY, REPLAY_CAMERA, CameraChange, CameraLabels, ReplayLink,
    mm_ss, write_camera_labels,
)
from soccerspot.data.features import FeatureMeta, write_features
from soccerspot.data.labels import Event, GameLabels, write_labels
from soccerspot.data.games import LABELS_FILE

FEATURES = "planted"
CLASSES = ("Goal", "Foul", "Shots on target", "Corner")


def planted_game(game_dir: Path, seed: int, rows: int = 400, dim: int = 16) -> list[tuple[int, int, int]]:
    """Features where each action is a random pattern around its row, and its replay (10-80 s later, 8 s
    long) shows that pattern again, weaker, with a 'replay' marker. Returns (half, action s, replay start s)."""
    rng = np.random.default_rng(seed)
    marker = np.random.default_rng(999).normal(0, 1, dim).astype(np.float32)
    events, changes, replays = [], [], []
    for half in (1, 2):
        array = rng.normal(0, 0.5, size=(rows, dim)).astype(np.float32)
        changes.append(CameraChange(half, 0, MAIN_CAMERA, 0))
        second = 8
        while second + 110 < rows // 2:
            action = second + int(rng.integers(0, 10))
            pattern = rng.normal(0, 1, dim).astype(np.float32) * 2.0
            array[2 * action - 4:2 * action + 3] += pattern
            label = CLASSES[int(rng.integers(len(CLASSES)))]
            events.append(Event(half, action * 1000, label, "home"))
            start = action + int(rng.integers(10, 80))
            end = start + 8
            if end < rows // 2 - 2 and (not replays or start > replays[-1][2] + 12):
                array[2 * start:2 * end] = 0.7 * pattern + marker + rng.normal(0, 0.5, (2 * (end - start), dim))
                changes.append(CameraChange(half, start, REPLAY_CAMERA, start * 1000, "logo", REPLAY))
                changes.append(CameraChange(half, end, MAIN_CAMERA, end * 1000, "logo", REAL_TIME,
                                            ReplayLink(label, half, mm_ss(action), action * 1000, "home")))
                replays.append((half, action, start))
            second = action + int(rng.integers(15, 30))
        write_features(game_dir, half, FEATURES, array, FeatureMeta(backbone="planted", weights="none", fps=2.0,
                                                                     step=0.5, transform="none"))
    changes.sort(key=lambda c: (c.half, c.seconds))
    write_labels(game_dir / LABELS_FILE, GameLabels(url=str(game_dir), events=events))
    write_camera_labels(game_dir / CAMERAS_FILE, CameraLabels(url=str(game_dir), changes=changes))
    return replays


def planted_season(root: Path, games: int, split: str = "train", seed: int = 0) -> list[str]:
    names = []
    for index in range(games):
        name = f"planted/season/{split}-{index}"
        planted_game(root / name, seed * 100 + index + (50 if split == "test" else 0))
        names.append(name)
    return names
