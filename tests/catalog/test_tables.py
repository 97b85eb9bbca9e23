"""The catalog's Delta tables, on local disk and on an S3 server: one row per key whoever writes, retried errors
replaced, a bad chunk leaving nothing, time travel, history, compaction with checkpoints, vacuum of orphan media,
and the table opened by every reader the README names."""

import datetime as dt
import json
import multiprocessing
import time
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emoscore.catalog import delta
from emoscore.catalog.delta import AsOf, CommitConflict
from emoscore.catalog.location import StorageError
from emoscore.catalog.query import connect
from emoscore.catalog.store import IMAGES, Catalog
from emoscore.catalog.table import SCHEMA, CatalogBusy, CatalogError
from emoscore.emotic.labels import CATEGORIES


def row(image_id, status="ok", when=0, **extra):
    base = {
        "image_id": image_id,
        "path": f"/lib/{image_id}.jpg",
        "size_bytes": 10,
        "width": 4,
        "height": 3,
        "status": status,
        "error": None if status == "ok" else "bad",
        "people": [],
        "quadrant": "Q1" if status == "ok" else None,
        "vad_model": "v",
        "music_model": "m",
        "params_hash": "p",
        "flow_run_id": "r",
        "scored_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=when),
    }
    return {**base, **extra}


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


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.text(min_size=1, max_size=20), people), min_size=1, max_size=5, unique_by=lambda t: t[0]))
def test_rows_round_trip(tmp_path_factory, items):
    catalog = Catalog(tmp_path_factory.mktemp("cat"))
    rows = [row(f"id{i}", path=name, people=persons) for i, (name, persons) in enumerate(items)]
    assert catalog.write(rows) == len(rows)
    table = catalog.read()
    assert table.schema.equals(SCHEMA)
    back = {r["image_id"]: r for r in table.to_pylist()}
    for written in rows:
        assert back[written["image_id"]]["path"] == written["path"]
        assert back[written["image_id"]]["people"] == written["people"]


def test_each_key_once_and_a_retried_error_replaces_its_row(where):
    catalog = Catalog(where)
    assert catalog.write([row("a", "error", 0), row("b", "ok", 0)], run_id="first") == 2
    assert catalog.write([row("a", "ok", 5), row("b", "ok", 5, path="/elsewhere/b.jpg")], run_id="second") == 0
    stored = {r["image_id"]: r for r in catalog.read().to_pylist()}
    assert {k: r["status"] for k, r in stored.items()} == {"a": "ok", "b": "ok"}
    assert stored["b"]["path"] == "/lib/b.jpg"  # an ok row is never overwritten by another run's
    assert catalog.dataset().count_rows() == 2
    assert set(catalog.done_paths()) == {("a", "v", "m", "p"), ("b", "v", "m", "p")}
    history = catalog.history()
    assert [(h["operation"], h["rows_added"], h["run"]) for h in history[:2]] == [
        ("MERGE", 0, "second"),
        ("MERGE", 2, "first"),
    ]
    assert history[0]["rows_replaced"] == 1


def test_a_bad_chunk_commits_nothing(where):
    catalog = Catalog(where)
    catalog.write([row("a")])
    version = DeltaTable(Catalog(where).location.join(IMAGES), storage_options=catalog.location.options or None)
    with pytest.raises(Exception):  # noqa: B017 (pyarrow raises its own error types for a bad row)
        catalog.write([row("b"), row("c", people="not a list")])
    after = DeltaTable(catalog.location.join(IMAGES), storage_options=catalog.location.options or None)
    assert after.version() == version.version()
    assert [r["image_id"] for r in catalog.read().to_pylist()] == ["a"]


def test_time_travel_by_version_and_time(where):
    catalog = Catalog(where)
    catalog.write([row("a")])
    time.sleep(1.1)
    middle = dt.datetime.now(dt.UTC)
    time.sleep(1.1)
    catalog.write([row("b")])
    versions = [h["version"] for h in catalog.history()]
    assert catalog.read(["image_id"], as_of=AsOf(version=versions[1])).column(0).to_pylist() == ["a"]
    assert catalog.read(as_of=AsOf.parse(middle.isoformat())).num_rows == 1
    assert catalog.read().num_rows == 2
    with pytest.raises(CatalogError, match="no version 99"):
        catalog.read(as_of=AsOf(version=99))
    with pytest.raises(CatalogError, match="--as-of 'yesterday'"):
        AsOf.parse("yesterday")


