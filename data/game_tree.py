"""Where each game's files are read from: a folder `<root>/<game>/<file>`, or a zip file holding
`<game>/<file>` members, as SoccerNet's evaluators and Codabench submissions lay them out (the official
`ActionSpotting.evaluate` and sn-teamspotting's `mAPevaluateCodabench` read either)."""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from soccerspot.errors import DataError


@dataclass
class GameTree:
    root: Path
    members: frozenset[str] | None = None  # a zip's member names; None for a folder
    _zip: zipfile.ZipFile | None = field(default=None, repr=False)

    @property
    def zipped(self) -> bool:
        return self.members is not None

    def path(self, game: str, name: str) -> Path:
        """The file's path (for a zip, the member's name below the zip's path: for messages)."""
        return self.root / game / name

    def has(self, game: str, name: str) -> bool:
        if self.members is None:
            return (self.root / game / name).is_file()
        return f"{game}/{name}" in self.members

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def read(self, game: str, name: str) -> bytes | None:
        """A zip member's bytes; None for a folder (its readers open the file themselves)."""
        if self._zip is None:
            return None
        try:
            return self._zip.read(f"{game}/{name}")
        except (zipfile.BadZipFile, OSError, RuntimeError) as error:  # corrupt, encrypted
            raise DataError(self.path(game, name), f"cannot read it from the zip ({error})") from None


def open_game_tree(root: str | Path, what: str) -> GameTree:
    """A folder or a zip file of game folders; `what` names it in the error ("predictions folder")."""
    root = Path(root)
    if root.is_dir():
        return GameTree(root)
    if root.is_file() and zipfile.is_zipfile(root):
        try:
            archive = zipfile.ZipFile(root)
        except (zipfile.BadZipFile, OSError) as error:
            raise DataError(root, f"cannot open the zip ({error})") from None
        return GameTree(root, frozenset(name.rstrip("/") for name in archive.namelist()), archive)
    raise DataError(root, f"{what} not found (a folder or a zip file of <league>/<season>/<game>/ folders)")
