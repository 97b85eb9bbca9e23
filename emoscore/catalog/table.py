"""The Parquet catalog: one row per scored image, in part files any Parquet tool reads as one table.

Part files are written to a temporary name, fsynced and renamed into `parts/`, so a reader (or a run killed
mid-write) never sees half a file. `(image_id, vad_model, music_model, params_hash)` is the key: a run skips
keys already present, and one run at a time holds the catalog's lock, so two runs never write the same key.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from emoscore.config import GenerationParams, Params, RenderParams, ScoreParams, result_dump
from emoscore.digests import model_digest
from emoscore.emotic.labels import NUM_CATEGORIES
from emoscore.errors import EmoscoreError

log = logging.getLogger(__name__)

KEY = ("image_id", "vad_model", "music_model", "params_hash")
PERSON = pa.struct(
    [
        ("bbox", pa.list_(pa.int32(), 4)),
        ("detector_score", pa.float32()),
        ("categories", pa.list_(pa.float32(), NUM_CATEGORIES)),
        ("categories_above_threshold", pa.list_(pa.string())),
        ("valence", pa.float32()),
        ("arousal", pa.float32()),
        ("dominance", pa.float32()),
    ]
)
SCHEMA = pa.schema(
    [
        ("image_id", pa.string()),
        ("path", pa.string()),
        ("library", pa.string()),
        ("size_bytes", pa.int64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("people", pa.list_(PERSON)),
        ("valence", pa.float32()),
        ("arousal", pa.float32()),
        ("dominance", pa.float32()),
        ("top_categories", pa.list_(pa.struct([("name", pa.string()), ("score", pa.float32())]))),
        ("categories_above_threshold", pa.list_(pa.string())),
        ("quadrant", pa.string()),
        ("quadrant_confidence", pa.float32()),
        ("music_intensity", pa.float32()),
        ("midi_path", pa.string()),
        ("audio_path", pa.string()),
        ("chart_path", pa.string()),
        ("seed", pa.int64()),
        ("n_notes", pa.int32()),
        ("duration_s", pa.float32()),
        ("vad_model", pa.string()),
        ("music_model", pa.string()),
        ("params_hash", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
        ("flow_run_id", pa.string()),
    ]
)


@dataclass(frozen=True)
class ImageFile:
    """An image to score: its absolute path, content hash (sha256), size and the library it was found under."""

    path: str
    image_id: str
    size_bytes: int
    library: str | None = None


def unreadable_file(path: str, library: str | None = None) -> ImageFile:
    """An ImageFile for a file that cannot be read at all: keyed by its path, so it gets an error row once."""
    return ImageFile(path, "unreadable:" + hashlib.sha256(path.encode()).hexdigest()[:40], 0, library)


GALLERY_MARKER = ".emoscore-gallery"  # in every folder `emoscore gallery` writes: scoring never enters one


def scoring_params_hash(score: ScoreParams, generation: GenerationParams, render: RenderParams, thresholds: str) -> str:
    """Hash of every setting that changes a row's content (not where files live or how fast it runs), with the
    digest of the thresholds file applied."""
    # score's runtime and location fields are left out by their marks; generation and render enter whole, as they
    # did before the marks (render.bank_cache left out now would change every stored key and rescore libraries)
    sections = {"score": result_dump(score), "generation": generation.model_dump(mode="json"), "thresholds": thresholds}
    if score.audio != "none":
        sections["render"] = render.model_dump(mode="json")
    text = json.dumps(sections, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Identity:
    """Which models and settings produce a row: with the image id, the catalog key."""

    vad_model: str
    music_model: str
    params_hash: str

    @classmethod
    def from_params(cls, params: Params) -> Identity:
        """Digests of the weights and settings named in params.yaml (no model is loaded)."""
        music = model_digest(params.music.out) if params.score.music else "none"
        thresholds = model_digest(params.eval_vad.thresholds)
        params_hash = scoring_params_hash(params.score, params.generation, params.render, thresholds)
        return cls(model_digest(params.vad.out), music, params_hash)

    def key(self, image_id: str) -> tuple[str, str, str, str]:
        """The catalog key of an image scored with these models and settings."""
        return (image_id, self.vad_model, self.music_model, self.params_hash)


def utf8_text(text: str | None) -> str | None:
    """A string Parquet can hold: file names that are not UTF-8 (kept by Python as surrogates) become \\xNN."""
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def base_row(
    identity: Identity,
    file: ImageFile,
    status: str,
    *,
    error: str | None,
    flow_run_id: str,
    width: int = 0,
    height: int = 0,
) -> dict:
    """The columns every row has."""
    return {
        "image_id": file.image_id,
        "path": utf8_text(file.path),
        "library": utf8_text(file.library),
        "size_bytes": file.size_bytes,
        "width": width,
        "height": height,
        "status": status,
        "error": utf8_text(error),
        "people": [],
        "vad_model": identity.vad_model,
        "music_model": identity.music_model,
        "params_hash": identity.params_hash,
        "scored_at": datetime.now(UTC),
        "flow_run_id": flow_run_id,
    }


def error_row(
    identity: Identity, file: ImageFile, reason: str, *, flow_run_id: str = "", width: int = 0, height: int = 0
) -> dict:
    """The row of an image that could not be scored, with the reason."""
    log.warning("%s: %s", utf8_text(file.path), reason)  # a log line must be encodable, whatever the file's name
    return base_row(identity, file, "error", error=reason, flow_run_id=flow_run_id, width=width, height=height)


class CatalogError(EmoscoreError):
    """The catalog cannot be written or read (read-only, disk full, a corrupt part)."""


class CatalogBusy(CatalogError):
    """Another scoring run holds the catalog's lock."""


