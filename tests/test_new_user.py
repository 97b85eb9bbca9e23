"""What a new user met in their first hour (issue #30), one test per finding: each failed on the code it was found
on. Commands run through typer's runner, as a user types them."""

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from emoscore.catalog.gallery import write_gallery
from emoscore.catalog.store import Catalog
from emoscore.cli.app import app
from tests.helpers import photo, read_catalog, score_in_a_process, score_local

runner = CliRunner()


def test_a_catalog_or_gallery_inside_the_library_is_never_scored(project, tmp_path):
    """`score lib --catalog lib/cat` three times: one row, not a new one per run for the catalog's own charts; a
    gallery written into the library is not scored either, nor is another catalog found there."""
    library = tmp_path / "library"
    photo(library / "only.jpg")
    params = str(project / "params.yaml")
    runs = [score_local(str(library), str(library / "cat"), params, progress=False) for _ in range(3)]
    assert [run["scored"] for run in runs] == [1, 0, 0]
    write_gallery(read_catalog(library / "cat"), Catalog(library / "cat"), library / "web")
    assert any((library / "web").rglob("*.jpg")) or any((library / "web").rglob("*.png"))
    score_local(str(library / "cat"), str(library / "cat2"), params, progress=False)  # charts as photos: a user's call
    again = score_local(str(library), str(library / "cat"), params, progress=False)
    assert again["scored"] == 0 and again["already_done"] == 1
    rows = read_catalog(library / "cat").to_pylist()
    assert [Path(row["path"]).name for row in rows] == ["only.jpg"]
    result = runner.invoke(app, ["catalog", "stats", "--catalog", str(library / "cat"), "--params", params])
    assert result.exit_code == 0 and '"images": 1' in result.output.replace(" ", "").replace('":', '": ')


WRONG_PATHS = [
    (["generate", "-q", "Q1", "--out", "{dir}"], "is a folder"),
    (["generate", "-q", "Q1", "--out", "{tmp}/nofolder/x.mid"], "does not exist"),
    (["generate", "-q", "Q1", "--out", "{tmp}/a.mid", "--audio", "{tmp}/b.aiff"], "audio must end in"),
    (["generate", "-q", "Q1", "--out", "{tmp}/y.mid", "--vocabulary", "{tmp}/bad.json"], "not a CP vocabulary"),
    (["generate", "-q", "Q1", "--out", "{tmp}/z.mid", "--models", "{file}"], "not a models folder"),
    (["catalog", "query", "--limit", "-1", "--catalog", "{dir}"], "--limit"),
    (["catalog", "query", "--format", "csv", "--out", "{dir}", "--catalog", "{dir}"], "is a folder"),
    (
        ["catalog", "query", "--format", "parquet", "--out", "{tmp}/missing/q.parquet", "--catalog", "{dir}"],
        "does not exist",
    ),
    (["models", "export", "{file}"], "is a file"),
    (["soundtrack", "{dir}", "--out", "{file}"], "is a file"),
    (["soundtrack", "{dir}", "--out", "{tmp}/o", "--fps", "0"], "--fps"),
    (["soundtrack", "{dir}", "--out", "{tmp}/o", "--fps", "-5"], "--fps"),
]


@pytest.mark.parametrize(
    ("command", "says"), WRONG_PATHS, ids=[" ".join(c[:2]) + f" {i}" for i, (c, _) in enumerate(WRONG_PATHS)]
)
def test_a_wrong_path_or_value_is_one_line_and_exit_2_before_any_work(project, tmp_path, command, says):
    """Each was a traceback with exit 1 (or, for --fps -5, an error only after all the scoring)."""
    from emoscore_flows.cli import app as full_app

    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "bad.json").write_text('{"x": 1}')
    before = sorted(p.name for p in tmp_path.rglob("*"))
    args = [a.format(dir=tmp_path / "dir", file=tmp_path / "file", tmp=tmp_path) for a in command]
    needs_params = args[0] in ("generate", "soundtrack", "models") and "--models" not in args
    result = runner.invoke(full_app, [*args, *(["--params", str(project / "params.yaml")] if needs_params else [])])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split()) and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


