"""Mode steering: the offsets name the right chords and the piece's own key in the wanted mode, and a model that
knows nothing of mode writes the quadrant's mode when they are strong."""

import numpy as np
import pytest
import torch

from emoscore.music.continuation import compose_long
from emoscore.music.cp import Note, decode_notes
from emoscore.music.generate import Request, generate_batch
from emoscore.music.mode_steering import KEY_PROFILES, chord_bias, mode_margin, pitch_bias, wants_minor
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling
from emoscore.music.tonality import find_key
from emoscore.music.vocabulary import CHORD_SYMBOLS, LOWEST_PITCH
from tests.helpers import SMALL


def test_chord_offsets_raise_the_chords_of_the_wanted_mode_and_keep_how_often_chords_change():
    size = 3 + len(CHORD_SYMBOLS)
    logits = np.random.default_rng(0).normal(size=(2, size)).astype(np.float32)
    offsets = chord_bias(logits, np.array([True, False]), 2.0)
    for row, (wanted, other) in enumerate((("A_m", "C_M"), ("C_M", "A_m"))):
        index = {name: 3 + CHORD_SYMBOLS.index(name) for name in (wanted, other, "D_sus4")}
        assert offsets[row, index[wanted]] - offsets[row, index[other]] == pytest.approx(2.0)
        assert offsets[row, index["D_sus4"]] == offsets[row, index[other]]  # neither mode's chord: not raised
    assert not offsets[:, :3].any()  # ignore, CONTI, N_N untouched

    def chance(values: np.ndarray) -> np.ndarray:
        weights = np.exp(values - values.max(axis=1, keepdims=True))
        return weights / weights.sum(axis=1, keepdims=True)

    before, after = chance(logits), chance(logits + offsets)
    assert np.allclose(before[:, :3], after[:, :3], atol=1e-6)  # CONTI (no chord change) as likely as before
    assert after[0, 3 + CHORD_SYMBOLS.index("A_m")] > before[0, 3 + CHORD_SYMBOLS.index("A_m")]


def test_pitch_offsets_follow_the_pieces_own_tonic_in_minor_and_leave_major_pieces_alone():
    weights = np.zeros((3, 12))
    weights[0, [0, 4, 7]] = 4  # a C major triad …
    weights[0, [2, 5, 9, 11]] = 1  # … in C major
    weights[1] = weights[0]
    size = 89
    offsets = pitch_bias(weights, np.array([False, True, True]), size, 1.0)
    pitch_class = (np.arange(1, size) - 1 + LOWEST_PITCH) % 12

    def favourite(row: np.ndarray) -> set[int]:
        return set(pitch_class[np.flatnonzero(row[1:] == row[1:].max())])

    assert not offsets[0].any()  # major asked: the model's own choice
    (tonic,) = favourite(offsets[1])  # minor asked: the minor key nearest the notes (C, E or A minor) …
    assert tonic in (0, 4, 9)
    minor_third, major_third = (offsets[1][1:][pitch_class == (tonic + step) % 12].max() for step in (3, 4))
    assert minor_third > major_third  # … and its minor third above its major third
    assert not offsets[2].any() and offsets[1, 0] == 0  # no notes yet: no offset; <ignore> never touched


def test_a_major_prior_of_its_own_strength_favours_the_major_key_nearest_the_notes():
    weights = np.zeros((2, 12))
    weights[:, [9, 0, 4]] = 4  # an A minor triad …
    weights[:, [2, 5, 7, 11]] = 1  # … in A minor / C major
    size = 89
    offsets = pitch_bias(weights, np.array([False, True]), size, 2.0, 0.5)
    pitch_class = (np.arange(1, size) - 1 + LOWEST_PITCH) % 12
    major_row, minor_row = offsets[0][1:], offsets[1][1:]
    assert major_row.max() == pytest.approx(0.5 * KEY_PROFILES[0].max(), rel=1e-5)  # each mode at its own strength
    assert minor_row.max() == pytest.approx(2.0 * KEY_PROFILES[1].max(), rel=1e-5)
    assert set(pitch_class[major_row == major_row.max()]) == {0}  # C major, the relative major, not A major
    assert set(pitch_class[minor_row == minor_row.max()]) == {9}


def test_quadrants_valence_decides_the_mode():
    assert [wants_minor(q) for q in (1, 2, 3, 4)] == [False, True, True, False]


@pytest.mark.parametrize("quadrant", [2, 3])
def test_a_model_knowing_nothing_of_mode_writes_minor_when_steered(quadrant):
    torch.manual_seed(0)
    model = CPTransformer(SMALL).eval()
    requests = [Request(quadrant, 40 + i) for i in range(8)]
    steered = generate_batch(model, requests, bars=4, sampling=Sampling(key_prior=2.0, chord_bias=3.0))
    modes = [find_key(decode_notes(piece)[0]).mode for piece in steered]
    assert modes.count("minor") >= 6, modes
    plain = generate_batch(model, requests, bars=4, sampling=Sampling())
    assert [find_key(decode_notes(p)[0]).mode for p in plain].count("minor") < modes.count("minor")


def test_a_continued_piece_keeps_its_key():
    torch.manual_seed(1)
    model = CPTransformer(SMALL).eval()
    sampling = Sampling(key_prior=2.0, chord_bias=3.0)
    pieces = compose_long(model, [Request(2, 7), Request(3, 8)], 24, sampling=sampling)
    for piece in pieces:
        notes = decode_notes(piece)[0]
        halves = [find_key([n for n in notes if (n.onset < 12 * 16) == first]) for first in (True, False)]
        assert [k.mode for k in halves] == ["minor", "minor"]
        assert halves[0].tonic == halves[1].tonic  # the chunks after the first heard the context's key


def test_the_mode_margin_is_krumhansl_schmucklers_verdict_on_the_mode():
    """Positive where the notes' best key is of the wanted mode, by the gap between the two modes' best
    correlations; 0 for no notes; the same verdict as find_key on a real melody's pitch classes."""
    c_minor = np.zeros(12)
    c_minor[[0, 2, 3, 5, 7, 8, 11]] = [5, 1, 3, 1, 4, 1, 1]  # harmonic minor, tonic and fifth weighted
    weights = np.stack([c_minor, c_minor, np.roll(c_minor, 3)[::-1], np.zeros(12)])
    margins = mode_margin(weights, np.array([True, False, True, True]))
    assert margins[0] > 0 and margins[1] == pytest.approx(-margins[0]) and margins[3] == 0
    for row in weights[:3]:
        notes = [Note(i, 60 + pc, int(w), 80) for i, (pc, w) in enumerate((pc, w) for pc, w in enumerate(row) if w)]
        key = find_key(notes)
        assert (mode_margin(row[None], np.array([True]))[0] > 0) == (key.mode == "minor")
