"""`emoscore catalog migrate OLD NEW`: a catalog in the part-file layout (parts/*.parquet, scenes/*.parquet, an fcntl
lock, a journaled compaction) copied into Delta tables, with its media, then checked: row counts equal and a
sample of media files equal by SHA-256. OLD is only read; rerunning after an interruption adds what is missing."""

from __future__ import annotations

import hashlib
import logging
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from emoscore.catalog.scan_index import INDEX_FILE
from emoscore.catalog.store import IMAGES, LEGACY_PARTS, MEDIA_COLUMNS, SCENES, Catalog
from emoscore.catalog.table import KEY, SCHEMA, CatalogError
from emoscore.progress import Progress
from emoscore.text import shown

log = logging.getLogger(__name__)
COMMIT_ROWS = 20_000  # rows per commit: a few large files, not one per old part


@dataclass
class Migration:
    """What a migration copied and checked."""

    images: int = 0
    scenes: int = 0
    media: int = 0
    media_missing: list[str] = field(default_factory=list)
    digests_checked: int = 0

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "images": self.images,
            "scenes": self.scenes,
            "media_copied": self.media,
            "media_missing_in_old": len(self.media_missing),
            "media_digests_checked": self.digests_checked,
        }


def _legacy_rows(folder: Path, schema: pa.Schema, key: tuple[str, ...]) -> pa.Table:
    """A part-file table's rows in `schema`, newest row per key (as the old readers kept them)."""
    parts = sorted(folder.glob("part-*.parquet"))
    if not parts:
        return schema.empty_table()
    try:  # columns a later release added are in later parts only: every file's schema counts, not the first's
        unified = pa.unify_schemas([pq.read_schema(part) for part in parts], promote_options="permissive")
        rows = ds.dataset([str(p) for p in parts], schema=unified, format="parquet").to_table()
    except (OSError, pa.ArrowException) as error:
        raise CatalogError(f"{shown(folder)}: cannot read the old part files: {error}") from None
    rows = rows.select([name for name in schema.names if name in rows.column_names])
    for name in schema.names:  # columns a later version added, absent from old parts
        if name not in rows.column_names:
            rows = rows.append_column(schema.field(name), pa.nulls(rows.num_rows, schema.field(name).type))
    rows = rows.select(schema.names).cast(schema)
    rows = rows.sort_by([("scored_at", "descending")])
    seen: set[tuple] = set()
    keep = []
    for index, row_key in enumerate(zip(*(rows.column(name).to_pylist() for name in key), strict=True)):
        if row_key not in seen:
            seen.add(row_key)
            keep.append(index)
    return rows.take(keep).sort_by([("scored_at", "ascending")])


def _digest(filesystem: pafs.FileSystem, path: str) -> str:
    digest = hashlib.sha256()
    with filesystem.open_input_stream(path) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def migrate(old: Path, new: Catalog, *, sample: int = 64, progress: bool = True) -> Migration:
    """Copy the part-file catalog `old` into `new` (rows, scenes, media, scan index) and verify it."""
    from emoscore.film.scene_table import SCENE_KEY, SCENE_SCHEMA

    old = Path(old)
    if not any((old / LEGACY_PARTS).glob("part-*.parquet")) and not any((old / SCENES).glob("part-*.parquet")):
        raise CatalogError(f"{shown(old)}: not a catalog in the part-file layout (no parts/part-*.parquet)")
    if not new.remote and new.root.resolve() == old.resolve():
        raise CatalogError(f"{shown(old)}: migrate into a new location, not over the old catalog")
    new.check_writable()
    report = Migration()
    images = _legacy_rows(old / LEGACY_PARTS, SCHEMA, KEY)
    scenes = _legacy_rows(old / SCENES, SCENE_SCHEMA, SCENE_KEY)
    media = sorted(
        {value for column in MEDIA_COLUMNS for value in images.column(column).to_pylist() if value}
        if images.num_rows
        else set()
    )
    bar = Progress(total=len(media) + images.num_rows + scenes.num_rows, desc="migrating", disable=not progress)
    target = new.location.filesystem()
    for relative in media:  # media first: no committed row may name a file the new catalog lacks
        source = old / relative
        if not source.is_file():
            report.media_missing.append(relative)
        else:
            destination = new.location.fs_path(new.location.join(relative))
            try:
                target.create_dir(destination.rsplit("/", 1)[0], recursive=True)
                pafs.copy_files(str(source), destination, destination_filesystem=target)
            except OSError as error:
                raise CatalogError(f"{new}: cannot copy {relative}: {error}") from None
            report.media += 1
        bar.update(1)
    for start in range(0, images.num_rows, COMMIT_ROWS):
        chunk = images.slice(start, COMMIT_ROWS)
        new.write(chunk.to_pylist(), run_id="migrate")
        bar.update(chunk.num_rows)
    if scenes.num_rows:
        new.write(scenes.to_pylist(), schema=SCENE_SCHEMA, name=SCENES, key=SCENE_KEY, replace=None, run_id="migrate")
        bar.update(scenes.num_rows)
    bar.close()
    if (old / INDEX_FILE).is_file():  # the scan index describes this machine's files: it stays valid here
        new.state.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(old / INDEX_FILE, new.state / INDEX_FILE)
    _verify(old, new, images, scenes, media, report, sample)
    return report


def _verify(
    old: Path, new: Catalog, images: pa.Table, scenes: pa.Table, media: list[str], report: Migration, sample: int
) -> None:
    """Every old image and scene present by key, and a sample of media equal byte for byte (SHA-256)."""
    from emoscore.film.scene_table import SCENE_KEY, SCENE_SCHEMA

    for what, rows, name, schema, key in (
        ("images", images, IMAGES, SCHEMA, KEY),
        ("scenes", scenes, SCENES, SCENE_SCHEMA, SCENE_KEY),
    ):
        stored = new.dataset(name, schema).to_table(columns=list(key))
        wanted, have = (set(zip(*(t.column(c).to_pylist() for c in key), strict=True)) for t in (rows, stored))
        if not wanted <= have:
            raise CatalogError(f"{new}: {len(wanted - have)} of {shown(old)}'s {what} are missing after migrating")
        setattr(report, what, len(wanted))
    missing = set(report.media_missing)
    present = [relative for relative in media if relative not in missing]
    chosen = random.Random(0).sample(present, min(sample, len(present)))
    target = new.location.filesystem()
    local = pafs.LocalFileSystem()
    for relative in chosen:
        try:
            copied = _digest(target, new.location.fs_path(new.location.join(relative)))
        except OSError as error:
            raise CatalogError(f"{new}: cannot read back {relative}: {error}") from None
        if _digest(local, str(old / relative)) != copied:
            raise CatalogError(f"{new}: {relative} differs from {shown(old / relative)} after copying")
    report.digests_checked = len(chosen)
    if report.media_missing:
        log.warning("%d media files the old rows name were already missing in %s", len(report.media_missing), old)
    ok = pc.sum(pc.equal(images.column("status"), "ok")).as_py() if images.num_rows else 0
    log.info("migrated %d images (%d ok), %d scenes, %d media files", report.images, ok, report.scenes, report.media)
