"""The one Prefect task: score a chunk of images into catalog rows. It earns its decorator: a retry when a chunk
fails on I/O, and concurrency (each chunk is submitted, locally or to a Dask cluster)."""

from __future__ import annotations

import threading
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from emoscore.catalog.store import Catalog
from emoscore.catalog.table import ImageFile
from emoscore.models_home import resolve_params
from emoscore.scoring.run import score_into
from emoscore.scoring.scorer import Scorer

_LOADING = threading.Lock()  # a Dask worker may run two chunks at once: the first one loads, the other waits
_SCORERS: dict[tuple[str, str | None], tuple[str, Scorer]] = {}
_ABANDONED = threading.Event()  # this process is ending: no scorer (and no worker) starts again, retries included


def _scorer(params_path: str, models: str | None) -> Scorer:
    """One Scorer per process and params file or models home, loaded once and kept warm across chunks and runs;
    loaded again (the old one closed) when the settings it was made from have changed since."""
    params = resolve_params(Path(params_path), Path(models) if models else None)
    settings = params.model_dump_json()
    with _LOADING:
        if _ABANDONED.is_set():
            raise RuntimeError("scoring was abandoned: this process is stopping")
        key = (params_path, models)
        cached = _SCORERS.get(key)
        if cached is not None and cached[0] == settings:
            return cached[1]
        if cached is not None:
            cached[1].close()
        scorer = Scorer.from_params(params)
        _SCORERS[key] = (settings, scorer)
        return scorer


def release_scorers(*, abandon: bool = False) -> None:
    """Close every Scorer this process holds (their worker processes end): a finished run leaves nothing behind.
    With `abandon`, wait for nothing and let no worker start again (the process is about to end its children)."""
    if abandon:
        _ABANDONED.set()
    with _LOADING:
        for _, scorer in _SCORERS.values():
            if abandon:
                scorer.abandon()
            else:
                scorer.close()
        _SCORERS.clear()


@task(retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def score_chunk(
    files: list[ImageFile], catalog: str, params_path: str, *, flow_run_id: str, models: str | None = None
) -> list[dict]:
    """Rows for a chunk of images (every image gets one, ok or error); writes MIDI, audio and charts into the
    catalog (a worker on another host writes straight to its store) and hands the rows back for the driver's
    one commit per chunk. Store options come from this worker's params and environment, never the task graph."""
    settings = str(Path(params_path).resolve())
    params = resolve_params(Path(settings), Path(models) if models else None)
    target = Catalog(catalog, params.score.catalog_storage)
    return score_into(_scorer(settings, models), files, target, flow_run_id)
