"""Any value a user types for a numeric or enumerated option of `generate`, `soundtrack` and the API's `compose` is
either taken, with a result in range, or refused in one line with exit 2 (a ValueError from the API) before anything
is written (#30 deliverable 3; `catalog query`'s options are driven in tests/test_new_user.py)."""

import json
import math
import shutil

import miditoolkit
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from emoscore.api import load
from emoscore.cli.app import app
from emoscore.config import load_params
from emoscore_flows.cli import app as full_app
from tests.helpers import photo

runner = CliRunner()
NUMBERS = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "abc", "1e999", "-0", "nan", "inf", "5.5.5", "0x10", "１"]),
)
FAMILIES = st.sampled_from(["pitch", "duration", "velocity", "tempo", "chord", "type", "bar-beat", "nope", ""])
CHECKED = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _bars_of(path) -> int:
    midi = miditoolkit.MidiFile(str(path))
    end = max((note.end for track in midi.instruments for note in track.notes), default=0)
    return math.ceil(end / (4 * midi.ticks_per_beat)) if end else 0


@CHECKED
@given(
    option=st.sampled_from(["--bars", "--seed", "--valence", "--arousal", "--temperature", "--top-p", "--quadrant"]),
    value=NUMBERS,
    family=FAMILIES,
)
@example(option="--bars", value="3", family="")  # taken: the accepted path is always exercised
@example(option="--temperature", value="0.8", family="pitch")
@example(option="--valence", value="7.5", family="")
def test_every_generate_option_is_taken_in_range_or_refused_in_one_line(project, tmp_path, option, value, family):
    out = tmp_path / "piece.mid"
    out.unlink(missing_ok=True)
    emotion = [] if option in ("--valence", "--arousal", "--quadrant") else ["-q", "Q2"]
    given_value = f"{family}={value}" if option in ("--temperature", "--top-p") else value
    extra = ["--arousal", "5"] if option == "--valence" else ["--valence", "5"] if option == "--arousal" else []
    length = [] if option == "--bars" else ["--bars", "2"]
    params = ["--params", str(project / "params.yaml")]
    command = ["generate", "--out", str(out), *emotion, option, given_value, *extra, *length, *params]
    result = runner.invoke(app, command)
    assert "Traceback" not in result.output, result.output
    if result.exit_code == 0:
        assert out.is_file() and 0 <= _bars_of(out) <= (int(value) if option == "--bars" else 2) + 1
    else:
        assert result.exit_code == 2, result.output
        assert not out.exists()


@CHECKED
@given(
    valence=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    arousal=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    quadrant=st.one_of(st.none(), st.sampled_from(["Q1", "q4", "Q5", "", 3, 0, "happy"])),
    bars=st.one_of(st.none(), st.integers(-5, 6), st.just(True), st.just(2.5)),
)
@example(valence=7.5, arousal=8.0, quadrant=None, bars=None)  # taken
@example(valence=None, arousal=None, quadrant="Q1", bars=2)
def test_the_api_compose_takes_a_value_in_range_or_raises_value_error(
    project, tmp_path, valence, arousal, quadrant, bars
):
    out = tmp_path / "api.mid"
    out.unlink(missing_ok=True)
    with load(params=project / "params.yaml") as models:
        try:
            piece = models.compose(quadrant, valence=valence, arousal=arousal, bars=bars, out=out)
        except ValueError as error:
            assert str(error) and "\n" not in str(error)
            assert not out.exists()
            return
    assert piece.midi_path == out and out.is_file()
    assert _bars_of(out) <= (bars or load_params(project / "params.yaml").generation.bars) + 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fps=NUMBERS)
@example(fps="24")  # taken
@example(fps="241")
@example(fps="1.0")  # taken as 1
def test_every_soundtrack_option_is_taken_in_range_or_refused_in_one_line(project, tmp_path, fps):
    stills, out = tmp_path / "stills", tmp_path / "out"
    if not stills.is_dir():
        for index in range(2):
            photo(stills / f"s{index}.jpg")
    shutil.rmtree(out, ignore_errors=True)
    command = ["soundtrack", str(stills), "--out", str(out), "--fps", fps, "--params", str(project / "params.yaml")]
    result = runner.invoke(full_app, command)
    assert "Traceback" not in result.output and "No such" not in result.output, result.output
    if result.exit_code != 0:
        assert result.exit_code == 2, result.output
        assert not out.exists()
        return
    cues = json.loads((out / "stills.cues.json").read_text())
    rate = int(float(fps))  # typer takes an integral spelling such as "1.0" as the integer
    assert cues["fps"] == rate and len(cues["scenes"]) == 2
    for scene in cues["scenes"]:
        assert 0 <= scene["start_s"] < scene["end_s"] <= cues["duration_s"]
        assert all(int(timecode.split(":")[-1]) < rate for timecode in (scene["start_timecode"], scene["end_timecode"]))


@pytest.fixture(autouse=True)
def _no_models_home(monkeypatch):
    monkeypatch.delenv("EMOSCORE_MODELS", raising=False)
