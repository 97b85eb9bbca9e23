"""Compacting a catalog: its many part files merged into one, the newest row per key kept (an error row that a later
success superseded goes), under the catalog lock.

Crash safety: the merged part is written to a temporary file first; a journal naming the parts it replaces is made
durable before the merged part takes its final name; only then are the old parts deleted. A compaction killed at
any point is finished (or forgotten, if its merged part never appeared) the next time anyone takes the lock, so no
row is lost and no key is left twice.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from emoscore.catalog.table import catalog_lock, dataset, part_files, parts_dir, read_catalog, sync_directory

log = logging.getLogger(__name__)
JOURNAL = ".compacting.json"


@dataclass(frozen=True)
class Compaction:
    """What a compaction did."""

    parts_before: int
    rows_before: int
    rows_after: int


def finish_interrupted(catalog: Path) -> None:
    """Complete a compaction that was killed (call while holding the lock): delete the parts its merged part
    replaced if that part exists, else forget it."""
    directory = parts_dir(catalog)
    journal = directory / JOURNAL
    if journal.exists():
        plan = json.loads(journal.read_text())
        if (directory / plan["merged"]).exists():
            for name in plan["replaces"]:
                (directory / name).unlink(missing_ok=True)
            log.warning("%s: finished a compaction that was interrupted", catalog)
        journal.unlink()
    for leftover in (directory / f"{JOURNAL}.tmp", *directory.glob(".part-*-compacted-*.tmp")):
        leftover.unlink(missing_ok=True)  # the unfinished files of a compaction that never took effect
    if directory.is_dir():
        sync_directory(directory)


def compact(catalog: Path, wait: bool = True) -> Compaction:
    """Merge the catalog's parts into one, newest row per key; nothing to do with one part or none."""
    with catalog_lock(catalog, wait=wait):
        finish_interrupted(catalog)
        parts = part_files(catalog)
        rows_before = dataset(catalog).count_rows()
        if len(parts) <= 1:
            return Compaction(len(parts), rows_before, rows_before)
        table = read_catalog(catalog)
        directory = parts_dir(catalog)
        merged = f"part-{time.strftime('%Y%m%dT%H%M%S')}-compacted-{uuid.uuid4().hex[:8]}.parquet"
        temporary = directory / f".{merged}.tmp"
        with temporary.open("wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        journal = directory / JOURNAL
        staged = directory / f"{JOURNAL}.tmp"
        staged.write_text(json.dumps({"merged": merged, "replaces": [part.name for part in parts]}))
        os.replace(staged, journal)
        sync_directory(directory)
        os.replace(temporary, directory / merged)
        sync_directory(directory)
        for part in parts:
            part.unlink()
        journal.unlink()
        sync_directory(directory)
        return Compaction(len(parts), rows_before, table.num_rows)
