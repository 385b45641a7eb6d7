"""The one error type for bad input data: it names the file and says what is wrong."""
from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data. The CLI prints it as one line and exits with code 1."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)
