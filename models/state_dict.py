"""Removing a wrapper's names from state-dict keys, for weights saved by another model than the one loading
them (DataParallel's "module.", a whole fine-tuning model's "backbone.", a peer's "model."/"neck."/"head.")."""
from __future__ import annotations

from typing import Iterable, TypeVar

Value = TypeVar("Value")


def strip_prefixes(state: dict[str, Value], prefixes: tuple[str, ...], *,
                   expected: Iterable[str] | None = None) -> dict[str, Value]:
    """`state` with the leading `prefixes` removed from its keys.

    With `expected` (the keys of the module to load): while no key is an expected one, the first prefix some
    key starts with is removed, and the keys without it are dropped as another part of the wrapper (the head
    of a whole backbone + head model, when only the backbone is loaded). Without it: every key loses all its
    leading prefixes, each key on its own ("module.neck.pool.w" and "head.fc.w" -> "pool.w", "fc.w": a
    peer's module tree flattened into one module's names)."""
    if expected is None:
        return {_without_prefixes(key, prefixes): value for key, value in state.items()}
    names = set(expected)
    for _ in range(len(prefixes)):
        if any(key in names for key in state):
            break
        prefix = next((p for p in prefixes if any(key.startswith(p) for key in state)), None)
        if prefix is None:
            break
        state = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    return state


def _without_prefixes(key: str, prefixes: tuple[str, ...]) -> str:
    while True:
        prefix = next((p for p in prefixes if key.startswith(p)), None)
        if prefix is None:
            return key
        key = key[len(prefix):]
