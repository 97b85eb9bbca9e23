"""Intensity within a quadrant: the steering raises tempo, loudness and density monotonically, and a photo's
arousal maps onto it."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emoscore.bridge import arousal_intensity
from emoscore.music.cp import TEMPO, VELOCITY, VOCABULARY, tempo_of, velocity_of
from emoscore.music.evaluate import energy_features
from emoscore.music.generate import Sampling, Steering, generate
from emoscore.music.model import CPTransformer
from tests.helpers import SMALL

STEERING = Steering(tempo=3.0, velocity=3.0, density=2.0)


def expected(logits, bias, values, temperature):
    scaled = logits / temperature + bias
    weights = np.exp(scaled - scaled.max())
    return float((weights * values).sum() / weights.sum())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-5, 5), min_size=65, max_size=65),
    st.floats(-1, 1),
    st.floats(0.01, 0.5),
    st.floats(0.3, 5.0),
)
def test_more_intensity_never_lowers_the_expected_tempo_or_velocity(logits, intensity, step, temperature):
    sizes = VOCABULARY.sizes
    low, high = STEERING.biases(sizes, intensity), STEERING.biases(sizes, min(intensity + step, 1.0))
    tempo_logits = np.array(logits)
    bpm = np.array([tempo_of(v) for v in range(2, sizes[TEMPO])])
    assert (
        expected(tempo_logits, high[TEMPO][2:], bpm, temperature)
        >= expected(tempo_logits, low[TEMPO][2:], bpm, temperature) - 1e-9
    )
    velocity = np.array([velocity_of(v) for v in range(1, sizes[VELOCITY])])
    velocity_logits = np.array(logits)[: len(velocity)]
    assert (
        expected(velocity_logits, high[VELOCITY][1:], velocity, temperature)
        >= expected(velocity_logits, low[VELOCITY][1:], velocity, temperature) - 1e-9
    )


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
