"""The one Prefect task: score a chunk of images into catalog rows. It earns its decorator: a retry when a chunk
fails on I/O, and concurrency (each chunk is submitted, locally or to a Dask cluster)."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from emoscore.catalog import ImageFile
from emoscore.models_home import resolve_params
from emoscore.score import Scorer

_LOADING = threading.Lock()  # a Dask worker may run two chunks at once: the first one loads, the other waits


def _scorer(params_path: str, models: str | None) -> Scorer:
    """One Scorer per worker process and params file or models home (models load once, not per chunk)."""
    with _LOADING:
        return _load_scorer(params_path, models)


@functools.cache
def _load_scorer(params_path: str, models: str | None) -> Scorer:
    return Scorer.from_params(resolve_params(Path(params_path), Path(models) if models else None))


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def score_chunk(files: list[ImageFile], catalog: Path, params_path: str, flow_run_id: str,
                models: str | None = None) -> list[dict]:  # fmt: skip
    """Rows for a chunk of images (every image gets one, ok or error); writes MIDI, audio and charts."""
    return _scorer(str(Path(params_path).resolve()), models).score_files(files, catalog, flow_run_id)
