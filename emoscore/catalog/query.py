"""Questions to the catalog, answered by DuckDB over the images' Delta table at its current version or any earlier
one: the live Parquet files the log names, read by DuckDB itself on disk and as an Arrow dataset from a store (no
DuckDB extension is needed); nothing is loaded whole.

The table holds one row per key. The current view keeps
the rows of one identity (the models and settings params.yaml names), so a retrained model's rows do not stand
beside the old ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from emoscore.catalog.delta import AsOf, read
from emoscore.catalog.store import Catalog
from emoscore.catalog.table import KEY, SCHEMA, CatalogError, Identity
from emoscore.emotic.labels import CATEGORY_INDEX
from emoscore.errors import EmoscoreError
from emoscore.text import first_line

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
STATUSES = ("ok", "error")
SORTABLE = {"valence", "arousal", "dominance", "quadrant_confidence", "scored_at", "path", "size_bytes", "category"}


@dataclass(frozen=True)
class Query:
    """Filters and order of `emoscore catalog query`."""

    quadrant: str | None = None
    category: str | None = None
    min_score: float = 0.5
    valence: tuple[float, float] | None = None
    arousal: tuple[float, float] | None = None
    status: str | None = None
    path_glob: str | None = None
    sort: str = "path"
    descending: bool = False
    limit: int | None = 50
    detected: str | None = None  # a category named above its threshold (for a person of the image)
    identity: Identity | None = None  # the current view: only rows of these models and settings (None: all)
    as_of: AsOf | None = None  # time travel: the table as it was at a version or time

    def __post_init__(self) -> None:
        """Refuse a filter that can match nothing by construction (a mistyped value reads as "0 images")."""
        if self.quadrant is not None and self.quadrant.upper() not in QUADRANTS:
            raise EmoscoreError(f"--quadrant {self.quadrant!r}: choose one of {', '.join(QUADRANTS)}")
        if self.status is not None and self.status not in STATUSES:
            raise EmoscoreError(f"--status {self.status!r}: choose one of {', '.join(STATUSES)}")
        if not 0 <= self.min_score <= 1:  # also refuses NaN
            raise EmoscoreError(f"--min {self.min_score}: category scores are 0–1")
        for name in (self.category, self.detected):
            if name is not None:
                category_expression(name)
        if self.limit is not None and self.limit < 0:
            raise EmoscoreError(f"--limit {self.limit}: at least 0")


def parse_range(text: str | None, name: str) -> tuple[float, float] | None:
    """'1:4' → (1.0, 4.0); a clear error otherwise."""
    if not text:
        return None
    low, separator, high = text.partition(":")
    try:
        if not separator:
            raise ValueError
        bounds = (float(low) if low else 1.0, float(high) if high else 10.0)
        if not 1 <= bounds[0] <= bounds[1] <= 10:  # also refuses NaN
            raise ValueError
        return bounds
    except ValueError:
        raise EmoscoreError(f"--{name} expects LOW:HIGH with 1 <= LOW <= HIGH <= 10, got {text!r}") from None


def _relation(
    connection: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    identity: Identity | None = None,
    as_of: AsOf | None = None,
) -> str:
    """SQL for the catalog's rows (at `as_of`); with `identity` (the current view), only the rows of those models
    and settings, and one per path: a file scored again (a fixed file, new content) supersedes its row."""
    files = catalog.live_files(as_of=as_of)
    globbing = any(character in name for name in files for character in "*?[{")  # read_parquet would expand
    if catalog.remote or not files or globbing:  # Arrow's reader: DuckDB needs no extension for a store
        connection.execute(NO_ARROW_PUSHDOWN)
        connection.register("catalog_rows", read(catalog.location, files, SCHEMA))
    else:  # on disk DuckDB reads the live files itself, pruning row groups by the filters
        listing = ", ".join("'" + name.replace("'", "''") + "'" for name in files)
        with answering(catalog):
            connection.execute(
                f"CREATE OR REPLACE VIEW catalog_rows AS SELECT * FROM read_parquet([{listing}], union_by_name=true)"
            )
    if identity is None:
        return "catalog_rows"  # one row per key already: the table's commits never add a key twice
    values = (identity.vad_model, identity.music_model, identity.params_hash)
    current = " AND ".join(
        f"{name} = '{value.replace(chr(39), chr(39) * 2)}'" for name, value in zip(KEY[1:], values, strict=True)
    )
    return (
        f"(SELECT * FROM catalog_rows WHERE {current} "
        f"QUALIFY row_number() OVER (PARTITION BY path ORDER BY scored_at DESC) = 1)"
    )


# Filters are not pushed into an Arrow scan of the catalog: files delta-rs's MERGE writes hold strings as Arrow
# string_view, which Arrow's filter kernels cannot compare yet (deltalake 1.6.6, pyarrow 26); DuckDB filters itself
NO_ARROW_PUSHDOWN = "SET disabled_optimizers = 'filter_pushdown'"


@contextmanager
def answering(catalog: Catalog) -> Iterator[None]:
    """What DuckDB or Arrow raise while reading the catalog's files (one of an old version vacuumed away, a store
    gone) as one line naming the catalog."""
    try:
        yield
    except (duckdb.Error, OSError) as error:
        raise CatalogError(f"{catalog}: cannot read: {first_line(error)}") from None


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to register a catalog table's Arrow dataset in (`Catalog.dataset`)."""
    connection = duckdb.connect()
    connection.execute(NO_ARROW_PUSHDOWN)
    return connection


