"""Shared fixtures. Real-data tests are marked `real` and skip, saying why, without the shared data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from soccerspot.data.shared_data import ENV_VAR, shared_data_root

# Keep tests within the 2 cores and predictable.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def soccernet_data() -> Path:
    """`$SOCCERSPOT_SHARED_DATA/soccernet`: real SoccerNet labels, predictions and checkpoints."""
    root = shared_data_root() / "soccernet"
    if not (root / "labels").is_dir():
        pytest.skip(
            f"real SoccerNet data not found at {root}: set {ENV_VAR} to the folder holding soccernet/ "
            "(labels/, predictions/, checkpoints/)"
        )
    return root


@pytest.fixture(scope="session")
def peer_code_root(tmp_path_factory) -> Path:
    """Where `tests.peer_code.peer_repo` unpacks the peers' code for this session."""
    return tmp_path_factory.mktemp("peer_code")
