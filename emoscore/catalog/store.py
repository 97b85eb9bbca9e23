"""The one type callers hold for a catalog: where it lives, its lock, writing a chunk, reading rows, the scan index
and its lifecycle (recovery after a crash, compaction). What is under it (Parquet part files in a folder today) can
change without its callers changing."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from emoscore.catalog import compaction, table
from emoscore.catalog.scan_index import ScanIndex
from emoscore.text import shown

log = logging.getLogger(__name__)

MEDIA_FOLDERS = ("midi", "audio", "charts")


@dataclass(frozen=True)
class Catalog:
    """A catalog at `root`: the images' table (`parts`), the tables beside it (a film's `scenes`), the media files
    rows point at (relative to `root`) and the scan index of the libraries scored into it."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser())
        try:  # Arrow and DuckDB take paths as UTF-8 text: a folder named in other bytes could not be read back
            str(self.root).encode("utf-8")
        except UnicodeEncodeError:
            raise table.CatalogError(
                f"{shown(self.root)}: a catalog's path must be UTF-8 text (the photos' need not)"
            ) from None

    def __str__(self) -> str:
        return str(self.root)

    def exists(self) -> bool:
        """Whether anything was ever written here (a folder, at least)."""
        return self.root.is_dir()

    @contextmanager
    def lock(self, *, wait: bool = True) -> Iterator[None]:
        """Hold the catalog's exclusive lock (CatalogBusy at once when another run holds it and not `wait`)."""
        with table.catalog_lock(self.root, wait=wait):
            yield

    def recover(self) -> int:
        """Finish what a killed writer left (a compaction, temporary part files); call under the lock. Returns the
        number of temporary files removed."""
        compaction.finish_interrupted(self.root)
        removed = table.remove_stale_temporaries(self.root)
        if removed:
            log.warning("removed %d temporary part files left by an interrupted run", removed)
        return removed

    def check_writable(self) -> None:
        """Refuse, in one line naming the folder, a catalog whose tables or media cannot be written: found before
        any image is scored rather than once per image (call under the lock)."""
        for folder in (self.root, *(self.root / name for name in ("parts", *MEDIA_FOLDERS))):
            if folder.exists() and not folder.is_dir():
                raise table.CatalogError(f"{shown(folder)}: cannot write: not a folder")
            if folder.is_dir():
                try:
                    with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
                        pass
                except OSError as error:
                    raise table.CatalogError(f"{shown(folder)}: cannot write: {error.strerror or error}") from None

    def write(self, rows: Sequence[dict], *, schema: pa.Schema = table.SCHEMA, name: str = "parts") -> bool:
        """Write one chunk of rows to the table `name` atomically (the images' table unless named); False when
        there was nothing to write."""
        return table.write_part(self.root, rows, schema, name) is not None

    def done_paths(self, *, include_errors: bool = True) -> dict[tuple[str, str, str, str], str]:
        """Keys already in the images' table, with the path their newest row gives."""
        return table.done_paths(self.root, include_errors)

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The images' rows, newest row per key."""
        return table.read_catalog(self.root, columns)

    def read_table(self, name: str, schema: pa.Schema, columns: Sequence[str] | None = None) -> pa.Table:
        """Every row of the table `name` beside the images' (only `columns` when given); empty, with the
        schema, when it has none."""
        return table.dataset(self.root, schema, name).to_table(columns=list(columns) if columns else None)

    def part_files(self, name: str = "parts") -> list[Path]:
        """The finished files of the table `name` (what a query engine scans)."""
        return table.part_files(self.root, name)

    def scan_index(self) -> ScanIndex:
        """The scan index of the libraries scored into this catalog (empty when there is none yet)."""
        return ScanIndex.load(self.root)

    def save_scan_index(self, index: ScanIndex, library: Path) -> None:
        """Replace the scan index after a pass over `library` wrote every row."""
        index.save(self.root, library)

    def compact(self, *, wait: bool = True) -> compaction.Compaction:
        """Merge the images' part files into one, newest row per key."""
        return compaction.compact(self.root, wait=wait)

    def media(self, relative: str) -> Path:
        """Where a row's media file (a relative path as stored) lives."""
        return self.root / relative
