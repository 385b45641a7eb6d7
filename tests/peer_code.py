"""The peers' own code, as the oracle of equality tests: read in place from a git mirror, never committed.

A test calls `peer_repo("jhong93/spot")` and gets a folder holding that repository at the pinned commit,
unpacked once per session from the bare mirror `$SOCCERSPOT_PEER_MIRRORS/<owner>+<name>/repo` (default
`/work/.mirror`, where the search tool's `fetch` puts them). Without the mirror the test skips, saying why.
"""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

MIRRORS_ENV = "SOCCERSPOT_PEER_MIRRORS"
DEFAULT_MIRRORS = Path("/work/.mirror")

# The commits the equality tests were written against.
PINNED = {
    "jhong93/spot": "edec4201471beed631bed374bd0b95fcdc8a2f4f",
    "arturxe2/T-DEED": "ec1ad5564f127a6d34a59b5c79c21f8774f7a20b",
    "SoccerNet/sn-teamspotting": "091fed2fc35c33f7489f3596958a2fe385e37d65",
    "jhong93/e2e-spot-models": "10d07a4fb01f2eb76785e15552e5648bf0793509",
}


CODE_SUFFIXES = (".py", ".json", ".txt", ".md")


def mirrors_root() -> Path:
    value = os.environ.get(MIRRORS_ENV)
    return Path(value) if value else DEFAULT_MIRRORS


def _git_dir(repo: str) -> Path:
    owner, name = repo.split("/")
    return mirrors_root() / f"{owner}+{name}" / "repo"


def peer_repo(repo: str, tmp_root: Path) -> Path:
    """`repo` at its pinned commit, unpacked under `tmp_root` (once), or a skip naming what is missing."""
    commit = PINNED[repo]
    out = tmp_root / repo.replace("/", "+") / commit[:12]
    if (out / ".complete").exists():
        return out
    git_dir = _git_dir(repo)
    if not git_dir.is_dir():
        pytest.skip(f"{repo}'s code not found at {git_dir}: fetch github:{repo} or set {MIRRORS_ENV}")
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", commit],
        capture_output=True, text=True,
    )
    if listing.returncode != 0:
        pytest.skip(f"{repo} at {commit[:12]} not in {git_dir}: {listing.stderr.strip()}")
    for line in listing.stdout.splitlines():
        meta, path = line.split("\t", 1)
        _mode, kind, blob = meta.split()
        if kind != "blob" or not path.endswith(CODE_SUFFIXES):
            continue  # the mirror may lack large files (checkpoints, videos); code is all a test needs
        content = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "blob", blob], capture_output=True)
        if content.returncode != 0:
            continue
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.stdout)
    (out / ".complete").write_text(commit)
    return out


@contextmanager
def imported_from(root: Path) -> Iterator[None]:
    """Import the peer's top-level packages (`model`, `util`, ...) from `root`, then forget them.

    Peers name their packages `model`, `util`, `dataset`: each test imports one peer at a time and the
    modules are dropped afterwards so two peers never see each other's.
    """
    before = set(sys.modules)
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))
        def from_root(module) -> bool:
            spec = getattr(module, "__spec__", None)  # a folder without __init__.py has no __file__, only locations
            locations = list(getattr(spec, "submodule_search_locations", None) or []) if spec is not None else []
            paths = [getattr(module, "__file__", None) or "", *map(str, locations)]
            return any(path.startswith(str(root)) for path in paths)

        for name in [name for name in set(sys.modules) - before if from_root(sys.modules.get(name))]:
            del sys.modules[name]
