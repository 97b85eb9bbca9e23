"""The catalog as Delta tables, measured against the part files it replaced: commit cost per chunk, queries at
100,000 rows before and after compaction against one Parquet file, files after 1,000 commits, and log replay with
and without checkpoints.

The part-file side is the old protocol's write step as it was (Parquet to a temporary name, fsync, rename, fsync of
the folder), kept here because the library no longer has it.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

from benchmarks.common import best_of, record
from emoscore.catalog.query import Query, run_query
from emoscore.catalog.store import IMAGES, Catalog
from emoscore.catalog.table import SCHEMA
from emoscore.emotic.labels import CATEGORIES

# steady state of scoring with music on 2 cores (docs/performance.md, #29): a 64-image chunk takes ~11 s
CHUNK_SCORING_S = 64 / 5.9


def rows(count: int, start: int = 0, seed: int = 0) -> list[dict]:
    """Catalog rows shaped like real ones: one person with 26 scores, top categories, media paths."""
    rng = np.random.default_rng(seed + start)
    quadrants = ("Q1", "Q2", "Q3", "Q4")
    made = []
    for index in range(start, start + count):
        valence, arousal = (float(v) for v in rng.uniform(1, 10, 2))
        scores = rng.uniform(0, 1, len(CATEGORIES)).astype(np.float32)
        person = {
            "bbox": [10, 20, 200, 400],
            "detector_score": 0.9,
            "categories": scores.tolist(),
            "categories_above_threshold": [CATEGORIES[int(np.argmax(scores))]],
            "valence": valence,
            "arousal": arousal,
            "dominance": 5.0,
        }
        image_id = f"{index:064x}"
        made.append(
            {
                "image_id": image_id,
                "path": f"/library/album{index // 500}/photo_{index:06d}.jpg",
                "library": "/library",
                "size_bytes": 2_000_000,
                "width": 1600,
                "height": 1200,
                "status": "ok",
                "people": [person],
                "valence": valence,
                "arousal": arousal,
                "dominance": 5.0,
                "top_categories": [{"name": CATEGORIES[int(np.argmax(scores))], "score": float(scores.max())}],
                "categories_above_threshold": person["categories_above_threshold"],
                "quadrant": quadrants[index % 4],
                "quadrant_confidence": 0.5,
                "music_intensity": 0.5,
                "midi_path": f"midi/{image_id}.mid",
                "audio_path": f"audio/{image_id}.opus",
                "chart_path": f"charts/{image_id}.png",
                "seed": index,
                "n_notes": 120,
                "duration_s": 16.0,
                "vad_model": "v",
                "music_model": "m",
                "params_hash": "p",
                "scored_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=index),
                "flow_run_id": "bench",
            }
        )
    return made


def write_part(folder: Path, chunk: list[dict]) -> None:
    """The part-file protocol's write, as it was."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{uuid.uuid4().hex}.parquet"
    temporary = folder / f".{name}.tmp"
    with temporary.open("wb") as handle:
        pq.write_table(pa.Table.from_pylist(chunk, schema=SCHEMA), handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / name)
    descriptor = os.open(folder, os.O_RDONLY)
    os.fsync(descriptor)
    os.close(descriptor)


def appended_table(uri: str, total: int, per_commit: int, checkpoints: bool) -> None:
    """A table of `total` rows in `total / per_commit` commits (the layout chunk commits leave)."""
    configuration = {"delta.checkpointInterval": "100" if checkpoints else "1000000000"}
    for start in range(0, total, per_commit):
        chunk = pa.Table.from_pylist(rows(per_commit, start), schema=SCHEMA)
        write_deltalake(uri, chunk, mode="append", configuration=configuration if start == 0 else None)


def bench_catalog(work: Path, quick: bool) -> None:
    """Every catalog row of the table, side by side."""
    total, commits = (20_000, 200) if quick else (100_000, 1_000)
    with tempfile.TemporaryDirectory(dir=work) as folder:
        root = Path(folder)
        _commit_cost(root, 5_000 if quick else 100_000, 3 if quick else 5)
        _query_and_files(root, total, commits)
        _log_replay(root, commits)


