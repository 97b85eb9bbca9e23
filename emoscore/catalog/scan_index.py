"""The catalog's scan index: (path, size, mtime_ns, inode) → image id of every file a pass hashed, so the next pass
reads only what changed.

A file whose path, size, modification time and inode are all unchanged keeps its id without being read; a file
at a new path with the size, time and inode of a known one (a rename or move within the file system) too. Any
other file is hashed. An object of an `s3://` library is known the same way by its size and ETag (which a
server-side copy keeps). The index lives with the catalog (`scan_index.parquet`, or this machine's cache for a
store catalog) and is replaced atomically; a missing or unreadable index only costs one full pass.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

INDEX_FILE = "scan_index.parquet"
# paths as the file system's bytes: a name that is not UTF-8 (os.fsdecode's surrogates) must round-trip exactly
SCHEMA = pa.schema(
    [
        ("path", pa.binary()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("inode", pa.int64()),
        ("image_id", pa.string()),
        ("etag", pa.string()),  # an object's ETag (s3:// libraries); null for a file on disk
    ]
)


@dataclass(frozen=True)
class Entry:
    """What a file looked like when it was hashed, and its content hash."""

    size: int
    mtime_ns: int
    inode: int
    image_id: str
    etag: str | None = None

    def same_file(self, stat: os.stat_result) -> bool:
        """The file was not changed since (size, modification time and inode all equal)."""
        return (self.size, self.mtime_ns, self.inode) == (stat.st_size, stat.st_mtime_ns, stat.st_ino)


class ScanIndex:
    """The index of a catalog: known files by path and by (size, mtime_ns, inode); records this pass's files."""

    def __init__(self, entries: dict[str, Entry] | None = None) -> None:
        self.entries = entries or {}
        self.by_identity = {(e.size, e.mtime_ns, e.inode): e.image_id for e in self.entries.values() if not e.etag}
        self.by_etag = {(e.size, e.etag): e.image_id for e in self.entries.values() if e.etag}
        self.seen: dict[str, Entry] = {}

    @classmethod
    def load(cls, catalog: Path) -> ScanIndex:
        """The catalog's index (empty when there is none yet or it cannot be read)."""
        path = Path(catalog) / INDEX_FILE
        if not path.exists():
            return cls()
        try:
            table = pq.read_table(path)
            if "etag" not in table.column_names:  # an index written before s3:// libraries
                table = table.append_column("etag", pa.nulls(len(table), pa.string()))
            table = table.select(SCHEMA.names).cast(SCHEMA)
        except (OSError, pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as error:
            log.warning("%s: unreadable (%s); this pass hashes every file", path, error)
            return cls()
        columns = table.to_pydict()
        fields = zip(
            columns["size"], columns["mtime_ns"], columns["inode"], columns["image_id"], columns["etag"], strict=True
        )
        return cls({os.fsdecode(path): Entry(*entry) for path, entry in zip(columns["path"], fields, strict=True)})

    def known(self, path: str, stat: os.stat_result) -> str | None:
        """The image id of an unchanged (or only renamed) file, or None when it must be hashed."""
        entry = self.entries.get(path)
        if entry is not None and entry.same_file(stat):
            return entry.image_id
        return self.by_identity.get((stat.st_size, stat.st_mtime_ns, stat.st_ino))

    def known_object(self, uri: str, size: int, etag: str) -> str | None:
        """The image id of an object unchanged since it was hashed (same size and ETag, here or at another key)."""
        entry = self.entries.get(uri)
        if entry is not None and entry.etag and (entry.size, entry.etag) == (size, etag):
            return entry.image_id
        return self.by_etag.get((size, etag))

    def record(self, path: str, stat: os.stat_result, image_id: str) -> None:
        """Remember a file of this pass."""
        self.seen[path] = Entry(stat.st_size, stat.st_mtime_ns, stat.st_ino, image_id)

    def record_object(self, uri: str, size: int, etag: str, mtime_ns: int, image_id: str) -> None:
        """Remember an object of this pass."""
        self.seen[uri] = Entry(size, mtime_ns, 0, image_id, etag)

    def save(self, catalog: Path, library: str) -> None:
        """Write the index atomically: this pass's files, and the known files outside the library it walked
        (other libraries scored into the same catalog); files gone from this library are dropped."""
        root = str(library).rstrip("/")
        kept = {p: e for p, e in self.entries.items() if not (p == root or p.startswith(root + "/"))}
        merged = {**kept, **self.seen}
        table = pa.Table.from_pydict(
            {
                "path": [os.fsencode(path) for path in merged],
                "size": [e.size for e in merged.values()],
                "mtime_ns": [e.mtime_ns for e in merged.values()],
                "inode": [e.inode for e in merged.values()],
                "image_id": [e.image_id for e in merged.values()],
                "etag": [e.etag for e in merged.values()],
            },
            schema=SCHEMA,
        )
        path = Path(catalog) / INDEX_FILE
        temporary = path.with_name(f".{INDEX_FILE}.tmp")
        pq.write_table(table, temporary)
        os.replace(temporary, path)
