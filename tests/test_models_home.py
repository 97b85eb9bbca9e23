"""A models home and the Python API, used from a folder outside the project, as a user on another machine would."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import miditoolkit
import pytest

from emoscore.config import load_params
from emoscore.digests import model_digest
from emoscore.errors import ConfigError
from emoscore.models_home import ENVIRONMENT, export_models, load_home, resolve_params
from tests.helpers import photo, read_catalog

EMOSCORE = Path(sys.executable).parent / "emoscore"


@pytest.fixture(scope="module")
def home(project, tmp_path_factory):
    return export_models(
        load_params(project / "params.yaml"), project / "params.yaml", tmp_path_factory.mktemp("homes") / "set"
    )


def test_an_exported_home_holds_the_set_with_digests_and_points_into_itself(project, home):
    manifest = json.loads((home / "manifest.json").read_text())
    assert {"vad", "thresholds", "music"} <= set(manifest["files"])
    assert manifest["files"]["vad"]["sha256_16"] == model_digest(project / "vad.pt")
    params = load_home(home, verify=True)
    assert params.vad.out == home.resolve() / "vad.pt" and params.music.out == home.resolve() / "music.pt"
    assert params.score.bars == 1  # the params the set was trained and used with travel along


def test_export_and_load_refuse_what_is_wrong_naming_it(project, home, tmp_path):
    with pytest.raises(ConfigError, match="not empty"):
        export_models(load_params(project / "params.yaml"), project / "params.yaml", home)
    broken = load_params(project / "params.yaml")
    broken = broken.model_copy(update={"music": broken.music.model_copy(update={"out": tmp_path / "none.pt"})})
    with pytest.raises(ConfigError, match=r"none\.pt.*music"):
        export_models(broken, project / "params.yaml", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))  # nothing half-made
    with pytest.raises(ConfigError, match="not a models folder"):
        load_home(tmp_path)
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in home.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    (copy / "music.pt").write_bytes(b"changed")
    with pytest.raises(ConfigError, match=r"music\.pt: does not match"):
        load_home(copy, verify=True)
    with pytest.raises(ConfigError, match="--models"):
        resolve_params(tmp_path / "params.yaml")


def test_score_doctor_and_the_three_line_api_work_from_outside_the_project(home, tmp_path):
    outside = tmp_path / "elsewhere"
    picture = photo(outside / "photo.jpg")
    environment = {key: value for key, value in os.environ.items() if key not in (ENVIRONMENT, "PREFECT_API_URL")}
    run = {"cwd": outside, "capture_output": True, "text": True, "env": environment, "timeout": 300}
    assert not (outside / "params.yaml").exists()
    scored = subprocess.run([EMOSCORE, "score", picture, "--models", home, "--catalog", "cat", "--json"], **run)
    assert scored.returncode == 0, scored.stderr[-1500:]
    assert json.loads(scored.stdout)["scored"] == 1 and list((outside / "cat" / "midi").glob("*.mid"))
    doctor = subprocess.run([EMOSCORE, "doctor"], **{**run, "env": {**environment, ENVIRONMENT: str(home)}})
    assert str(home.resolve() / "vad.pt") in doctor.stdout, doctor.stdout
    api = textwrap.dedent(f"""
        import json
        from emoscore.api import load
        models = load({str(home)!r})
        rows = models.score(["photo.jpg"])
        piece = models.compose(valence=8.0, arousal=9.5, out="piece.mid")
        print(json.dumps([rows[0]["status"], rows[0]["midi_path"], str(piece.midi_path)]))
        models.close()
    """)
    result = subprocess.run([sys.executable, "-c", api], **run)
    assert result.returncode == 0, result.stderr[-1500:]
    status, midi, piece = json.loads(result.stdout.strip().splitlines()[-1])
    assert status == "ok" and Path(midi).is_absolute()
    assert miditoolkit.MidiFile(outside / piece).instruments[0].notes


def test_the_api_scores_into_a_catalog_once(home, tmp_path):
    from emoscore.api import load
    from emoscore.catalog.store import Catalog

    picture = photo(tmp_path / "photos" / "a.jpg")
    with load(home) as models:
        first = models.score([picture], catalog=tmp_path / "cat")
        again = models.score(tmp_path / "photos", catalog=tmp_path / "cat")
    assert first[0]["status"] == again[0]["status"] == "ok" and first[0]["image_id"] == again[0]["image_id"]
    assert Catalog(tmp_path / "cat").dataset().count_rows() == 1 and (tmp_path / "cat" / first[0]["midi_path"]).exists()


def test_the_api_gives_a_file_it_cannot_read_its_error_row_with_or_without_a_catalog(home, tmp_path, monkeypatch):
    from emoscore.api import load
    from emoscore.scoring import listing as listing_module

    photo(tmp_path / "photos" / "a.jpg")
    photo(tmp_path / "photos" / "locked.jpg")
    hashing = listing_module.file_sha256

    def refuse(path):
        if Path(path).name == "locked.jpg":
            raise PermissionError(13, "Permission denied")
        return hashing(path)

    monkeypatch.setattr(listing_module, "file_sha256", refuse)
    with load(home) as models:
        into = models.score(tmp_path / "photos", catalog=tmp_path / "cat")
        alone = models.score(tmp_path / "photos", media=tmp_path / "media")
    for rows in (into, alone):
        assert [(Path(row["path"]).name, row["status"]) for row in rows] == [("a.jpg", "ok"), ("locked.jpg", "error")]
        assert rows[1]["error"] == "cannot read: Permission denied"
    stored = [row for row in read_catalog(tmp_path / "cat").to_pylist() if row["status"] == "error"]
    assert [row["image_id"] for row in stored] == [into[1]["image_id"]]  # the row the run wrote, not a second one
