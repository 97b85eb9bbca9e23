"""`emoscore catalog query|stats|scenes`: questions to the catalog's tables, at any version (its upkeep — compact,
vacuum, history, migrate — is in emoscore.cli.upkeep; what a person opens from it — `gallery`, `render` — in
emoscore.cli.media)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from emoscore.cli.common import ParamsOption, fail, file_to_write, print_table
from emoscore.config import load_params
from emoscore.errors import EmoscoreError
from emoscore.models_home import resolve_params

if TYPE_CHECKING:
    from emoscore.catalog.query import Query
    from emoscore.catalog.store import Catalog
    from emoscore.catalog.table import Identity

log = logging.getLogger(__name__)
catalog_app = typer.Typer(help="Ask the catalog questions; compact, vacuum, migrate it.", no_args_is_help=True)


def query_from(
    quadrant: str | None,
    category: str | None,
    minimum: float,
    valence: str | None,
    arousal: str | None,
    status: str | None,
    path_glob: str | None,
    *,
    sort: str = "path",
    descending: bool = False,
    limit: int | None = None,
    detected: str | None = None,
    identity: Identity | None = None,
    as_of: str | None = None,
) -> Query:
    """The catalog query the command-line filters describe (ranges parsed, the version read)."""
    from emoscore.catalog.delta import AsOf
    from emoscore.catalog.query import Query, parse_range

    return Query(
        quadrant,
        category,
        minimum,
        parse_range(valence, "valence"),
        parse_range(arousal, "arousal"),
        status,
        path_glob,
        sort,
        descending,
        limit,
        detected,
        identity,
        AsOf.parse(as_of),
    )


QuadrantOption = Annotated[str | None, typer.Option(help="Q1 … Q4.")]
CategoryOption = Annotated[str | None, typer.Option(help="An EMOTIC category, e.g. Sadness.")]
MinOption = Annotated[float, typer.Option("--min", help="Lowest score of --category (0–1).")]
DetectedOption = Annotated[
    str | None, typer.Option(help="A category named for the image: above its threshold for one of its people.")
]
RangeOption = Annotated[str | None, typer.Option(help="LOW:HIGH on the 1–10 scale.")]
StatusOption = Annotated[str | None, typer.Option(help="ok or error.")]
GlobOption = Annotated[str | None, typer.Option("--path-glob", help="e.g. '*/act2/*'.")]
SortOption = Annotated[str, typer.Option(help="valence, arousal, dominance, quadrant_confidence, category, path…")]
DescOption = Annotated[bool, typer.Option("--desc", help="Sort descending.")]
CatalogOption = Annotated[
    str | None, typer.Option("--catalog", help="Catalog: a folder or s3://bucket/prefix (default: params).")
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="The catalog as it was: a table version (`catalog history`) or an ISO-8601 time."),
]


AllModelsOption = Annotated[
    bool, typer.Option("--all-models", help="Rows of every model version, not only the current models' rows.")
]


def current_identity(params: Path, all_models: bool) -> Identity | None:
    """The identity of the current view: the models and settings of params.yaml / the models home (None: every
    row, also when those models are not here to be digested)."""
    from emoscore.catalog.table import Identity

    if all_models:
        return None
    try:
        return Identity.from_params(resolve_params(params, None))
    except EmoscoreError as error:  # its hint names options of other commands: say what applies here
        reason = str(error).split(";")[0]
        log.warning(
            "showing rows of every model version (%s: use --all-models, or set EMOSCORE_MODELS to tell the "
            "current models)",
            reason,
        )
        return None


def catalog_at(catalog: str | None, params: Path) -> Catalog:
    """The catalog asked for; a usage error when there is none there (a mistyped path read as an empty catalog)
    or it is in the old part-file layout."""
    from emoscore.catalog.store import Catalog

    settings = load_params(params).score if params.exists() else None
    try:
        found = Catalog(
            catalog or (settings.catalog if settings else "data/catalog"),
            settings.catalog_storage if settings else None,
        )
        found.check_format()
        there = found.exists()
    except EmoscoreError as error:
        raise fail(error) from None
    if not there:
        raise fail(f"{found}: no catalog there (score photos into it first, or give --catalog)")
    return found


@catalog_app.command("query")
def catalog_query(
    quadrant: QuadrantOption = None,
    category: CategoryOption = None,
    minimum: MinOption = 0.5,
    detected: DetectedOption = None,
    valence: RangeOption = None,
    arousal: RangeOption = None,
    status: StatusOption = None,
    path_glob: GlobOption = None,
    sort: SortOption = "path",
    desc: DescOption = False,
    limit: Annotated[int, typer.Option(min=0, help="At most this many rows (0 = all).")] = 50,
    output_format: Annotated[str, typer.Option("--format", help="table, json, csv or parquet.")] = "table",
    out: Annotated[Path | None, typer.Option(help="File to write (needed for parquet).")] = None,
    catalog: CatalogOption = None,
    params: ParamsOption = Path("params.yaml"),
    all_models: AllModelsOption = False,
    as_of: AsOfOption = None,
) -> None:
    """Find images, e.g. `--quadrant Q3 --category Sadness --min 0.6 --sort arousal`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from emoscore.catalog.query import run_query

    if out is not None:
        file_to_write(out, "--out")
    try:
        query = query_from(
            quadrant,
            category,
            minimum,
            valence,
            arousal,
            status,
            path_glob,
            sort=sort,
            descending=desc,
            limit=limit or None,
            detected=detected,
            identity=current_identity(params, all_models),
            as_of=as_of,
        )
        table = run_query(catalog_at(catalog, params), query)
    except (EmoscoreError, ValueError) as error:
        raise fail(error) from None
    if output_format == "parquet":
        if out is None:
            raise fail("--format parquet needs --out FILE")
        pq.write_table(table, out)
    elif output_format == "csv":
        flat = table.drop_columns([c for c in ("people", "top_categories") if c in table.column_names])
        if "categories_above_threshold" in flat.column_names:  # CSV holds no lists: "Sadness;Fatigue"
            index = flat.column_names.index("categories_above_threshold")
            names = [";".join(value or []) for value in flat.column(index).to_pylist()]
            flat = flat.set_column(index, "categories_above_threshold", pa.array(names, pa.string()))
        target = out or "/dev/stdout"
        pacsv.write_csv(flat, target)
    elif output_format == "json":
        text = json.dumps(table.to_pylist(), default=str, indent=1)
        out.write_text(text) if out else typer.echo(text)
    elif output_format == "table":
        lines = []
        for row in table.to_pylist():
            top = ", ".join(f"{c['name']} {c['score']:.2f}" for c in (row["top_categories"] or [])[:3])
            numbers = [f"{row[c]:.1f}" if row[c] is not None else "" for c in ("valence", "arousal", "dominance")]
            named = ", ".join(row.get("categories_above_threshold") or [])
            lines.append(
                [row["path"], row["status"], row["quadrant"] or (row["error"] or "")[:40], *numbers, named, top]
            )
        columns = ["path", "status", "quadrant", "valence", "arousal", "dominance", "above threshold", "top"]
        print_table(f"{table.num_rows} images", columns, lines)
    else:
        raise fail(f"unknown --format {output_format!r}; choose table, json, csv or parquet")


