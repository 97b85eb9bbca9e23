"""The bridge (VAD → quadrant, seed) and the catalog's storage: schema round trip, atomic parts, the lock."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emoscore.catalog.table import (
    SCHEMA,
    CatalogBusy,
    catalog_lock,
    done_keys,
    part_files,
    read_catalog,
    remove_stale_temporaries,
    write_part,
)
from emoscore.emotic.labels import CATEGORIES
from emoscore.scoring.bridge import music_seed, pool_people, vad_to_quadrant


@pytest.mark.parametrize(
    ("valence", "arousal", "quadrant"), [(8, 8, "Q1"), (2, 8, "Q2"), (2, 2, "Q3"), (8, 2, "Q4"), (5.5, 5.5, "Q1")]
)
def test_quadrants(valence, arousal, quadrant):
    assert vad_to_quadrant(valence, arousal).name == quadrant


def test_confidence_is_distance_to_the_nearer_boundary():
    assert vad_to_quadrant(10, 10).confidence == pytest.approx(1.0)
    assert vad_to_quadrant(5.5, 9).confidence == pytest.approx(0.0)
    assert vad_to_quadrant(7.75, 1.0).confidence == pytest.approx(2.25 / 4.5)
    assert vad_to_quadrant(6, 6, midpoint=7).name == "Q3"


def test_pooling_and_seed():
    people = [[2, 2, 5], [9.5, 9.5, 5], [6, 6, 5]]
    assert pool_people(people).tolist() == pytest.approx([5.833333, 5.833333, 5])
    assert pool_people(people, "most_confident").tolist() == [9.5, 9.5, 5]
    with pytest.raises(ValueError, match="no people"):
        pool_people([])
    assert music_seed("ab" * 32) == music_seed("ab" * 32) != music_seed("cd" * 32)


def _row(image_id, status="ok", when=0, **extra):
    row = {
        "image_id": image_id,
        "path": f"/lib/{image_id}.jpg",
        "size_bytes": 10,
        "width": 4,
        "height": 3,
        "status": status,
        "error": None if status == "ok" else "bad",
        "people": [],
        "vad_model": "v",
        "music_model": "m",
        "params_hash": "p",
        "flow_run_id": "r",
        "scored_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=when),
    }
    row.update(extra)
    return row


people = st.lists(
    st.fixed_dictionaries(
        {
            "bbox": st.lists(st.integers(0, 10_000), min_size=4, max_size=4),
            "detector_score": st.floats(0, 1, width=32),
            "categories": st.lists(st.floats(0, 1, width=32), min_size=26, max_size=26),
            "categories_above_threshold": st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True),
            "valence": st.floats(1, 10, width=32),
            "arousal": st.floats(1, 10, width=32),
            "dominance": st.floats(1, 10, width=32),
        }
    ),
    max_size=3,
)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=20), people), min_size=1, max_size=5, unique_by=lambda t: t[0]))
def test_catalog_round_trip(tmp_path_factory, items):
    catalog = tmp_path_factory.mktemp("cat")
    rows = [_row(f"id{i}", path=name, people=persons) for i, (name, persons) in enumerate(items)]
    write_part(catalog, rows)
    table = read_catalog(catalog)
    assert table.schema.equals(SCHEMA)
    back = {row["image_id"]: row for row in table.to_pylist()}
    for row in rows:
        assert back[row["image_id"]]["path"] == row["path"]
        assert back[row["image_id"]]["people"] == row["people"]


def test_newest_row_wins_and_keys(tmp_path):
    write_part(tmp_path, [_row("a", "error", 0), _row("b", "ok", 0)])
    write_part(tmp_path, [_row("a", "ok", 5)])
    assert done_keys(tmp_path) == {("a", "v", "m", "p"), ("b", "v", "m", "p")}
    assert done_keys(tmp_path, include_errors=False) == {("a", "v", "m", "p"), ("b", "v", "m", "p")}
    table = read_catalog(tmp_path)
    assert sorted((r["image_id"], r["status"]) for r in table.to_pylist()) == [("a", "ok"), ("b", "ok")]
    assert len(part_files(tmp_path)) == 2


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(Exception):  # noqa: B017 (pyarrow raises its own error types for a bad row)
        write_part(tmp_path, [_row("a", people="not a list")])
    assert not list((tmp_path / "parts").glob("*"))


def test_read_only_catalog_is_a_clear_error(tmp_path):
    import os

    from emoscore.catalog.table import CatalogError

    write_part(tmp_path, [_row("a")])
    (tmp_path / "parts").chmod(0o500)
    try:
        if os.access(tmp_path / "parts", os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(CatalogError, match="cannot write a part file"):
            write_part(tmp_path, [_row("b")])
    finally:
        (tmp_path / "parts").chmod(0o700)
    assert [r["image_id"] for r in read_catalog(tmp_path).to_pylist()] == ["a"]


def test_lock_excludes_a_second_holder_and_stale_temporaries_go(tmp_path):
    import multiprocessing

    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / ".part-x.parquet.tmp").write_bytes(b"half")
    with catalog_lock(tmp_path):
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            assert pool.apply(_try_lock, (str(tmp_path),)) == "busy"
        assert remove_stale_temporaries(tmp_path) == 1
    with context.Pool(1) as pool:
        assert pool.apply(_try_lock, (str(tmp_path),)) == "locked"


def _try_lock(path):
    from pathlib import Path

    try:
        with catalog_lock(Path(path), wait=False):
            return "locked"
    except CatalogBusy:
        return "busy"


def test_disk_full_mid_write_leaves_the_catalog_intact(tmp_path, monkeypatch):
    import errno

    from emoscore.catalog import table as catalog_module
    from emoscore.catalog.table import CatalogError

    write_part(tmp_path, [_row("a")])

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(catalog_module.os, "fsync", full)
    with pytest.raises(CatalogError, match="No space left"):
        write_part(tmp_path, [_row("b")])
    monkeypatch.undo()
    assert not list((tmp_path / "parts").glob(".*"))
    assert [r["image_id"] for r in read_catalog(tmp_path).to_pylist()] == ["a"]
