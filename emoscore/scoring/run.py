"""A scoring run in this process, without an orchestrator: what `emoscore score` does when no Prefect server is
configured and no Dask cluster is asked for (a one-shot local run gains nothing from a temporary server, and
starting one costs seconds before the first row).
"""

from __future__ import annotations

import os
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from emoscore.catalog.table import CatalogBusy
from emoscore.models_home import resolve_params
from emoscore.scoring.library import score_library


def prefect_server_configured() -> bool:
    """True when Prefect would report to a server of its own (PREFECT_API_URL in the environment or the active
    profile), so that runs belong in its UI. Read without importing Prefect, which alone takes a second or two."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect"))
    try:
        profiles = tomllib.loads((home / "profiles.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active", "ephemeral")
    return bool(profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL"))


def score_here(library: str | None = None, catalog: str | None = None, params_path: str = "params.yaml",
               retry_errors: bool = False, wait_for_lock: bool = True, progress: bool = True,
               models: str | None = None) -> dict:  # fmt: skip
    """Score what is new under `library` into `catalog` (defaults from params.yaml or the models home) here;
    the run's summary, as the `score_images` flow returns it."""
    from emoscore.scoring.scorer import Scorer

    params = resolve_params(Path(params_path), Path(models) if models else None)
    library_path = Path(library) if library else params.score.library
    catalog_path = Path(catalog) if catalog else params.score.catalog
    run_id = str(uuid.uuid4())
    scorer = Scorer.from_params(params)
    if library_path.is_dir() and scorer.pool.workers:
        scorer.pool.start()  # the workers load their models while the library is listed and hashed
    try:
        # one thread per chunk in flight: a chunk's rows are written while the next one's images are scored
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="chunk") as chunks:
            summary = score_library(
                library_path,
                catalog_path,
                scorer.identity,
                lambda files: chunks.submit(scorer.score_files, files, catalog_path, run_id),
                chunk_size=params.score.chunk_size,
                retry_errors=retry_errors,
                wait_for_lock=wait_for_lock,
                follow_outside=params.score.follow_symlinks_outside,
                flow_run_id=run_id,
                progress=progress,
            ).as_dict()
    except CatalogBusy as busy:
        return {"skipped_run": str(busy), "library": str(library_path), "catalog": str(catalog_path)}
    finally:
        scorer.close()
    summary.update(library=str(library_path), catalog=str(catalog_path))
    return summary
