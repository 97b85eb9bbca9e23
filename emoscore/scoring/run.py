"""One scoring run: what the `score_images` flow, `emoscore score` and the API's `Models.score(catalog=...)` call.

The defaults (library and catalog from params), the catalog lock, a run skipped because another holds it, and the
summary are here once; callers differ only in how a chunk is scored (`submit`): in this process's worker pool
(`LocalScoring`), or as a Prefect task that may run on a Dask cluster.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Self

from emoscore.catalog.location import is_remote
from emoscore.catalog.store import Catalog
from emoscore.catalog.table import CatalogBusy, Identity, ImageFile
from emoscore.config import Params
from emoscore.scoring.library import RowsFuture, score_library
from emoscore.scoring.listing import Library
from emoscore.scoring.scorer import Scorer

log = logging.getLogger(__name__)
Submit = Callable[[list[ImageFile], Catalog, str], RowsFuture]


def score_run(
    params: Params,
    submit: Submit,
    *,
    library: Library | None = None,
    catalog: Catalog | None = None,
    run_id: str | None = None,
    max_in_flight: int = 2,
    retry_errors: bool = False,
    wait_for_lock: bool = True,
    progress: bool = True,
) -> dict:
    """Score what is new under `library` into `catalog` (params score.library and score.catalog by default);
    the run's summary, or `skipped_run` with the reason when another run holds the catalog and not `wait_for_lock`."""
    library = library if library is not None else params.score.library
    catalog = catalog or Catalog(params.score.catalog, params.score.catalog_storage)
    run_id = run_id or str(uuid.uuid4())
    try:
        summary = score_library(
            library,
            catalog,
            Identity.from_params(params),
            lambda files: submit(files, catalog, run_id),
            chunk_size=params.score.chunk_size,
            max_in_flight=max_in_flight,
            retry_errors=retry_errors,
            wait_for_lock=wait_for_lock,
            follow_outside=params.score.follow_symlinks_outside,
            flow_run_id=run_id,
            progress=progress,
            storage=params.score.catalog_storage,
        ).as_dict()
    except CatalogBusy as busy:
        log.warning("skipping this run: %s", busy)
        return {"skipped_run": str(busy), "library": str(library), "catalog": str(catalog)}
    return {**summary, "library": str(library), "catalog": str(catalog)}


class LocalScoring:
    """Chunks scored by a Scorer in this process (its worker pool), one chunk's rows written while the next one's
    images are scored. Use as a context manager; the Scorer stays the caller's to close."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self._chunks: ThreadPoolExecutor | None = None

    def __enter__(self) -> Self:
        self._chunks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="chunk")
        return self

    def __exit__(self, *exception: object) -> None:
        if self._chunks is not None:
            self._chunks.shutdown(wait=True, cancel_futures=True)
            self._chunks = None

    def submit(self, files: list[ImageFile], catalog: Catalog, run_id: str) -> Future[list[dict]]:
        """Score a chunk in the background; its rows when the future is done."""
        if self._chunks is None:
            raise RuntimeError("LocalScoring.submit outside its `with` block")
        return self._chunks.submit(score_into, self.scorer, files, catalog, run_id)


def score_into(scorer: Scorer, files: list[ImageFile], catalog: Catalog, run_id: str) -> list[dict]:
    """A chunk's rows, its media written into the catalog first (uploaded to a store before the rows return, so
    no committed row names media the store lacks)."""
    with catalog.media_folder() as folder:
        return scorer.score_files(files, folder, run_id)


def score_here(
    params: Params,
    *,
    library: Library | None = None,
    catalog: Catalog | None = None,
    retry_errors: bool = False,
    wait_for_lock: bool = True,
    progress: bool = True,
    workers: ProcessPoolExecutor | None = None,
) -> dict:
    """A whole run in this process, without an orchestrator (what `emoscore score` does when no Prefect server is
    configured and no Dask cluster is asked for: a one-shot run gains nothing from a temporary server). `workers`:
    a pool `spawning.spawn_workers` started for it, adopted and closed when the run ends (shutting it down if the
    run cannot start is its starter's)."""
    scorer = Scorer.from_params(params, workers)
    where = library if library is not None else params.score.library
    if is_remote(str(where)) or Path(where).is_dir():
        scorer.start()  # the workers load their models while the library is listed and hashed
    try:
        with LocalScoring(scorer) as local:
            return score_run(
                params,
                local.submit,
                library=library,
                catalog=catalog,
                retry_errors=retry_errors,
                wait_for_lock=wait_for_lock,
                progress=progress,
            )
    finally:
        scorer.close()
