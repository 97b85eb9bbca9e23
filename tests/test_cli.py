"""The `emoscore` command line: tokenizer round trip, generation, and clear errors."""

import json

import miditoolkit
import pytest
import torch
from typer.testing import CliRunner

from emoscore import __version__
from emoscore.cli.app import app
from emoscore.music.model import CPTransformer
from emoscore.music.render import renderer_available
from emoscore.music.vocabulary import VOCABULARY
from tests.helpers import SMALL
from tests.music.test_cp import write_midi

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "music.pt"
    CPTransformer(SMALL).save(path, VOCABULARY)
    return path


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"emoscore {__version__}"


def test_tokens_encode_then_decode(tmp_path):
    source = write_midi(tmp_path / "song.mid", [(0, 480, 60, 80), (480, 720, 64, 90), (1920, 2400, 67, 100)])
    result = runner.invoke(
        app, ["tokens", "encode", str(source), "--out", str(tmp_path / "t.json"), "--quadrant", "Q2"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "t.json").read_text())
    assert document["families"][3] == "type" and document["steps"][0][7] == 2
    result = runner.invoke(app, ["tokens", "decode", str(tmp_path / "t.json"), "--out", str(tmp_path / "back.mid")])
    assert result.exit_code == 0, result.output
    notes = miditoolkit.MidiFile(str(tmp_path / "back.mid")).instruments[0].notes
    assert [(n.pitch, n.start // 120, (n.end - n.start) // 120) for n in notes] == [(60, 0, 4), (64, 4, 2), (67, 16, 4)]


def test_tokens_encode_prints_names(tmp_path):
    source = write_midi(tmp_path / "song.mid", [(0, 480, 60, 80)])
    result = runner.invoke(app, ["tokens", "encode", str(source), "--names"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["names"][-2]["pitch"] == "Note_Pitch_60"


def test_bad_inputs_give_clear_errors(tmp_path, checkpoint):
    (tmp_path / "x.mid").write_text("hello")
    result = runner.invoke(app, ["tokens", "encode", str(tmp_path / "x.mid")])
    assert result.exit_code == 2 and "not a MIDI file" in result.output
    (tmp_path / "t.json").write_text(json.dumps({"steps": [[0, 0, 0, 9, 0, 0, 0, 0]]}))
    result = runner.invoke(app, ["tokens", "decode", str(tmp_path / "t.json"), "--out", str(tmp_path / "o.mid")])
    assert result.exit_code == 2 and "type value 9" in result.output
    out = str(tmp_path / "p.mid")
    result = runner.invoke(app, ["generate", "-q", "Q7", "--out", out, "--model", str(checkpoint), "--params", "none"])
    assert result.exit_code == 2 and "unknown quadrant" in result.output


def test_generate_writes_a_playable_midi(tmp_path, checkpoint):
    out = tmp_path / "piece.mid"
    args = [
        "generate",
        "--quadrant",
        "Q2",
        "--bars",
        "3",
        "--seed",
        "7",
        "--out",
        str(out),
        "--model",
        str(checkpoint),
        "--params",
        str(tmp_path / "absent.yaml"),
        "--temperature",
        "pitch=0.8",
        "--top-p",
        "duration=0.5",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    midi = miditoolkit.MidiFile(str(out))
    assert midi.instruments[0].program == 0 and midi.instruments[0].notes
    assert max(n.start for n in midi.instruments[0].notes) < 3 * 16 * 120
    again = tmp_path / "again.mid"
    assert runner.invoke(app, [str(again) if a == str(out) else a for a in args]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()  # same seed, same piece
    result = runner.invoke(app, [*args, "--top-p", "pitch=7"])
    assert result.exit_code == 2 and "top_p" in result.output


def test_generate_from_valence_and_arousal(tmp_path, checkpoint):
    base = ["generate", "--bars", "2", "--model", str(checkpoint), "--params", "none"]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "a.mid"), "--valence", "8", "--arousal", "9.5"])
    assert result.exit_code == 0, result.output
    assert "Q1 (intensity +0.39)" in " ".join(result.output.split())
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "b.mid"), "--valence", "2", "--arousal", "1"])
    assert result.exit_code == 0 and "Q3 (intensity -0.50)" in " ".join(result.output.split())
    for wrong, says in (
        (["--valence", "8"], "go together"),
        (["--valence", "8", "--arousal", "9", "-q", "Q1"], "not both"),
        (["--valence", "11", "--arousal", "9"], "1–10"),
        ([], "say what emotion"),
    ):
        result = runner.invoke(app, [*base, "--out", str(tmp_path / "c.mid"), *wrong])
        assert result.exit_code == 2 and says in " ".join(result.output.split()), result.output


@pytest.mark.skipif(not renderer_available(), reason="FluidSynth or a General MIDI SoundFont is not installed")
def test_generate_renders_audio(tmp_path, checkpoint):
    wav = tmp_path / "piece.wav"
    args = [
        "generate",
        "-q",
        "Q4",
        "--bars",
        "2",
        "--out",
        str(tmp_path / "p.mid"),
        "--audio",
        str(wav),
        "--model",
        str(checkpoint),
        "--params",
        str(tmp_path / "absent.yaml"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 10_000
    flac = tmp_path / "piece.flac"
    assert runner.invoke(app, [str(flac) if a == str(wav) else a for a in args]).exit_code == 0
    assert flac.read_bytes()[:4] == b"fLaC" and flac.stat().st_size < wav.stat().st_size / 2
    result = runner.invoke(app, [str(tmp_path / "p.aiff") if a == str(wav) else a for a in args])
    assert result.exit_code == 2 and ".flac" in result.output


def test_tokens_encode_tracks_the_beats_of_a_transcription_unless_told_not_to(tmp_path):
    from tests.music.test_timing import a_song, transcribe

    take = transcribe(a_song(), tmp_path / "take.mid")
    steps = {}
    for timing in ("auto", "file"):
        out = tmp_path / f"{timing}.json"
        result = runner.invoke(app, ["tokens", "encode", str(take), "--timing", timing, "--out", str(out)])
        assert result.exit_code == 0, result.output
        steps[timing] = json.loads(out.read_text())["steps"]
    bars = {timing: sum(1 for s in words if s[3] == 1 and s[2] == 1) for timing, words in steps.items()}
    assert bars["auto"] == 13  # 12 bars and the pickup's, at the tracked 84 BPM
    assert bars["file"] != bars["auto"]  # at the nominal 120 BPM the same notes span other bars
    result = runner.invoke(app, ["tokens", "encode", str(take), "--timing", "sometimes"])
    assert result.exit_code == 2 and "--timing" in result.output


def test_generate_on_an_absent_gpu_says_so(tmp_path, checkpoint):
    args = [
        "generate",
        "-q",
        "Q1",
        "--bars",
        "1",
        "--out",
        str(tmp_path / "g.mid"),
        "--model",
        str(checkpoint),
        "--params",
        "none",
        "--device",
        "cuda:7",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "cuda:7" in " ".join(result.output.split())
    assert not (tmp_path / "g.mid").exists()
    args[-1] = "cpu"
    assert runner.invoke(app, args).exit_code == 0
