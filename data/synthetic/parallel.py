"""Rendering tasks run one by one, or on a pool of spawned processes, behind one progress bar."""
from __future__ import annotations

from typing import Callable, Sequence


def run_render_tasks(render: Callable[[object], object], tasks: Sequence, workers: int, progress: bool,
                     desc: str, unit: str) -> None:
    """`render(task)` for every task: here, or with `workers` > 1 on a pool of spawned processes (spawn: never
    fork a process that may hold torch's threads), so `render` is a module-level function."""
    from tqdm import tqdm

    with tqdm(total=len(tasks), desc=desc, unit=unit, disable=not progress) as bar:
        if workers > 1 and len(tasks) > 1:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                for _ in pool.map(render, tasks):
                    bar.update()
        else:
            for task in tasks:
                render(task)
                bar.update()
