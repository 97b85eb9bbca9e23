"""A second pass over an unchanged library: re-hashing every file against the scan index."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import best_of, record
from emoscore.catalog.store import Catalog


def bench_incremental_scan(work: Path, count: int, repeats: int) -> None:
    """A second pass over an unchanged library of small files: with the scan index vs hashing every file again."""
    from emoscore.catalog.scan_index import INDEX_FILE
    from emoscore.catalog.table import Identity, error_row
    from emoscore.scoring.library import score_library

    library = work / f"scan_{count}"
    if not library.exists():
        rng = np.random.default_rng(5)
        for index in range(count):
            folder = library / f"album{index // 500:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{index:05d}.jpg").write_bytes(rng.bytes(20_000))
    identity = Identity("vad", "music", "params")

    class Done:
        def __init__(self, files: list) -> None:
            self.rows = [error_row(identity, file, "stand-in") for file in files]

        def result(self) -> list[dict]:
            return self.rows

    with tempfile.TemporaryDirectory() as catalog:
        score_library(library, Catalog(Path(catalog)), identity, Done, chunk_size=500, progress=False)
        index = Path(catalog) / INDEX_FILE
        saved = index.read_bytes()

        def indexed() -> dict:
            index.write_bytes(saved)
            return score_library(library, Catalog(Path(catalog)), identity, Done, progress=False).as_dict()

        def rehashed() -> dict:
            index.unlink(missing_ok=True)
            return score_library(library, Catalog(Path(catalog)), identity, Done, progress=False).as_dict()

        (fast, with_index), (slow, without) = best_of(repeats, indexed, rehashed)
    assert with_index == without and with_index["already_done"] == count
    ratio = slow / fast
    record(
        "second pass over an unchanged library",
        f"seconds re-hashing ÷ seconds with the scan index, {count} files",
        ratio,
        "> 1×",
        ratio > 1,
        f"{fast:.2f} s with the index vs {slow:.2f} s hashing "
        f"{count * 20_000 / 1e6:.0f} MB again (page cache warm: on a cold disk the gap is far larger)",
    )
