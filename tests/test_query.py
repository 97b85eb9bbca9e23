"""Catalog questions through DuckDB and the `emoscore catalog` commands, on a catalog written here."""

import csv
import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from emoscore.catalog.query import Query, catalog_stats, parse_range, run_query
from emoscore.catalog.store import Catalog
from emoscore.cli.app import app
from emoscore.emotic.labels import CATEGORY_INDEX
from emoscore.errors import EmoscoreError
from tests.helpers import write_rows

runner = CliRunner()


def _row(name, quadrant, valence, arousal, sadness, status="ok", when=0, image_id=None):
    categories = [0.0] * 26
    categories[CATEGORY_INDEX["Sadness"]] = sadness
    named = ["Sadness"] if sadness >= 0.5 else []  # as if Sadness's threshold were 0.5
    person = {
        "bbox": [0, 0, 10, 10],
        "detector_score": 1.0,
        "categories": categories,
        "valence": valence,
        "arousal": arousal,
        "dominance": 5.0,
        "categories_above_threshold": named,
    }
    return {
        "image_id": image_id or name,
        "path": f"/lib/{name}",
        "size_bytes": 1,
        "width": 10,
        "height": 10,
        "status": status,
        "error": None if status == "ok" else "truncated",
        "people": [person] if status == "ok" else [],
        "valence": valence if status == "ok" else None,
        "arousal": arousal if status == "ok" else None,
        "dominance": 5.0 if status == "ok" else None,
        "quadrant": quadrant,
        "top_categories": [{"name": "Sadness", "score": sadness}] if status == "ok" else [],
        "categories_above_threshold": named if status == "ok" else None,
        "vad_model": "v1",
        "music_model": "m1",
        "params_hash": "p",
        "scored_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=when),
        "flow_run_id": "r",
    }


@pytest.fixture
def catalog(tmp_path):
    write_rows(
        tmp_path,
        [
            _row("act1/a.jpg", "Q3", 2.0, 3.0, 0.9),
            _row("act2/b.jpg", "Q3", 3.0, 2.0, 0.4),
            _row("act2/c.jpg", "Q1", 8.0, 8.0, 0.1),
            _row("act2/d.jpg", None, 0, 0, 0, "error"),
        ],
    )
    write_rows(tmp_path, [_row("act1/e.jpg", "Q3", 1.5, 4.0, 0.7, when=5)])
    return tmp_path


def names(table):
    return [row["path"].rsplit("/", 1)[1] for row in table.to_pylist()]


def test_filters_and_sorting(catalog):
    catalog = Catalog(catalog)
    found = run_query(catalog, Query(quadrant="q3", category="Sadness", min_score=0.6, sort="arousal"))
    assert names(found) == ["a.jpg", "e.jpg"]
    assert names(run_query(catalog, Query(valence=(1, 4), path_glob="*/act2/*"))) == ["b.jpg"]
    assert names(run_query(catalog, Query(status="error"))) == ["d.jpg"]
    assert names(run_query(catalog, Query(detected="Sadness", sort="valence"))) == ["e.jpg", "a.jpg"]
    assert names(run_query(catalog, Query(detected="Fear"))) == []
    with pytest.raises(EmoscoreError, match="unknown category 'Joy'"):
        run_query(catalog, Query(detected="Joy"))
    assert names(
        run_query(catalog, Query(category="Sadness", min_score=0, sort="category", descending=True, limit=2))
    ) == ["a.jpg", "e.jpg"]
    with pytest.raises(EmoscoreError, match="unknown category"):
        run_query(catalog, Query(category="Joy"))
    with pytest.raises(EmoscoreError, match="cannot sort"):
        run_query(catalog, Query(sort="people"))
    assert parse_range("1:4", "valence") == (1.0, 4.0) and parse_range(":3", "v") == (1.0, 3.0)
    with pytest.raises(EmoscoreError, match="LOW:HIGH"):
        parse_range("low", "valence")


def test_a_retried_error_shows_once_as_its_newest_row(tmp_path):
    write_rows(tmp_path, [_row("x.jpg", None, 0, 0, 0, "error", when=0)])
    write_rows(tmp_path, [_row("x.jpg", "Q1", 7, 7, 0.1, when=9)])
    rows = run_query(Catalog(tmp_path), Query()).to_pylist()
    assert [(row["status"], row["quadrant"]) for row in rows] == [("ok", "Q1")]


