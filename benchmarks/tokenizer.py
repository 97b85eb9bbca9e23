"""The MIDI → CP tokenizer against the files it reads."""

from __future__ import annotations

from pathlib import Path

import miditoolkit

from benchmarks.common import record, timed
from emoscore.music.cp import encode_midi


def bench_tokenizer(midi_folder: Path) -> None:
    """MIDI files/s of our CP encoder vs miditok's CPWord on the same files."""
    try:
        from miditok import CPWord, TokenizerConfig
    except ImportError:
        print("  tokenizer: skipped (pip install miditok to compare)")
        return
    files = sorted(midi_folder.glob("*.mid"))
    other = CPWord(TokenizerConfig(use_chords=True, use_tempos=True, use_programs=False))
    ours_time, ours = timed(lambda: [encode_midi(f) for f in files])
    theirs_time, theirs = timed(lambda: [other.encode(f) for f in files])
    # same notes: both see every note of every file (our Note steps vs their Pitch tokens)
    our_notes = sum(int((steps[:, 3] == 2).sum()) for steps in ours)
    their_notes = sum(
        sum(1 for word in track.tokens if any(str(token).startswith("Pitch_") for token in word))
        for tracks in theirs
        for track in (tracks if isinstance(tracks, list) else [tracks])
    )
    # the truth from the files: every piano note, and the distinct (16th onset, pitch) pairs we keep by design
    raw, distinct = 0, 0
    for file in files:
        midi = miditoolkit.MidiFile(str(file))
        notes = [n for track in midi.instruments if not track.is_drum for n in track.notes if 21 <= n.pitch <= 108]
        raw += len(notes)
        distinct += len({(round(n.start / (midi.ticks_per_beat / 4)), n.pitch) for n in notes})
    assert (our_notes, their_notes) == (distinct, raw), (our_notes, distinct, their_notes, raw)
    ratio = theirs_time / ours_time
    record(
        "tokenizer",
        "files/s ours ÷ files/s miditok CPWord",
        ratio,
        "≥ 1×",
        ratio >= 1,
        f"{len(files)} EMOPIA-format files; both sides checked against the notes in the files",
    )
