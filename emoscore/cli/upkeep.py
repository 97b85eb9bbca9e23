"""`emoscore catalog compact|vacuum|history|migrate`: the upkeep of a catalog's Delta tables and the move from the
part-file layout (registered on the `catalog` command group of emoscore.cli.catalog)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from emoscore.cli.catalog import CatalogOption, catalog_app, catalog_at
from emoscore.cli.common import ParamsOption, fail, print_table, say
from emoscore.config import load_params
from emoscore.errors import EmoscoreError


@catalog_app.command("compact")
def catalog_compact(catalog: CatalogOption = None, params: ParamsOption = Path("params.yaml")) -> None:
    """Rewrite each table's small files as large ones and checkpoint its log (safe while others write: a commit of
    its own, retried on conflict; readers of older versions keep their files until `catalog vacuum`)."""
    try:
        done = catalog_at(catalog, params).compact()
    except EmoscoreError as error:
        raise fail(error) from None
    for name, result in done.items():
        say(f"{name}: {result.files_before} files → {result.files_after}, {result.rows} rows, version {result.version}")


@catalog_app.command("vacuum")
def catalog_vacuum(
    retention_hours: Annotated[
        float, typer.Option(min=0, help="Keep what is younger than this (readers and writers may still need it).")
    ] = 168.0,
    catalog: CatalogOption = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Delete data files no current version needs and media no row names (a killed writer's), once older than the
    retention; time travel to versions before it may then miss files."""
    try:
        done = catalog_at(catalog, params).vacuum(retention_hours)
    except EmoscoreError as error:
        raise fail(error) from None
    say(f"removed {done['data_files']} table files and {done['media_files']} media files")


@catalog_app.command("history")
def catalog_history(
    table: Annotated[str, typer.Option(help="images or scenes.")] = "images",
    limit: Annotated[int, typer.Option(min=0, help="Newest N commits (0 = all).")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="As JSON.")] = False,
    catalog: CatalogOption = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """The table's commits, newest first: version, time, operation, rows added, the run that wrote them."""
    if table not in ("images", "scenes"):
        raise fail(f"--table {table!r}: choose images or scenes")
    try:
        entries = catalog_at(catalog, params).history(table, limit or None)
    except EmoscoreError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(entries, indent=1))
        return
    columns = ["version", "time", "operation", "rows_added", "rows_replaced", "run"]
    print_table(f"{table}: {len(entries)} commits", columns, [[e[c] for c in columns] for e in entries])


@catalog_app.command("migrate")
def catalog_migrate(
    old: Annotated[Path, typer.Argument(help="A catalog in the part-file layout (parts/*.parquet).")],
    new: Annotated[str, typer.Argument(help="Where the Delta catalog goes: a new folder or s3://bucket/prefix.")],
    sample: Annotated[int, typer.Option(min=0, help="Media files compared by SHA-256 after copying.")] = 64,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Copy a part-file catalog's rows, scenes and media into Delta tables at NEW and verify them (OLD is only
    read; rerun after an interruption to finish)."""
    from emoscore.catalog.migrate import migrate
    from emoscore.catalog.store import Catalog

    settings = load_params(params).score if params.exists() else None
    try:
        report = migrate(
            old, Catalog(new, settings.catalog_storage if settings else None), sample=sample, progress=True
        )
    except EmoscoreError as error:
        raise fail(error) from None
    done = report.as_dict()
    say(
        f"migrated {done['images']} images, {done['scenes']} scenes and {done['media_copied']} media files → {new}"
        f" (every old row and scene present, {done['media_digests_checked']} media digests equal)"
    )
