"""`emoscore render`: a catalog's pieces rendered to audio files later, in parallel, doing only what is missing; a
broken MIDI file costs only its own audio and the exit code says so."""

import pytest
import soundfile
from typer.testing import CliRunner

from emoscore.cli.app import app
from emoscore.music.render import renderer_available
from tests.helpers import photo, read_catalog, score_local

pytestmark = pytest.mark.skipif(not renderer_available(), reason="FluidSynth or a General MIDI SoundFont is missing")
runner = CliRunner()


def test_render_a_catalog_then_again_then_with_a_broken_piece(project, tmp_path):
    library, catalog = tmp_path / "library", tmp_path / "catalog"
    for index in range(5):
        photo(library / f"p{index}.jpg")
    assert score_local(str(library), str(catalog), str(project / "params.yaml"), progress=False)["scored"] == 5
    rows = read_catalog(catalog).to_pylist()
    assert all(row["midi_path"] and not row["audio_path"] for row in rows)  # the project scores with audio: none
    args = [
        "render",
        "--catalog",
        str(catalog),
        "--format",
        "flac",
        "--workers",
        "2",
        "--params",
        str(project / "params.yaml"),
    ]

    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "rendered 5, already there 0, failed 0" in result.output
    made = sorted((catalog / "renders" / "flac").glob("*.flac"))
    assert [p.stem for p in made] == sorted(row["image_id"] for row in rows)
    assert all(soundfile.info(p).duration > 1 for p in made)

    result = runner.invoke(app, args)
    assert "rendered 0, already there 5, failed 0" in result.output

    broken = rows[0]
    (catalog / broken["midi_path"]).write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (catalog / "renders" / "flac" / f"{broken['image_id']}.flac").unlink()
    out = tmp_path / "elsewhere"
    result = runner.invoke(app, [*args, "--out", str(out), "--quadrant", broken["quadrant"]])
    assert result.exit_code == 1
    same_quadrant = [row for row in rows if row["quadrant"] == broken["quadrant"]]
    assert f"rendered {len(same_quadrant) - 1}, already there 0, failed 1" in " ".join(result.output.split())
    assert {p.stem for p in out.glob("*.flac")} == {row["image_id"] for row in same_quadrant} - {broken["image_id"]}


def test_render_refuses_an_unknown_format(project, tmp_path):
    result = runner.invoke(
        app, ["render", "--catalog", str(tmp_path), "--format", "aiff", "--params", str(project / "params.yaml")]
    )
    assert result.exit_code == 2 and "flac, wav or opus" in result.output
