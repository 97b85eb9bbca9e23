"""Migration from the part-file layout (written here exactly as emoscore wrote it: fixed-size lists, a superseded
error row, media, a scenes table, the scan index) and the catalog commands a user runs: refused old layout,
history, --as-of, compact, vacuum."""

import datetime as dt
import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from emoscore.catalog.store import Catalog
from emoscore.catalog.table import SCHEMA
from emoscore.cli.app import app
from emoscore.film.scene_table import SCENE_SCHEMA
from tests.catalog.test_tables import row

runner = CliRunner()
# the images' schema as the part-file catalogs stored it (Arrow fixed-size lists, which Delta Lake has not)
LEGACY_PERSON = pa.struct(
    [
        ("bbox", pa.list_(pa.int32(), 4)),
        ("detector_score", pa.float32()),
        ("categories", pa.list_(pa.float32(), 26)),
        ("categories_above_threshold", pa.list_(pa.string())),
        ("valence", pa.float32()),
        ("arousal", pa.float32()),
        ("dominance", pa.float32()),
    ]
)
LEGACY = pa.schema([pa.field("people", pa.list_(LEGACY_PERSON)) if f.name == "people" else f for f in SCHEMA])
PERSON = {
    "bbox": [1, 2, 30, 40],
    "detector_score": 0.9,
    "categories": [0.5] * 26,
    "categories_above_threshold": ["Peace"],
    "valence": 6.0,
    "arousal": 4.0,
    "dominance": 5.0,
}


def legacy_catalog(root, images=6):
    (root / "parts").mkdir(parents=True)
    (root / "midi").mkdir()
    (root / "charts").mkdir()
    first, second = [], []
    for index in range(images):
        midi, chart = f"midi/{index}.mid", f"charts/{index}.png"
        (root / midi).write_bytes(b"MThd" + bytes([index]) * 50)
        (root / chart).write_bytes(b"\x89PNG" + bytes([index]) * 30)
        first.append(row(f"i{index}", people=[PERSON], midi_path=midi, chart_path=chart, quadrant="Q4"))
    first.append(row("broken", status="error"))
    second.append(row("broken", when=9, people=[PERSON], quadrant="Q2"))  # a retry that succeeded: newest wins
    for name, rows in (("part-20260101T000000-1-aaaa.parquet", first), ("part-20260102T000000-1-bbbb.parquet", second)):
        pq.write_table(pa.Table.from_pylist(rows, schema=LEGACY), root / "parts" / name, compression="zstd")
    (root / ".lock").write_text("123\n")
    scene = {name: None for name in SCENE_SCHEMA.names}
    scene.update(video_id="v", scene_index=0, path="/films/a.mp4", vad_model="v", music_model="m", params_hash="p")
    scene.update(scored_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), quadrant="Q1", bars=4)
    (root / "scenes").mkdir()
    pq.write_table(pa.Table.from_pylist([scene], schema=SCENE_SCHEMA), root / "scenes" / "part-x.parquet")
    return root


def test_the_old_layout_is_refused_with_the_command_that_converts_it(tmp_path):
    old = legacy_catalog(tmp_path / "old")
    commands = (
        ["catalog", "query", "--all-models"],
        ["catalog", "stats", "--all-models"],
        ["catalog", "compact"],
        ["gallery", "--all-models", "--out", str(tmp_path / "g")],
    )
    for command in commands:
        result = runner.invoke(app, [*command, "--catalog", str(old)])
        assert result.exit_code == 2, result.output
        assert "catalog migrate" in result.output and "Traceback" not in result.output
    assert not (old / "images").exists()


@pytest.mark.parametrize("target", ["local", "s3"])
def test_migrate_copies_rows_scenes_and_media_and_verifies_them(tmp_path, target, request):
    old = legacy_catalog(tmp_path / "old")
    new = str(tmp_path / "new") if target == "local" else request.getfixturevalue("s3")
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    result = runner.invoke(app, ["catalog", "migrate", str(old), new])
    assert result.exit_code == 0, result.output
    assert "migrated 7 images, 1 scenes and 12 media files" in result.output.replace("\n", " ")
    assert {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()} == before  # OLD untouched
    catalog = Catalog(new)
    rows = {r["image_id"]: r for r in catalog.read().to_pylist()}
    assert len(rows) == 7 and rows["broken"]["status"] == "ok" and rows["broken"]["quadrant"] == "Q2"
    assert rows["i0"]["people"][0]["categories"] == [0.5] * 26 and rows["i0"]["people"][0]["bbox"] == [1, 2, 30, 40]
    assert catalog.read_table("scenes", SCENE_SCHEMA).num_rows == 1
    copied = tmp_path / "copied.mid"
    assert catalog.fetch_media("midi/3.mid", copied)
    assert hashlib.sha256(copied.read_bytes()).digest() == hashlib.sha256((old / "midi/3.mid").read_bytes()).digest()
    again = runner.invoke(app, ["catalog", "migrate", str(old), new])  # a rerun adds nothing and verifies again
    assert again.exit_code == 0 and Catalog(new).dataset().count_rows() == 7
    if target == "local":
        assert (tmp_path / "new" / "scan_index.parquet").exists() or not (old / "scan_index.parquet").exists()


