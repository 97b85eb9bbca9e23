"""What a photo library (a folder, or an s3:// prefix) holds: its photos listed in a stable order, what is not a
photo (or is emoscore's own output) skipped with the reason, and each photo hashed (read only when the scan index
does not know it)."""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from emoscore.catalog.location import canonical, is_remote
from emoscore.catalog.scan_index import ScanIndex
from emoscore.catalog.table import GALLERY_MARKER, ImageFile
from emoscore.digests import file_sha256
from emoscore.errors import InvalidImage
from emoscore.images import IMAGE_SUFFIXES, RAW_REASON, RAW_SUFFIXES
from emoscore.scoring.object_library import OBJECT_READERS, ObjectMissing, PhotoStore, StoredObject

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
    text = str(canonical(library))
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
    root = canonical(root)
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
