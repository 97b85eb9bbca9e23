"""Starting the scoring worker processes, from a module that imports neither torch nor the models.

A worker spends ~4 s importing torch and loading its models before it scores anything, and so does the process
that starts it. `emoscore score` therefore spawns its workers first thing, so they do that while it does, instead
of after it (`VadPool` adopts the running pool); `VadPool` starts them the same way when nobody did.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from emoscore.config import ScoreParams

SPAWN = multiprocessing.get_context("spawn")  # a fork inherits torch's OpenMP state and other threads' locks


def worker_count(settings: ScoreParams) -> int:
    """How many worker processes scoring uses: `score.workers`, else one per core (0: none)."""
    return settings.workers if settings.workers is not None else (os.cpu_count() or 1)


def wants_workers(settings: ScoreParams) -> bool:
    """Whether a run in this process would score in worker processes (a daemonic process may not start any)."""
    return worker_count(settings) > 0 and not multiprocessing.current_process().daemon


def spawn_workers(checkpoint: Path, settings: ScoreParams, *, start: bool = True) -> ProcessPoolExecutor:
    """The worker pool for `settings` (each worker loads the VAD model of `checkpoint` once, then scores batches);
    with `start`, its processes are spawned now rather than on the first batch."""
    workers = worker_count(settings)
    setup = functools.partial(
        _begin,
        str(checkpoint),
        settings.engine,
        max(1, (os.cpu_count() or 1) // workers),
        parent=os.getpid(),
        device=settings.device,
        precision=settings.precision,
    )
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=SPAWN, initializer=setup)
    if start:
        for _ in range(workers):
            pool.submit(os.getpid)  # a process is spawned per pending task, up to `workers`
    return pool


def _begin(*args: object, **options: object) -> None:
    """The pool's initializer, importing the worker's heavy code only in the worker."""
    from emoscore.scoring.workers import start_worker

    start_worker(*args, **options)
