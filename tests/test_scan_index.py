"""The scan index: a second pass over an unchanged library reads almost nothing, changed files are hashed again,
renamed ones keep their rows without being read, and a broken index only costs a full pass."""

import os
from pathlib import Path

import pytest

from emoscore.catalog.scan_index import INDEX_FILE
from emoscore.catalog.store import Catalog
from emoscore.catalog.table import Identity, error_row
from emoscore.scoring import listing as listing_module
from emoscore.scoring.library import score_library
from tests.helpers import Now, read_catalog

IDENTITY = Identity("vad", "music", "params")


def rows_for(files):
    """A stand-in scorer: a row per file at once (the scan is what is measured, not the model)."""
    return Now([error_row(IDENTITY, file, "stand-in") for file in files])


def read_chars() -> int:
    """Bytes this process has read through read() so far (page cache included): /proc's I/O accounting."""
    return int(
        next(line.split()[1] for line in Path("/proc/self/io").read_text().splitlines() if line.startswith("rchar:"))
    )


def a_pass(library, catalog):
    return score_library(library, Catalog(catalog), IDENTITY, rows_for, chunk_size=500, progress=False)


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux I/O accounting")
def test_a_second_pass_over_an_unchanged_library_reads_under_one_percent(tmp_path):
    library = tmp_path / "library"
    for folder in range(20):
        (library / f"album{folder}").mkdir(parents=True)
        for index in range(100):
            (library / f"album{folder}" / f"{index}.jpg").write_bytes(os.urandom(40_000) + bytes([folder, index]))
    total = sum(path.stat().st_size for path in library.rglob("*.jpg"))
    first = a_pass(library, tmp_path / "catalog")
    assert first.failed == 2000 and (tmp_path / "catalog" / INDEX_FILE).exists()
    before = read_chars()
    second = a_pass(library, tmp_path / "catalog")
    read = read_chars() - before
    assert (second.already_done, second.failed) == (2000, 0)
    assert read < 0.01 * total, f"read {read:,} of {total:,} bytes"


def test_changed_files_are_hashed_again_and_renamed_ones_keep_their_rows_unread(tmp_path, monkeypatch):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    library.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (library / name).write_bytes(os.urandom(1000))
    a_pass(library, catalog)
    hashed = []
    real = listing_module.file_sha256
    monkeypatch.setattr(listing_module, "file_sha256", lambda path: hashed.append(Path(path).name) or real(path))
    (library / "b.jpg").write_bytes(os.urandom(1000))  # new content in place
    (library / "c.jpg").rename(library / "renamed.jpg")
    (library / "d.jpg").write_bytes(os.urandom(1000))
    summary = a_pass(library, catalog)
    assert sorted(hashed) == ["b.jpg", "d.jpg"]  # the unchanged and the renamed file were not read
    assert (summary.failed, summary.already_done) == (2, 2)
    assert len(read_catalog(catalog)) == 5  # the renamed file kept its row; b's new content got its own


def test_a_broken_index_costs_one_full_pass_and_is_rewritten(tmp_path, monkeypatch, caplog):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    library.mkdir()
    (library / "a.jpg").write_bytes(os.urandom(1000))
    a_pass(library, catalog)
    (catalog / INDEX_FILE).write_bytes(b"not parquet")
    hashed = []
    real = listing_module.file_sha256
    monkeypatch.setattr(listing_module, "file_sha256", lambda path: hashed.append(path) or real(path))
    assert a_pass(library, catalog).already_done == 1 and len(hashed) == 1
    assert "unreadable" in caplog.text
    hashed.clear()
    a_pass(library, catalog)
    assert hashed == []  # rewritten: the next pass reads nothing


def test_a_file_name_that_is_not_utf8_is_indexed_and_found_again(tmp_path, monkeypatch):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    library.mkdir()
    odd = library / os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes, as old cameras and Windows shares write them
    odd.write_bytes(os.urandom(1000))
    a_pass(library, catalog)
    hashed = []
    real = listing_module.file_sha256
    monkeypatch.setattr(listing_module, "file_sha256", lambda path: hashed.append(path) or real(path))
    assert a_pass(library, catalog).already_done == 1 and hashed == []
