"""Downloading published files (backbone weights, released heads) into the cache, checked by their hash.

The only network code of soccerspot's extraction: `models/` never downloads (it reads the cache and says
where a missing file goes). A download streams into `<file>.part` beside its destination with a progress bar,
hashes it on the way (md5 and/or sha256, whichever the publisher gives), and is renamed into place only
when the hash matches: a mismatch is refused and the partial file removed. Offline, or on any transfer
error, one line names the URL and the path to put the file at (`DataError`, exit 1 on the command line).
"""
from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from soccerspot.errors import DataError
from soccerspot.models.backbones.keras_resnet import WeightsFile, cache_dir, cached_weights_file

CHUNK = 1 << 20
TIMEOUT_S = 30.0
PART_SUFFIX = ".part"


def offline_message(url: str, dest: Path, why: str) -> str:
    return f"cannot download {url} ({why}); download it where there is internet and put it at {dest}"


class DownloadError(DataError):
    """A file that could not be fetched (offline, a transfer cut short): `why` says what happened. A file
    fetched whose hash differs from the published one is a plain `DataError` (refused, not offline)."""

    def __init__(self, url: str, dest: Path, why: str):
        self.url, self.why = url, why
        super().__init__(dest, offline_message(url, dest, why))


def download(url: str, dest: str | Path, *, md5: str | None = None, sha256: str | None = None,
             git_sha1: str | None = None, progress: bool = True, timeout: float = TIMEOUT_S) -> Path:
    """Fetch `url` to `dest` (atomically: `<dest>.part`, renamed when complete and checked); `DataError`
    naming `dest` when it cannot be fetched or its hash differs from the published one (`git_sha1`: the git
    blob id a repository's tree publishes for the file)."""
    from tqdm import tqdm

    dest = Path(dest)
    part = dest.with_name(dest.name + PART_SUFFIX)
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DownloadError(url, dest, _reason(error)) from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        total = int(response.headers.get("Content-Length") or 0) or None
        received = 0
        with response, open(part, "wb") as handle, tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"downloading {dest.name}",
            disable=not progress, file=sys.stderr, leave=False,
        ) as bar:
            for block in iter(lambda: response.read(CHUNK), b""):
                handle.write(block)
                received += len(block)
                bar.update(len(block))
        if total is not None and received != total:
            raise DownloadError(url, dest, f"transfer stopped at {received} of {total} bytes")
        wanted = {"md5": md5, "sha256": sha256, "git blob sha1": git_sha1}
        for name, value in wanted.items():
            if value and file_digest(part, name) != value.lower():
                raise DataError(dest, f"downloaded from {url}, but its {name} is {file_digest(part, name)}, not the "
                                      f"published {value}: refused (the partial file was removed)")
        os.replace(part, dest)
    except (urllib.error.URLError, OSError) as error:
        part.unlink(missing_ok=True)
        raise DownloadError(url, dest, _reason(error)) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return dest


def file_digest(path: Path, kind: str) -> str:
    """md5 / sha256 of a file, or "git blob sha1" (what `git hash-object` prints)."""
    if kind == "git blob sha1":
        digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    else:
        digest = hashlib.new(kind)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_file(spec: WeightsFile, *, progress: bool = True, dest_dir: Path | None = None) -> Path:
    """The local copy of a published file: from the cache folders, else downloaded into `dest_dir`
    (default the weights cache, `$SOCCERSPOT_CACHE/weights`)."""
    found = cached_weights_file(spec) if dest_dir is None else ((dest_dir / spec.filename) if (dest_dir / spec.filename).is_file() else None)
    if found is not None:
        return found
    dest = (dest_dir or cache_dir()) / spec.filename
    print(f"downloading {spec.url} to {dest}", file=sys.stderr)
    return download(spec.url, dest, md5=spec.md5, sha256=spec.sha256, git_sha1=spec.git_sha1,
                    progress=progress)


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason if reason is not None else error).splitlines()[0] or type(error).__name__
