"""Objective measures of piano music, for generated pieces, the fine-tuning data and real scores alike.

muspy computes the standard ones (Dong et al.): scale consistency (share of notes in the best-fitting major or
minor scale), pitch-class entropy (bits), pitch range (semitones), polyphony (mean pitches sounding at the time
steps where any sounds) and groove consistency (1 − mean Hamming distance between the onset patterns of
consecutive bars). Written here because muspy has no such measure: note density (notes per bar) and grooving
similarity *between* two sets of bars (Wu & Yang's measure, for generated bars against real ones).
"""

from __future__ import annotations

import muspy
import numpy as np

from emoscore.music.cp import Note
from emoscore.music.vocabulary import POSITIONS_PER_BAR, POSITIONS_PER_BEAT

MEASURES = (
    "scale_consistency",
    "pitch_class_entropy",
    "pitch_range",
    "polyphony",
    "groove_consistency",
    "note_density",
)


def as_muspy(notes: list[Note]) -> muspy.Music:
    """The notes as a one-track muspy piece on the 16th-note grid."""
    track = muspy.Track(program=0, notes=[muspy.Note(n.onset, n.pitch, n.duration, n.velocity) for n in notes])
    return muspy.Music(resolution=POSITIONS_PER_BEAT, tracks=[track])


def bar_count(notes: list[Note]) -> int:
    """Bars spanned by the notes (at least 1)."""
    return max((n.onset for n in notes), default=0) // POSITIONS_PER_BAR + 1


def note_density(notes: list[Note]) -> float:
    """Notes per bar."""
    return len(notes) / bar_count(notes) if notes else 0.0


def grooving_patterns(notes: list[Note]) -> np.ndarray:
    """One binary 16-step onset pattern per bar [bars, 16]."""
    patterns = np.zeros((bar_count(notes), POSITIONS_PER_BAR), dtype=bool)
    for note in notes:
        patterns[note.onset // POSITIONS_PER_BAR, note.onset % POSITIONS_PER_BAR] = True
    return patterns


def grooving_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over all bar pairs (one from each set of patterns) of 1 − Hamming distance / 16."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    distances = (a[:, None, :] != b[None, :, :]).sum(axis=2)
    return float(1.0 - distances.mean() / POSITIONS_PER_BAR)


def piece_features(notes: list[Note]) -> dict[str, float]:
    """Every measure of MEASURES for one piece (NaN where a measure is undefined, e.g. no notes)."""
    if not notes:
        return dict.fromkeys(MEASURES, float("nan"))
    music = as_muspy(notes)
    return {
        "scale_consistency": float(muspy.scale_consistency(music)),
        "pitch_class_entropy": float(muspy.pitch_class_entropy(music)),
        "pitch_range": float(muspy.pitch_range(music)),
        "polyphony": float(muspy.polyphony(music)),
        "groove_consistency": float(muspy.groove_consistency(music, POSITIONS_PER_BAR)),
        "note_density": note_density(notes),
    }
