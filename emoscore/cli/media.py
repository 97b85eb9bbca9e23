"""`emoscore gallery` and `emoscore render`: the files a person opens from a catalog (a browsable page, audio of its
pieces), for all of it or a query's rows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from emoscore.cli.catalog import (
    AllModelsOption,
    AsOfOption,
    CatalogOption,
    CategoryOption,
    DetectedOption,
    GlobOption,
    MinOption,
    QuadrantOption,
    RangeOption,
    StatusOption,
    catalog_at,
    current_identity,
    query_from,
)
from emoscore.cli.common import ParamsOption, console, fail, say
from emoscore.config import load_params
from emoscore.errors import EmoscoreError

if TYPE_CHECKING:
    from emoscore.catalog.store import Catalog


def gallery(
    out: Annotated[Path, typer.Option(help="Folder for index.html, thumbnails and media.")] = Path("reports/gallery"),
    quadrant: QuadrantOption = None,
    category: CategoryOption = None,
    minimum: MinOption = 0.5,
    detected: DetectedOption = None,
    valence: RangeOption = None,
    arousal: RangeOption = None,
    status: StatusOption = None,
    path_glob: GlobOption = None,
    catalog: CatalogOption = None,
    params: ParamsOption = Path("params.yaml"),
    all_models: AllModelsOption = False,
    as_of: AsOfOption = None,
) -> None:
    """Write a static HTML gallery (thumbnails, VAD charts, audio, MIDI) of the catalog, or of a query."""
    from emoscore.catalog.gallery import write_gallery
    from emoscore.catalog.query import run_query

    try:
        source = catalog_at(catalog, params)
        query = query_from(
            quadrant,
            category,
            minimum,
            valence,
            arousal,
            status,
            path_glob,
            detected=detected,
            identity=current_identity(params, all_models),
            as_of=as_of,
        )
        page = write_gallery(run_query(source, query), source, out)
    except (EmoscoreError, ValueError) as error:
        raise fail(error) from None
    say("wrote ", page)


def _local_midi(catalog: Catalog, relative: str) -> Path:
    """A row's MIDI file on this machine (fetched once into ~/.cache from an object-store catalog)."""
    if not catalog.remote:
        return catalog.media(relative)
    target = catalog.state / "media" / relative
    if not target.exists():
        catalog.fetch_media(relative, target)
    return target


def render(
    catalog: CatalogOption = None,
    audio_format: Annotated[str, typer.Option("--format", help="flac, wav or opus.")] = "flac",
    out: Annotated[Path | None, typer.Option(help="Folder for the audio (default: CATALOG/renders/FORMAT).")] = None,
    quadrant: QuadrantOption = None,
    category: CategoryOption = None,
    minimum: MinOption = 0.5,
    valence: RangeOption = None,
    arousal: RangeOption = None,
    path_glob: GlobOption = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes (default: one per core).")] = None,
    build_bank: Annotated[bool, typer.Option("--build-bank", help="Build the note bank now, then render.")] = False,
    params: ParamsOption = Path("params.yaml"),
    all_models: AllModelsOption = False,
) -> None:
    """Render the catalog's pieces (all, or a query's) to audio files, in parallel; what is there is kept."""
    from emoscore.catalog.query import run_query
    from emoscore.music.audio import bank_for, rate_for, render_files

    if audio_format not in ("flac", "wav", "opus"):
        raise fail(f"unknown --format {audio_format!r}; choose flac, wav or opus")
    try:
        settings = load_params(params).render if params.exists() else None
        from emoscore.config import RenderParams

        settings = settings or RenderParams()
        if build_bank:
            folder = bank_for(settings, rate_for(Path(f"x.{audio_format}"), settings), progress=True)
            console.print(f"note bank ready: {len(folder.anchors)} velocity anchors, {folder.sample_rate} Hz")
        source = catalog_at(catalog, params)
        query = query_from(
            quadrant,
            category,
            minimum,
            valence,
            arousal,
            "ok",
            path_glob,
            identity=current_identity(params, all_models),
        )
        rows = [row for row in run_query(source, query).to_pylist() if row.get("midi_path")]
        if out is None and source.remote:
            raise EmoscoreError(f"{source}: give --out for the renders of an object-store catalog")
        folder_out = out or source.root / "renders" / audio_format
        jobs = [
            (_local_midi(source, row["midi_path"]), folder_out / f"{row['image_id']}.{audio_format}") for row in rows
        ]
        summary = render_files(jobs, settings, workers=workers, progress=console.is_terminal)
    except (EmoscoreError, ValueError, OSError) as error:
        raise fail(error) from None
    say(
        f"rendered {summary.rendered}, already there {summary.already_there}, failed {len(summary.failed)} → ",
        folder_out,
    )
    if summary.failed:
        raise typer.Exit(1)
