"""A game in the SoccerNet folder layout: `<root>/<league>/<season>/<game>/<file>` — its halves, its half
videos, its feature and label file names — and which games make a game list (a split, a file, a folder).

A game folder holds its halves as `1_<quality>.<video ext>` / `2_...` (`1_224p.mkv`, `2_720p.mkv`); where a
half exists in several qualities, `224p` wins (what the official features use). Feature files are
`<half>_<name>.npy`; labels `Labels-v2.json` (SoccerNet-v1: `Labels.json`); results
`results_spotting.json`.

A game is named by its folder relative to a root, as a posix path ("england_epl/2014-2015/2015-02-21 -
18-00 Chelsea 1 - 1 Burnley"); names hold spaces, dots and punctuation and are used verbatim.

A split is one of the official ones (the game lists shipped inside the `SoccerNet` package; only
`SoccerNet.utils` is imported, never `SoccerNet.DataLoader`, which needs OpenCV), or a text file with one
game path per line (blank lines and lines starting with "#" are skipped).
"""
from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Callable

from soccerspot.errors import DataError

HALVES = (1, 2)
LABELS_FILE = "Labels-v2.json"
LABELS_FILE_V1 = "Labels.json"
LABELS_FILE_BALL = "Labels-ball.json"  # Ball Action Spotting (2023-2025)
PREDICTIONS_FILE = "results_spotting.json"
SCORES_NAME = "scores"  # `<half>_scores.npy`: per-row class probabilities kept by `spot --save-scores`
OFFICIAL_SPLITS = ("train", "valid", "test", "challenge")
SPLIT_HELP = ("an official split (train, valid, test, challenge), a text file listing game paths, a folder "
              "below the root, 'all' (every game found) or 'none'")
VIDEO_EXTENSIONS = {
    ".mkv", ".mp4", ".avi", ".mov", ".ts", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".mts", ".m2ts",
}
HALF_FILE = re.compile(r"^([12])_.+$")
FEATURE_FILE = re.compile(r"^([12])_(.+)\.npy$")
PREFERRED_QUALITY = "224p"


# --- files of a game ---------------------------------------------------------------------------------------


def feature_file_name(half: int, name: str) -> str:
    return f"{half}_{name}.npy"


def feature_names_in(folder: Path) -> list[str]:
    """Feature names with a half in `folder` (`<half>_<name>.npy`; scores files are not features), sorted."""
    if not Path(folder).is_dir():
        return []
    names = {m.group(2) for p in Path(folder).glob("[12]_*.npy") if (m := FEATURE_FILE.match(p.name))}
    return sorted(names - {SCORES_NAME})


def is_video_name(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def half_of(path: Path) -> int | None:
    """The half a video file is named for (`1_224p.mkv` -> 1), or None."""
    match = HALF_FILE.match(path.name)
    return int(match.group(1)) if match and is_video_name(path) else None


def half_videos(folder: str | Path) -> dict[int, Path]:
    """{half: video} directly inside a game folder (`224p` preferred where a half has several)."""
    by_half: dict[int, list[Path]] = {}
    for path in sorted(Path(folder).iterdir()):
        half = half_of(path) if path.is_file() else None
        if half is not None:
            by_half.setdefault(half, []).append(path)
    return {half: next((v for v in videos if PREFERRED_QUALITY in v.stem), videos[0])
            for half, videos in sorted(by_half.items())}


# --- game lists -------------------------------------------------------------------------------------------


def holds_half_videos(files: list[str]) -> bool:
    """A folder's file names include a half video (`1_224p.mkv`, ...): a game for fine-tuning."""
    return any(half_of(Path(name)) is not None for name in files)


def find_games(root: str | Path, filename: str | Callable[[list[str]], bool] = LABELS_FILE) -> list[str]:
    """Every folder below `root` holding `filename` (or whose file names satisfy it), as sorted relative
    posix paths."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "folder not found")
    games = []
    for folder, _dirs, files in os.walk(root):
        if (filename(files) if callable(filename) else filename in files):
            relative = Path(folder).relative_to(root)
            if relative != Path("."):
                games.append(relative.as_posix())
    return sorted(games)


def official_split_games(split: str, game_lists: str = "spotting") -> list[str]:
    """The games of an official SoccerNet split, in the package's order. `game_lists` is the package's task
    whose lists are read: "spotting" (SoccerNet-v2's 500 games) or "spotting-ball" (Ball Action Spotting's
    nine: `SoccerNet/data/Ball{Train,Valid,Test,Challenge}.json`)."""
    if split not in OFFICIAL_SPLITS:
        raise ValueError(f"unknown split {split!r}; official splits: {', '.join(OFFICIAL_SPLITS)}")
    from SoccerNet.utils import getListGames

    return list(getListGames(split=split, task=game_lists, dataset="SoccerNet"))


def read_games_file(path: str | Path) -> list[str]:
    """Game paths listed one per line in a text file, relative to the data root."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"games file not found (a split is one of {', '.join(OFFICIAL_SPLITS)} or a "
                              "text file with one game path per line)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise DataError(path, f"not UTF-8 text ({error})") from error
    except OSError as error:
        raise DataError(path, f"cannot read the games file ({error.strerror or error})") from None
    games: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise DataError(path, f"line {number}: game path {line.strip()!r} must be relative to the data root")
        name = "/".join(parts)
        if name in seen:
            raise DataError(path, f"line {number}: game {name!r} is listed twice")
        seen.add(name)
        games.append(name)
    if not games:
        raise DataError(path, "lists no games")
    return games


def split_games(split: str | Path, game_lists: str = "spotting") -> list[str]:
    """An official split's games (of `game_lists`, see `official_split_games`), or the games listed in a
    GAMES.txt file."""
    if isinstance(split, str) and split in OFFICIAL_SPLITS:
        return official_split_games(split, game_lists)
    return read_games_file(split)


def resolve_games(spec: str | Path | None, root: str | Path, marker: str | Callable[[list[str]], bool], *,
                  folders: bool = True, root_name: str = "the root", game_lists: str = "spotting") -> list[str]:
    """The games (paths relative to `root`) named by `spec` (`SPLIT_HELP`): an official split or a games
    file; "all" or None (every game below `root` holding `marker`); "none" (no games); with `folders`, a
    folder inside `root` (its games holding `marker`; `root_name` names the root in messages, e.g. its flag).
    `game_lists`: whose official splits (`official_split_games`)."""
    if spec is None or spec == "all":
        return find_games(root, marker)
    if isinstance(spec, str) and spec.lower() == "none":
        return []
    folder = Path(spec)
    if folders and folder.is_dir():
        try:
            prefix = folder.resolve().relative_to(Path(root).resolve())
        except ValueError:
            raise DataError(folder, f"a games folder must lie inside {root_name} {root}") from None
        games = [(prefix / game).as_posix() if str(prefix) != "." else game for game in find_games(folder, marker)]
        if not games:
            what = marker if isinstance(marker, str) else "half videos"
            raise DataError(folder, f"no games with {what} below this folder")
        return games
    return split_games(spec, game_lists)
