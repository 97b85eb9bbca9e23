"""Key, mode and key clarity of a passage by the Krumhansl–Schmuckler algorithm: the duration-weighted pitch-class
histogram correlated with the 24 rotations of the Krumhansl–Kessler key profiles.

Written here rather than through music21's `analysis.discrete.KrumhanslSchmuckler` because the judge runs it on
every 8-bar section of hundreds of pieces: music21 needs a Stream per passage (~50 ms), this is one 12×24 product;
tests check it names the same keys as music21.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emoscore.music.cp import Note

# Krumhansl & Kessler (1982) probe-tone ratings, as Krumhansl (1990) uses them for key finding; tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PROFILES = np.stack(
    [np.roll(MAJOR_PROFILE, tonic) for tonic in range(12)] + [np.roll(MINOR_PROFILE, tonic) for tonic in range(12)]
)  # [24, 12]: C major … B major, C minor … B minor
CENTRED_PROFILES = PROFILES - PROFILES.mean(axis=1, keepdims=True)  # once, not per passage
PROFILE_NORMS = np.linalg.norm(CENTRED_PROFILES, axis=1)


@dataclass(frozen=True)
class Key:
    """The best-correlated key: tonic pitch class (0 = C), mode, and its correlation r (the key clarity)."""

    tonic: int
    mode: str
    clarity: float


def pitch_class_weights(notes: Sequence[Note]) -> np.ndarray:
    """How long each pitch class sounds, summed over the notes (in grid steps)."""
    weights = np.zeros(12)
    for note in notes:
        weights[note.pitch % 12] += max(1, note.duration)
    return weights


def key_correlations(notes: Sequence[Note]) -> np.ndarray | None:
    """The passage's correlation with each of the 24 keys (C major … B major, C minor … B minor); None when it has
    no notes or a flat histogram (one pitch class or all twelve equally: no key is more likely than another)."""
    weights = pitch_class_weights(notes)
    return None if weights.std() == 0 else weight_correlations(weights[None])[0]


def weight_correlations(weights: np.ndarray) -> np.ndarray:
    """Pitch-class weights [rows, 12] (none flat) correlated with each of the 24 keys: [rows, 24]."""
    centred = weights - weights.mean(axis=1, keepdims=True)
    return centred @ CENTRED_PROFILES.T / (PROFILE_NORMS * np.linalg.norm(centred, axis=1, keepdims=True))


def find_key(notes: Sequence[Note]) -> Key | None:
    """The passage's key by Krumhansl–Schmuckler: the best-correlated of the 24; None where `key_correlations` is."""
    correlations = key_correlations(notes)
    if correlations is None:
        return None
    best = int(np.argmax(correlations))
    return Key(best % 12, "major" if best < 12 else "minor", float(correlations[best]))
