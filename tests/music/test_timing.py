"""Beats from the notes: transcriptions at a nominal 120 BPM get their true tempo and bar lines back, and files
that already carry a true tempo map are left exactly as they are."""

import miditoolkit
import numpy as np
import pytest

from emoscore.music.cp import encode_midi, load_notes, read_midi
from emoscore.music.timing import has_nominal_timing, on_grid_share, track

BPM = 84.0


def a_song(bars=12, pickup=True):
    """Notes (onset in quarter notes, pitch, length in quarters, velocity) with clear 4/4 cues: a bass note and
    an accent on every downbeat, a chord change per bar, eighth-note melody; a one-beat pickup when asked."""
    progression = [(48, 52, 55), (45, 48, 52), (41, 45, 48), (43, 47, 50)]  # C, Am, F, G
    notes, start = [], 1.0 if pickup else 0.0
    if pickup:
        notes += [(0.0, 67, 0.5, 70), (0.5, 69, 0.5, 70)]
    for bar in range(bars):
        chord = progression[bar % 4]
        t = start + 4 * bar
        notes.append((t, chord[0] - 12, 4.0, 100))
        notes += [(t + beat, pitch, 0.9, 80 if beat else 92) for beat in (0, 1, 2, 3) for pitch in chord[1:]]
        notes += [(t + 0.5 * k, 72 + (k * 5 + bar) % 7, 0.5, 88 if k == 0 else 72) for k in range(8)]
    return notes


def transcribe(notes, path, bpm=BPM, seed=0):
    """Write as GiantMIDI transcriptions are: 384 ticks per beat at a nominal 120 BPM, onsets in seconds, with
    a few milliseconds of jitter, one piano track and the sustain pedal."""
    rng = np.random.default_rng(seed)
    piano = miditoolkit.Instrument(program=0, name="Piano")
    for onset, pitch, length, velocity in notes:
        start = onset * 60 / bpm + rng.normal(0, 0.008)
        piano.notes.append(
            miditoolkit.Note(
                velocity, pitch, max(0, round(start * 768)), round((start + 0.9 * length * 60 / bpm) * 768)
            )
        )
    piano.control_changes = [miditoolkit.ControlChange(64, 100, 10), miditoolkit.ControlChange(64, 0, 5000)]
    midi = miditoolkit.MidiFile(ticks_per_beat=384)
    midi.instruments.append(piano)
    midi.tempo_changes = [miditoolkit.TempoChange(120.0, 0)]
    midi.dump(str(path))
    return path


def quantised(notes, path, bpm=97.0, ticks_per_beat=480):
    midi = miditoolkit.MidiFile(ticks_per_beat=ticks_per_beat)
    piano = miditoolkit.Instrument(program=0, name="Piano")
    piano.notes = [
        miditoolkit.Note(v, p, round(o * ticks_per_beat), round((o + d) * ticks_per_beat)) for o, p, d, v in notes
    ]
    midi.instruments.append(piano)
    midi.tempo_changes = [miditoolkit.TempoChange(bpm, 0)]
    midi.dump(str(path))
    return path


def bar_positions(notes, first_downbeat):
    """(16th position within the bar, pitch) of the song's notes; bar lines fall on first_downbeat + 4k."""
    return {(round((onset - first_downbeat) * 4) % 16, pitch) for onset, pitch, _, _ in notes}


@pytest.mark.parametrize("pickup", [False, True])
def test_a_transcription_gets_its_tempo_and_bar_lines_back(tmp_path, pickup):
    song = a_song(pickup=pickup)
    path = transcribe(song, tmp_path / "take.mid")
    midi = read_midi(path)
    assert has_nominal_timing(midi) and on_grid_share(midi) < 0.5
    grid = track(midi)
    assert abs(grid.bpm - BPM) / BPM < 0.03
    notes, tempi, tracked = load_notes(path, "auto")
    assert tracked
    assert all(abs(bpm - BPM) < 3 for _, bpm in tempi)
    got = {(note.onset % 16, note.pitch) for note in notes}
    expected = bar_positions(song, 1.0 if pickup else 0.0)
    assert len(got & expected) / len(expected) > 0.95
    # the file's own (nominal) timing puts the same notes all over the grid
    raw, _, untracked = load_notes(path, "file")
    assert not untracked
    assert len({(n.onset % 16, n.pitch) for n in raw} & expected) / len(expected) < 0.6


def test_a_file_with_a_true_tempo_map_is_left_exactly_as_it_is(tmp_path):
    path = quantised(a_song(pickup=False), tmp_path / "score.mid")
    assert not has_nominal_timing(read_midi(path))
    _, tempi, tracked = load_notes(path, "auto")
    assert not tracked and len(tempi) == 1 and abs(tempi[0][1] - 97.0) < 1e-3
    assert np.array_equal(encode_midi(path, timing="auto"), encode_midi(path, timing="file"))


def test_beat_tracking_can_be_forced_and_too_little_music_is_kept_as_is(tmp_path):
    path = quantised(a_song(), tmp_path / "score.mid")
    _, tempi, tracked = load_notes(path, "beat_track")
    assert tracked and all(abs(bpm - 97.0) < 3 for _, bpm in tempi)
    short = quantised([(0.0, 60, 1.0, 80), (1.0, 62, 1.0, 80)], tmp_path / "short.mid")
    assert load_notes(short, "beat_track")[2] is False
