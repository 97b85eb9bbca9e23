"""The `emoscore` console script: the library's commands plus those that run Prefect flows: `score`, `serve` and
`soundtrack`.

They live here, on the flow side, so that `emoscore/` never imports `flows/` or `tasks/`.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from emoscore.catalog.uri import canonical, is_remote
from emoscore.cli.app import ModelsOption, ParamsOption, app, fail
from emoscore.cli.common import folder_to_write, prefect_server_configured, print_table
from emoscore.config import Params
from emoscore.errors import EmoscoreError
from emoscore.models_home import resolve_params

__all__ = ["app", "main"]


def _print_summary(summary: dict, title: str = "scoring run") -> None:
    print_table(
        title, ["what", "value"], [[key.replace("_", " "), value] for key, value in summary.items()], show_header=False
    )


def _score_here(path: str, catalog: str | None, settings: Params, retry_errors: bool) -> dict:
    """A run in this process. Its workers are spawned before this process imports torch and the models, so both
    load at once (a folder or store of photos only: one photo is scored here, with no workers)."""
    from emoscore.scoring.spawning import spawn_workers, wants_workers

    workers = None
    if (is_remote(path) or Path(path).is_dir()) and wants_workers(settings.score) and settings.vad.out.is_file():
        workers = spawn_workers(settings.vad.out, settings.score)
    try:
        from emoscore.catalog.store import Catalog
        from emoscore.scoring.run import score_here

        store = Catalog(catalog, settings.score.catalog_storage) if catalog else None
        return score_here(settings, library=path, catalog=store, retry_errors=retry_errors, workers=workers)
    finally:  # the run closes the pool it adopted; this one also covers a run that could not start
        if workers is not None:
            workers.shutdown(wait=False, cancel_futures=True)


@app.command()
def score(
    path: Annotated[
        str, typer.Argument(help="A photo, a folder scored recursively, or s3://bucket/prefix (S3-compatible).")
    ],
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
    path = str(canonical(path))  # S3://bucket/prefix is s3://bucket/prefix
    # before any model is loaded: a mistyped path costs nothing, and says so first
    if not is_remote(path) and not Path(path).exists():
        raise fail(f"{path}: library folder not found")
    # Prefect's own loggers (and emoscore's inside flow runs) follow -v as well: quiet unless asked
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", logging.getLevelName(logging.getLogger().getEffectiveLevel()))
    arguments = {
        "library": str(path),
        "catalog": str(catalog) if catalog else None,
        "params_path": str(params),
        "retry_errors": retry_errors,
        "models": str(models) if models else None,
    }
    try:
        settings = resolve_params(params, models)
        if path.startswith("s3://"):  # a missing bucket or an empty prefix: one line, before any model is loaded
            from emoscore.scoring.object_library import check_library

            check_library(path, settings.score.catalog_storage)
        if dask or (prefect if prefect is not None else prefect_server_configured()):
            from emoscore_flows.score_images import dask_task_runner, dask_workers, score_images

            if dask:  # every worker busy with one chunk and the next one queued behind it
                arguments["max_in_flight"] = 2 * dask_workers(dask)
            flow = score_images.with_options(task_runner=dask_task_runner(dask)) if dask else score_images
            summary = flow(**arguments)
        else:
            summary = _score_here(path, catalog, settings, retry_errors)
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
    out: Annotated[Path, typer.Option(help="Folder for the soundtrack, cue sheet, stem, mix and scored video.")],
    catalog: Annotated[
        str | None, typer.Option(help="Catalog (a folder or s3://bucket/prefix) whose `scenes` table gets the scenes.")
    ] = None,
    timeline: Annotated[
        Path | None,
        typer.Option(
            "--timeline",
            "--timecodes",
            help="The editor's cuts (and markers as hit points): CMX3600 .edl, FCP7 .xml, .fcpxml, .otio, .aaf, or"
            " a CSV of in,out.",
        ),
    ] = None,
    hit: Annotated[
        list[str] | None,
        typer.Option(help="A hit point (timecode on the film's clock, e.g. 00:01:12:05) or a CSV of them; repeatable."),
    ] = None,
    cue: Annotated[
        int | None, typer.Option(min=1, help="Recompose only this cue (from 1); every other cue keeps its notes.")
    ] = None,
    quadrant: Annotated[int | None, typer.Option(min=1, max=4, help="With --cue: the cue's quadrant, 1–4.")] = None,
    valence: Annotated[float | None, typer.Option(min=1, max=10, help="With --cue: its valence (1–10).")] = None,
    arousal: Annotated[float | None, typer.Option(min=1, max=10, help="With --cue: its arousal (1–10).")] = None,
    intensity: Annotated[
        float | None, typer.Option(min=-0.5, max=0.5, help="With --cue: its intensity (-0.5–0.5).")
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="With --cue: another take of it.")] = None,
    replace_audio: Annotated[
        bool | None, typer.Option(help="The scored video's sound is the music alone (default: film.replace_audio).")
    ] = None,
    fps: Annotated[int, typer.Option(min=1, max=240, help="Frame rate of a stills slideshow and its timecodes.")] = 25,
    prefect: Annotated[bool | None, typer.Option(help="Run as a Prefect flow (default: when a server is set).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's summary as JSON on stdout.")] = False,
    params: ParamsOption = Path("params.yaml"),
    models: ModelsOption = None,
) -> None:
    """Score a film: scenes, the emotion of their people, one continuous soundtrack that changes at the cuts.

    Writes into OUT the film's name with .mid (and one MIDI file per cue), .music.wav (the stem), .mix.wav (the
    film's own sound with the music ducked under it), .cues.csv/.cues.json and .scored.<ext>. Exit code 0 when
    written, 2 when FILM, its timeline or a hit point cannot be used (nothing is written then).
    """
    from emoscore.catalog.store import Catalog
    from emoscore.film.cues import CueOverride

    folder_to_write(out, "--out")
    chosen = CueOverride(quadrant, valence, arousal, intensity, seed)
    if cue is None and chosen != CueOverride():
        raise fail(EmoscoreError("--quadrant, --valence, --arousal, --intensity and --seed need --cue N"))
    if cue is not None and chosen == CueOverride():
        raise fail(
            EmoscoreError(f"--cue {cue}: say what to change (--quadrant, --valence/--arousal, --intensity, --seed)")
        )
    arguments = {
        "video": str(film),
        "out": str(out),
        "catalog": str(catalog) if catalog else None,
        "timeline": str(timeline) if timeline else None,
        "hits": list(hit or []),
        "cue": cue,
        "override": chosen.as_dict() if cue is not None else None,
        "replace_audio": replace_audio,
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
            from emoscore.film.scoring import score_film, with_sound

            result = score_film(
                film,
                out,
                with_sound(resolved, replace_audio),
                catalog=Catalog(catalog, resolved.score.catalog_storage) if catalog else None,
                timeline=timeline,
                hits=list(hit or []),
                cue=cue,
                override=chosen if cue is not None else None,
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
    library: Annotated[str, typer.Option(help="Folder (or s3://bucket/prefix) to keep scoring.")],
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

        serve_library(str(canonical(library)), schedule, catalog=catalog, params=params, name=name, models=models)
    except EmoscoreError as error:
        raise fail(error) from None
    # everything serve started is stopped and its logs are sent; tearing down torch's and Prefect's modules took
    # 3–4 s more here with nothing left to write, so the process ends now
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main() -> None:
    """The `emoscore` console script: the command, then the process ends as Python would end it (its thread-exit
    hooks run and other threads joined, exit handlers run, streams flushed) but without tearing down every
    module: for torch, numba and Prefect that took 1.2–1.5 s after a 10-s `emoscore score`, with nothing left to
    write."""
    try:
        app()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    threading._shutdown()  # what the interpreter does first at exit: hooks (Prefect's event sending), then joins
    atexit._run_exitfuncs()  # then the exit handlers (logging, temporary folders, child processes)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # as Python exits when it cannot flush stdout (a closed pipe)
    os._exit(code or 0)


if __name__ == "__main__":
    main()