WRONG_VALUES = [
    ["generate", "-q", "Q1", "--out", "{tmp}/n.mid", "--temperature", "pitch=nan"],
    ["generate", "-q", "Q1", "--out", "{tmp}/n.mid", "--top-p", "pitch=inf"],
    ["catalog", "query", "--quadrant", "Q5", "--catalog", "{catalog}"],
    ["catalog", "query", "--status", "bogus", "--catalog", "{catalog}"],
    ["catalog", "query", "--valence", "9:2", "--catalog", "{catalog}"],
    ["catalog", "query", "--arousal", "0:nan", "--catalog", "{catalog}"],
    ["catalog", "query", "--category", "Sadness", "--min", "1.5", "--catalog", "{catalog}"],
    ["catalog", "query", "--catalog", "{tmp}/mistyped"],
    ["catalog", "stats", "--catalog", "{tmp}/mistyped"],
    ["catalog", "scenes", "--catalog", "{tmp}/mistyped"],
    ["catalog", "compact", "--catalog", "{tmp}/mistyped"],
    ["gallery", "--catalog", "{tmp}/mistyped", "--out", "{tmp}/g"],
]


@pytest.mark.parametrize("command", WRONG_VALUES, ids=[" ".join(c[:3]) + f" {i}" for i, c in enumerate(WRONG_VALUES)])
def test_a_value_that_cannot_mean_anything_is_refused_not_taken(project, tmp_path, command):
    """Each ran with exit 0: NaN sampling wrote 0 notes; a mistyped quadrant, status, range or catalog read as
    '0 images'; compact created the mistyped folder and reported a compaction."""
    (tmp_path / "catalog").mkdir()
    args = [a.format(tmp=tmp_path, catalog=tmp_path / "catalog") for a in command]
    result = runner.invoke(app, [*args, "--params", str(project / "params.yaml")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 6
    assert not (tmp_path / "mistyped").exists() and not (tmp_path / "n.mid").exists()


@pytest.mark.parametrize(
    "wrong",
    [
        {"valence": -100, "arousal": -100},
        {"valence": float("nan"), "arousal": 5},
        {"valence": 11, "arousal": 5},
        {"quadrant": "Q1", "bars": 0},
    ],
)
def test_the_api_refuses_what_the_cli_refuses(project, tmp_path, wrong):
    from emoscore.api import load

    models = load(params=project / "params.yaml")
    with pytest.raises(ValueError, match=r"valence|bars"):
        models.compose(**wrong, out=tmp_path / "p.mid")
    assert not (tmp_path / "p.mid").exists()


def test_a_garbage_or_pickled_weights_file_never_gets_the_advice_to_load_it_unsafely(tmp_path):
    """torch's message says to retry with weights_only=False (running the file's code); ours names the file."""
    import pickle

    import torch

    from emoscore.errors import CheckpointError
    from emoscore.music.model import CPTransformer

    garbage, pickled = tmp_path / "garbage.pt", tmp_path / "pickled.pt"
    garbage.write_bytes(b"\x80\x04not a checkpoint at all" * 100)
    torch.save({"model": pickle.PickleError("an object, not a tensor")}, pickled)
    for path in (garbage, pickled):
        with pytest.raises(CheckpointError) as caught:
            CPTransformer.from_checkpoint(path)
        message = str(caught.value)
        assert path.name in message and "weights_only" not in message and "trust the source" not in message


def test_catalog_commands_never_recommend_an_option_they_do_not_have(project, tmp_path, caplog):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    photo(library / "a.jpg")
    score_local(str(library), str(catalog), str(project / "params.yaml"), progress=False)
    result = runner.invoke(app, ["catalog", "stats", "--catalog", str(catalog), "--params", str(tmp_path / "none")])
    assert result.exit_code == 0
    said = result.output + caplog.text
    assert "every model version" in said and "--models" not in said and "--all-models" in said


def test_verbosity_flags_work_after_the_subcommand_and_stay_free_of_third_party_noise(tmp_path):
    """`score … -v` was "No such option"; `-vv` printed matplotlib and pydot DEBUG lines."""
    import subprocess
    import sys

    from tests.helpers import PROJECT

    source = PROJECT / "data" / "sample" / "unlabeled" / "scores"
    midi = next(iter(sorted(source.glob("*.mid"))), None)
    if midi is None:
        from emoscore.music.cp import Note, notes_to_midi

        midi = tmp_path / "one.mid"
        notes_to_midi([Note(0, 60, 4, 80)], [(0, 100.0)]).dump(str(midi))
    for flags in (["-vv"], ["--verbose", "-v"]):
        command = [
            sys.executable,
            "-m",
            "emoscore_flows.cli",
            "tokens",
            "encode",
            str(midi),
            "--out",
            str(tmp_path / "t.json"),
            *flags,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "No such option" not in done.stderr
        assert not [line for line in done.stderr.splitlines() if "matplotlib" in line or "pydot" in line]
    result = runner.invoke(app, ["tokens", "encode", str(midi), "--out", str(tmp_path / "u.json"), "-v"])
    assert result.exit_code == 0, result.output


def test_models_export_makes_a_folder_as_mkdir_would(project, tmp_path):
    """It was 0700 under umask 0022, and an existing empty folder was tightened to 0700."""
    import os

    from emoscore.cli.app import app as cli_app

    fresh, existing = tmp_path / "fresh", tmp_path / "existing"
    existing.mkdir()
    existing.chmod(0o775)
    old = os.umask(0o022)
    try:
        for out in (fresh, existing):
            result = runner.invoke(cli_app, ["models", "export", str(out), "--params", str(project / "params.yaml")])
            assert result.exit_code == 0, result.output
    finally:
        os.umask(old)
    assert fresh.stat().st_mode & 0o777 == 0o755 and existing.stat().st_mode & 0o777 == 0o775


def _query_catalog(project, root):
    """A small scored catalog to ask questions of (made once per test directory)."""
    library, catalog = root / "library", root / "catalog"
    if not catalog.exists():
        for index in range(3):
            photo(library / f"q{index}.jpg")
        score_local(str(library), str(catalog), str(project / "params.yaml"), progress=False)
    return catalog


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 15).map(float))
texts = st.text(alphabet="Qq0123456789okerrbgus:.-naif ", max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    quadrant=st.one_of(st.none(), texts, st.sampled_from(["Q1", "q4", "Q5"])),
    status=st.one_of(st.none(), texts, st.sampled_from(["ok", "error"])),
    valence=st.one_of(st.none(), texts, st.tuples(numbers, numbers).map(lambda p: f"{p[0]}:{p[1]}")),
    minimum=numbers,
    limit=st.integers(-3, 5),
)
def test_any_catalog_query_is_answered_in_range_or_refused_in_one_line(
    project, tmp_path_factory, quadrant, status, valence, minimum, limit
):
    """Whatever a user types for a query's filters: a table whose rows satisfy them, or exit 2 and one line."""
    catalog = _query_catalog(project, tmp_path_factory.getbasetemp() / "query_catalog")
    args = [
        "catalog",
        "query",
        "--catalog",
        str(catalog),
        "--params",
        str(project / "params.yaml"),
        "--format",
        "json",
        "--min",
        str(minimum),
        "--limit",
        str(limit),
        "--all-models",
    ]
    for option, value in (("--quadrant", quadrant), ("--status", status), ("--valence", valence)):
        if value is not None:
            args += [option, value]
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert len([line for line in result.output.splitlines() if line.strip()]) <= 6
        return
    rows = json.loads(result.output)
    assert len(rows) <= (limit or 10**9)
    low, high = (float(x) for x in valence.split(":")) if valence and ":" in valence else (1.0, 10.0)
    for row in rows:
        assert quadrant is None or row["quadrant"] == quadrant.strip().upper()
        assert status is None or row["status"] == status
        if valence and row["valence"] is not None:
            assert low <= row["valence"] <= high


def test_a_params_file_from_before_the_note_bank_still_reads(caplog):
    """`score.render_audio` became `score.audio` (#29): an older params.yaml keeps working and is told the new name."""
    from emoscore.config import parse_params

    assert parse_params({"score": {"render_audio": False}}).score.audio == "none"
    assert parse_params({"score": {"render_audio": True}}).score.audio == "preview"
    assert "score.audio" in caplog.text


def test_a_models_folder_whose_file_differs_from_its_manifest_is_refused_by_every_command(project, tmp_path, caplog):
    """Item 9: another checkpoint copied over music.pt was used (doctor said ok); now every command that loads the
    folder names the file and both digests, and the API refuses it too."""
    from emoscore.api import load
    from emoscore.config import load_params
    from emoscore.errors import ConfigError
    from emoscore.models_home import export_models

    home = export_models(load_params(project / "params.yaml"), project / "params.yaml", tmp_path / "set")
    assert runner.invoke(app, ["doctor", "--models", str(home)]).exit_code in (0, 1)  # whole: checked, accepted
    (home / "music.pt").write_bytes((home / "vad.pt").read_bytes())  # a real checkpoint, of another model
    for command in (
        ["doctor", "--models", str(home)],
        ["generate", "-q", "Q1", "--out", str(tmp_path / "x.mid"), "--models", str(home)],
    ):
        result = runner.invoke(app, command)
        said = result.output.replace("\n", " ")
        assert result.exit_code == 2 and "music.pt: does not match the digest in manifest.json" in said, said
        assert "Traceback" not in said and not (tmp_path / "x.mid").exists()
    with pytest.raises(ConfigError, match=r"music\.pt: does not match"):
        load(home)
    stats = runner.invoke(app, ["catalog", "stats", "--catalog", str(tmp_path)], env={"EMOSCORE_MODELS": str(home)})
    assert stats.exit_code == 0 and "music.pt: does not match the digest" in caplog.text  # says why: every version


def test_rows_hold_absolute_paths_that_follow_a_moved_photo_and_a_fixed_file_supersedes_its_error(
    project, tmp_path, monkeypatch
):
    """Items 2 and 3: `score lib1 --catalog cat1` stored `lib1/…` (a gallery written from another folder had no
    pictures), a photo moved from act1/ to act2/ kept its old path, and a zero-byte file fixed later kept its error
    row beside the new one (13 images in a 12-file library)."""
    params = str(project / "params.yaml")
    monkeypatch.chdir(tmp_path)
    photo(tmp_path / "lib1" / "act1" / "a.jpg")
    (tmp_path / "lib1" / "zero.jpg").write_bytes(b"")
    first = score_local("lib1", "cat1", params, progress=False)  # relative, as a user types them
    assert (first["scored"], first["failed"]) == (1, 1)
    rows = {Path(row["path"]).name: row for row in read_catalog(tmp_path / "cat1").to_pylist()}
    assert rows["a.jpg"]["path"] == str(tmp_path / "lib1" / "act1" / "a.jpg")
    assert rows["a.jpg"]["library"] == rows["zero.jpg"]["library"] == str(tmp_path / "lib1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    shown = runner.invoke(app, ["gallery", "--catalog", "../cat1", "--out", "web", "--params", params])
    assert shown.exit_code == 0, shown.output
    assert (elsewhere / "web" / "thumbs" / f"{rows['a.jpg']['image_id']}.jpg").is_file()  # the card has its picture

    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib1" / "act2").mkdir()
    (tmp_path / "lib1" / "act1" / "a.jpg").rename(tmp_path / "lib1" / "act2" / "a.jpg")
    photo(tmp_path / "lib1" / "zero.jpg")  # the broken file replaced by a good photo
    again = score_local("lib1", "cat1", params, progress=False)
    assert (again["moved"], again["scored"], again["already_done"]) == (1, 1, 1)
    assert score_local("lib1", "cat1", params, progress=False)["moved"] == 0  # once moved, it stays put
    query = ["catalog", "query", "--catalog", "cat1", "--params", params, "--format", "json"]
    act2 = json.loads(runner.invoke(app, [*query, "--path-glob", "*/act2/*"]).output)
    assert [Path(row["path"]).parent.name for row in act2] == ["act2"]
    assert json.loads(runner.invoke(app, [*query, "--status", "error"]).output) == []
    stats = runner.invoke(app, ["catalog", "stats", "--catalog", "cat1", "--params", params])
    assert json.loads(stats.output)["images"] == 2  # two files, two images


def test_a_catalog_that_cannot_be_written_is_one_line_before_any_image_is_scored(project, tmp_path):
    """Item 6: a catalog whose media or tables cannot be written was found once per image, each with a traceback;
    now the run stops in one line naming the folder (exit 2) before scoring, and the catalog keeps its rows."""
    library, catalog = tmp_path / "library", tmp_path / "cat"
    photo(library / "first.jpg")
    assert score_local(str(library), str(catalog), str(project / "params.yaml"), progress=False)["scored"] == 1
    photo(library / "second.jpg")
    charts = catalog / "charts"
    charts.rename(tmp_path / "charts-aside")
    charts.write_text("a file where the charts folder was")
    result = score_in_a_process(library, catalog, project / "params.yaml")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {charts}: cannot write: not a folder"]
    charts.unlink()
    (tmp_path / "charts-aside").rename(charts)
    (catalog / "midi").chmod(0o500)
    try:
        if not os.access(catalog / "midi", os.W_OK):  # root ignores permissions
            result = score_in_a_process(library, catalog, project / "params.yaml")
            assert result.returncode == 2 and "Traceback" not in result.stderr
            assert "midi: cannot write: Permission denied" in result.stderr
    finally:
        (catalog / "midi").chmod(0o700)
    assert len(read_catalog(catalog)) == 1


def test_an_image_whose_media_fails_is_one_error_line_and_its_traceback_only_at_debug(scorer, tmp_path, caplog):
    """Item 6: a failing chart costs its own row and one line; the traceback is for `-vv` (DEBUG)."""
    import logging

    from emoscore.catalog.table import ImageFile
    from emoscore.scoring.listing import hash_images, iter_library

    photo(tmp_path / "library" / "one.jpg")
    files = [f for f in hash_images(iter_library(tmp_path / "library")) if isinstance(f, ImageFile)]
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "charts").write_text("a file where the charts folder should be")
    with caplog.at_level(logging.INFO, logger="emoscore"):
        rows = scorer.score_files(files, tmp_path / "cat")
    assert [row["status"] for row in rows] == ["error"]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and "one.jpg" in errors[0].getMessage() and "Traceback" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="emoscore"):
        scorer.score_files(files, tmp_path / "cat")
    assert "Traceback" in caplog.text