def parts_dir(catalog: Path) -> Path:
    """Where the part files live."""
    return catalog / "parts"


def part_files(catalog: Path, table: str = "parts") -> list[Path]:
    """Finished part files of a catalog table (temporary files are hidden by their leading dot)."""
    directory = catalog / table
    return sorted(directory.glob("part-*.parquet")) if directory.is_dir() else []


def sync_directory(directory: Path) -> None:
    """Make the directory's entries (a rename, a deletion) durable, as fsync does for a file's bytes."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_part(catalog: Path, rows: Sequence[dict], schema: pa.Schema = SCHEMA, table: str = "parts") -> Path | None:
    """Write rows as one new part file of a catalog table (the images' `parts`, or e.g. `scenes`) atomically;
    nothing is left behind if writing fails."""
    if not rows:
        return None
    directory = catalog / table
    name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
    temporary, final = directory / f".{name}.tmp", directory / name
    try:
        directory.mkdir(parents=True, exist_ok=True)
        table_rows = pa.Table.from_pylist(list(rows), schema=schema)  # a bad row fails here, before any file
        with temporary.open("wb") as handle:
            pq.write_table(table_rows, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        sync_directory(directory)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise CatalogError(f"{directory}: cannot write a part file: {error.strerror or error}") from None
    return final


def dataset(catalog: Path, schema: pa.Schema = SCHEMA, table: str = "parts") -> ds.Dataset:
    """A catalog table as one pyarrow dataset (empty with the schema when nothing was written to it yet)."""
    files = part_files(catalog, table)
    if not files:
        return ds.dataset(schema.empty_table())
    return ds.dataset([str(f) for f in files], schema=schema, format="parquet")


def done_keys(catalog: Path, include_errors: bool = True) -> set[tuple[str, str, str, str]]:
    """Keys already in the catalog (optionally only those that scored ok)."""
    return set(done_paths(catalog, include_errors))


def done_paths(catalog: Path, include_errors: bool = True) -> dict[tuple[str, str, str, str], str]:
    """Keys already in the catalog (optionally only those that scored ok) with the path of their newest row."""
    table = dataset(catalog).to_table(columns=[*KEY, "status", "path", "scored_at"])
    newest: dict[tuple[str, str, str, str], tuple[object, str]] = {}
    for batch in table.to_batches():
        columns = [batch.column(name).to_pylist() for name in (*KEY, "status", "path", "scored_at")]
        for *key, status, path, scored_at in zip(*columns, strict=True):
            key = tuple(key)
            if (include_errors or status == "ok") and (key not in newest or scored_at > newest[key][0]):
                newest[key] = (scored_at, path)
    return {key: path for key, (_, path) in newest.items()}  # type: ignore[misc]


def read_catalog(catalog: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """The catalog's rows, one per key: where an error was retried successfully, the newest row wins."""
    table = dataset(catalog).to_table()
    if table.num_rows == 0:
        return table.select(list(columns)) if columns else table
    table = table.sort_by([("scored_at", "descending")])
    seen: set[tuple] = set()
    keep = []
    key_columns = [table.column(name).to_pylist() for name in KEY]
    for index, key in enumerate(zip(*key_columns, strict=True)):
        if key not in seen:
            seen.add(key)
            keep.append(index)
    table = table.take(keep).sort_by([("scored_at", "ascending"), ("path", "ascending")])
    return table.select(list(columns)) if columns else table


def remove_stale_temporaries(catalog: Path, older_than_s: float = 0.0) -> int:
    """Delete temporary part files left by a killed run (only call while holding the lock)."""
    removed = 0
    directory = parts_dir(catalog)
    if directory.is_dir():
        for temporary in directory.glob(".part-*.tmp"):
            if time.time() - temporary.stat().st_mtime >= older_than_s:
                temporary.unlink(missing_ok=True)
                removed += 1
    return removed


@contextmanager
def catalog_lock(catalog: Path, wait: bool = True) -> Iterator[None]:
    """Hold the catalog's exclusive lock: a POSIX record lock, which the kernel drops when the process dies and
    which, unlike flock, forked decode workers do not inherit."""
    try:
        catalog.mkdir(parents=True, exist_ok=True)
        handle = (catalog / ".lock").open("a+")
    except OSError as error:
        raise CatalogError(f"{catalog}: cannot open the catalog: {error.strerror or error}") from None
    try:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            if not wait:
                raise CatalogBusy(f"{catalog}: another scoring run is using this catalog") from None
            handle.seek(0)
            holder = handle.read().strip() or "?"
            log.warning("%s: another scoring run (pid %s) holds the catalog; waiting for it to finish", catalog, holder)
            fcntl.lockf(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()
