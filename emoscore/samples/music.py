"""The deterministic sample music in the real EMOPIA format, and an unlabeled corpus to pretrain on.

Each quadrant has a style real pop piano has too (mode, tempo, register, density, loudness), so a model can learn
the emotion from the notes. A share of the files is written as EMOPIA's real ones are — transcriptions of audio at
a nominal 120 BPM, in seconds, with jitter and the sustain pedal — so that tokenising exercises beat tracking.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscore.config import SampleParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuadrantStyle:
    """How a quadrant sounds: mode, tempo range, register, notes per beat and loudness (as real pop piano does)."""

    major: bool
    tempo: tuple[int, int]
    melody_octave: int
    bass_octave: int
    subdivisions: tuple[int, ...]
    velocity: tuple[int, int]


QUADRANT_STYLES: dict[int, QuadrantStyle] = {
    1: QuadrantStyle(True, (128, 160), 5, 3, (2, 4), (85, 112)),  # happy, excited
    2: QuadrantStyle(False, (132, 172), 4, 2, (2, 4), (90, 120)),  # tense, angry
    3: QuadrantStyle(False, (56, 76), 4, 2, (1,), (30, 55)),  # sad, tired
    4: QuadrantStyle(True, (64, 88), 5, 3, (1, 2), (40, 65)),  # calm, content
}
MAJOR_SCALE, MINOR_SCALE = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
MAJOR_PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 0), (0, 5, 3, 4))  # I–V–vi–IV, I–IV–V–I, I–vi–IV–V (scale degrees)
MINOR_PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4))  # i–VI–III–VII, i–iv–v–i, i–VII–VI–v


def compose_clip(quadrant: int, bars: int, rng: np.random.Generator) -> tuple[list[tuple[int, int, int, int]], float]:
    """Notes (start 16th, pitch, length in 16ths, velocity) and tempo of a short piano piece in a quadrant's style."""
    style = QUADRANT_STYLES[quadrant]
    scale = MAJOR_SCALE if style.major else MINOR_SCALE
    progression = (MAJOR_PROGRESSIONS if style.major else MINOR_PROGRESSIONS)[int(rng.integers(3))]
    key = int(rng.integers(12))
    tempo = float(rng.integers(*style.tempo))
    notes = []
    melody_degree = int(rng.integers(7))
    for bar in range(bars):
        degree = progression[bar % len(progression)]
        chord = [scale[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in (0, 2, 4)]
        bar_start = bar * 16
        for beat in range(4):
            start = bar_start + beat * 4
            velocity = int(rng.integers(*style.velocity))
            bass = 12 * style.bass_octave + key + chord[0]
            if style.subdivisions[-1] >= 2:  # driving left hand: broken chord in eighths
                for half, tone in enumerate((chord[0], chord[2 - beat % 2])):
                    notes.append((start + 2 * half, 12 * style.bass_octave + key + tone, 2, velocity - 8))
            elif beat % 2 == 0:  # slow left hand: sustained bass and chord every two beats
                notes.append((start, bass, 8, velocity - 5))
                notes.extend((start, 12 * (style.bass_octave + 1) + key + t, 8, velocity - 12) for t in chord[1:])
            subdivision = int(rng.choice(style.subdivisions))
            step = 4 // subdivision
            for sub in range(subdivision):
                melody_degree = int(np.clip(melody_degree + rng.integers(-2, 3), 0, 13))
                if sub == 0 and rng.random() < 0.5:  # lean on chord tones on the beat
                    melody_degree = chord[int(rng.integers(3))] // 2 + 7 * (melody_degree // 7)
                octave, index = divmod(melody_degree, 7)
                pitch = 12 * (style.melody_octave + octave) + key + scale[index]
                if quadrant == 2 and rng.random() < 0.2:
                    pitch += 1  # chromatic tension
                notes.append((start + sub * step, min(pitch, 100), step, velocity))
    return notes, tempo


def write_clip_midi(path: Path, notes: list[tuple[int, int, int, int]], tempo: float, ticks_per_beat: int) -> None:
    """A piano MIDI file (melody and accompaniment on separate tracks, as transcriptions often are)."""
    import miditoolkit

    midi = miditoolkit.MidiFile(ticks_per_beat=ticks_per_beat)
    sixteenth = ticks_per_beat // 4
    right = miditoolkit.Instrument(program=0, name="Right hand")
    left = miditoolkit.Instrument(program=0, name="Left hand")
    for start, pitch, length, velocity in notes:
        hand = right if pitch >= 60 else left
        hand.notes.append(
            miditoolkit.Note(
                velocity=int(np.clip(velocity, 1, 127)),
                pitch=int(pitch),
                start=start * sixteenth,
                end=(start + length) * sixteenth - 1,
            )
        )
    midi.instruments.extend([right, left])
    midi.tempo_changes = [miditoolkit.TempoChange(tempo, 0)]
    midi.time_signature_changes = [miditoolkit.TimeSignature(4, 4, 0)]
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.dump(str(path))


def write_transcribed_midi(
    path: Path, notes: list[tuple[int, int, int, int]], tempo: float, rng: np.random.Generator
) -> None:
    """A MIDI file as EMOPIA's transcriptions are: one piano track at a nominal 120 BPM (384 ticks per beat) with
    onsets in seconds, a few milliseconds of timing jitter, played-length notes and the sustain pedal per bar."""
    import miditoolkit

    ticks_per_second = 384 * 2  # 120 BPM
    sixteenth = 60.0 / tempo / 4
    piano = miditoolkit.Instrument(program=0, name="Piano")
    for start, pitch, length, velocity in notes:
        onset = max(0.0, start * sixteenth + rng.normal(0, 0.008))
        end = onset + length * sixteenth * rng.uniform(0.8, 0.95)
        played = int(np.clip(velocity + rng.integers(-4, 5), 1, 127))
        piano.notes.append(
            miditoolkit.Note(played, int(pitch), round(onset * ticks_per_second), round(end * ticks_per_second))
        )
    bars = max(start for start, *_ in notes) // 16 + 1
    for bar in range(bars):
        down, up = bar * 16 * sixteenth + 0.02, (bar + 1) * 16 * sixteenth - 0.03
        piano.control_changes += [
            miditoolkit.ControlChange(64, 100, round(down * ticks_per_second)),
            miditoolkit.ControlChange(64, 0, round(up * ticks_per_second)),
        ]
    midi = miditoolkit.MidiFile(ticks_per_beat=384)
    midi.instruments.append(piano)
    midi.tempo_changes = [miditoolkit.TempoChange(120.0, 0)]
    midi.time_signature_changes = [miditoolkit.TimeSignature(4, 4, 0)]
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.dump(str(path))


def write_piece(path: Path, quadrant: int, bars: int, *, transcribed: bool, rng: np.random.Generator) -> None:
    """One sample piece in a quadrant's style: quantised with its true tempo, or as a transcription would be."""
    notes, tempo = compose_clip(quadrant, bars, rng)
    if transcribed:
        write_transcribed_midi(path, notes, tempo, rng)
    else:
        write_clip_midi(path, notes, tempo, int(rng.choice([384, 480, 960])))


def write_emopia_sample(params: SampleParams) -> Path:
    """Write `<out>/emopia/{midis/Q*_*.mid, label.csv, split/*_clip.csv}`; return the root. A share of the clips
    are written as EMOPIA's real files are (transcriptions with a nominal tempo), the rest with a true tempo map."""
    root = params.out / "emopia"
    rng = np.random.default_rng(params.seed + 1)
    labels, splits = [], {"train": [], "val": [], "test": []}
    for quadrant in (1, 2, 3, 4):
        for song_index in range(params.emopia_songs_per_quadrant):
            song = f"sample{quadrant}{song_index:03d}"
            split = ("train", "val", "test")[0 if song_index % 5 < 3 else (1 if song_index % 5 == 3 else 2)]
            for clip in range(params.emopia_clips_per_song):
                clip_id = f"Q{quadrant}_{song}_{clip}"
                transcribed = rng.random() < params.transcribed_share
                write_piece(
                    root / "midis" / f"{clip_id}.mid", quadrant, params.emopia_bars, transcribed=transcribed, rng=rng
                )
                labels.append((clip_id, quadrant))
                splits[split].append(clip_id)
    write_layout(root, labels, splits)
    log.info("sample EMOPIA: %d clips", len(labels))
    return root


def write_layout(root: Path, labels: list[tuple[str, int]], splits: dict[str, list[str]]) -> None:
    """EMOPIA's `label.csv` (ID, 4Q, annotator) and `split/{train,val,test}_clip.csv` for clips in `midis/`."""
    with (root / "label.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "4Q", "annotator"])
        writer.writerows((clip_id, quadrant, "sample") for clip_id, quadrant in labels)
    (root / "split").mkdir(parents=True, exist_ok=True)
    for split, clip_ids in splits.items():
        with (root / "split" / f"{split}_clip.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["clip_name"])
            writer.writerows([clip_id] for clip_id in clip_ids)


def write_unlabeled_sample(params: SampleParams) -> Path:
    """Write `<out>/unlabeled/<style>/piece_NNN.mid`: music with no emotion label, for pretraining."""
    root = params.out / "unlabeled"
    rng = np.random.default_rng(params.seed + 2)
    for index in range(params.unlabeled_pieces):
        quadrant = int(rng.integers(1, 5))
        bars = int(rng.integers(8, 17))
        transcribed = rng.random() < params.transcribed_share
        folder = "transcribed" if transcribed else "scores"
        write_piece(root / folder / f"piece_{index:03d}.mid", quadrant, bars, transcribed=transcribed, rng=rng)
    log.info("sample unlabeled corpus: %d pieces", params.unlabeled_pieces)
    return root
