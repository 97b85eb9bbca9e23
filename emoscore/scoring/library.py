"""A photo library: walk it, hash its images, and run one scoring pass over it.

The pass holds the catalog lock, skips what is done, scores the rest in chunks, and writes each chunk as an
atomic part file as soon as it is ready (so a killed run loses at most the chunks in flight, and a rerun picks
them up).
"""

from __future__ import annotations

import logging
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from emoscore.catalog.scan_index import ScanIndex
from emoscore.catalog.store import Catalog
from emoscore.catalog.table import (
    GALLERY_MARKER,
    KEY,
    MOVED,
    Identity,
    ImageFile,
    error_row,
    unreadable_file,
    utf8_text,
)
from emoscore.digests import file_sha256
from emoscore.errors import InvalidImage
from emoscore.images import IMAGE_SUFFIXES, RAW_REASON, RAW_SUFFIXES
from emoscore.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skipped:
    """A file under the library that is not scored, and why (logged, counted, no row)."""

    path: str
    reason: str


def _ours(folder: Path, excluded: set[Path]) -> bool:
    """A folder emoscore wrote: the run's catalog, any catalog (a Delta images table, or the old layout's lock and
    parts) or a gallery (its marker)."""
    return (
        folder.resolve() in excluded
        or (folder / GALLERY_MARKER).is_file()
        or (folder / "images" / "_delta_log").is_dir()
        or ((folder / ".lock").is_file() and (folder / "parts").is_dir())
    )


def iter_library(root: Path, follow_outside: bool = False, exclude: Iterable[Path] = ()) -> Iterator[Path | Skipped]:
    """Image files under `root` (any case of extension, nested folders), streamed in a stable order.

    Paths are absolute (a row's path stays true from any folder). Broken symlinks and symlinks that leave the
    library (unless `follow_outside`) come out as Skipped; folders emoscore wrote (the catalog in `exclude`, any
    catalog or gallery) are not entered: their charts and thumbnails are not photos.
    """
    excluded = {Path(path).resolve() for path in exclude}
    if Path(root).is_file():
        yield Path(root).absolute()
        return
    if not Path(root).is_dir():
        raise InvalidImage(root, "library folder not found")
    root = Path(root).absolute()
    resolved_root = root.resolve()
    for directory, folders, files in os.walk(root):
        ours = [name for name in folders if _ours(Path(directory) / name, excluded)]
        for name in ours:
            log.info("%s: emoscore's own output inside the library, not scored", Path(directory) / name)
        folders[:] = sorted(name for name in folders if name not in ours)
        for name in sorted(files):
            path = Path(directory) / name
            if path.suffix.lower() in RAW_SUFFIXES:
                yield Skipped(str(path), RAW_REASON)
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.exists():
                    yield Skipped(str(path), "broken symlink")
                    continue
                if not follow_outside and not target.is_relative_to(resolved_root):
                    yield Skipped(str(path), f"symlink points outside the library ({target})")
                    continue
            yield path


def hash_images(
    paths: Iterable[Path | Skipped], index: ScanIndex | None = None, library: str | None = None
) -> Iterator[ImageFile | Skipped | tuple[str, str]]:
    """ImageFile per readable file; (path, reason) for a file that cannot even be read (becomes an error row).

    With an `index`, a file unchanged since a pass hashed it (or only renamed) is not read again."""
    for path in paths:
        if isinstance(path, Skipped):
            yield path
            continue
        try:
            stat = path.stat()
            image_id = index.known(str(path), stat) if index is not None else None
            size = stat.st_size
            if image_id is None:
                image_id, size = file_sha256(path)
        except FileNotFoundError:  # removed since the listing (a library in use): no row, not an error
            yield Skipped(str(path), "removed before it was read")
            continue
        except OSError as error:
            yield (str(path), f"cannot read: {error.strerror or error}")
            continue
        if index is not None:
            index.record(str(path), stat, image_id)
        yield ImageFile(str(path), image_id, size, library)


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


def score_library(
    library: Path,
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
) -> RunSummary:
    """Score every new image under `library` into `catalog`; returns the run's summary. An image already scored
    whose row names a path that no longer exists (moved or renamed) gets its row again at its new path."""
    summary = RunSummary()
    root = str(Path(library).absolute())
    catalog.check_writable()  # before the lock file: a location that cannot be a catalog gets nothing written
    with catalog.lock(wait=wait_for_lock):
        done = catalog.done_paths(include_errors=not retry_errors)
        moved: dict[tuple[str, str, str, str], ImageFile] = {}
        index = catalog.scan_index()
        seen: dict[str, str] = {}
        in_flight: deque[RowsFuture] = deque()
        chunk: list[ImageFile] = []
        # listing first gives the bar its total (and an ETA)
        found = list(iter_library(library, follow_outside, exclude=[] if catalog.remote else [catalog.root]))
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

        for item in hash_images(found, index, library=root):
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
                    write([error_row(identity, file, reason, flow_run_id=flow_run_id)])
                continue
            key = identity.key(item.image_id)
            if key in done:
                if done[key] != utf8_text(item.path) and not os.path.lexists(done[key]):
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
        bar.close()
        summary.moved = _follow_moves(catalog, moved, flow_run_id)
        catalog.save_scan_index(index, Path(root))  # after every row is written: a killed pass re-hashes, loses nothing
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
