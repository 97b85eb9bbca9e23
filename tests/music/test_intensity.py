"""Intensity within a quadrant: the steering raises tempo, loudness and density monotonically, and a photo's
arousal maps onto it."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emoscore.music.cp import Note, decode_notes, encode_notes
from emoscore.music.evaluate import energy_features
from emoscore.music.generate import generate
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling, Steering
from emoscore.music.vocabulary import VOCABULARY
from emoscore.scoring.bridge import arousal_intensity
from tests.helpers import SMALL

STEERING = Steering(tempo=0.5, velocity=40.0, density=1.5)


def chords(seed):
    """A piece with chords on every beat and a melody, in CP steps."""
    rng = np.random.default_rng(seed)
    notes = [
        Note(4 * beat, pitch, 4, int(rng.integers(30, 100)))
        for beat in range(16)
        for pitch in sorted(rng.choice(np.arange(40, 80), size=int(rng.integers(1, 4)), replace=False))
    ]
    return encode_notes(notes, [(0, float(rng.integers(60, 160)))], emotion=2)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10_000), st.floats(-1, 1), st.floats(0.01, 1))
def test_a_piece_played_at_a_higher_intensity_is_never_slower_softer_or_thinner(seed, low, step):
    piece = chords(seed)
    high = min(low + step, 1.0)
    calm, agitated = (energy_features(STEERING.perform(piece, t, seed)) for t in (low, high))
    assert agitated["tempo"] >= calm["tempo"]
    assert agitated["note_density"] >= calm["note_density"]
    loud = {(n.onset, n.pitch): n.velocity for n in decode_notes(STEERING.perform(piece, high, seed))[0]}
    soft = {(n.onset, n.pitch): n.velocity for n in decode_notes(STEERING.perform(piece, low, seed))[0]}
    assert all(loud[key] >= velocity for key, velocity in soft.items() if key in loud)  # every note, not the mean
    for t in (low, high):
        played = STEERING.perform(piece, t, seed)
        assert ((played >= 0) & (played < np.array(VOCABULARY.sizes))).all()
        onsets = {n.onset for n in decode_notes(played)[0]}
        assert onsets == {n.onset for n in decode_notes(piece)[0]}  # the same rhythm: no onset lost or added


def test_zero_intensity_is_the_model_unsteered():
    torch.manual_seed(0)
    model = CPTransformer(SMALL).eval()
    plain = generate(model, "Q1", bars=2, seed=3)
    assert np.array_equal(plain, generate(model, "Q1", bars=2, seed=3, intensity=0.0, steering=STEERING))


@pytest.mark.parametrize("quadrant", ["Q1", "Q3"])
def test_generated_pieces_get_faster_louder_and_denser_with_intensity(quadrant):
    torch.manual_seed(0)
    model = CPTransformer(SMALL).eval()  # untrained: whatever it prefers, the steering moves it
    sampling = Sampling({"velocity": 1.0}, {})
    means = []
    for intensity in (-0.5, 0.0, 0.5):
        pieces = [
            generate(model, quadrant, bars=2, seed=s, sampling=sampling, intensity=intensity, steering=STEERING)
            for s in range(6)
        ]
        features = [energy_features(p) for p in pieces]
        means.append({k: np.mean([f[k] for f in features]) for k in features[0]})
    for key in ("tempo", "velocity", "note_density"):
        assert means[0][key] < means[1][key] < means[2][key], (key, means)


def test_arousal_maps_to_intensity_within_each_half():
    assert arousal_intensity(10) == 0.5 and arousal_intensity(1) == -0.5
    assert arousal_intensity(5.5) == -0.5 and arousal_intensity(5.49) == pytest.approx(0.5, abs=0.01)
    high = [arousal_intensity(a) for a in np.linspace(5.5, 10, 10)]
    low = [arousal_intensity(a) for a in np.linspace(1, 5.4, 10)]
    assert high == sorted(high) and low == sorted(low)
