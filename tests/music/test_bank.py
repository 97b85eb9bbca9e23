"""The note-bank renderer held to FluidSynth's own renders of the same MIDI files: the player's timing to the
sample (tempo changes, the sustain pedal, a key struck again, two channels), velocities, releases and the file's
length; its torch path held to its NumPy path; the bank's cache; a bad file costing only its own audio."""

import json
import subprocess
import sys
from pathlib import Path

import miditoolkit
import numpy as np
import pytest
import soundfile

from emoscore.config import RenderParams
from emoscore.music.audio import bank_for, render_many
from emoscore.music.bank import NoteBank
from emoscore.music.fidelity import compare, signal_to_residual
from emoscore.music.overlap import render_piece
from emoscore.music.overlap_torch import render_together
from emoscore.music.playback import schedule
from emoscore.music.render import OPUS_RATE, RenderUnavailable, find_soundfont, renderer_available

pytestmark = pytest.mark.skipif(not renderer_available(), reason="FluidSynth or a General MIDI SoundFont is missing")


def hard_midi(path: Path, seed: int = 0) -> Path:
    """What a transcription throws at a player: tempo changes mid-piece, a pedalled passage, a key struck again while
    it sounds, two tracks (channels), velocities from ppp to fff, notes from 30 ms to 3 s, 384 ticks per beat."""
    rng = np.random.default_rng(seed)
    midi = miditoolkit.MidiFile(ticks_per_beat=384)
    midi.tempo_changes = [miditoolkit.TempoChange(bpm, tick) for bpm, tick in ((97, 0), (141, 2300), (63, 5100))]
    for track in range(2):
        piano = miditoolkit.Instrument(program=0)
        tick = 17 * track
        for _ in range(40):
            length = int(rng.choice([12, 96, 192, 700, 1400]))
            pitch = int(rng.integers(24 + 30 * track, 70 + 30 * track))
            piano.notes.append(miditoolkit.Note(int(rng.integers(8, 128)), pitch, tick, tick + length))
            if rng.random() < 0.2:  # the same key again before it ends
                again = miditoolkit.Note(int(rng.integers(30, 110)), pitch, tick + length // 2, tick + length)
                piano.notes.append(again)
            tick += int(rng.integers(40, 300))
        if track == 0:
            piano.control_changes = [miditoolkit.ControlChange(64, 100, 1000), miditoolkit.ControlChange(64, 0, 3200)]
        midi.instruments.append(piano)
    midi.dump(str(path))
    return path


@pytest.fixture(scope="module")
def bank():
    return bank_for(RenderParams(), 44100)


def test_the_bank_renders_what_fluidsynth_renders(bank, tmp_path):
    """The notes alone match FluidSynth to 35 dB and more; with the reverb, the bank is as close to FluidSynth as
    FluidSynth is to itself started 1.45 s later (its reverb's delay lines are modulated), on both measures."""
    for seed in range(2):
        figures = compare(hard_midi(tmp_path / f"hard{seed}.mid", seed), bank, find_soundfont())
        assert figures["srr_dry_db"] >= 35, figures
        assert figures["srr_db"] >= min(figures["srr_fluidsynth_late_db"], 25), figures
        assert figures["log_mel_db"] <= 1.0, figures
        assert abs(figures["length_difference_s"]) <= 0.1, figures


def test_a_late_note_off_is_where_the_player_puts_it(bank, tmp_path):
    """One block early or late is audible as a phase error: the onsets found in the render are the schedule's."""
    path = hard_midi(tmp_path / "timing.mid", 3)
    piece = schedule(path, 44100)
    shifted = render_piece(bank, piece)
    for offset in (-64, 64):
        moved = type(piece)(piece.keys, piece.velocities, piece.on + offset, piece.off + offset, piece.last_event)
        assert signal_to_residual(shifted, render_piece(bank, moved)) < 10


def test_torch_renders_a_batch_as_numpy_renders_each_piece(bank, tmp_path):
    pieces = [schedule(hard_midi(tmp_path / f"p{i}.mid", i), 44100) for i in range(3)]
    together = render_together(bank, pieces, "cpu")
    for piece, frames in zip(pieces, together, strict=True):
        alone = render_piece(bank, piece)
        assert frames.shape == alone.shape
        assert signal_to_residual(alone, frames) > 100  # float32 rounding, nothing else


def test_a_saved_bank_loads_equal_and_a_broken_one_is_named(bank, tmp_path):
    bank.save(tmp_path / "copy", {"test": True})
    again = NoteBank.load(tmp_path / "copy")
    assert np.array_equal(again.release, bank.release) and np.array_equal(again.starts, bank.starts)
    assert np.abs(again.audio - bank.audio).max() <= np.abs(bank.audio).max() / 2**14  # 16 bits per note
    meta = json.loads((tmp_path / "copy" / "bank.json").read_text())
    meta["format"] = -1
    (tmp_path / "copy" / "bank.json").write_text(json.dumps(meta))
    with pytest.raises(RenderUnavailable, match="copy"):
        NoteBank.load(tmp_path / "copy")


def test_a_given_bank_is_used_as_it_is_and_its_rate_checked(bank, tmp_path):
    bank.save(tmp_path / "given", {})
    render = RenderParams(bank=tmp_path / "given", soundfont=tmp_path / "no.sf2")  # no SoundFont needed
    midi = hard_midi(tmp_path / "piece.mid")
    made = render_many([midi, midi], [tmp_path / "a.flac", tmp_path / "b.opus"], render)
    assert made[0] == tmp_path / "a.flac" and soundfile.info(made[0]).samplerate == 44100
    assert isinstance(made[1], RenderUnavailable) and "48000 Hz" in str(made[1])


def test_one_bad_midi_file_costs_only_its_own_audio(tmp_path):
    good = hard_midi(tmp_path / "good.mid")
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    outs = [tmp_path / "good.opus", tmp_path / "broken.opus", tmp_path / "again.opus"]
    made = render_many([good, broken, good], outs, RenderParams())
    assert made[0] == outs[0] and made[2] == outs[2]
    assert isinstance(made[1], RenderUnavailable) and "broken.mid" in str(made[1])
    info = soundfile.info(outs[0])
    assert info.samplerate == OPUS_RATE and info.channels == 2
    assert outs[0].stat().st_size < 0.6e6 * info.duration / 16  # under 0.6 MB per 16 s
    decoded, _ = soundfile.read(outs[0])
    assert np.sqrt(np.mean(decoded**2)) > 0.01  # it sounds
    assert not list(tmp_path.glob(".*tmp*"))


def test_forked_workers_render_after_the_parent_used_torch_threads(tmp_path):
    """The reverb's FFT runs on torch: a worker forked from a parent whose torch ran on two threads still renders
    (run in a child process, so that a hang fails the test instead of stopping the suite)."""
    midis = [hard_midi(tmp_path / f"w{i}.mid", i) for i in range(2)]
    script = f"""
import torch
from pathlib import Path
from emoscore.config import RenderParams
from emoscore.music.audio import render_files
torch.set_num_threads(2)
torch.fft.rfft(torch.randn(4, 1 << 18))
jobs = [(Path(m), Path(m).with_suffix(".flac")) for m in {[str(m) for m in midis]!r}]
summary = render_files(jobs, RenderParams(), workers=2, progress=False, batch=1)
assert summary.rendered == 2, summary
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=240)
    assert all(m.with_suffix(".flac").is_file() for m in midis)


def test_the_decoded_notes_are_kept_beside_the_flac_and_mapped_by_later_loads(bank, tmp_path):
    """The first load decodes the FLAC and keeps the float32 notes; later loads (every scoring worker's) map that
    file read-only, equal to a fresh decode; a damaged copy is decoded again, never used."""
    from emoscore.cache import default_cache
    from emoscore.music.bank import DECODED_NOTES, bank_folder

    source = bank_folder(find_soundfont(), 44100, default_cache())
    folder = tmp_path / "bank"
    folder.mkdir()
    for name in ("notes.flac", "arrays.npz", "bank.json"):
        (folder / name).write_bytes((source / name).read_bytes())
    decoded = NoteBank.load(folder)
    assert decoded.audio.flags.writeable and (folder / DECODED_NOTES).is_file()
    mapped = NoteBank.load(folder)
    assert isinstance(mapped.audio, np.memmap) and not mapped.audio.flags.writeable
    np.testing.assert_array_equal(mapped.audio, decoded.audio)
    np.testing.assert_array_equal(mapped.audio, bank.audio)
    (folder / DECODED_NOTES).write_bytes(b"damaged")
    again = NoteBank.load(folder)
    assert again.audio.flags.writeable
    np.testing.assert_array_equal(again.audio, decoded.audio)
    assert isinstance(NoteBank.load(folder).audio, np.memmap)


def test_a_cached_bank_of_an_older_format_is_built_again(bank, tmp_path, monkeypatch):
    from emoscore.music import audio
    from emoscore.music.bank import FORMAT, bank_folder

    folder = bank_folder(find_soundfont(), 44100, tmp_path)
    bank.save(folder, {})
    meta = json.loads((folder / "bank.json").read_text())
    built = []

    def build(font, rate, progress):
        built.append(rate)
        return bank

    monkeypatch.setattr(audio, "build_bank", build)
    load = audio.note_bank.__wrapped__  # not the process's cached bank
    assert load(None, 44100, tmp_path).release.shape == bank.release.shape and built == []  # current: read
    (folder / "bank.json").write_text(json.dumps(meta | {"format": FORMAT - 1}))
    load(None, 44100, tmp_path)
    assert built == [44100]  # an older emoscore's bank is not an error: it is built again, in this format
    assert json.loads((folder / "bank.json").read_text())["format"] == FORMAT


def test_the_release_is_measured_on_both_sides_of_each_velocity_layer(bank, tmp_path):
    """FluidR3's piano releases faster below each of its velocity layers' edges; a soft short note rendered between
    two edges matches FluidSynth as well as a loud one (interpolating across an edge missed it by 10–20 dB)."""
    edges = [v for v in bank.voice_velocities if v + 1 in bank.voice_velocities]
    assert len(edges) >= 4 and {64, 72} <= set(edges)  # FluidR3: every 8 velocities from 64
    for velocity in (62, 78):
        midi = miditoolkit.MidiFile(ticks_per_beat=480)
        midi.tempo_changes = [miditoolkit.TempoChange(122.0, 0)]
        piano = miditoolkit.Instrument(program=0)
        piano.notes = [miditoolkit.Note(velocity, 62, 480 * i, 480 * i + 60) for i in range(4)]
        midi.instruments = [piano]
        midi.dump(str(tmp_path / "short.mid"))
        assert compare(tmp_path / "short.mid", bank, find_soundfont())["srr_dry_db"] >= 38
