"""Compacting the catalog: one part, the newest row per key, and a kill at any step loses and duplicates nothing."""

import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from emoscore.catalog.compaction import JOURNAL, compact
from emoscore.catalog.store import Catalog
from emoscore.catalog.table import Identity, ImageFile, base_row, error_row, part_files, read_catalog, write_part
from emoscore.scoring.library import score_library
from tests.helpers import PROJECT

IDENTITY = Identity("vad", "music", "params")


def a_catalog(catalog, parts=12, per_part=5):
    """Parts of ok rows, and for some images an earlier error row that a later success supersedes."""
    for part in range(parts):
        files = [ImageFile(f"{part}/{i}.jpg", f"{part:03d}{i:03d}", 10) for i in range(per_part)]
        if part % 3 == 0:
            write_part(catalog, [error_row(IDENTITY, file, "decoder hiccup") for file in files])
        write_part(
            catalog,
            [base_row(IDENTITY, file, "ok", error=None, flow_run_id="run", width=64, height=48) for file in files],
        )
    return parts * per_part


def keys_of_every_part(catalog):
    rows = [row for part in part_files(catalog) for row in pq.read_table(part).to_pylist()]
    return [(r["image_id"], r["vad_model"], r["music_model"], r["params_hash"]) for r in rows], rows


def test_compact_merges_to_one_part_keeping_the_newest_row_per_key(tmp_path):
    images = a_catalog(tmp_path)
    before = {row["image_id"]: row["status"] for row in read_catalog(tmp_path).to_pylist()}
    done = compact(tmp_path)
    keys, rows = keys_of_every_part(tmp_path)
    assert len(part_files(tmp_path)) == 1 and done.parts_before == 16 and done.rows_after == images
    assert len(keys) == len(set(keys)) == images and {r["status"] for r in rows} == {"ok"}
    assert {row["image_id"]: row["status"] for row in rows} == before
    assert compact(tmp_path).parts_before == 1  # nothing more to do


KILLER = """
import os, sys
from pathlib import Path
import emoscore.catalog.compaction as compaction
calls, kill_at = [0], int(sys.argv[2])
def counted(real):
    def call(*args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at:
            os._exit(9)  # SIGKILL-like: no cleanup, no finally
        return real(*args, **kwargs)
    return call
compaction.os.replace = counted(os.replace)
compaction.sync_directory = counted(compaction.sync_directory)
Path.unlink = counted(Path.unlink)
compaction.compact(Path(sys.argv[1]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", range(1, 21))
def test_a_compaction_killed_at_any_step_loses_and_duplicates_nothing(tmp_path, kill_at):
    images = a_catalog(tmp_path, parts=6, per_part=3)
    expected = {row["image_id"]: row["status"] for row in read_catalog(tmp_path).to_pylist()}
    environment = {**os.environ, "PYTHONPATH": str(PROJECT)}
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLER), str(tmp_path), str(kill_at)],
        env=environment,
        check=False,
        timeout=120,
    )
    assert {row["image_id"]: row["status"] for row in read_catalog(tmp_path).to_pylist()} == expected
    # the next one to take the lock (here a scoring pass over an empty library) finishes or forgets it
    (tmp_path / "library").mkdir()
    score_library(tmp_path / "library", Catalog(tmp_path), IDENTITY, lambda files: None, progress=False)
    assert not (tmp_path / "parts" / JOURNAL).exists() and not list((tmp_path / "parts").glob(".*"))
    assert {row["image_id"]: row["status"] for row in read_catalog(tmp_path).to_pylist()} == expected
    compact(tmp_path)
    keys, _ = keys_of_every_part(tmp_path)
    assert len(keys) == len(set(keys)) == images
