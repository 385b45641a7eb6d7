"""Where the real SoccerNet files used by tests and benchmarks live (never copied into the repo)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "SOCCERSPOT_SHARED_DATA"


def shared_data_root() -> Path:
    """`$SOCCERSPOT_SHARED_DATA`, or `../shared/data` beside the repository root."""
    value = os.environ.get(ENV_VAR)
    return Path(value) if value else REPO_ROOT.parent / "shared" / "data"


def soccernet_root() -> Path:
    return shared_data_root() / "soccernet"
