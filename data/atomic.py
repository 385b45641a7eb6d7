"""Atomic writes: a temp file in the same folder, fsync, then rename over the target."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, IO


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path`; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    with atomic_open(path, "w") as handle:
        json.dump(obj, handle, indent=indent)
        handle.write("\n")


def write_with_atomic(path: str | Path, write: Callable[[IO], None], mode: str = "wb") -> None:
    with atomic_open(path, mode) as handle:
        write(handle)
