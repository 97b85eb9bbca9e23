"""Intensity within a quadrant: the steering raises tempo, loudness and density monotonically, and a photo's
arousal maps onto it."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emoscore.bridge import arousal_intensity
from emoscore.music.cp import BAR_BEAT, TEMPO, TYPE, TYPE_NOTE, VELOCITY, VOCABULARY, tempo_of
from emoscore.music.evaluate import energy_features
from emoscore.music.generate import Sampling, Steering, generate
from emoscore.music.model import CPTransformer
from tests.helpers import SMALL

STEERING = Steering(tempo=0.5, velocity=40.0, density=2.0)


def expected(logits, bias, values, temperature):
    scaled = logits / temperature + bias
    weights = np.exp(scaled - scaled.max())
    return float((weights * values).sum() / weights.sum())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=18, max_size=18), st.floats(-1, 1), st.floats(0.01, 0.5),
       st.floats(0.3, 5.0))  # fmt: skip
def test_more_intensity_never_makes_notes_sparser(logits, intensity, step, temperature):
    sizes = VOCABULARY.sizes
    low, high = STEERING.biases(sizes, intensity), STEERING.biases(sizes, min(intensity + step, 1.0))
    note = np.eye(sizes[TYPE])[TYPE_NOTE]
    type_logits = np.array(logits[: sizes[TYPE]])
    more, fewer = (expected(type_logits, b[TYPE], note, temperature) for b in (high, low))
    assert more >= fewer - 1e-9
    ahead = np.r_[0, 16, np.arange(16)]  # beats of the bar-beat values: ignore, Bar (the next bar), Beat_0…15
    beat_logits = np.array(logits[: sizes[BAR_BEAT]])
    assert (
        expected(beat_logits, high[BAR_BEAT], ahead, temperature)
        <= expected(beat_logits, low[BAR_BEAT], ahead, temperature) + 1e-9
    )


@settings(max_examples=100, deadline=None)
@given(st.integers(2, VOCABULARY.sizes[TEMPO] - 1), st.integers(1, VOCABULARY.sizes[VELOCITY] - 1),
       st.floats(-1, 1), st.floats(0.01, 1))  # fmt: skip
def test_tempo_and_velocity_rise_with_intensity_and_stay_in_the_vocabulary(tempo, velocity, intensity, step):
    higher = min(intensity + step, 1.0)
    assert STEERING.tempo_value(tempo, higher) >= STEERING.tempo_value(tempo, intensity)
    assert STEERING.velocity_value(velocity, higher) >= STEERING.velocity_value(velocity, intensity)
    assert 2 <= STEERING.tempo_value(tempo, intensity) < VOCABULARY.sizes[TEMPO]
    assert 1 <= STEERING.velocity_value(velocity, intensity) < VOCABULARY.sizes[VELOCITY]
    assert STEERING.tempo_value(1, intensity) == 1  # CONTI carries on whatever tempo was set
    assert abs(tempo_of(STEERING.tempo_value(tempo, 0.5)) - min(224, tempo_of(tempo) * 2**0.25)) <= 3


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
        pieces = [generate(model, quadrant, bars=2, seed=s, sampling=sampling, intensity=intensity,
                           steering=STEERING) for s in range(6)]  # fmt: skip
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