def test_category_scores_stay_on_the_0_to_1_scale_that_min_and_the_gallery_use(scorer, tmp_path, monkeypatch):
    """Item 12: the reference objective's raw outputs overshoot 0/1; rows, thresholds and charts get them clipped."""
    import numpy as np

    from emoscore.catalog.table import ImageFile
    from emoscore.emotic import inference
    from emoscore.scoring.listing import hash_images, iter_library

    def overshooting(predict):
        def wrapped(self, contexts, bodies):
            probabilities, vad = predict(self, contexts, bodies)
            return np.where(np.arange(probabilities.shape[1]) % 2, -0.3, 1.4).astype(
                np.float32
            ) + 0 * probabilities, vad

        return wrapped

    for engine in (inference.TorchVad, inference.OnnxVad):
        monkeypatch.setattr(engine, "predict", overshooting(engine.predict))
    photo(tmp_path / "library" / "one.jpg")
    files = [f for f in hash_images(iter_library(tmp_path / "library")) if isinstance(f, ImageFile)]
    (row,) = scorer.score_files(files, tmp_path / "cat")
    assert row["status"] == "ok", row["error"]
    scores = [score for person in row["people"] for score in person["categories"]]
    scores += [category["score"] for category in row["top_categories"]]
    assert scores and min(scores) == 0.0 and max(scores) == 1.0