def _write_keys(where, keys):
    return Catalog(where).write([row(key) for key in keys])


def test_writers_at_once_without_the_lock_add_every_key_once(where):
    """Eight processes commit overlapping chunks in a storm, none holding the advisory lock: MERGE's conflict check
    and the bounded retries alone keep every key exactly once, and no commit fails."""
    catalog = Catalog(where)
    catalog.write([row("seed")])
    chunks = [[f"k{i}" for i in range(start, start + 30)] for start in range(0, 80, 10)]
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        added = pool.starmap(_write_keys, [(where, chunk) for chunk in chunks])
    stored = catalog.dataset().to_table(columns=["image_id"]).column(0).to_pylist()
    assert len(stored) == len(set(stored)) == 1 + 100
    assert sum(added) == 100


def test_a_commit_that_keeps_losing_is_a_clear_error(tmp_path, monkeypatch):
    catalog = Catalog(tmp_path / "catalog")
    catalog.write([row("a")])

    class Losing:
        def __init__(self, *args, **kwargs):
            pass

        def when_not_matched_insert_all(self):
            return self

        def when_matched_update_all(self, predicate=None):
            return self

        def execute(self):
            raise CommitFailedError("Commit failed: a concurrent transaction added new data")

    monkeypatch.setattr(DeltaTable, "merge", lambda self, *a, **k: Losing())
    monkeypatch.setattr(delta.time, "sleep", lambda seconds: None)
    with pytest.raises(CommitConflict, match=f"{tmp_path / 'catalog'}: could not commit .* after 12 retries"):
        catalog.write([row("b")])
    monkeypatch.undo()
    assert [r["image_id"] for r in catalog.read().to_pylist()] == ["a"]


def test_compaction_checkpoints_and_keeps_every_row(where):
    catalog = Catalog(where)
    for index in range(12):
        catalog.write([row(f"i{index}-{n}", when=index) for n in range(3)])
    files_before = len(
        DeltaTable(catalog.location.join(IMAGES), storage_options=catalog.location.options or None).file_uris()
    )
    before = sorted(catalog.read(["image_id"]).column(0).to_pylist())
    done = catalog.compact()[IMAGES]
    assert files_before >= 12 and done.files_before == files_before and done.files_after == 1 and done.rows == 36
    assert sorted(catalog.read(["image_id"]).column(0).to_pylist()) == before
    log = catalog.location.filesystem().get_file_info(
        __import__("pyarrow.fs", fromlist=["FileSelector"]).FileSelector(
            catalog.location.fs_path(catalog.location.join(IMAGES, "_delta_log"))
        )
    )
    assert any(info.path.endswith(".checkpoint.parquet") for info in log)
    assert catalog.read(as_of=AsOf(version=3)).num_rows == 9  # older versions still readable before a vacuum


def _write_chunks(where, count):
    for index in range(count):
        Catalog(where).write([row(f"late{index}-{n}") for n in range(4)])
    return count


def test_compaction_while_a_writer_commits_loses_nothing(tmp_path):
    where = str(tmp_path / "catalog")
    for index in range(10):
        Catalog(where).write([row(f"early{index}")])
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        writing = pool.apply_async(_write_chunks, (where, 15))
        while not writing.ready():
            Catalog(where).compact()
        assert writing.get() == 15
    ids = Catalog(where).dataset().to_table(columns=["image_id"]).column(0).to_pylist()
    assert len(ids) == len(set(ids)) == 10 + 60


def test_vacuum_removes_orphan_media_only(tmp_path):
    catalog = Catalog(tmp_path / "catalog")
    media = tmp_path / "catalog" / "midi"
    media.mkdir(parents=True)
    (media / "kept.mid").write_bytes(b"MThd")
    (media / "orphan.mid").write_bytes(b"MThd")  # a killed writer's: written, never committed
    catalog.write([row("a", midi_path="midi/kept.mid")])
    assert catalog.vacuum(retention_hours=1)["media_files"] == 0  # too young: a writer may be about to commit it
    stray = tmp_path / "catalog" / "images" / "part-00000-from-a-lost-race.parquet"  # written, never committed
    stray.write_bytes(b"PAR1")
    done = catalog.vacuum(retention_hours=0)
    assert done["media_files"] == 1 and (media / "kept.mid").exists() and not (media / "orphan.mid").exists()
    assert not stray.exists() and catalog.read().num_rows == 1