@catalog_app.command("scenes")
def catalog_scenes(
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every column of every scene row, as JSON.")] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """The films scored into the catalog (`emoscore soundtrack --catalog`), one line per scene, in film order."""
    from emoscore.film.scene_table import read_scenes

    try:
        scenes = read_scenes(catalog_at(catalog, params)).to_pylist()
    except EmoscoreError as error:
        raise fail(error) from None
    rows = sorted(scenes, key=lambda row: (row["path"], row["scored_at"], row["scene_index"]))
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=1))
        return
    lines = [
        [
            Path(row["path"]).name,
            row["scene_index"],
            row["start_timecode"],
            row["end_timecode"],
            row["quadrant"],
            f"{row['valence']:.1f}",
            f"{row['arousal']:.1f}",
            f"{row['tempo_bpm']:.0f}",
            row["bars"],
        ]
        for row in rows
    ]
    columns = ["film", "scene", "in", "out", "quadrant", "valence", "arousal", "tempo", "bars"]
    print_table(f"{len(rows)} scenes of {len({row['video_id'] for row in rows})} films", columns, lines)


@catalog_app.command("stats")
def catalog_stats_command(
    catalog: CatalogOption = None,
    params: ParamsOption = Path("params.yaml"),
    all_models: AllModelsOption = False,
    as_of: AsOfOption = None,
) -> None:
    """Counts per quadrant and status, VAD distribution, frequent categories, model versions."""
    from emoscore.catalog.delta import AsOf
    from emoscore.catalog.query import catalog_stats

    try:
        stats = catalog_stats(
            catalog_at(catalog, params), identity=current_identity(params, all_models), as_of=AsOf.parse(as_of)
        )
    except EmoscoreError as error:
        raise fail(error) from None
    Console().print_json(json.dumps(stats, default=str))
