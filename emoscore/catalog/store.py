"""The one type callers hold for a catalog: where it lives (a folder or `s3://bucket/prefix`), its Delta tables
(`images`, `scenes`), the media its rows name (`midi/`, `audio/`, `charts/`, relative to the catalog), the scan index,
time travel and the lifecycle (compact, vacuum, history).

Correctness rests on the tables' commits alone (MERGE on the key, retried on conflict): any number of processes
on any number of hosts may write at once. The advisory lock below only spares one machine duplicate work (two runs
over the same library would score every image twice, and one MERGE would then drop the other's rows) and lets
`serve` skip a tick while a run is going.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from emoscore.catalog import delta, table
from emoscore.catalog.location import Location, StorageError, local_state_folder
from emoscore.catalog.scan_index import ScanIndex
from emoscore.text import first_line, shown

log = logging.getLogger(__name__)

IMAGES = "images"  # the images' Delta table, inside the catalog
SCENES = "scenes"  # the films' scenes (emoscore.film.scene_table)
MEDIA_FOLDERS = ("midi", "audio", "charts")
MEDIA_COLUMNS = ("midi_path", "audio_path", "chart_path")
LEGACY_PARTS = "parts"  # the part-file layout before the Delta tables


class LegacyCatalog(table.CatalogError):
    """A catalog in the part-file layout: refused, with the command that converts it."""


class Catalog:
    """A catalog at a local path or S3 URI; `storage` overlays the AWS environment (params' catalog_storage)."""

    def __init__(self, where: str | Path, storage: Mapping[str, str] | None = None) -> None:
        self.location = Location.of(where, storage)
        self.storage = dict(storage or {})  # params' catalog_storage: also reads photos of an s3:// library

    def __str__(self) -> str:
        return self.location.uri

    def __repr__(self) -> str:
        return f"Catalog({self.location.uri!r})"

    def __reduce__(self) -> tuple:  # pickled to Dask workers: the options come back from their environment
        return (type(self), (self.location.uri,))

    @property
    def remote(self) -> bool:
        """Whether the catalog lives on an object store."""
        return self.location.remote

    @property
    def root(self) -> Path:
        """The local folder of a catalog on this machine's disk."""
        if self.remote:
            raise table.CatalogError(f"{self}: an object-store catalog has no local folder")
        return Path(self.location.uri)

    @property
    def state(self) -> Path:
        """Where this machine keeps its lock and scan index for the catalog (inside a local one)."""
        return self.root if not self.remote else local_state_folder(self.location)

    def exists(self) -> bool:
        """Whether the catalog holds a table (or, on disk, was at least created as a folder)."""
        if not self.remote:
            return self.root.is_dir()
        return (
            delta.open_table(self.location, IMAGES) is not None or delta.open_table(self.location, SCENES) is not None
        )

    def check_format(self) -> None:
        """Refuse a catalog in the part-file layout, naming the command that converts it."""
        if self.remote:
            return
        legacy = [(LEGACY_PARTS, IMAGES), (SCENES, SCENES)]  # (where the old parts were, the Delta table now)
        if any(
            any((self.root / parts).glob("part-*.parquet")) and not (self.root / name / "_delta_log").is_dir()
            for parts, name in legacy
        ):
            raise LegacyCatalog(
                f"{shown(self.root)}: a catalog in the old part-file layout (part-*.parquet files); convert it with "
                f"`emoscore catalog migrate {shown(self.root)} NEW` and use NEW"
            )

    @contextmanager
    def lock(self, *, wait: bool = True) -> Iterator[None]:
        """Hold this machine's advisory lock on the catalog (CatalogBusy at once when another run holds it and not
        `wait`); it saves duplicate work, correctness does not depend on it."""
        self.check_format()
        with table.catalog_lock(self.state, wait=wait):
            yield

    def check_writable(self) -> None:
        """Refuse, in one line naming the catalog, one whose tables or media cannot be written (a read-only folder,
        wrong credentials, a missing bucket, a table folder holding something other than a Delta table): found
        before any image is scored, and nothing is written."""
        self.check_format()
        self._check_tables()
        if self.remote:
            probe = self.location.join(f".probe-{uuid.uuid4().hex}")
            filesystem = self.location.filesystem()
            try:
                with filesystem.open_output_stream(self.location.fs_path(probe)) as stream:
                    stream.write(b"probe")
                filesystem.delete_file(self.location.fs_path(probe))
            except OSError as error:
                raise StorageError(f"{self}: cannot write: {first_line(error)}") from None
            return
        for folder in (self.root, *(self.root / name for name in (IMAGES, *MEDIA_FOLDERS))):
            if folder.exists() and not folder.is_dir():
                raise table.CatalogError(f"{shown(folder)}: cannot write: not a folder")
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
                    pass
            except OSError as error:
                raise table.CatalogError(f"{shown(folder)}: cannot write: {error.strerror or error}") from None

    def _check_tables(self) -> None:
        """Refuse a table location that holds files but no Delta log (another tool's folder, or a wrong path)."""
        filesystem = self.location.filesystem()
        for name in (IMAGES, SCENES):
            folder = self.location.fs_path(self.location.join(name))
            try:
                entries = filesystem.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
            except OSError as error:
                raise StorageError(f"{self}: cannot read: {first_line(error)}") from None
            names = {Path(entry.path).name for entry in entries}
            if names and "_delta_log" not in names:
                raise table.CatalogError(
                    f"{self.location.join(name)}: not a Delta table (it holds {len(names)} other files); give "
                    "--catalog a new folder or an emoscore catalog"
                )

    def write(
        self,
        rows: Sequence[dict],
        *,
        schema: pa.Schema = table.SCHEMA,
        name: str = IMAGES,
        key: Sequence[str] = table.KEY,
        replace: str | None = table.RETRIED,
        run_id: str = "",
    ) -> int:
        """Commit one chunk of rows to the table `name` (the images' unless named): keys it lacks are added, a
        stored row is replaced where `replace` holds (an error row by a retry). Returns the rows added."""
        self.check_format()
        return delta.commit_new(self.location, name, rows, schema, key, replace=replace, run_id=run_id)

    def dataset(
        self, name: str = IMAGES, schema: pa.Schema = table.SCHEMA, as_of: delta.AsOf | None = None
    ) -> ds.Dataset:
        """The live rows of a table (at `as_of`) as one Arrow dataset: what DuckDB and the readers scan."""
        return delta.read(self.location, self.live_files(name, as_of), schema)

    def live_files(self, name: str = IMAGES, as_of: delta.AsOf | None = None) -> list[str]:
        """The live data files of a table (at `as_of`), as the catalog's file system names them."""
        self.check_format()
        return delta.live_files(self.location, name, delta.open_table(self.location, name, as_of))

    def done_paths(self, *, include_errors: bool = True) -> dict[tuple[str, str, str, str], str]:
        """Keys already in the images' table (only those that scored ok unless `include_errors`), with their path."""
        with reading(self):
            found = self.dataset().to_table(columns=[*table.KEY, "status", "path"]).to_pydict()
        columns = [found[name] for name in (*table.KEY, "status", "path")]
        return {
            tuple(key): path  # type: ignore[misc]
            for *key, status, path in zip(*columns, strict=True)
            if include_errors or status == "ok"
        }

    def read(self, columns: Sequence[str] | None = None, *, as_of: delta.AsOf | None = None) -> pa.Table:
        """The images' rows (one per key), oldest first."""
        with reading(self):
            rows = self.dataset(as_of=as_of).to_table()
        rows = rows.sort_by([("scored_at", "ascending"), ("path", "ascending")])
        return rows.select(list(columns)) if columns else rows

    def read_table(
        self, name: str, schema: pa.Schema, columns: Sequence[str] | None = None, *, as_of: delta.AsOf | None = None
    ) -> pa.Table:
        """Every row of the table `name` (only `columns` when given); empty, with the schema, when it has none."""
        with reading(self):
            return self.dataset(name, schema, as_of).to_table(columns=list(columns) if columns else None)

    def scan_index(self) -> ScanIndex:
        """This machine's scan index of the libraries scored into this catalog (empty when there is none yet)."""
        return ScanIndex.load(self.state)

    def save_scan_index(self, index: ScanIndex, library: str) -> None:
        """Replace the scan index after a pass over `library` (a folder or an s3:// prefix) wrote every row."""
        self.state.mkdir(parents=True, exist_ok=True)
        index.save(self.state, library)

    def history(self, name: str = IMAGES, limit: int | None = None) -> list[dict]:
        """The table's commits, newest first."""
        self.check_format()
        return delta.history(delta.open_table(self.location, name), limit)

    def compact(self) -> dict[str, delta.Compacted]:
        """Compact every table and checkpoint its log."""
        self.check_format()
        done = {}
        for name in (IMAGES, SCENES):
            result = delta.compact(self.location, name)
            if result is not None:
                done[name] = result
        return done

    def vacuum(self, retention_hours: float) -> dict[str, int]:
        """Delete what no current row needs and is older than the retention: the tables' replaced data files and
        media no committed row names (a killed writer's). How many of each went."""
        self.check_format()
        files = sum(len(delta.vacuum(self.location, name, retention_hours)) for name in (IMAGES, SCENES))
        with reading(self):
            named = {
                value
                for column in self.dataset().to_table(columns=list(MEDIA_COLUMNS)).to_pydict().values()
                for value in column
                if value
            }
        try:
            removed = self._remove_orphans(named, time.time() - retention_hours * 3600)
        except OSError as error:
            raise StorageError(f"{self}: cannot remove orphan media: {first_line(error)}") from None
        if removed:
            log.info("%s: removed %d media files no row names", self, removed)
        return {"data_files": files, "media_files": removed}

    def _remove_orphans(self, named: set[str], cutoff: float) -> int:
        """Delete media files no row names, last written before `cutoff`; how many."""
        filesystem = self.location.filesystem()
        removed = 0
        for folder in MEDIA_FOLDERS:
            selector = pafs.FileSelector(
                self.location.fs_path(self.location.join(folder)), recursive=True, allow_not_found=True
            )
            base = self.location.fs_path(self.location.uri).rstrip("/") + "/"
            for info in filesystem.get_file_info(selector):
                relative = info.path.removeprefix(base)
                stale = info.mtime is None or info.mtime.timestamp() < cutoff
                if info.type == pafs.FileType.File and relative not in named and stale:
                    filesystem.delete_file(info.path)
                    removed += 1
        return removed

    def media(self, relative: str) -> Path:
        """Where a row's media file (a relative path as stored) lives on this machine (a local catalog)."""
        return self.root / relative

    def fetch_media(self, relative: str, target: Path) -> bool:
        """Copy a row's media file to `target` (hard-linked from a local catalog where possible); False when the
        catalog does not hold it."""
        if not self.remote:
            source = self.media(relative)
            if not source.is_file():
                return False
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                target.hardlink_to(source)
            except OSError:
                shutil.copyfile(source, target)
            return True
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            pafs.copy_files(
                self.location.fs_path(self.location.join(relative)),
                str(target),
                source_filesystem=self.location.filesystem(),
                destination_filesystem=pafs.LocalFileSystem(),
            )
        except (OSError, FileNotFoundError):
            return False
        return True

    @contextmanager
    def media_folder(self) -> Iterator[Path]:
        """A folder to write a chunk's media into, under the same relative paths the rows give: the catalog itself
        on disk; for a store, a local staging folder whose files are uploaded on leaving, before the rows that
        name them can be committed."""
        if not self.remote:
            yield self.root
            return
        with tempfile.TemporaryDirectory(prefix="emoscore-media-") as staging:
            yield Path(staging)
            self.upload(Path(staging))

    def upload(self, staging: Path) -> int:
        """Put every file under `staging` into the store under the same relative path; how many."""
        filesystem = self.location.filesystem()
        sent = 0
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            relative = path.relative_to(staging).as_posix()
            try:
                pafs.copy_files(
                    str(path),
                    self.location.fs_path(self.location.join(relative)),
                    source_filesystem=pafs.LocalFileSystem(),
                    destination_filesystem=filesystem,
                )
            except OSError as error:
                raise StorageError(f"{self}: cannot write {relative}: {first_line(error)}") from None
            sent += 1
        return sent


@contextmanager
def reading(catalog: Catalog) -> Iterator[None]:
    """Turn what Arrow raises while reading a table's files (a store gone, a file vacuumed away) into one line."""
    try:
        yield
    except (OSError, pa.ArrowException) as error:
        raise StorageError(f"{catalog}: cannot read: {first_line(error)}") from None
