"""The SoccerNet folder layout: `<root>/<league>/<season>/<game>/<file>`, and which games make a split.

A game is named by its folder relative to a root, as a posix path ("england_epl/2014-2015/2015-02-21 -
18-00 Chelsea 1 - 1 Burnley"); names hold spaces, dots and punctuation and are used verbatim.

A split is one of the official ones (the game lists shipped inside the `SoccerNet` package; only
`SoccerNet.utils` is imported, never `SoccerNet.DataLoader`, which needs OpenCV), or a text file with one
game path per line (blank lines and lines starting with "#" are skipped).
"""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from soccerspot.data.errors import DataError
from soccerspot.data.labels import LABELS_FILE

OFFICIAL_SPLITS = ("train", "valid", "test", "challenge")


def find_games(root: str | Path, filename: str = LABELS_FILE) -> list[str]:
    """Every folder below `root` holding `filename`, as sorted relative posix paths."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "folder not found")
    games = []
    for folder, _dirs, files in os.walk(root):
        if filename in files:
            relative = Path(folder).relative_to(root)
            if relative != Path("."):
                games.append(relative.as_posix())
    return sorted(games)


def official_split_games(split: str) -> list[str]:
    """The games of an official SoccerNet split, in the package's order."""
    if split not in OFFICIAL_SPLITS:
        raise ValueError(f"unknown split {split!r}; official splits: {', '.join(OFFICIAL_SPLITS)}")
    from SoccerNet.utils import getListGames

    return list(getListGames(split=split, task="spotting", dataset="SoccerNet"))


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


def split_games(split: str | Path) -> list[str]:
    """An official split's games, or the games listed in a GAMES.txt file."""
    if isinstance(split, str) and split in OFFICIAL_SPLITS:
        return official_split_games(split)
    return read_games_file(split)