def category_expression(category: str) -> str:
    """SQL for an image's score of a category: the highest over its people."""
    if category not in CATEGORY_INDEX:
        raise EmoscoreError(f"unknown category {category!r}; choose one of {', '.join(CATEGORY_INDEX)}")
    return f"list_max(list_transform(people, lambda p: p.categories[{CATEGORY_INDEX[category] + 1}]))"


def run_query(catalog: Catalog, query: Query) -> pa.Table:
    """The catalog rows matching `query`, as an Arrow table."""
    connection = duckdb.connect()
    source = _relation(connection, catalog, query.identity, query.as_of)
    where, arguments = [], []
    if query.quadrant:
        where.append("quadrant = ?")
        arguments.append(query.quadrant.upper())
    if query.status:
        where.append("status = ?")
        arguments.append(query.status)
    if query.path_glob:
        where.append("path GLOB ?")
        arguments.append(query.path_glob)
    for column, bounds in (("valence", query.valence), ("arousal", query.arousal)):
        if bounds:
            where.append(f"{column} BETWEEN ? AND ?")
            arguments.extend(bounds)
    if query.detected:
        if query.detected not in CATEGORY_INDEX:
            raise EmoscoreError(f"unknown category {query.detected!r}; choose one of {', '.join(CATEGORY_INDEX)}")
        where.append("list_contains(categories_above_threshold, ?)")
        arguments.append(query.detected)
    category_column = ""
    if query.category:
        expression = category_expression(query.category)
        category_column = f", {expression} AS category"
        where.append(f"{expression} >= ?")
        arguments.append(query.min_score)
    if query.sort not in SORTABLE or (query.sort == "category" and not query.category):
        raise EmoscoreError(
            f"cannot sort by {query.sort!r}; choose from {sorted(SORTABLE)} (category needs --category)"
        )
    order = f"{query.sort} {'DESC' if query.descending else 'ASC'} NULLS LAST, path"
    sql = f"SELECT *{category_column} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order}"
    if query.limit:
        sql += f" LIMIT {int(query.limit)}"
    try:
        with answering(catalog):
            return connection.sql(sql, params=arguments).to_arrow_table()
    finally:
        connection.close()


def catalog_stats(
    catalog: Catalog, *, top: int = 10, identity: Identity | None = None, as_of: AsOf | None = None
) -> dict:
    """Counts per quadrant and status, the VAD distribution and frequent top categories (of the current view with
    `identity`), and the images of every model version in the catalog (at `as_of`)."""
    connection = duckdb.connect()
    every = _relation(connection, catalog, as_of=as_of)
    source = _relation(connection, catalog, identity, as_of)

    def rows(sql: str) -> list[tuple]:
        with answering(catalog):
            return connection.execute(sql).fetchall()

    vad = {}
    for column in ("valence", "arousal", "dominance"):
        mean, std, low, median, high = rows(
            f"SELECT avg({column}), stddev_samp({column}), min({column}), median({column}), max({column}) "
            f"FROM {source} WHERE status = 'ok'"
        )[0]
        vad[column] = {"mean": mean, "std": std, "min": low, "median": median, "max": high}
    return {
        "images": rows(f"SELECT count(*) FROM {source}")[0][0],
        "by_status": dict(rows(f"SELECT status, count(*) FROM {source} GROUP BY 1 ORDER BY 1")),
        "by_quadrant": dict(rows(f"SELECT quadrant, count(*) FROM {source} WHERE status='ok' GROUP BY 1 ORDER BY 1")),
        "vad": vad,
        "top_categories": dict(
            rows(
                f"SELECT top_categories[1].name AS c, count(*) FROM {source} WHERE status='ok' "
                f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(top)}"
            )
        ),
        "categories_above_threshold": dict(
            rows(
                f"SELECT name, count(*) FROM (SELECT unnest(categories_above_threshold) AS name FROM {source} "
                f"WHERE status='ok') GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(top)}"
            )
        ),
        "models": [
            {"vad_model": v, "music_model": m, "params_hash": p, "images": n}
            for v, m, p, n in rows(f"SELECT vad_model, music_model, params_hash, count(*) FROM {every} GROUP BY 1,2,3")
        ],
    }