def test_stats(catalog):
    stats = catalog_stats(Catalog(catalog))
    assert stats["images"] == 5 and stats["by_status"] == {"error": 1, "ok": 4}
    assert stats["by_quadrant"] == {"Q1": 1, "Q3": 3}
    assert stats["vad"]["valence"]["max"] == 8.0 and stats["top_categories"] == {"Sadness": 4}
    assert stats["categories_above_threshold"] == {"Sadness": 2}
    assert stats["models"] == [{"vad_model": "v1", "music_model": "m1", "params_hash": "p", "images": 5}]
    assert catalog_stats(Catalog(catalog / "empty"))["images"] == 0


def test_catalog_commands(catalog, tmp_path):
    query = ["catalog", "query", "--all-models", "--catalog", str(catalog)]
    result = runner.invoke(app, [*query, "--quadrant", "Q3", "--format", "json", "--sort", "valence"])
    assert result.exit_code == 0, result.output
    assert [row["path"] for row in json.loads(result.stdout)] == [
        "/lib/act1/e.jpg",
        "/lib/act1/a.jpg",
        "/lib/act2/b.jpg",
    ]
    out = tmp_path / "q.parquet"
    result = runner.invoke(
        app, ["catalog", "query", "--all-models", "--catalog", str(catalog), "--format", "parquet", "--out", str(out)]
    )
    assert result.exit_code == 0 and out.stat().st_size > 0
    csv_file = tmp_path / "sad.csv"
    result = runner.invoke(
        app, [*query, "--detected", "Sadness", "--format", "csv", "--sort", "valence", "--out", str(csv_file)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(csv_file.open()))
    assert [(r["path"], r["categories_above_threshold"]) for r in rows] == [
        ("/lib/act1/e.jpg", "Sadness"),
        ("/lib/act1/a.jpg", "Sadness"),
    ]
    result = runner.invoke(app, [*query, "--detected", "Sadness"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "above threshold" in result.stdout and "a.jpg" in result.stdout
    result = runner.invoke(app, ["catalog", "query", "--all-models", "--catalog", str(catalog), "--category", "Nope"])
    assert result.exit_code == 2 and "unknown category" in result.output
    result = runner.invoke(app, ["catalog", "stats", "--all-models", "--catalog", str(catalog)])
    assert result.exit_code == 0 and json.loads(result.stdout)["images"] == 5
    result = runner.invoke(
        app, ["gallery", "--all-models", "--catalog", str(catalog), "--out", str(tmp_path / "g"), "--quadrant", "Q1"]
    )
    assert result.exit_code == 0 and "c.jpg" in (tmp_path / "g" / "index.html").read_text()


def test_the_current_view_shows_the_rows_of_the_models_in_use(tmp_path, project):
    """After a retrain both models' rows are in the catalog; queries, stats and the gallery show the current
    models' rows unless asked for all."""
    from emoscore.catalog.table import Identity
    from emoscore.config import load_params

    current = Identity.from_params(load_params(project / "params.yaml"))
    old = {"vad_model": "old", "music_model": "old", "params_hash": "old"}
    new = {"vad_model": current.vad_model, "music_model": current.music_model, "params_hash": current.params_hash}
    write_rows(tmp_path, [{**_row("a.jpg", "Q3", 2.0, 3.0, 0.9), **old}, {**_row("b.jpg", "Q1", 8, 8, 0.1), **old}])
    write_rows(tmp_path, [{**_row("a.jpg", "Q1", 7.0, 7.0, 0.2, when=9), **new}])
    assert names(run_query(Catalog(tmp_path), Query(identity=current))) == ["a.jpg"]
    assert names(run_query(Catalog(tmp_path), Query())) == ["a.jpg", "a.jpg", "b.jpg"]
    stats = catalog_stats(Catalog(tmp_path), identity=current)
    assert stats["images"] == 1 and stats["by_quadrant"] == {"Q1": 1} and len(stats["models"]) == 2
    base = [
        "catalog",
        "query",
        "--catalog",
        str(tmp_path),
        "--params",
        str(project / "params.yaml"),
        "--format",
        "json",
    ]
    shown = json.loads(runner.invoke(app, base).stdout)
    assert [(row["path"], row["quadrant"]) for row in shown] == [("/lib/a.jpg", "Q1")]
    assert len(json.loads(runner.invoke(app, [*base, "--all-models"]).stdout)) == 3
