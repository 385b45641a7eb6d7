"""Training tasks registered per head kind and input: `@register_task("rmsnet")` on a `(config, data,
head_config, out_dir) -> LoopTask` builder trains that head on features; `@register_task("rmsnet",
input="frames")` on a `(head_config) -> (clip dataset factory, criterion)` gives the targets fine-tuning cuts
from frame clips. Modules here are discovered, not listed. Without a registration a head trains on
windows of features with the BCE loss (`tasks.features.feature_task`), and fine-tunes on clips labelled
with their window's classes (`pipeline.training.finetune.window_clip_targets`)."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

INPUTS = ("features", "frames")
_TASKS: dict[tuple[str, str], Callable] = {}
_discovered = False


def register_task(head_kind: str, input: str = "features") -> Callable[[Callable], Callable]:
    if input not in INPUTS:
        raise ValueError(f"a task's input is one of {', '.join(INPUTS)}, got {input!r}")

    def register(builder: Callable) -> Callable:
        if (head_kind, input) in _TASKS:
            raise ValueError(f"a {input} training task for head {head_kind!r} is registered twice")
        _TASKS[(head_kind, input)] = builder
        return builder

    return register


def registered_task(head_kind: str, input: str = "features") -> Callable | None:
    """The task builder registered for `head_kind` on `input`, or None."""
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _discovered = True
    return _TASKS.get((head_kind, input))
