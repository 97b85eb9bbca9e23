"""One scoring run over a photo library: hold the catalog lock, skip what is done, score the rest in chunks,
and write each chunk as an atomic part file as soon as it is ready (so a killed run loses at most the chunks
in flight, and a rerun picks them up)."""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from emoscore import catalog as catalog_store
from emoscore.score import Identity, ImageFile, Skipped, error_row, hash_images, iter_library, unreadable_file

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
            "skipped": dict(self.skipped),
            "errors_by_reason": dict(self.errors),
            "part_files_written": self.parts,
        }


def score_library(
    library: Path,
    catalog: Path,
    identity: Identity,
    submit: Callable[[list[ImageFile]], RowsFuture],
    chunk_size: int = 64,
    max_in_flight: int = 2,
    retry_errors: bool = False,
    wait_for_lock: bool = True,
    follow_outside: bool = False,
    flow_run_id: str = "",
    progress: bool = True,
) -> RunSummary:
    """Score every new image under `library` into `catalog`; returns the run's summary."""
    summary = RunSummary()
    with catalog_store.catalog_lock(catalog, wait=wait_for_lock):
        removed = catalog_store.remove_stale_temporaries(catalog)
        if removed:
            log.warning("removed %d temporary part files left by an interrupted run", removed)
        done = catalog_store.done_keys(catalog, include_errors=not retry_errors)
        seen: dict[str, str] = {}
        in_flight: deque[RowsFuture] = deque()
        chunk: list[ImageFile] = []
        bar = tqdm(desc="scoring", unit="img", disable=not progress)

        def write(rows: list[dict]) -> None:
            catalog_store.write_part(catalog, rows)
            summary.parts += 1
            summary.add(rows)
            bar.update(len(rows))

        def drain(limit: int) -> None:
            while len(in_flight) > limit:
                write(in_flight.popleft().result())

        for item in hash_images(iter_library(library, follow_outside)):
            if isinstance(item, Skipped):
                summary.skipped[item.reason.split(" (")[0]] += 1
                log.warning("skipped %s: %s", item.path, item.reason)
                continue
            if isinstance(item, tuple):
                path, reason = item
                file = unreadable_file(path)
                if identity.key(file.image_id) in done:
                    summary.already_done += 1
                else:
                    write([error_row(identity, file, reason, flow_run_id)])
                continue
            key = identity.key(item.image_id)
            if key in done:
                summary.already_done += 1
                continue
            if item.image_id in seen:
                summary.skipped["duplicate content"] += 1
                log.info("skipped %s: same bytes as %s", item.path, seen[item.image_id])
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
        bar.close()
    return summary
