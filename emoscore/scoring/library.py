"""One scoring pass over a photo library (a folder, or an s3:// prefix; `listing` walks and hashes it).

The pass holds the catalog's advisory lock, skips what is done, scores the rest in chunks, and commits each chunk
as soon as it is ready (so a killed run loses at most the chunks in flight, and a rerun picks them up).
"""

from __future__ import annotations

import functools
import logging
import os
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from emoscore.catalog.location import is_remote
from emoscore.catalog.store import Catalog
from emoscore.catalog.table import (
    KEY,
    MOVED,
    Identity,
    ImageFile,
    error_row,
    unreadable_file,
    utf8_text,
)
from emoscore.progress import Progress
from emoscore.scoring.listing import Library, Skipped, hash_images, iter_library, library_root
from emoscore.scoring.object_library import (
    PhotoStore,
    StoredObject,
    check_library,
)

log = logging.getLogger(__name__)


class RowsFuture(Protocol):
    """What a chunk submission returns: local result or a Prefect/Dask future."""

    def result(self) -> list[dict]:
        """The chunk's rows."""
        ...


@dataclass
class RunSummary:
    """What a run did: rows written by status, images skipped (already done, duplicates, unsafe files)."""

    scored: int = 0
    failed: int = 0
    already_done: int = 0
    moved: int = 0
    skipped: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    parts: int = 0

    def add(self, rows: list[dict]) -> None:
        """Count the rows of a written chunk."""
        for row in rows:
            if row["status"] == "ok":
                self.scored += 1
            else:
                self.failed += 1
                self.errors[row["error"].split(":")[0][:60]] += 1

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "scored": self.scored,
            "failed": self.failed,
            "already_done": self.already_done,
            "moved": self.moved,
            "skipped": dict(self.skipped),
            "errors_by_reason": dict(self.errors),
            "commits": self.parts,
        }


def _gone(path: str, root: str, listed: set[str], store: Callable[[], PhotoStore]) -> bool:
    """Whether a row's photo is no longer where the row says (then a copy found elsewhere is its new place): an
    object under this store library's root by the listing just made, another object by asking its store."""
    if not is_remote(path):
        return not os.path.lexists(path)
    if is_remote(root) and path.startswith(root + "/"):
        return path not in listed
    return not store().exists(path)


def score_library(
    library: Library,
    catalog: Catalog,
    identity: Identity,
    submit: Callable[[list[ImageFile]], RowsFuture],
    *,
    chunk_size: int = 64,
    max_in_flight: int = 2,
    retry_errors: bool = False,
    wait_for_lock: bool = True,
    follow_outside: bool = False,
    flow_run_id: str = "",
    progress: bool = True,
    storage: Mapping[str, str] | None = None,
) -> RunSummary:
    """Score every new image under `library` into `catalog`; returns the run's summary. An image already scored
    whose row names a path that no longer exists (moved or renamed) gets its row again at its new path. An s3://
    library is read with `storage` over the AWS environment (params' catalog_storage)."""
    summary = RunSummary()
    root = library_root(library)
    store = PhotoStore.configured(storage) if is_remote(root) else None
    if store is not None:  # a missing bucket or an empty prefix is refused before the catalog is touched
        check_library(root, storage)
    catalog.check_writable()  # before the lock file: a location that cannot be a catalog gets nothing written
    with catalog.lock(wait=wait_for_lock):
        done = catalog.done_paths(include_errors=not retry_errors)
        moved: dict[tuple[str, str, str, str], ImageFile] = {}
        index = catalog.scan_index()
        seen: dict[str, str] = {}
        in_flight: deque[RowsFuture] = deque()
        chunk: list[ImageFile] = []
        # listing first gives the bar its total (and an ETA)
        own = str(catalog) if catalog.remote else catalog.root
        found = list(iter_library(root, follow_outside, exclude=[own], store=store))
        listed = {item.uri for item in found if isinstance(item, StoredObject)}
        elsewhere = functools.cache(lambda: store or PhotoStore.configured(storage))
        failed: list[dict] = []  # unreadable files' rows, committed a chunk at a time
        images = sum(not isinstance(item, Skipped) for item in found)
        bar = Progress(total=images, desc="scoring", unit="img", disable=not progress)

        def write(rows: list[dict]) -> None:
            catalog.write(rows, run_id=flow_run_id)
            summary.parts += 1
            summary.add(rows)
            bar.update(len(rows))

        def drain(limit: int) -> None:
            while len(in_flight) > limit:
                write(in_flight.popleft().result())

        for item in hash_images(found, index, library=root, store=store):
            if isinstance(item, Skipped):
                summary.skipped[item.reason.split(" (")[0]] += 1
                log.warning("skipped %s: %s", item.path, item.reason)
                continue
            if isinstance(item, tuple):
                path, reason = item
                file = unreadable_file(path, root)
                if identity.key(file.image_id) in done:
                    summary.already_done += 1
                    bar.update(1)
                else:
                    failed.append(error_row(identity, file, reason, flow_run_id=flow_run_id))
                    if len(failed) >= chunk_size:
                        write(failed)
                        failed = []
                continue
            key = identity.key(item.image_id)
            if key in done:
                if done[key] != utf8_text(item.path) and _gone(done[key], root, listed, elsewhere):
                    moved[key] = item
                summary.already_done += 1
                bar.update(1)
                continue
            if item.image_id in seen:
                summary.skipped["duplicate content"] += 1
                log.debug("skipped %s: same bytes as %s", item.path, seen[item.image_id])
                bar.update(1)
                continue
            seen[item.image_id] = item.path
            chunk.append(item)
            if len(chunk) == chunk_size:
                in_flight.append(submit(chunk))
                chunk = []
                drain(max_in_flight)
        if chunk:
            in_flight.append(submit(chunk))
        drain(0)
        if failed:
            write(failed)
        bar.close()
        summary.moved = _follow_moves(catalog, moved, flow_run_id)
        catalog.save_scan_index(index, root)  # after every row is written: a killed pass re-hashes, loses nothing
    return summary


def _follow_moves(catalog: Catalog, moved: dict[tuple[str, str, str, str], ImageFile], flow_run_id: str) -> int:
    """Write the rows of moved images again with their new path (newest row wins): queries by path and the
    gallery find a photo where it is now. Returns how many moved."""
    if not moved:
        return 0
    now = datetime.now(UTC)
    rows = []
    for row in catalog.read().to_pylist():
        file = moved.get(tuple(row[name] for name in KEY))
        if file is not None:
            log.info("%s: moved to %s", row["path"], utf8_text(file.path))
            rows.append(
                {
                    **row,
                    "path": utf8_text(file.path),
                    "library": utf8_text(file.library),
                    "scored_at": now,
                    "flow_run_id": flow_run_id,
                }
            )
    catalog.write(rows, replace=MOVED, run_id=flow_run_id)
    return len(rows)
