"""Training tasks of heads that need their own targets and loss on features (CALF's chunks, RMS-Net's
offsets): `@register_task("rmsnet")` on a `(config, data, head_config, out_dir) -> LoopTask` builder in a
module of this package. Modules here are discovered, not listed; heads without a task train on windows
with the BCE loss (`pipeline.train.feature_task`)."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

_TASKS: dict[str, Callable] = {}
_discovered = False


def register_task(head_kind: str) -> Callable[[Callable], Callable]:
    def register(builder: Callable) -> Callable:
        if head_kind in _TASKS:
            raise ValueError(f"a training task for head {head_kind!r} is registered twice")
        _TASKS[head_kind] = builder
        return builder

    return register


def registered_task(head_kind: str) -> Callable | None:
    """The task builder registered for `head_kind`, or None."""
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _discovered = True
    return _TASKS.get(head_kind)
