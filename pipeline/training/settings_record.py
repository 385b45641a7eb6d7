"""Settings dataclasses written into a run's files and read back by later versions."""
from __future__ import annotations

import dataclasses
from typing import TypeVar

Record = TypeVar("Record", bound="SettingsRecord")


class SettingsRecord:
    """`to_json` / `from_json` for a settings dataclass; fields a newer version dropped are ignored on reading,
    fields it added take their defaults."""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls: type[Record], obj: dict) -> Record:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in obj.items() if key in known})