def test_the_api_says_what_it_loaded_keeps_media_and_composes_as_generate_does(project, tmp_path, monkeypatch):
    """Item 12: repr(load()) names the models; rows scored without a catalog point at media that outlive the
    process (under `media`, never scored themselves); compose's default length is generate's."""
    from emoscore.api import load
    from emoscore.config import load_params
    from emoscore.music.cp import bar_starts

    monkeypatch.chdir(tmp_path)
    photo(tmp_path / "one.jpg")
    with load(params=project / "params.yaml") as models:
        assert "vad.pt" in repr(models) and "music" in repr(models) and "not started" in repr(models)
        (row,) = models.score(tmp_path)
        assert "running" in repr(models)
        media = tmp_path / "emoscore-media"
        assert Path(row["chart_path"]).parent == media / "charts" and Path(row["midi_path"]).is_file()
        assert len(models.score(tmp_path)) == 1  # its own media folder is not a library
        piece = models.compose("Q2", out=tmp_path / "q2.mid")
    assert Path(row["midi_path"]).is_file()
    assert len(bar_starts(piece.steps)) == load_params(project / "params.yaml").generation.bars != 1


def test_a_panorama_gets_a_thumbnail_a_person_can_see(tmp_path):
    """Item 12: a 20000×100 panorama's thumbnail was 320×2 px; its middle is shown at 4:1 at most."""
    from PIL import Image

    from emoscore.catalog.gallery import thumbnail

    photo(tmp_path / "wide.jpg", size=(20000, 100))
    photo(tmp_path / "tall.png", size=(60, 900), format="PNG")
    for name, size in (("wide.jpg", (320, 80)), ("tall.png", (60, 240))):
        relative = thumbnail(tmp_path / name, name, tmp_path / "web")
        with Image.open(tmp_path / "web" / relative) as image:
            assert image.size == size
