"""The scoring worker pool: processes that each decode images and run their own copy of the VAD model.

Workers are spawned (a fork inherits torch's OpenMP state and other threads' locks), watch their parent and
leave when it dies, and a file that kills its worker is retried alone so it costs only its own row.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import torch

from emoscore.catalog.table import ImageFile
from emoscore.config import Engine, ScoreParams, ScorePrecision
from emoscore.device import pick_device
from emoscore.emotic.inference import VadEngine, load_vad_engine
from emoscore.emotic.model import EmoticNetConfig
from emoscore.scoring import spawning
from emoscore.scoring.object_library import HiddenOptions
from emoscore.scoring.people import PeopleScores, PreparedImage, prepare_image, prepare_images, score_prepared
from emoscore.scoring.spawning import wants_workers, worker_count

log = logging.getLogger(__name__)
Scored = tuple[PreparedImage, PeopleScores | None]
Finish = Callable[[list[Scored]], list]  # a scored batch → one result per image (picklable: it runs in workers)

_WORKER_MODEL: VadEngine | None = None


def even_batches(files: list[ImageFile], batch_size: int, workers: int) -> list[list[ImageFile]]:
    """At most `batch_size` files per batch, as many batches as a multiple of `workers`, sizes within one.

    So the last round keeps every worker busy instead of leaving one idle behind a short tail batch.
    """
    if not files:
        return []
    count = -(-len(files) // batch_size)
    count = min(len(files), -(-count // workers) * workers)
    return [list(batch) for batch in np.array_split(np.array(files, dtype=object), count)]


def _exit_with_parent(parent: int) -> None:
    """Watchdog of a worker: leave when the scoring process is gone (a SIGKILLed run must not leave its workers,
    each holding a model, blocked forever on the task queue)."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _leave_now() -> None:
    """A worker's last act: its work is done and its results sent, so it leaves without tearing down torch, numba
    and the models module by module (that took ~1.5 s, for which the run's end waited). Always with status 0: the
    pool reads no exit status; a worker that dies is seen by its pipe closing."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def start_worker(
    checkpoint: str, engine: Engine, threads: int, *, parent: int, device: str, precision: ScorePrecision
) -> None:
    """Process-pool initializer (through `spawning`): the worker's own VAD model and thread count, set up once."""
    global _WORKER_MODEL
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent ends its workers
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="exit-with-parent").start()
    torch.set_num_threads(threads)
    _WORKER_MODEL = load_vad_engine(Path(checkpoint), engine, threads, device=device, precision=precision)
    atexit.register(_leave_now)


def _score_batch(
    files: list[ImageFile], prepare: functools.partial, finish: Finish | None = None, jpeg_device: str | None = None
) -> list:
    """One batch in a worker: decode, infer, then `finish` it here (the rows, music and charts) or send back
    only what the rows need (no pixel arrays)."""
    if _WORKER_MODEL is None:
        raise RuntimeError("a scoring worker must be started by start_worker")
    results = score_prepared(_WORKER_MODEL, prepare_images(files, prepare, jpeg_device))
    for prepared, _ in results:
        prepared.context, prepared.bodies = None, []
    return finish(results) if finish is not None else results


