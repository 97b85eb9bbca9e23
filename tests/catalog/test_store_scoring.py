"""Scoring into an S3 catalog, as a studio's shared store: the same rows as on disk, media in the store before the
rows that name them, a second run scoring nothing, the gallery and queries read through the store."""

import json
from pathlib import Path

from typer.testing import CliRunner

from emoscore.catalog.gallery import write_gallery
from emoscore.catalog.store import Catalog
from emoscore_flows.cli import app
from tests.helpers import photo, read_catalog, score_local

runner = CliRunner()


def test_scoring_into_a_store_equals_scoring_to_disk(project, s3, tmp_path):
    library = tmp_path / "library"
    for index in range(5):
        photo(library / f"{index}.jpg", size=(60 + 7 * index, 40 + 3 * index))
    (library / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    params = str(project / "params.yaml")
    score_local(library, tmp_path / "disk", params, progress=False)
    result = runner.invoke(app, ["score", str(library), "--catalog", s3, "--no-prefect", "--json", "--params", params])
    assert result.exit_code == 1, result.output  # one photo failed: exit 1, its error row is in the catalog
    summary = json.loads(result.output[result.output.index("{") :])
    assert summary["scored"] == 5 and summary["failed"] == 1
    disk, store = ({r["image_id"]: r for r in read_catalog(c).to_pylist()} for c in (tmp_path / "disk", s3))
    assert disk.keys() == store.keys() and len(store) == 6
    for image_id, here in disk.items():
        there = store[image_id]
        assert (here["status"], here["path"], here["quadrant"]) == (there["status"], there["path"], there["quadrant"])
        if here["status"] == "ok":
            fetched = tmp_path / "fetched" / here["midi_path"]
            assert Catalog(s3).fetch_media(there["midi_path"], fetched)
            assert fetched.read_bytes() == (tmp_path / "disk" / here["midi_path"]).read_bytes()
            assert Catalog(s3).fetch_media(there["chart_path"], tmp_path / "fetched" / there["chart_path"])
    again = runner.invoke(app, ["score", str(library), "--catalog", s3, "--no-prefect", "--json", "--params", params])
    assert json.loads(again.output[again.output.index("{") :])["scored"] == 0
    page = write_gallery(Catalog(s3).read(), Catalog(s3), tmp_path / "gallery")
    assert page.exists() and len(list((tmp_path / "gallery" / "media" / "midi").rglob("*.mid"))) == 5
    query = runner.invoke(
        app, ["catalog", "query", "--catalog", s3, "--all-models", "--status", "error", "--format", "json"]
    )
    assert [Path(r["path"]).name for r in json.loads(query.output)] == ["broken.jpg"]
