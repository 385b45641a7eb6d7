"""The two error types a user sees: bad input data (`DataError`, naming the file) and a setting that cannot
work (`SettingsError`, naming the config field). Every layer raises them (`models/` included, which imports
nothing else of ours but `soccerspot.files` and this), and the CLI turns each into one line."""
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
