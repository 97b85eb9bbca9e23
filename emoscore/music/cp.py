"""Compound-word (CP) tokens for solo piano, EMOPIA-compatible: MIDI ⇄ an int array of shape [steps, 8].

One step is a tuple over the families `tempo, chord, bar-beat, type, pitch, duration, velocity, emotion`; index 0
of every family but `type` means "not used by this step". A piece reads

    Emotion(Q) · Bar · Beat(pos, tempo, chord) · Note · Note · Beat · Note · … · Bar · … · EOS

Quantisation (what a round trip keeps): onsets on a 16th-note grid in 4/4 (16 positions a bar, from the file's
ticks per beat); pitch exact within the 88 piano keys (notes outside are dropped and counted); duration in 16ths,
1–16 (longer notes are cut at one bar); velocity in 65 bins of width 2 over 0–128; tempo in 65 bins of 3 BPM
over 32–224. Notes of all non-drum tracks are merged; a repeated (onset, pitch) keeps its longest note.
The tempo is restated at the first beat word of every bar (CONTI elsewhere unless it changes), so the model sees
it often enough to learn it per emotion. Chords (`root_quality`, per quarter-note beat, from the sounding pitch
classes) are context for the model and are not turned back into notes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import miditoolkit
import numpy as np
from chorder import Dechorder

from emoscore.errors import InvalidMidi
from emoscore.music.families import BAR_BEAT, CHORD, DURATION, EMOTION, FAMILIES, PITCH, TEMPO, TYPE, VELOCITY
from emoscore.music.timing import Timing, apply_timing
from emoscore.music.vocabulary import (
    BAR,
    CHORD_QUALITIES,
    CHORD_SYMBOLS,
    CONTI,
    HIGHEST_PITCH,
    LOWEST_PITCH,
    MAX_DURATION,
    MAX_VELOCITY_BIN,
    NO_CHORD,
    PITCH_NAMES,
    POSITIONS_PER_BAR,
    POSITIONS_PER_BEAT,
    QUADRANTS,
    TEMPO_MAX,
    TEMPO_MIN,
    TEMPO_STEP,
    TYPE_EMOTION,
    TYPE_EOS,
    TYPE_METRICAL,
    TYPE_NOTE,
    VELOCITY_STEP,
)

ABSURD_TEMPO = (10.0, 1000.0)


@dataclass(frozen=True)
class Note:
    """A note in 16th-note grid units: onset position (from the piece start), pitch, duration, velocity."""

    onset: int
    pitch: int
    duration: int
    velocity: int


def tempo_bin(bpm: float) -> int:
    """Tempo token value for a BPM (clipped to 32–224)."""
    return 2 + int(np.clip(round((bpm - TEMPO_MIN) / TEMPO_STEP), 0, (TEMPO_MAX - TEMPO_MIN) // TEMPO_STEP))


def tempo_of(value: int) -> float:
    """BPM of a tempo token value."""
    return float(TEMPO_MIN + (value - 2) * TEMPO_STEP)


def velocity_bin(velocity: int) -> int:
    """Velocity token value (1-based) for a MIDI velocity."""
    return 1 + int(np.clip(round(velocity / VELOCITY_STEP), 0, MAX_VELOCITY_BIN))


def velocity_of(value: int) -> int:
    """MIDI velocity of a velocity token value (at least 1, so the note sounds)."""
    return max(1, min(127, (value - 1) * VELOCITY_STEP))


def quantize_velocity(velocity: int) -> int:
    """What a velocity becomes after a round trip."""
    return velocity_of(velocity_bin(velocity))


def read_midi(path: Path | str) -> miditoolkit.MidiFile:
    """Open a MIDI file or raise InvalidMidi saying why (empty, not MIDI, truncated)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InvalidMidi(path, f"cannot read: {error.strerror or error}", "unreadable") from None
    if size == 0:
        raise InvalidMidi(path, "empty file (0 bytes)", "empty_file")
    try:
        midi = miditoolkit.MidiFile(str(path))
    except Exception as error:  # mido raises OSError, EOFError, ValueError, KeyError, IndexError… on bad bytes
        with path.open("rb") as handle:
            magic = handle.read(4)
        kind = "not_midi" if magic != b"MThd" else "corrupt"
        reason = "not a MIDI file" if kind == "not_midi" else f"truncated or corrupt MIDI: {error}"
        raise InvalidMidi(path, reason, kind) from None
    if midi.ticks_per_beat <= 0:
        raise InvalidMidi(path, f"invalid ticks per beat {midi.ticks_per_beat}", "corrupt")
    return midi


