"""The `emoscore` console script: the library's commands plus those that run Prefect flows: `score`, `serve` and
`soundtrack`.

They live here, on the flow side, so that `emoscore/` never imports `flows/` or `tasks/`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from emoscore.cli.app import ModelsOption, ParamsOption, app, fail
from emoscore.cli.common import folder_to_write, prefect_server_configured, print_table
from emoscore.errors import EmoscoreError
from emoscore.models_home import resolve_params

__all__ = ["app"]


def _print_summary(summary: dict, title: str = "scoring run") -> None:
    print_table(
        title, ["what", "value"], [[key.replace("_", " "), value] for key, value in summary.items()], show_header=False
    )


@app.command()
def score(
    path: Annotated[Path, typer.Argument(help="A photo, or a folder scored recursively.")],
    catalog: Annotated[
        str | None, typer.Option(help="Catalog: a folder or s3://bucket/prefix (default: params score.catalog).")
    ] = None,
    retry_errors: Annotated[bool, typer.Option(help="Score again images that failed before.")] = False,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address (tcp://host:8786) or local:N.")] = None,
    prefect: Annotated[
        bool | None,
        typer.Option(help="Run as a Prefect flow (default: only when a Prefect server is configured or --dask)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's summary as JSON on stdout.")] = False,
    params: ParamsOption = Path("params.yaml"),
    models: ModelsOption = None,
) -> None:
    """Score every new image under PATH into the catalog (MIDI, audio and a VAD chart per image).

    Exit code 0 when every image scored (or was already done), 1 when some failed, 2 for a usage or setup error.
    """
    if not path.exists():  # before any model is loaded: a mistyped path costs nothing, and says so first
        raise fail(f"{path}: library folder not found")
    # Prefect's own loggers (and emoscore's inside flow runs) follow -v as well: quiet unless asked
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", logging.getLevelName(logging.getLogger().getEffectiveLevel()))
    from emoscore.catalog.store import Catalog
    from emoscore.scoring.run import score_here

    arguments = {
        "library": str(path),
        "catalog": str(catalog) if catalog else None,
        "params_path": str(params),
        "retry_errors": retry_errors,
        "models": str(models) if models else None,
    }
    try:
        settings = resolve_params(params, models)
        if dask or (prefect if prefect is not None else prefect_server_configured()):
            from emoscore_flows.score_images import dask_task_runner, dask_workers, score_images

            if dask:  # every worker busy with one chunk and the next one queued behind it
                arguments["max_in_flight"] = 2 * dask_workers(dask)
            flow = score_images.with_options(task_runner=dask_task_runner(dask)) if dask else score_images
            summary = flow(**arguments)
        else:
            summary = score_here(
                settings,
                library=path,
                catalog=Catalog(catalog, settings.score.catalog_storage) if catalog else None,
                retry_errors=retry_errors,
            )
    except EmoscoreError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=1, default=str))
    else:
        _print_summary(summary)
    if summary.get("failed"):
        raise typer.Exit(code=1)


@app.command()
def soundtrack(
    film: Annotated[Path, typer.Argument(help="A video file, or a folder of stills in scene order.")],
    out: Annotated[Path, typer.Option(help="Folder for the soundtrack, cue sheet and scored video.")],
    catalog: Annotated[
        str | None, typer.Option(help="Catalog (a folder or s3://bucket/prefix) whose `scenes` table gets the scenes.")
    ] = None,
    timecodes: Annotated[
        Path | None, typer.Option(help="Scene in/out timecodes: a CSV (in,out) or a CMX3600 EDL.")
    ] = None,
    fps: Annotated[int, typer.Option(min=1, max=240, help="Frame rate of timecodes and of a stills slideshow.")] = 25,
    prefect: Annotated[bool | None, typer.Option(help="Run as a Prefect flow (default: when a server is set).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's summary as JSON on stdout.")] = False,
    params: ParamsOption = Path("params.yaml"),
    models: ModelsOption = None,
) -> None:
    """Score a film: scenes, the emotion of their people, one continuous soundtrack that changes at the cuts.

    Writes FILM's name with .mid, the audio (render.format), .cues.csv/.cues.json and .scored.<ext> into OUT.
    Exit code 0 when written, 2 when FILM cannot be read (nothing is written then).
    """
    from emoscore.catalog.store import Catalog

    folder_to_write(out, "--out")
    arguments = {
        "video": str(film),
        "out": str(out),
        "catalog": str(catalog) if catalog else None,
        "timecodes": str(timecodes) if timecodes else None,
        "fps": fps,
        "params_path": str(params),
        "models": str(models) if models else None,
        "progress": not as_json,
    }
    try:
        resolved = resolve_params(params, models)
        if prefect if prefect is not None else prefect_server_configured():
            from emoscore_flows.score_film import score_film_flow

            summary = score_film_flow(**arguments)
        else:
            from emoscore.film.scoring import score_film

            result = score_film(
                film,
                out,
                resolved,
                catalog=Catalog(catalog, resolved.score.catalog_storage) if catalog else None,
                timecodes=timecodes,
                fps=fps,
                progress=not as_json,
            )
            summary = result.summary()
    except EmoscoreError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=1, default=str))
    else:
        _print_summary(summary, "film")


@app.command()
def serve(
    library: Annotated[Path, typer.Option(help="Folder to keep scoring.")],
    cron: Annotated[
        str | None, typer.Option(help="When to look for new images, in cron syntax (default: */15 * * * *).")
    ] = None,
    every: Annotated[str | None, typer.Option(help="Or at a fixed interval, from now on: 30s, 5m, 1h, 1h30m.")] = None,
    catalog: Annotated[
        str | None, typer.Option(help="Catalog: a folder or s3://bucket/prefix (default: params score.catalog).")
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the flow runs (NAME-tick-N).")] = "emoscore-library",
    params: ParamsOption = Path("params.yaml"),
    models: ModelsOption = None,
) -> None:
    """Score what is new under LIBRARY at every tick until Ctrl-C or SIGTERM (starts a local Prefect server unless
    PREFECT_API_URL names one). Each tick logs one line: scored, failed, already done, skipped, seconds."""
    from emoscore.scoring.schedule import Schedule

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", logging.getLevelName(logging.getLogger().getEffectiveLevel()))
    try:
        schedule = Schedule.parse(cron="*/15 * * * *" if cron is None and every is None else cron, every=every)
        resolve_params(params, models)
        from emoscore_flows.serve import serve_library

        serve_library(library, schedule, catalog=catalog, params=params, name=name, models=models)
    except EmoscoreError as error:
        raise fail(error) from None
    # everything serve started is stopped and its logs are sent; tearing down torch's and Prefect's modules took
    # 3–4 s more here with nothing left to write, so the process ends now
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    app()
