"""The catalog's rows: one per scored image, its schema, its key and the errors a catalog raises.

`(image_id, vad_model, music_model, params_hash)` is the key: a run skips keys already present, and a chunk's commit
adds only keys the table lacks (emoscore.catalog.delta), so the table never holds a key twice, whoever writes.
Lists are variable-length: Delta Lake has no fixed-size list type.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from emoscore.config import GenerationParams, Params, RenderParams, ScoreParams, result_dump
from emoscore.digests import model_digest
from emoscore.errors import EmoscoreError

log = logging.getLogger(__name__)

KEY = ("image_id", "vad_model", "music_model", "params_hash")
# when a chunk's row replaces the stored row of its key (`s` new, `t` stored): an error retried (`--retry-errors`)
RETRIED = "t.status = 'error'"
# a photo found at a new path: its row follows it (decided by the path, not by clocks: hosts' clocks differ)
MOVED = "s.path <> t.path"
PERSON = pa.struct(
    [
        ("bbox", pa.list_(pa.int32())),
        ("detector_score", pa.float32()),
        ("categories", pa.list_(pa.float32())),
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