def midi_notes(midi: miditoolkit.MidiFile, source: str = "<midi>") -> tuple[list[Note], list[tuple[int, float]]]:
    """Grid notes of all non-drum tracks and the (position, bpm) tempo changes; InvalidMidi when nothing usable."""
    instruments = [instrument for instrument in midi.instruments if not instrument.is_drum]
    if midi.instruments and not instruments:
        raise InvalidMidi(source, "drum tracks only", "drums_only")
    raw = [note for instrument in instruments for note in instrument.notes]
    if not raw:
        raise InvalidMidi(source, "no notes", "no_notes")
    ticks_per_position = midi.ticks_per_beat / POSITIONS_PER_BEAT
    tempi = []
    for change in sorted(midi.tempo_changes, key=lambda c: c.time):
        if not ABSURD_TEMPO[0] <= change.tempo <= ABSURD_TEMPO[1] or not math.isfinite(change.tempo):
            raise InvalidMidi(source, f"absurd tempo {change.tempo:.1f} BPM at tick {change.time}", "absurd_tempo")
        tempi.append((round(change.time / ticks_per_position), float(change.tempo)))
    longest: dict[tuple[int, int], Note] = {}
    for note in raw:
        if not LOWEST_PITCH <= note.pitch <= HIGHEST_PITCH or note.velocity <= 0:
            continue
        onset = round(note.start / ticks_per_position)
        duration = int(np.clip(round((note.end - note.start) / ticks_per_position), 1, MAX_DURATION))
        key = (onset, note.pitch)
        if key not in longest or duration > longest[key].duration:
            longest[key] = Note(onset, note.pitch, duration, quantize_velocity(note.velocity))
    if not longest:
        raise InvalidMidi(source, "no notes within the piano range", "no_notes")
    return sorted(longest.values(), key=lambda n: (n.onset, n.pitch)), tempi or [(0, 120.0)]


def beat_chords(notes: Sequence[Note], beats: int) -> np.ndarray:
    """Chord value per quarter-note beat, recognised by chorder (the CP/EMOPIA pipelines' chord recogniser).

    chorder scores root/quality templates over one- and two-beat windows and keeps the better; its qualities are
    the eleven of CHORD_QUALITIES, so every answer is a symbol of the vocabulary (N_N where it finds no chord).
    """
    midi = miditoolkit.MidiFile(ticks_per_beat=POSITIONS_PER_BEAT)
    piano = miditoolkit.Instrument(program=0, is_drum=False, name="piano")
    piano.notes = [miditoolkit.Note(n.velocity, n.pitch, n.onset, n.onset + n.duration) for n in notes]
    midi.instruments.append(piano)
    midi.max_tick = max((n.onset + n.duration for n in notes), default=0)
    chords = np.full(beats, NO_CHORD)
    for beat, chord in enumerate(Dechorder.dechord(midi)[:beats]):
        if chord.is_complete():
            symbol = f"{PITCH_NAMES[chord.root_pc]}_{chord.quality}"
            chords[beat] = NO_CHORD + 1 + CHORD_SYMBOLS.index(symbol)
    return chords


