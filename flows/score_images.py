"""The scoring flow: every new image under a library → the Parquet catalog (stage `score_demo`, `emoscore score`
and the scheduled `emoscore serve`). Runs locally, or on a Dask cluster through prefect-dask."""

from __future__ import annotations

import re
from pathlib import Path

from prefect import flow
from prefect.context import get_run_context

from emoscore.catalog.gallery import write_gallery
from emoscore.catalog.location import absolute_catalog, is_remote
from emoscore.catalog.store import Catalog
from emoscore.config import load_params
from emoscore.errors import ConfigError
from emoscore.models_home import resolve_params
from emoscore.reports import write_json
from emoscore.scoring.listing import library_root
from emoscore.scoring.run import score_run
from emoscore_flows._stage import publish_table, run_stage
from emoscore_tasks.score import release_scorers, score_chunk

REPORT = Path("reports/score_demo.json")
GALLERY = Path("reports/gallery")


@flow(name="score_images")
def score_images(
    library: str | None = None,
    catalog: str | None = None,
    params_path: str = "params.yaml",
    retry_errors: bool = False,
    wait_for_lock: bool = True,
    report: str | None = None,
    models: str | None = None,
    max_in_flight: int = 2,
    keep_workers: bool = False,
    progress: bool = True,
) -> dict:
    """Score what is new under `library` (default: params score.library) into `catalog`, with the models home
    `models` when given (paths sent to task workers are absolute, so a worker on another machine finds them),
    keeping `max_in_flight` chunks submitted at once (a Dask cluster: twice its workers). The run's worker pool
    ends with it unless `keep_workers` (`serve` keeps it warm for the next tick); `progress` shows a bar."""
    params = resolve_params(Path(params_path), Path(models) if models else None)
    context = get_run_context()
    # a Dask worker may run in another folder or on another machine: it gets absolute paths (rows then too)
    absolute = _on_dask(context)
    library_path = library or params.score.library  # an s3:// library stays a URI
    if not is_remote(str(library_path)):
        library_path = Path(library_path)
    catalog_path = catalog or params.score.catalog
    if absolute:  # a URI stays as written (one that is not s3:// is then refused, not made a folder)
        catalog_path = absolute_catalog(catalog_path)
    settings, home = str(Path(params_path).absolute()), str(Path(models).expanduser().absolute()) if models else None
    try:
        summary = score_run(
            params,
            lambda files, into, run_id: score_chunk.submit(files, str(into), settings, flow_run_id=run_id, models=home),
            library=library_root(library_path) if absolute else library_path,
            catalog=Catalog(catalog_path, params.score.catalog_storage),
            run_id=str(context.flow_run.id),
            max_in_flight=max_in_flight,
            retry_errors=retry_errors,
            wait_for_lock=wait_for_lock,
            progress=progress,
        )
    finally:
        if not keep_workers:
            release_scorers()
    summary.update(library=str(library_path), catalog=str(catalog_path))
    if report and "skipped_run" not in summary:
        write_json(Path(report), summary)
    publish_table(
        "scoring-run",
        [{"what": key, "count": str(value)} for key, value in summary.items()],
        f"Scoring run over {library_path}",
    )
    return summary


def _on_dask(context: object) -> bool:
    """Whether this flow run submits its tasks to a Dask cluster (asked without importing Dask, ~1 s)."""
    return type(getattr(context, "task_runner", None)).__module__.startswith("prefect_dask")


_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def local_dask_workers(dask: str) -> int | None:
    """N for `local:N` (2 for `local:`), None for a scheduler address; ConfigError naming a value that is neither
    (`local:0` once started a cluster with no worker and waited for one forever)."""
    if dask.startswith("local:"):
        count = dask.split(":", 1)[1].strip() or "2"
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(f"--dask {dask!r}: local:N needs a whole number of workers N ≥ 1")
        return int(count)
    if not _ADDRESS.match(dask):
        raise ConfigError(f"--dask {dask!r}: expected local:N or a scheduler address such as tcp://host:8786")
    return None


def dask_task_runner(dask: str):  # noqa: ANN201 (prefect_dask is imported only when asked for)
    """A Dask task runner: `local:N` starts N local worker processes; anything else is a scheduler address."""
    from prefect_dask import DaskTaskRunner

    workers = local_dask_workers(dask)
    if workers is not None:
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
    return DaskTaskRunner(address=dask)


def dask_workers(dask: str) -> int:
    """How many workers the cluster has: N for `local:N`, else asked of the scheduler (at least one)."""
    workers = local_dask_workers(dask)
    if workers is not None:
        return workers
    from distributed import Client

    try:
        with Client(dask, timeout=20) as client:
            return max(1, len(client.scheduler_info()["workers"]))
    except (OSError, TimeoutError) as error:
        raise ConfigError(f"--dask {dask}: cannot reach the Dask scheduler ({error})") from None


def score_demo() -> dict:
    """Stage `score_demo`: the sample photos into data/catalog, a run report, and the gallery of the catalog."""
    summary = score_images(report=str(REPORT))
    params = load_params()
    catalog = Catalog(params.score.catalog, params.score.catalog_storage)
    write_gallery(catalog.read(), catalog, GALLERY, title="emoscore — sample photos")
    return summary


if __name__ == "__main__":
    run_stage(score_demo)
