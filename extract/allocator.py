"""Tune glibc's malloc for CNN inference, from inside the process.

With glibc's defaults, every large activation buffer (> 128 KiB, grown dynamically up to 32 MiB) is a
fresh `mmap` and is returned to the kernel on `free`, so each forward pass page-faults millions of times
on memory it just gave back; measured 1.5-2x slower for ResNet-152 on the dev machines. The fix is the
same as `MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<large>` in the environment (the Makefile sets those),
but a `soccerspot` console script cannot rely on its caller's environment, so the extractor calls
`mallopt` at start-up: no mmap for big blocks, and never trim the heap. Freed activations are then reused
by the next batch; resident memory stays at the peak of one batch, which is bounded (see extractor).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
INT_MAX = 2**31 - 1  # mallopt takes an int: the largest trim threshold it can set (2 GiB of free heap)

_tuned: str | None = None


def tune_glibc_allocator() -> str:
    """Apply the settings once; returns what was done (for logs and the feature sidecar)."""
    global _tuned
    if _tuned is not None:
        return _tuned
    if os.environ.get("MALLOC_MMAP_MAX_") is not None:
        _tuned = "environment"  # the caller chose; respect it
    elif platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        _tuned = "not glibc"
    else:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1
            _tuned = "mallopt" if ok else "mallopt failed"
        except (OSError, AttributeError):
            _tuned = "mallopt unavailable"
    return _tuned
