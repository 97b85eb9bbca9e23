"""Objective measures of generated piano music, compared against real clips of the same quadrant.

Pitch-class entropy (bits, over the 12 pitch classes), note density (notes per bar), polyphony (mean number of
notes sounding at each onset) and grooving similarity (1 − Hamming distance / 16 between the onset patterns of
two bars, averaged over bar pairs; Wu & Yang's measure).
"""

from __future__ import annotations

import numpy as np

from emoscore.music.cp import POSITIONS_PER_BAR, Note


def pitch_class_entropy(notes: list[Note]) -> float:
    """Entropy (bits) of the pitch-class histogram; 0 for a single class, log2(12) for uniform."""
    if not notes:
        return 0.0
    counts = np.bincount([n.pitch % 12 for n in notes], minlength=12).astype(float)
    probabilities = counts[counts > 0] / counts.sum()
    return float(-(probabilities * np.log2(probabilities)).sum())


def bar_count(notes: list[Note]) -> int:
    """Bars spanned by the notes (at least 1)."""
    return max((n.onset for n in notes), default=0) // POSITIONS_PER_BAR + 1


def note_density(notes: list[Note]) -> float:
    """Notes per bar."""
    return len(notes) / bar_count(notes) if notes else 0.0


def polyphony(notes: list[Note]) -> float:
    """Mean number of notes sounding at each distinct onset position."""
    if not notes:
        return 0.0
    onsets = np.array([n.onset for n in notes])
    ends = onsets + np.array([n.duration for n in notes])
    points = np.unique(onsets)
    return float(np.mean([((onsets <= p) & (ends > p)).sum() for p in points]))


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
    """The per-piece measures."""
    return {
        "pitch_class_entropy": pitch_class_entropy(notes),
        "note_density": note_density(notes),
        "polyphony": polyphony(notes),
    }