def bar_starts(words: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    """Indices of the Bar words among a piece's steps."""
    steps = np.asarray(words, dtype=np.int64).reshape(-1, len(FAMILIES))
    return np.flatnonzero((steps[:, TYPE] == TYPE_METRICAL) & (steps[:, BAR_BEAT] == BAR))


def emotion_word(emotion: int) -> list[int]:
    """The Emotion step a piece starts with: 1–4 for a quadrant, 0 for unlabeled music (pretraining)."""
    return [0, 0, 0, TYPE_EMOTION, 0, 0, 0, emotion]


def encode_notes(notes: Sequence[Note], tempi: Sequence[tuple[int, float]], emotion: int = 0) -> np.ndarray:
    """CP steps for grid notes: an Emotion word when `emotion` is 1–4, then bars, beats and notes, then EOS."""
    words: list[list[int]] = [emotion_word(emotion)] if emotion else []
    last_onset = max(note.onset for note in notes) if notes else 0
    bars = last_onset // POSITIONS_PER_BAR + 1
    chords = beat_chords(notes, bars * POSITIONS_PER_BAR // POSITIONS_PER_BEAT)
    by_onset: dict[int, list[Note]] = {}
    for note in notes:
        by_onset.setdefault(note.onset, []).append(note)
    tempo_at = sorted(tempi)
    tempo_index, current_tempo, current_chord, last_chord_beat, tempo_bar = 0, None, None, -1, -1
    for bar in range(bars):
        words.append([0, 0, BAR, TYPE_METRICAL, 0, 0, 0, 0])
        for position in range(POSITIONS_PER_BAR):
            onset = bar * POSITIONS_PER_BAR + position
            group = by_onset.get(onset)
            if not group:
                continue
            while tempo_index + 1 < len(tempo_at) and tempo_at[tempo_index + 1][0] <= onset:
                tempo_index += 1
            tempo = tempo_bin(tempo_at[tempo_index][1])
            first_beat_of_bar = bar != tempo_bar
            tempo_value = CONTI if tempo == current_tempo and not first_beat_of_bar else tempo
            current_tempo, tempo_bar = tempo, bar
            beat = onset // POSITIONS_PER_BEAT
            chord_value = CONTI
            if beat != last_chord_beat:
                last_chord_beat = beat
                if chords[beat] != current_chord:
                    chord_value = current_chord = int(chords[beat])
            words.append([tempo_value, chord_value, position + 2, TYPE_METRICAL, 0, 0, 0, 0])
            for note in sorted(group, key=lambda n: n.pitch):
                words.append(
                    [0, 0, 0, TYPE_NOTE, note.pitch - LOWEST_PITCH + 1, note.duration, velocity_bin(note.velocity), 0]
                )
    words.append([0, 0, 0, TYPE_EOS, 0, 0, 0, 0])
    return np.array(words, dtype=np.int64)


def load_notes(path: Path | str, timing: Timing = "file") -> tuple[list[Note], list[tuple[int, float]], bool]:
    """Grid notes and tempo changes of a MIDI file, re-timed to tracked beats when `timing` asks for it (see
    emoscore.music.timing), and whether it was; InvalidMidi names the file and reason when it cannot be used."""
    midi = read_midi(path)
    midi_notes(midi, str(path))  # refuse unusable files (and absurd tempi) before any re-timing
    midi, tracked = apply_timing(midi, timing, str(path))
    notes, tempi = midi_notes(midi, str(path))
    return notes, tempi, tracked


def encode_midi(path: Path | str, emotion: int = 0, timing: Timing = "file") -> np.ndarray:
    """MIDI file → CP steps; InvalidMidi names the file and reason when it cannot be used."""
    notes, tempi, _ = load_notes(path, timing)
    return encode_notes(notes, tempi, emotion)


def step_onsets(words: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    """Each step's onset on the 16th grid: where decode_notes places a note written at that step (a Bar word opens
    position 0 of the next bar, a Beat word its position; steps before the first Bar count as bar 0)."""
    steps = np.asarray(words, dtype=np.int64).reshape(-1, len(FAMILIES))
    metrical = steps[:, TYPE] == TYPE_METRICAL
    bars = metrical & (steps[:, BAR_BEAT] == BAR)
    marks = bars | (metrical & (steps[:, BAR_BEAT] >= 2))
    positions = np.where(bars, 0, steps[:, BAR_BEAT] - 2)
    last = np.maximum.accumulate(np.where(marks, np.arange(len(steps)), -1))
    position = np.where(last >= 0, positions[np.maximum(last, 0)], 0)
    return np.maximum(np.cumsum(bars) - 1, 0) * POSITIONS_PER_BAR + position


def decode_notes(words: np.ndarray) -> tuple[list[Note], list[tuple[int, float]], int]:
    """CP steps → (grid notes, tempo changes, emotion). Tolerates any sequence: out-of-grammar steps are skipped."""
    notes: list[Note] = []
    tempi: list[tuple[int, float]] = []
    emotion = 0
    steps = np.asarray(words, dtype=np.int64)
    onsets = step_onsets(steps)
    for word, onset in zip(steps, onsets.tolist(), strict=True):
        kind = int(word[TYPE])
        if kind == TYPE_EOS:
            break
        if kind == TYPE_EMOTION:
            emotion = int(word[EMOTION]) if 1 <= word[EMOTION] <= len(QUADRANTS) else emotion
        elif kind == TYPE_METRICAL and word[BAR_BEAT] >= 2:
            bpm = tempo_of(int(word[TEMPO])) if word[TEMPO] >= 2 else None
            if bpm is not None and (not tempi or tempi[-1][1] != bpm):
                # the first tempo holds from the start, as in the encoded file; restatements are not changes
                tempi.append((onset if tempi else 0, bpm))
        elif kind == TYPE_NOTE and word[PITCH] >= 1 and word[DURATION] >= 1 and word[VELOCITY] >= 1:
            notes.append(
                Note(onset, int(word[PITCH]) + LOWEST_PITCH - 1, int(word[DURATION]), velocity_of(int(word[VELOCITY])))
            )
    return notes, tempi, emotion


def notes_to_midi(
    notes: Sequence[Note], tempi: Sequence[tuple[int, float]], ticks_per_beat: int = 480
) -> miditoolkit.MidiFile:
    """A one-track piano MIDI file of grid notes."""
    midi = miditoolkit.MidiFile(ticks_per_beat=ticks_per_beat)
    ticks = ticks_per_beat // POSITIONS_PER_BEAT
    piano = miditoolkit.Instrument(program=0, is_drum=False, name="Piano")
    piano.notes = [
        miditoolkit.Note(velocity=n.velocity, pitch=n.pitch, start=n.onset * ticks, end=(n.onset + n.duration) * ticks)
        for n in notes
    ]
    midi.instruments.append(piano)
    changes = list(tempi) or [(0, 120.0)]
    midi.tempo_changes = [miditoolkit.TempoChange(tempo=bpm, time=position * ticks) for position, bpm in changes]
    midi.time_signature_changes = [miditoolkit.TimeSignature(4, 4, 0)]
    return midi


def decode_to_midi(words: np.ndarray, path: Path | str | None = None) -> miditoolkit.MidiFile:
    """CP steps → MIDI (written to `path` when given)."""
    notes, tempi, _ = decode_notes(words)
    midi = notes_to_midi(notes, tempi)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        midi.dump(str(path))
    return midi


def duration_seconds(notes: Sequence[Note], tempi: Sequence[tuple[int, float]]) -> float:
    """Length of the piece in seconds: to the end of its last note, following the tempo changes."""
    if not notes:
        return 0.0
    end = max(note.onset + note.duration for note in notes)
    changes = sorted(tempi) or [(0, 120.0)]
    seconds, position, bpm = 0.0, 0, changes[0][1]
    for at, next_bpm in changes[1:]:
        if at >= end:
            break
        seconds += (at - position) * 60.0 / bpm / POSITIONS_PER_BEAT
        position, bpm = at, next_bpm
    return seconds + (end - position) * 60.0 / bpm / POSITIONS_PER_BEAT


def transpose_steps(words: np.ndarray, semitones: int) -> np.ndarray:
    """CP steps moved by `semitones`: every Note's pitch and every chord's root (its quality kept). Raises
    ValueError when a note would leave the piano's range."""
    moved = np.array(words, dtype=np.int64, copy=True)
    notes = moved[:, TYPE] == TYPE_NOTE
    pitches = moved[notes, PITCH] + semitones
    if len(pitches) and (pitches.min() < 1 or pitches.max() > HIGHEST_PITCH - LOWEST_PITCH + 1):
        raise ValueError(f"a transposition by {semitones} leaves the piano's range")
    moved[notes, PITCH] = pitches
    chords = (moved[:, TYPE] == TYPE_METRICAL) & (moved[:, CHORD] > NO_CHORD)
    root, quality = np.divmod(moved[chords, CHORD] - NO_CHORD - 1, len(CHORD_QUALITIES))
    moved[chords, CHORD] = (root + semitones) % 12 * len(CHORD_QUALITIES) + quality + NO_CHORD + 1
    return moved
