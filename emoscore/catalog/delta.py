"""The catalog's tables as Delta Lake tables (delta-rs): a chunk is one MERGE commit that adds only keys the table
lacks, retried with backoff when another writer committed first; reads, time travel, history and the lifecycle.

Reads go through the commit log's list of live files and Arrow's own Parquet reader, not `to_pyarrow_dataset`: a
dataset over delta-rs's file system handle aborts the interpreter at exit (deltalake 1.6.6). That is exact for
these tables, which enable neither deletion vectors nor column mapping (the features pandas, Polars and DuckDB
readers refuse), and are not partitioned.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, DeltaProtocolError, TableNotFoundError

from emoscore.catalog.location import Location, StorageError
from emoscore.catalog.table import CatalogError
from emoscore.text import first_line

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRIES = 12  # bounded: a storm of writers backs off and gets in; past this a clear error, never a lost chunk
RUN_KEY = "emoscore.run"


class CommitConflict(CatalogError):
    """Another writer kept committing first, past the bounded retries: nothing of this chunk was written."""


@dataclass(frozen=True)
class AsOf:
    """A table version, or the version current at a time (`--as-of`)."""

    version: int | None = None
    timestamp: datetime | None = None

    @classmethod
    def parse(cls, text: str | None) -> AsOf | None:
        """`12` → version 12; an ISO-8601 time → the version then; a clear error otherwise."""
        if not text:
            return None
        if text.isdigit():
            return cls(version=int(text))
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise CatalogError(f"--as-of {text!r}: a table version (a whole number) or an ISO-8601 time") from None
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return cls(timestamp=moment)


def _quoted(name: str) -> str:
    return f"`{name}`"


def open_table(location: Location, name: str, as_of: AsOf | None = None) -> DeltaTable | None:
    """The table `name` of the catalog (at `as_of` when given); None when it was never created."""
    uri = location.join(name)
    try:
        table = DeltaTable(uri, storage_options=location.options or None)
    except TableNotFoundError:
        return None
    except (DeltaError, OSError) as error:
        raise StorageError(f"{location}: cannot read table {name}: {first_line(error)}") from None
    if as_of is not None:
        try:
            table.load_as_version(as_of.version if as_of.version is not None else as_of.timestamp)
        except (DeltaError, ValueError, OSError) as error:
            raise CatalogError(f"{location}/{name}: no version {_shown(as_of)}: {first_line(error)}") from None
    return table


def live_files(location: Location, name: str, table: DeltaTable | None) -> list[str]:
    """The table's live data files as its location's file system names them: the log's relative paths under the
    real folder (`file_uris` percent-encodes some characters of a local path and not others)."""
    if table is None:
        return []
    paths = pa.table(table.get_add_actions(flatten=False)).column("path").to_pylist()
    return [location.fs_path(location.join(name, unquote(path))) for path in paths]


def read(location: Location, files: Sequence[str], schema: pa.Schema | None) -> ds.Dataset:
    """A table's live files (`live_files`) as one Arrow dataset in `schema` (the files' own without; empty when
    there are none)."""
    if not files:
        return ds.dataset((schema or pa.schema([])).empty_table())
    return ds.dataset(files, schema=schema, format="parquet", filesystem=location.filesystem())


def commit_new(
    location: Location,
    name: str,
    rows: Sequence[dict],
    schema: pa.Schema,
    key: Sequence[str],
    *,
    replace: str | None = None,
    run_id: str = "",
) -> int:
    """Add the rows whose key the table lacks, in one commit (MERGE on `key`); a matched row is replaced where the
    SQL predicate `replace` holds (`s` the new row, `t` the stored one). Retries a conflicting commit with
    backoff, then raises CommitConflict naming the catalog. Returns the rows inserted."""
    if not rows:
        return 0
    source = pa.Table.from_pylist(list(rows), schema=schema)  # a bad row fails here, before anything is written
    predicate = " AND ".join(f"t.{_quoted(column)} = s.{_quoted(column)}" for column in key)
    properties = CommitProperties(custom_metadata={RUN_KEY: run_id} if run_id else None)
    if open_table(location, name) is None:
        _create(location, name, schema)

    def merge(table: DeltaTable) -> int:
        builder = table.merge(source, predicate, source_alias="s", target_alias="t", commit_properties=properties)
        if replace:
            builder = builder.when_matched_update_all(predicate=replace)
        return int(builder.when_not_matched_insert_all().execute().get("num_target_rows_inserted", 0))

    return _retried(location, name, merge, "commit to", "write")


def _retried(location: Location, name: str, action: Callable[[DeltaTable], T], doing: str, verb: str) -> T:
    """`action` on the table, read again and retried with backoff while another writer commits first; past the
    bounded retries CommitConflict, and any other failure of the store one StorageError line."""
    for attempt in range(RETRIES + 1):
        table = open_table(location, name)
        if table is None:
            raise StorageError(f"{location}: table {name} could not be created")
        try:
            return action(table)
        except CommitFailedError as error:
            if attempt == RETRIES:
                raise CommitConflict(
                    f"{location}: could not {doing} table {name} after {RETRIES} retries: other writers kept "
                    f"committing first ({first_line(error)}); nothing was written — run again"
                ) from None
            log.info("%s/%s: another writer committed first; retrying", location, name)
            backoff(attempt)
        except (DeltaError, OSError) as error:
            raise StorageError(f"{location}: cannot {verb} table {name}: {first_line(error)}") from None
    raise AssertionError("unreachable")


def backoff(attempt: int) -> None:
    """Wait before retry `attempt`: doubling from 50 ms to at most 4 s, jittered so writers do not collide again."""
    time.sleep(min(4.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))


def _create(location: Location, name: str, schema: pa.Schema) -> None:
    """Create an empty table; another writer creating it at the same moment is fine (one of them wins)."""
    try:
        write_deltalake(
            location.join(name),
            schema.empty_table(),
            mode="append",
            storage_options=location.options or None,
            configuration={"delta.checkpointInterval": "100"},
        )
    except (CommitFailedError, DeltaProtocolError):
        log.debug("%s/%s: created by another writer at the same moment", location, name)
    except (DeltaError, OSError) as error:
        raise StorageError(f"{location}: cannot create table {name}: {first_line(error)}") from None


def history(table: DeltaTable | None, limit: int | None = None) -> list[dict]:
    """The table's commits, newest first: version, time, operation, rows added and the run that wrote them."""
    if table is None:
        return []
    entries = []
    for commit in table.history(limit):
        metrics = commit.get("operationMetrics") or {}
        added = metrics.get("num_target_rows_inserted", metrics.get("num_added_rows"))
        replaced = metrics.get("num_target_rows_updated")
        entries.append(
            {
                "version": commit.get("version"),
                "time": datetime.fromtimestamp(commit["timestamp"] / 1000).astimezone().isoformat(timespec="seconds")
                if commit.get("timestamp")
                else None,
                "operation": commit.get("operation"),
                "rows_added": int(added) if added is not None else None,
                "rows_replaced": int(replaced) if replaced is not None else None,
                "run": commit.get(RUN_KEY),
            }
        )
    return entries