def test_every_reader_opens_the_table(tmp_path):
    """pandas (through deltalake), Polars' scan_delta and DuckDB over the Arrow dataset read the same rows; the
    table enables no feature those readers refuse."""
    catalog = Catalog(tmp_path / "catalog")
    catalog.write([row("a"), row("b", status="error")])
    catalog.write([row("c", quadrant="Q3")])
    uri = str(tmp_path / "catalog" / IMAGES)
    table = DeltaTable(uri)
    protocol = table.protocol()
    features = set(protocol.reader_features or []) | set(protocol.writer_features or [])
    assert not features & {"deletionVectors", "columnMapping"}
    ok_pandas = sorted(table.to_pandas().query("status == 'ok'")["image_id"])
    ok_polars = sorted(pl.scan_delta(uri).filter(pl.col("status") == "ok").collect()["image_id"].to_list())
    connection = connect()
    connection.register("images", catalog.dataset())
    ok_duckdb = sorted(r[0] for r in connection.sql("SELECT image_id FROM images WHERE status = 'ok'").fetchall())
    assert ok_pandas == ok_polars == ok_duckdb == ["a", "c"]


def test_the_advisory_lock_excludes_a_second_run_on_this_machine(where):
    catalog = Catalog(where)
    with catalog.lock(), multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_try_lock, (where,)) == "busy"
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_try_lock, (where,)) == "locked"


def _try_lock(where):
    try:
        with Catalog(where).lock(wait=False):
            return "locked"
    except CatalogBusy:
        return "busy"


def test_a_read_only_catalog_is_refused_before_scoring(tmp_path):
    import os

    Catalog(tmp_path / "catalog").write([row("a")])
    (tmp_path / "catalog").chmod(0o500)
    try:
        if os.access(tmp_path / "catalog", os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(CatalogError, match="cannot write"):
            Catalog(tmp_path / "catalog").check_writable()
    finally:
        (tmp_path / "catalog").chmod(0o700)
    assert [r["image_id"] for r in Catalog(tmp_path / "catalog").read().to_pylist()] == ["a"]


def test_store_errors_are_one_clear_line(s3, s3_server, monkeypatch):
    bucket_missing = "s3://no-such-bucket-here/catalog"
    with pytest.raises(StorageError, match=r"no-such-bucket-here.*cannot write") as caught:
        Catalog(bucket_missing).check_writable()
    assert "\n" not in str(caught.value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    Catalog(s3).check_writable()  # moto accepts any key: what is refused is asserted against a bucket it lacks
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(StorageError, match=r"cannot (read|write)") as caught:
        Catalog(s3).check_writable()
    assert "\n" not in str(caught.value) and "testing" not in str(caught.value) and "wrong" not in str(caught.value)


def test_storage_options_are_never_shown(s3):
    catalog = Catalog(s3, {"AWS_SECRET_ACCESS_KEY": "hunter2"})
    assert "hunter2" not in repr(catalog) and "hunter2" not in str(catalog) and "hunter2" not in repr(catalog.location)
    assert json.dumps(str(catalog)) == json.dumps(s3)


def test_media_reach_the_store_before_their_rows(s3, tmp_path):
    catalog = Catalog(s3)
    with catalog.media_folder() as folder:
        (folder / "midi").mkdir()
        (folder / "midi" / "a.mid").write_bytes(b"MThd-piece")
    catalog.write([row("a", midi_path="midi/a.mid")])
    assert catalog.fetch_media("midi/a.mid", tmp_path / "back.mid")
    assert (tmp_path / "back.mid").read_bytes() == b"MThd-piece"
    assert not catalog.fetch_media("midi/none.mid", tmp_path / "none.mid")
    assert Path(catalog.state).parts[-3:-1] == ("emoscore", "catalogs")