def _commit_cost(root: Path, stored: int, repeats: int) -> None:
    """Rows committed per second for one 64-row chunk into a table already holding `stored` rows."""
    catalog = Catalog(root / "commit")
    for start in range(0, stored, 20_000):
        catalog.write(rows(min(20_000, stored - start), start))
    parts = root / "parts"
    for start in range(0, stored, 20_000):
        write_part(parts, rows(min(20_000, stored - start), start))
    counter = iter(range(10**9))

    def new() -> int:
        return catalog.write(rows(64, stored + 64 * next(counter), seed=1))

    def old() -> int:
        write_part(parts, rows(64, stored + 64 * next(counter), seed=1))
        return 64

    (new_time, added), (old_time, written) = best_of(repeats, new, old)
    assert added == written == 64
    ratio = new_time / CHUNK_SCORING_S
    record(
        "catalog commit",
        "one 64-row chunk's MERGE commit ÷ the chunk's scoring time with music (2 cores)",
        ratio,
        "≤ 0.10",
        ratio <= 0.10,
        f"{new_time * 1000:.0f} ms per chunk into {stored:,} rows = {64 / new_time:.0f} rows/s; the part file "
        f"took {old_time * 1000:.0f} ms ({64 / old_time:.0f} rows/s, {new_time / old_time:.1f}× faster, and no "
        f"key check); scoring the chunk ~{CHUNK_SCORING_S:.1f} s",
    )


def _query_and_files(root: Path, total: int, commits: int) -> None:
    """`catalog query --quadrant Q3` before and after compaction, against DuckDB on one Parquet file."""
    catalog = Catalog(root / "query")
    appended_table(catalog.location.join(IMAGES), total, total // commits, checkpoints=True)
    single = root / "single.parquet"
    pq.write_table(catalog.read(), single, compression="zstd")
    files_before = len(DeltaTable(catalog.location.join(IMAGES)).file_uris())
    query = Query(quadrant="Q3", limit=None)

    def ours() -> int:
        return run_query(catalog, query).num_rows

    def one_file() -> int:  # DuckDB's own Parquet reader on one file: the fastest way to ask this of Parquet
        sql = f"SELECT * FROM read_parquet('{single}') WHERE quadrant = 'Q3' ORDER BY path ASC NULLS LAST, path"
        return duckdb.sql(sql).to_arrow_table().num_rows

    (before_time, found), (single_time, expected) = best_of(3, ours, one_file)
    assert found == expected == total // 4
    compacted = catalog.compact()[IMAGES]
    (after_time, found), (single_time, expected) = best_of(3, ours, one_file)
    assert found == expected and compacted.files_after <= 2
    ratio = after_time / single_time
    record(
        "catalog query",
        f"`catalog query --quadrant Q3` at {total:,} rows after compaction ÷ the same query on one Parquet file",
        ratio,
        "≤ 1.5",
        ratio <= 1.5,
        f"{after_time * 1000:.0f} ms vs {single_time * 1000:.0f} ms; before compaction {before_time * 1000:.0f} ms "
        f"over {files_before} files after {commits} chunk commits, {compacted.files_after} file after",
    )


def _log_replay(root: Path, commits: int) -> None:
    """Opening a table after `commits` commits, with checkpoints every 100 and with none."""
    with_checkpoints, without = str(root / "checkpointed"), str(root / "plain")
    appended_table(with_checkpoints, commits * 8, 8, checkpoints=True)
    appended_table(without, commits * 8, 8, checkpoints=False)

    def open_table(uri: str):
        return lambda: len(DeltaTable(uri).file_uris())

    (fast, files), (slow, same) = best_of(3, open_table(with_checkpoints), open_table(without))
    assert files == same == commits
    ratio = slow / fast
    record(
        "catalog log replay",
        f"opening a table after {commits} commits: no checkpoint ÷ a checkpoint every 100 commits",
        ratio,
        "≥ 1 (reported)",
        ratio >= 1,
        f"{fast * 1000:.0f} ms with checkpoints vs {slow * 1000:.0f} ms replaying {commits} JSON commits",
    )


if __name__ == "__main__":
    start = time.perf_counter()
    bench_catalog(Path(tempfile.gettempdir()), quick=True)
    print(f"{time.perf_counter() - start:.0f} s")
