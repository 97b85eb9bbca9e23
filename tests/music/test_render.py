"""Rendering with one synthesizer per process: every format decodes, a file sounds the same whatever was rendered
before it, and a broken MIDI file is an error that names it."""

from pathlib import Path

import miditoolkit
import numpy as np
import pytest
import soundfile

from emoscore.music.render import OPUS_RATE, RenderUnavailable, Synthesizer, find_soundfont, renderer_available

pytestmark = pytest.mark.skipif(not renderer_available(), reason="FluidSynth or a General MIDI SoundFont is missing")


def a_midi(path: Path, pitches: list[int], seconds_per_note: float = 0.5) -> Path:
    """One piano note after another at 120 BPM (480 ticks per beat = 0.5 s)."""
    midi = miditoolkit.MidiFile(ticks_per_beat=480)
    piano = miditoolkit.Instrument(program=0)
    ticks = int(seconds_per_note * 960)
    piano.notes = [miditoolkit.Note(90, p, i * ticks, (i + 1) * ticks) for i, p in enumerate(pitches)]
    midi.instruments.append(piano)
    midi.tempo_changes = [miditoolkit.TempoChange(120, 0)]
    midi.dump(str(path))
    return path


@pytest.fixture(scope="module")
def synthesizer():
    return Synthesizer(find_soundfont())


def test_a_file_sounds_the_same_whatever_was_rendered_before_it(synthesizer, tmp_path):
    first = a_midi(tmp_path / "first.mid", [60, 64, 67])
    loud = a_midi(tmp_path / "loud.mid", [36, 48, 84, 96, 40], seconds_per_note=0.3)
    alone = synthesizer.samples(first)
    synthesizer.samples(loud)  # would leave a reverb tail and a timer phase in a reused synthesizer
    assert np.array_equal(synthesizer.samples(first), alone)
    notes = 3 * 0.5 * synthesizer.sample_rate
    assert notes < len(alone) < notes + 5 * synthesizer.sample_rate  # the notes, then the piano's release
    rms = [float(np.sqrt(np.mean(part.astype(float) ** 2))) for part in (alone[: int(notes)], alone[-4410:])]
    assert rms[0] > 300 and rms[1] < rms[0] / 10  # audible, and the file ends as the sound dies away


@pytest.mark.parametrize(
    ("suffix", "container", "rate"),
    [
        (".flac", "FLAC", 44100),
        (".wav", "WAV", 44100),
        (".ogg", "OGG", 44100),
        (".opus", "OGG", OPUS_RATE),
        (".mp3", "MP3", 44100),
    ],
)
def test_every_format_decodes_to_the_piece(synthesizer, tmp_path, suffix, container, rate):
    from emoscore.music.audio import render_audio

    midi = a_midi(tmp_path / "piece.mid", [60, 62, 64, 65])
    out = render_audio(midi, tmp_path / f"piece{suffix}")
    info = soundfile.info(out)
    assert info.format == container and info.samplerate == rate and info.channels == 2
    assert abs(info.duration - len(synthesizer.samples(midi)) / 44100) < 0.1  # lossy codecs pad a little
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_broken_midi_file_is_an_error_naming_it(synthesizer, tmp_path):
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(RenderUnavailable, match=r"broken\.mid"):
        synthesizer.render(broken, tmp_path / "broken.flac")
    assert not (tmp_path / "broken.flac").exists()
    with pytest.raises(ValueError, match=r"\.flac"):
        synthesizer.render(a_midi(tmp_path / "ok.mid", [60]), tmp_path / "ok.aiff")
