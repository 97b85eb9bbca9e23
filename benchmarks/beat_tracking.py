"""How well beats and bar lines come back from transcription-style MIDI: real 4/4 scores from music21's corpus
and the sample's quadrant styles, each written as GiantMIDI writes transcriptions (nominal 120 BPM, onsets in
seconds, 12 ms jitter, a slight downbeat accent) at a known random tempo.

    python -m benchmarks.beat_tracking [--scores 20]

A tempo is right within 4% of the truth; a piece's bar lines are right when > 80% of its (position in bar, pitch)
pairs land where the score has them. Both are printed per piece set and overall.
"""

from __future__ import annotations

import argparse
import tempfile
import zlib
from pathlib import Path

import miditoolkit
import numpy as np

from emoscore.music.cp import load_notes
from emoscore.music.timing import track
from emoscore.samples.music import compose_clip


def real_scores(count: int) -> list[tuple[str, list[tuple[float, int, float]]]]:
    """(name, notes in quarter notes from the first full bar) of the first `count` 4/4 scores with 40+ notes."""
    from music21 import corpus, meter

    found = []
    for path in [
        *corpus.getComposer("bach")[:14],
        *corpus.getComposer("mozart")[:10],
        *corpus.getComposer("beethoven")[:10],
        *corpus.getComposer("joplin"),
        *corpus.getComposer("haydn")[:10],
    ]:
        score = corpus.parse(path)
        signatures = score.recurse().getElementsByClass(meter.TimeSignature)
        if not signatures or signatures[0].ratioString != "4/4":
            continue
        measures = score.parts[0].getElementsByClass("Measure")
        pickup = 4 - measures[0].duration.quarterLength if measures and measures[0].duration.quarterLength < 4 else 0
        notes = [
            (float(n.offset) + pickup, p.midi, float(n.quarterLength))
            for n in score.flatten().notes
            for p in n.pitches
            if n.offset < 64
        ]
        if len(notes) >= 40:
            found.append((Path(str(path)).name, notes))
        if len(found) >= count:
            break
    return found


def transcription(notes: list[tuple[float, int, float, int]], bpm: float, seed: int, path: Path) -> Path:
    """Write notes (quarters, pitch, quarters, velocity) as a transcription at a nominal 120 BPM."""
    rng = np.random.default_rng(seed)
    piano = miditoolkit.Instrument(program=0, name="Piano")
    for onset, pitch, length, velocity in notes:
        start = onset * 60 / bpm + rng.normal(0, 0.012)
        end = start + max(length * 60 / bpm * 0.9, 0.05)
        piano.notes.append(miditoolkit.Note(int(velocity), int(pitch), max(0, round(start * 768)), round(end * 768)))
    midi = miditoolkit.MidiFile(ticks_per_beat=384)
    midi.instruments.append(piano)
    midi.tempo_changes = [miditoolkit.TempoChange(120.0, 0)]
    midi.dump(str(path))
    return path


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cases = []
    for name, notes in real_scores(args.scores):
        accented = [
            (o, p, d, int(np.clip(70 + (12 if o % 4 == 0 else 0) + rng.normal(0, 6), 1, 127))) for o, p, d in notes
        ]
        cases.append(("music21", name, accented, float(rng.integers(60, 150))))
    for quadrant in (1, 2, 3, 4):
        for index in range(5):
            notes, bpm = compose_clip(quadrant, 8, rng)
            cases.append((f"sample Q{quadrant}", f"{index}", [(s / 4, p, n / 4, v) for s, p, n, v in notes], bpm))
    results: dict[str, list[tuple[bool, bool]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for group, name, notes, bpm in cases:
            path = transcription(notes, bpm, zlib.crc32(name.encode()), Path(folder) / "take.mid")
            grid = track(miditoolkit.MidiFile(str(path)))
            grid_notes, _, _ = load_notes(path, "beat_track")
            truth = {(round(o * 4) % 16, p) for o, p, _, _ in notes}
            got = {(n.onset % 16, n.pitch) for n in grid_notes}
            tempo_ok = grid is not None and abs(grid.bpm - bpm) / bpm < 0.04
            results.setdefault(group, []).append((tempo_ok, len(truth & got) / len(truth) > 0.8))
    print(f"{'pieces':<12} {'n':>3} {'tempo right':>12} {'bar lines right':>16}")
    everything = [r for rows in results.values() for r in rows]
    for group, rows in [*results.items(), ("all", everything)]:
        tempo, bars = (sum(r[i] for r in rows) for i in (0, 1))
        print(f"{group:<12} {len(rows):>3} {tempo:>5} ({tempo / len(rows):4.0%}) {bars:>8} ({bars / len(rows):4.0%})")


if __name__ == "__main__":
    main()
