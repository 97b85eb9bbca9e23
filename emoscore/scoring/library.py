"""A photo library (a folder, or an s3:// prefix): walk it, hash its images, and run one scoring pass over it.

The pass holds the catalog's advisory lock, skips what is done, scores the rest in chunks, and commits each chunk
as soon as it is ready (so a killed run loses at most the chunks in flight, and a rerun picks them up).
"""

from __future__ import annotations

import functools
import logging
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from emoscore.catalog.location import is_remote
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
from emoscore.scoring.object_library import (
    OBJECT_READERS,
    ObjectMissing,
    PhotoStore,
    StoredObject,
    check_library,
)

log = logging.getLogger(__name__)
Library = Path | str  # a folder, a photo, or an s3:// prefix (kept as text: a Path would fold its `//`)


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


def library_root(library: Library) -> str:
    """The library as rows and the scan index name it: an s3:// URI as written, a path made absolute."""
    text = str(library)
    return text.rstrip("/") if is_remote(text) else str(Path(library).absolute())


def _skipped_suffix(name: str) -> str | None:
    """Why a file is not a photo to score: None for an image, RAW_REASON for camera RAW, "" for anything else."""
    suffix = Path(name).suffix.lower()
    if suffix in RAW_SUFFIXES:
        return RAW_REASON
    return None if suffix in IMAGE_SUFFIXES else ""


def iter_objects(root: str, store: PhotoStore, exclude: Iterable[str] = ()) -> Iterator[StoredObject | Skipped]:
    """Image objects under an s3:// prefix, in key order; prefixes emoscore wrote (a catalog's Delta tables, a
    gallery) and those in `exclude` are left out, as on disk."""
    listed = list(store.list(root))
    if len(listed) == 1 and listed[0].uri == root.rstrip("/"):  # one object named: scored whatever its name, as a file
        yield listed[0]
        return
    ours = {uri.rstrip("/") + "/" for uri in exclude}
    for item in listed:
        head, marker, _ = item.uri.partition("/images/_delta_log/")
        if marker:
            ours.add(head + "/")
        elif item.uri.endswith("/" + GALLERY_MARKER):
            ours.add(item.uri.removesuffix(GALLERY_MARKER))
    for prefix in sorted(ours):
        log.info("%s: emoscore's own output inside the library, not scored", prefix.rstrip("/"))
    for item in listed:
        if any(item.uri.startswith(prefix) for prefix in ours):
            continue
        reason = _skipped_suffix(item.uri)
        if reason:
            yield Skipped(item.uri, reason)
        elif reason is None:
            yield item


def iter_library(
    root: Library,
    follow_outside: bool = False,
    exclude: Iterable[Path | str] = (),
    store: PhotoStore | None = None,
) -> Iterator[Path | StoredObject | Skipped]:
    """Image files under `root` (any case of extension, nested folders), streamed in a stable order; objects
    under an s3:// `root`, listed through `store` (default: the AWS environment's).

    Paths are absolute (a row's path stays true from any folder). Broken symlinks and symlinks that leave the
    library (unless `follow_outside`) come out as Skipped; folders emoscore wrote (the catalog in `exclude`, any
    catalog or gallery) are not entered: their charts and thumbnails are not photos.
    """
    if is_remote(str(root)):
        remote = [str(path) for path in exclude if is_remote(str(path))]
        yield from iter_objects(str(root), store or PhotoStore.configured(), remote)
        return
    excluded = {Path(path).resolve() for path in exclude if not is_remote(str(path))}
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
            reason = _skipped_suffix(name)
            if reason:
                yield Skipped(str(path), reason)
            if reason is not None:
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


def _hash_object(
    item: StoredObject, index: ScanIndex | None, store: PhotoStore, library: str | None
) -> ImageFile | Skipped | tuple[str, str]:
    """hash_images for one object of a store library (read only when the index does not know it)."""
    image_id = index.known_object(item.uri, item.size, item.etag) if index is not None else None
    size, etag = item.size, item.etag
    if image_id is None:
        try:
            image_id, size, etag = store.sha256(item.uri)
        except ObjectMissing:
            return Skipped(item.uri, "removed before it was read")
        except OSError as error:
            return (item.uri, f"cannot read: {error}")
    if index is not None:
        index.record_object(item.uri, size, etag or item.etag, item.mtime_ns, image_id)
    return ImageFile(item.uri, image_id, size, library)


def hash_images(
    paths: Iterable[Path | StoredObject | Skipped],
    index: ScanIndex | None = None,
    library: str | None = None,
    store: PhotoStore | None = None,
) -> Iterator[ImageFile | Skipped | tuple[str, str]]:
    """ImageFile per readable file; (path, reason) for a file that cannot even be read (becomes an error row).

    With an `index`, a file unchanged since a pass hashed it (or only renamed) is not read again. Objects of a
    store library are read OBJECT_READERS at a time, a few ahead of the one yielded (memory stays flat for any
    number of objects), in order; StorageError when the store itself fails."""
    items = paths if isinstance(paths, list) else list(paths)
    objects = iter([item for item in items if isinstance(item, StoredObject)])
    reader = store
    if reader is None and any(isinstance(item, StoredObject) for item in items):
        reader = PhotoStore.configured()
    ahead: deque[Future] = deque()
    with ThreadPoolExecutor(OBJECT_READERS, thread_name_prefix="hash") as pool:
        try:
            for path in items:
                if not isinstance(path, StoredObject):
                    yield _hash_file(path, index, library)
                    continue
                while len(ahead) < 4 * OBJECT_READERS and (item := next(objects, None)) is not None:
                    ahead.append(pool.submit(_hash_object, item, index, reader, library))
                yield ahead.popleft().result()
        finally:
            for future in ahead:
                future.cancel()


def _hash_file(
    path: Path | Skipped, index: ScanIndex | None, library: str | None
) -> ImageFile | Skipped | tuple[str, str]:
    """hash_images for one file on disk."""
    if isinstance(path, Skipped):
        return path
    try:
        stat = path.stat()
        image_id = index.known(str(path), stat) if index is not None else None
        size = stat.st_size
        if image_id is None:
            image_id, size = file_sha256(path)
    except FileNotFoundError:  # removed since the listing (a library in use): no row, not an error
        return Skipped(str(path), "removed before it was read")
    except OSError as error:
        return (str(path), f"cannot read: {error.strerror or error}")
    if index is not None:
        index.record(str(path), stat, image_id)
    return ImageFile(str(path), image_id, size, library)


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
