"""The one error type for bad input data: it names the file and says what is wrong."""
from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data. The CLI prints it as one line and exits with code 1."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)


class SettingsError(ValueError):
    """A setting that cannot work (with this data). `setting` names the config field when one field is to
    blame; the CLI turns it into its flag (exit 2). Every config's `validate()` raises it."""

    def __init__(self, setting: str | None, reason: str):
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting}: {reason}" if setting else reason)
