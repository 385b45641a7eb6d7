"""Small facts about files and the installed package that every layer needs."""
from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def soccerspot_version() -> str:
    """The installed soccerspot's version ("0+unknown" from a source tree never installed)."""
    try:
        return version("soccerspot")
    except PackageNotFoundError:
        return "0+unknown"
