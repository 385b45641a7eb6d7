"""Which games `soccerspot view PATH` shows, and the files of each: spots, labels, videos, scores, replays.

PATH is a game folder, a results tree (`spot`'s or `archive`'s output: `<game>/results_spotting.json`) or
a SoccerNet tree (`<game>/Labels-v2.json`, `<game>/1_224p.mkv`). A game is a folder below PATH holding a
`results_spotting.json`, a `Labels-v2.json` or half videos. Its key is its folder relative to PATH (a game
folder given itself as PATH: the path that matches it in `--labels`, else its name). Labels and videos are
looked for in the game's own folder, then in `--labels` under the same key (the demo and `archive` keep
videos and labels in the source tree, results elsewhere).

Only regular files whose real path lies inside PATH or `--labels` are listed: a symlink out of the trees
is ignored, as are names with control characters.

`labels_file` is the task's labels file (`data.tasks`: `Labels-v2.json`, or `Labels-ball.json` for
`soccerspot view --task ball`); the docstrings here name the default.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from soccerspot.errors import DataError
from soccerspot.data.games import LABELS_FILE, PREDICTIONS_FILE, VIDEO_EXTENSIONS
from soccerspot.data.games import half_videos as game_half_videos
from soccerspot.data.tasks import action_task_names, task_spec

CAMERAS_FILE = "Labels-cameras.json"
REPLAYS_FILE = "Detection-replays.json"
HALVES = (1, 2)


@dataclass
class ViewGame:
    key: str  # posix path relative to PATH; the game's id in URLs and in the review folder
    folder: Path | None  # the game's folder under PATH
    predictions: Path | None = None
    labels: Path | None = None
    videos: dict[int, Path] = field(default_factory=dict)
    scores: dict[int, Path] = field(default_factory=dict)  # half -> <half>_scores.npy
    cameras: Path | None = None
    replays: Path | None = None
    other_labels: list[tuple[str, Path]] = field(default_factory=list)  # (task, file): another task's labels only


def odd_name(name: str) -> bool:
    """Names the server never lists or accepts: control characters, backslashes, '..' parts."""
    return any(ord(c) < 32 or c == "\x7f" for c in name) or "\\" in name or name in (".", "..")


def inside(path: Path, roots: list[Path]) -> bool:
    """True when `path` is a regular file whose real location lies inside one of `roots` (resolved)."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return real.is_file() and any(real == root or root in real.parents for root in roots)


def _first_file(candidates: list[Path], roots: list[Path]) -> Path | None:
    for candidate in candidates:
        if candidate.is_file() and inside(candidate, roots):
            return candidate
    return None


def half_videos(folder: Path, roots: list[Path]) -> dict[int, Path]:
    """The game's half videos (`data.games.half_videos`: `224p` preferred) that may be served: odd names and
    links out of the trees are left out."""
    if not folder.is_dir():
        return {}
    return {half: path for half, path in game_half_videos(folder).items()
            if not odd_name(path.name) and inside(path, roots)}


def _is_game_folder(folder: Path, labels_file: str = LABELS_FILE) -> bool:
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    return any(n in (PREDICTIONS_FILE, labels_file) or (n[:2] in ("1_", "2_") and Path(n).suffix.lower()
                                                          in VIDEO_EXTENSIONS) for n in names)


def _key_for_single_game(folder: Path, labels_root: Path | None) -> str:
    """A game folder given as PATH: the longest tail of its path that is a game in `labels_root`."""
    parts = folder.parts
    if labels_root is not None:
        for n in (3, 2, 1):
            if len(parts) >= n and (labels_root.joinpath(*parts[-n:])).is_dir():
                return "/".join(parts[-n:])
    return folder.name


def _resolve_game(key: str, folder: Path | None, labels_root: Path | None, roots: list[Path],
                  labels_file: str = LABELS_FILE) -> ViewGame:
    source = labels_root.joinpath(*key.split("/")) if labels_root is not None else None
    places = [p for p in (folder, source) if p is not None]
    game = ViewGame(key=key, folder=folder)
    game.predictions = _first_file([p / PREDICTIONS_FILE for p in places], roots)
    game.labels = _first_file([p / labels_file for p in reversed(places)], roots)  # the source tree's labels first
    for place in places:
        for half, video in half_videos(place, roots).items():
            game.videos.setdefault(half, video)
    if not game.videos and labels_root is not None:  # archive of lone videos: <source>/<key>.<ext> is half 1
        single = _first_file([labels_root / f"{key}{ext}" for ext in sorted(VIDEO_EXTENSIONS)], roots)
        if single is not None:
            game.videos[1] = single
    for place in places:
        for half in HALVES:
            scores = _first_file([place / f"{half}_scores.npy"], roots)
            if scores is not None and (place / f"{half}_scores.json").is_file():
                game.scores.setdefault(half, scores)
    if game.labels is None:
        for spec in map(task_spec, action_task_names()):
            found = _first_file([p / spec.labels_file for p in reversed(places)], roots)
            if spec.labels_file != labels_file and found is not None:
                game.other_labels.append((spec.name, found))
    game.cameras = _first_file([p / CAMERAS_FILE for p in places], roots)
    game.replays = _first_file([p / REPLAYS_FILE for p in places], roots)
    return game


def find_view_games(path: str | Path, labels_root: str | Path | None = None,
                    labels_file: str = LABELS_FILE) -> list[ViewGame]:
    """Every game below `path` (or `path` itself when it is a game folder), sorted by key."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(path, "not a folder (give a game folder, a results tree or an archive output)")
    labels = None if labels_root is None else Path(labels_root)
    if labels is not None and not labels.is_dir():
        raise DataError(labels, "labels folder not found")
    roots = [path.resolve()] + ([] if labels is None else [labels.resolve()])
    if _is_game_folder(path, labels_file):
        return [_resolve_game(_key_for_single_game(path.resolve(), labels), path, labels, roots, labels_file)]
    games = []
    for folder, dirs, _files in os.walk(path):  # os.walk does not follow symlinked folders
        dirs[:] = sorted(d for d in dirs if not odd_name(d) and not d.startswith("."))
        here = Path(folder)
        if here != path and _is_game_folder(here, labels_file):
            key = here.relative_to(path).as_posix()
            if not odd_name(key) and all(not odd_name(part) for part in key.split("/")):
                games.append(_resolve_game(key, here, labels, roots, labels_file))
    if not games:
        raise DataError(path, f"no game here (no folder holds {PREDICTIONS_FILE}, {labels_file} or 1_*.mkv/mp4)")
    return sorted(games, key=lambda g: g.key)