@dataclass(frozen=True)
class Compacted:
    """What `catalog compact` did to one table."""

    files_before: int
    files_after: int
    rows: int
    version: int


def compact(location: Location, name: str) -> Compacted | None:
    """Merge a table's small files into large ones, then write a log checkpoint (replaying the log starts there)."""
    table = open_table(location, name)
    if table is None:
        return None
    before = len(live_files(location, name, table))
    # a writer committing meanwhile makes the rewrite conflict: read again
    _retried(location, name, lambda fresh: fresh.optimize.compact(), "compact", "compact")
    table = open_table(location, name)
    assert table is not None
    try:
        table.create_checkpoint()
        table.cleanup_metadata()
    except (DeltaError, OSError) as error:
        raise StorageError(f"{location}: cannot checkpoint table {name}: {first_line(error)}") from None
    after = live_files(location, name, table)
    return Compacted(before, len(after), read(location, after, None).count_rows(), table.version())


def vacuum(location: Location, name: str, retention_hours: float) -> list[str]:
    """Delete the table's data files no live version needs that are older than the retention; their names."""
    table = open_table(location, name)
    if table is None:
        return []
    try:
        return table.vacuum(  # full: also files no commit ever named (a lost race's, a killed writer's)
            retention_hours=math.ceil(retention_hours), enforce_retention_duration=False, dry_run=False, full=True
        )
    except (DeltaError, OSError) as error:
        raise StorageError(f"{location}: cannot vacuum table {name}: {first_line(error)}") from None


def _shown(as_of: AsOf) -> str:
    return str(as_of.version) if as_of.version is not None else as_of.timestamp.isoformat()  # type: ignore[union-attr]