def test_migrate_refuses_what_it_cannot_migrate(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["catalog", "migrate", str(tmp_path / "empty"), str(tmp_path / "new")])
    assert result.exit_code == 2 and "not a catalog in the part-file layout" in result.output
    old = legacy_catalog(tmp_path / "old")
    result = runner.invoke(app, ["catalog", "migrate", str(old), str(old)])
    assert result.exit_code == 2 and "new location" in result.output


def test_history_as_of_compact_and_vacuum_from_the_command_line(tmp_path):
    where = str(tmp_path / "cat")
    catalog = Catalog(where)
    catalog.write([row("a", quadrant="Q3")], run_id="run-one")
    catalog.write([row("b", quadrant="Q3"), row("c", quadrant="Q1")], run_id="run-two")
    history = runner.invoke(app, ["catalog", "history", "--catalog", where, "--json"])
    entries = json.loads(history.output)
    assert [(e["version"], e["rows_added"], e["run"]) for e in entries[:2]] == [(2, 2, "run-two"), (1, 1, "run-one")]
    now = runner.invoke(
        app, ["catalog", "query", "--catalog", where, "--all-models", "--quadrant", "Q3", "--format", "json"]
    )
    then = runner.invoke(
        app,
        [
            "catalog",
            "query",
            "--catalog",
            where,
            "--all-models",
            "--quadrant",
            "Q3",
            "--format",
            "json",
            "--as-of",
            "1",
        ],
    )
    assert len(json.loads(now.output)) == 2 and [r["image_id"] for r in json.loads(then.output)] == ["a"]
    stats = runner.invoke(app, ["catalog", "stats", "--catalog", where, "--all-models", "--as-of", "1"])
    assert '"images": 1' in stats.output
    wrong = runner.invoke(app, ["catalog", "stats", "--catalog", where, "--all-models", "--as-of", "soon"])
    assert wrong.exit_code == 2 and "--as-of 'soon'" in wrong.output
    missing = runner.invoke(app, ["catalog", "query", "--catalog", where, "--all-models", "--as-of", "40"])
    assert missing.exit_code == 2 and "no version 40" in missing.output and "Traceback" not in missing.output
    gallery = runner.invoke(
        app, ["gallery", "--catalog", where, "--all-models", "--as-of", "1", "--out", str(tmp_path / "g")]
    )
    page = (tmp_path / "g" / "index.html").read_text()
    assert gallery.exit_code == 0 and "/lib/a.jpg" in page and "/lib/b.jpg" not in page
    compact = runner.invoke(app, ["catalog", "compact", "--catalog", where])
    assert compact.exit_code == 0 and "images: 2 files → 1, 3 rows" in compact.output
    vacuum = runner.invoke(app, ["catalog", "vacuum", "--catalog", where, "--retention-hours", "0"])
    assert vacuum.exit_code == 0 and "removed 2 table files and 0 media files" in vacuum.output
    assert Catalog(where).read().num_rows == 3
    bad = runner.invoke(app, ["catalog", "history", "--catalog", where, "--table", "people"])
    assert bad.exit_code == 2 and "choose images or scenes" in bad.output


def test_migrate_keeps_columns_only_later_parts_have(tmp_path):
    """A part written before a column existed (`library` came later) must not drop that column for every row."""
    old = tmp_path / "old"
    (old / "parts").mkdir(parents=True)
    earlier = LEGACY.remove(LEGACY.get_field_index("library"))
    first = {k: v for k, v in row("a").items() if k != "library"}
    pq.write_table(pa.Table.from_pylist([first], schema=earlier), old / "parts" / "part-1.parquet")
    pq.write_table(pa.Table.from_pylist([row("b", library="/lib")], schema=LEGACY), old / "parts" / "part-2.parquet")
    assert runner.invoke(app, ["catalog", "migrate", str(old), str(tmp_path / "new")]).exit_code == 0
    stored = {r["image_id"]: r["library"] for r in Catalog(tmp_path / "new").read().to_pylist()}
    assert stored == {"a": None, "b": "/lib"}


def test_a_catalog_with_only_old_scenes_is_refused_not_shadowed(tmp_path):
    old = legacy_catalog(tmp_path / "film")
    for leftover in (old / "parts").iterdir():
        leftover.unlink()
    result = runner.invoke(app, ["catalog", "scenes", "--catalog", str(old)])
    assert result.exit_code == 2 and "catalog migrate" in result.output
    assert not (old / "scenes" / "_delta_log").exists()


def test_reading_a_vacuumed_version_or_a_foreign_uri_is_one_line(tmp_path):
    where = str(tmp_path / "cat")
    catalog = Catalog(where)
    catalog.write([row("a", status="error")])
    catalog.write([row("a")])  # the retry rewrites the file holding the error row
    catalog.compact()
    catalog.vacuum(retention_hours=0)
    old = runner.invoke(app, ["catalog", "query", "--catalog", where, "--all-models", "--as-of", "1"])
    assert old.exit_code == 2 and "cannot read" in old.output and "Traceback" not in old.output, old.output
    for uri in ("gs://bucket/catalog", "file:/catalog"):
        result = runner.invoke(app, ["catalog", "stats", "--catalog", uri])
        assert result.exit_code == 2 and "a catalog is a local folder or s3://bucket/prefix" in result.output
    assert not (tmp_path / "gs:").exists()
    from emoscore.catalog.location import Location

    assert Location.of("S3://bucket/catalog/").uri == "s3://bucket/catalog"  # a scheme in any case (RFC 3986)