class VadPool:
    """Images → people and their scores, in worker processes (one per core by default), in threads inside a
    daemonic process (a Dask worker may not start children), or here when `workers` is 0."""

    def __init__(
        self,
        config: EmoticNetConfig,
        checkpoint: Path,
        settings: ScoreParams,
        started: ProcessPoolExecutor | None = None,
    ) -> None:
        """The VAD model of `checkpoint` (its `config`); `started`: a pool `spawning.spawn_workers` started for
        these settings, adopted (and closed) here."""
        self.config, self.checkpoint, self.settings = config, Path(checkpoint), settings
        self.workers = worker_count(settings)
        self._vad: VadEngine | None = None
        self._executor: Executor | None = started
        self._lock = threading.Lock()
        self._shut_down = False
        self.prepare = functools.partial(
            prepare_image,
            context_size=config.context_size,
            body_size=config.body_size,
            detector=settings.detector,
            detector_weights=str(settings.detector_weights) if settings.detector_weights else None,
            max_pixels=settings.max_pixels,
            storage=HiddenOptions(settings.catalog_storage),
        )
        on_gpu = settings.jpeg_decoder == "auto" and pick_device(settings.device).type == "cuda"
        self.jpeg_device = settings.device if settings.jpeg_decoder == "device" or on_gpu else None

    @property
    def vad(self) -> VadEngine:
        """The VAD model in this process (loaded on first use: with worker processes only they need one)."""
        if self._vad is None:
            settings = self.settings
            self._vad = load_vad_engine(
                self.checkpoint,
                settings.engine,
                torch.get_num_threads(),
                device=settings.device,
                precision=settings.precision,
            )
        return self._vad

    def _pool(self) -> Executor:
        with self._lock:  # chunks in flight may ask from two threads at once
            if self._shut_down:
                raise RuntimeError("the scoring worker pool was shut down")
            return self._executor or self._new_pool()

    def _new_pool(self) -> Executor:
        if wants_workers(self.settings):
            self._executor = spawning.spawn_workers(self.checkpoint, self.settings, start=False)
        else:
            self._executor = ThreadPoolExecutor(max_workers=self.workers)
        return self._executor

    def start(self) -> None:
        """Start the worker processes now (each loads its model), so they are ready when the first batch comes."""
        with self._lock:
            if self._executor is None and not self._shut_down and wants_workers(self.settings):
                self._executor = spawning.spawn_workers(self.checkpoint, self.settings)

    def close(self) -> None:
        """Stop the worker processes."""
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None

    def shut_down(self) -> None:
        """Stop for good, waiting for nothing: no worker starts again, not even to retry a batch (the caller ends
        the running ones; a process that is about to exit must not leave new ones behind)."""
        with self._lock:
            self._shut_down = True
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)

    def iter_vad(self, files: list[ImageFile], finish: Finish | None = None) -> Iterator:
        """(prepared image, (category probabilities, VAD) per person) in the order given, None for failures; or,
        with `finish`, what it makes of each batch, made where the batch was scored.

        With workers each process decodes a batch of `batch_size` images and runs its people through its own
        single-threaded copy of the model: every core busy, no thread contention, no image arrays crossing
        processes. With 0, or for a single file while no worker is running (starting one would cost more than
        the file), everything runs here.
        """
        done = finish if finish is not None else list
        size = self.settings.batch_size
        if self.workers == 0 or (len(files) == 1 and self._executor is None):
            here = (self._prepare_all(files[start : start + size]) for start in range(0, len(files), size))
            for batch in self._batched(itertools.chain.from_iterable(here)):
                yield from done(batch)
            return
        pool = self._pool()
        if isinstance(pool, ThreadPoolExecutor):
            chunks = [files[start : start + size] for start in range(0, len(files), size)]
            for batch in self._batched(itertools.chain.from_iterable(pool.map(self._prepare_all, chunks))):
                yield from done(batch)
            return
        batches = even_batches(files, size, self.workers)
        futures = [pool.submit(_score_batch, batch, self.prepare, finish, self.jpeg_device) for batch in batches]
        for batch, future in zip(batches, futures, strict=True):
            try:
                results = future.result()
            except BrokenProcessPool:
                results = self._isolate(batch, finish)
            yield from results

    def _isolate(self, batch: list[ImageFile], finish: Finish | None) -> list:
        """A worker died (a decoder crash or the OOM killer): score the batch one file at a time in fresh workers,
        so only a file that kills its worker again is lost, as an error row naming why."""
        self.close()
        results = []
        for file in batch:
            try:
                single = self._pool().submit(_score_batch, [file], self.prepare, finish, self.jpeg_device)
                results.extend(single.result())
            except BrokenProcessPool:
                self.close()
                log.error("%s: the worker scoring it died", file.path)
                failed = PreparedImage(file, error="the worker process died while decoding or scoring this file")
                results.extend(finish([(failed, None)]) if finish is not None else [(failed, None)])
        return results

    def _prepare_all(self, files: list[ImageFile]) -> list[PreparedImage]:
        return prepare_images(files, self.prepare, self.jpeg_device)

    def _batched(self, prepared_images: Iterable[PreparedImage]) -> Iterator[list[Scored]]:
        """Prepared images → scored batches of up to `batch_size` decodable images each."""
        pending: list[PreparedImage] = []
        good = 0
        for prepared in prepared_images:
            pending.append(prepared)
            good += prepared.error is None
            if good >= self.settings.batch_size:
                yield score_prepared(self.vad, pending)
                pending, good = [], 0
        if pending:
            yield score_prepared(self.vad, pending)
