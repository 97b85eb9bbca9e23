"""Mode that follows the quadrant, at decoding time: chord words of the quadrant's mode favoured, and pitches nudged
toward the key the piece is already in, taken in the quadrant's mode.

Measured (docs/music.md, `eval_music`'s `sampling_comparison`): the model alone wrote minor in about half of its Q2
and Q3 pieces although 99% of its Q2/Q3 fine-tuning clips are minor; the emotion word and guidance steer texture
more than mode. Two logit offsets, both rules from music theory rather than learnt:
- chords: minor-quality chord symbols (m, m7, o, o7, ø7) raised by `chord_bias` for Q2/Q3, major-quality ones
  (M, M7, 7, +) for Q1/Q4, within the symbols' own share (how often a chord changes is left to the model): the
  model conditions its notes on the chords it has written;
- pitches: the duration-weighted pitch classes written so far (the context's too, so a continued piece keeps its
  key) are correlated with the 12 Krumhansl–Kessler profiles of the wanted mode; the best one's z-scored profile,
  times `key_prior` for minor pieces and `major_key_prior` for major ones, is added to the pitch logits. The tonic
  is the piece's own; only the mode is asked for. The major prior is weaker: at the minor one's strength, toward the
  nearest major key (often the relative major of a minor-leaning start), it made 5–7 of 32 Q1 pieces minor instead
  of 1; at half of it, with pitches sampled wider (docs/music.md, "How the voices move"), it keeps Q4 major.
Either at 0 is off; the cost is a lower pitch-class entropy (more weight on the tonic's notes).

Openings: a piece's key is set by its first notes, which no prior steers (there is no key yet). So `generate_batch`
may draw a piece's opening bars several times and go on with the first in the wanted mode (`mode_margin` > 0);
measured in docs/music.md ("Openings").
"""

from __future__ import annotations

import numpy as np

from emoscore.music.tonality import MAJOR_PROFILE, MINOR_PROFILE, weight_correlations
from emoscore.music.vocabulary import CHORD_SYMBOLS, HIGHEST_PITCH, LOWEST_PITCH

MINOR_QUALITIES = frozenset({"m", "m7", "o", "o7", "/o7"})
MAJOR_QUALITIES = frozenset({"M", "M7", "7", "+"})
FIRST_SYMBOL = 3  # chord values 0–2 are <ignore>, CONTI and N_N


def _zscored(profile: np.ndarray) -> np.ndarray:
    return (profile - profile.mean()) / profile.std()


# [mode (0 major, 1 minor), tonic, pitch class]
KEY_PROFILES = np.stack(
    [np.stack([np.roll(_zscored(profile), tonic) for tonic in range(12)]) for profile in (MAJOR_PROFILE, MINOR_PROFILE)]
)
PITCH_CLASS = np.array([p % 12 for p in range(LOWEST_PITCH, HIGHEST_PITCH + 1)])  # of pitch values 1…88


def _quality_mask(qualities: frozenset[str]) -> np.ndarray:
    mask = np.zeros(FIRST_SYMBOL + len(CHORD_SYMBOLS), dtype=bool)
    mask[FIRST_SYMBOL:] = [symbol.split("_", 1)[1] in qualities for symbol in CHORD_SYMBOLS]
    return mask


CHORDS_OF_MODE = np.stack([_quality_mask(MAJOR_QUALITIES), _quality_mask(MINOR_QUALITIES)])  # [mode, chord value]


def wants_minor(quadrant: int) -> bool:
    """Negative valence (Q2, Q3) asks for minor, positive (Q1, Q4) for major."""
    return quadrant in (2, 3)


def chord_bias(logits: np.ndarray, minor: np.ndarray, strength: float) -> np.ndarray:
    """Offsets [rows, size] for chord logits [rows, size] of pieces whose wanted mode is `minor` [rows] (bool):
    the mode's chords raised by `strength` among the chord symbols, whose total chance is kept, so a chord changes
    as often as the model says (raising them alone made chords change on every beat, and the rhythm with them)."""
    rows, size = logits.shape
    width = min(size, CHORDS_OF_MODE.shape[1])
    raised = np.zeros((rows, size), dtype=np.float64)
    raised[:, :width] = strength * CHORDS_OF_MODE[minor.astype(int), :width]
    symbols = np.zeros(size, dtype=bool)
    symbols[FIRST_SYMBOL:width] = True
    values = np.where(symbols, logits.astype(np.float64), -np.inf)
    top = values.max(axis=1, keepdims=True)
    before = np.log(np.exp(values - top).sum(axis=1, keepdims=True))
    after = np.log(np.exp(values + raised - top).sum(axis=1, keepdims=True))
    return np.where(symbols, raised - (after - before), 0.0).astype(np.float32)


def pitch_bias(
    pitch_classes: np.ndarray, minor: np.ndarray, size: int, strength: float, major_strength: float = 0.0
) -> np.ndarray:
    """Offsets [rows, size] for the pitch logits: the z-scored profile of the best-fitting key of the wanted mode
    for each row's pitch-class weights [rows, 12], times `strength` where `minor` asks for minor and
    `major_strength` where it does not; a row with no notes yet gets none."""
    minor = minor.astype(bool)
    modes = KEY_PROFILES[minor.astype(int)]  # [rows, 12 tonics, 12]
    centred = pitch_classes - pitch_classes.mean(axis=1, keepdims=True)
    tonic = np.einsum("rtp,rp->rt", modes, centred).argmax(axis=1)
    profile = modes[np.arange(len(minor)), tonic]  # [rows, 12]
    offsets = np.zeros((len(minor), size), dtype=np.float32)
    width = min(size - 1, len(PITCH_CLASS))
    scale = np.where(minor, strength, major_strength)[:, None]
    offsets[:, 1 : 1 + width] = scale * profile[:, PITCH_CLASS[:width]]
    offsets[pitch_classes.sum(axis=1) == 0] = 0.0
    return offsets


def mode_margin(pitch_classes: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """How much better each row's pitch-class weights [rows, 12] fit the best key of the wanted mode than the best
    of the other (Krumhansl–Schmuckler's correlations, so > 0 is find_key's verdict); 0 for no notes or a flat row."""
    flat = pitch_classes.std(axis=1) == 0
    correlations = weight_correlations(np.where(flat[:, None], np.arange(12.0), pitch_classes))
    major, minor_fit = correlations[:, :12].max(axis=1), correlations[:, 12:].max(axis=1)
    return np.where(flat, 0.0, np.where(minor.astype(bool), minor_fit - major, major - minor_fit))
