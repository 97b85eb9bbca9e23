"""Intensity within a quadrant: the steering raises tempo, loudness and density monotonically, and a photo's
arousal maps onto it."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emoscore.music.cp import BAR_BEAT, TYPE, Note, decode_notes, encode_notes
from emoscore.music.evaluate import energy_features
from emoscore.music.generate import generate
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling, Steering
from emoscore.music.vocabulary import BAR, POSITIONS_PER_BEAT, TYPE_METRICAL, TYPE_NOTE, VOCABULARY
from emoscore.scoring.bridge import arousal_intensity
from tests.helpers import SMALL

STEERING = Steering(tempo=0.5, velocity=40.0, density=1.5)


def chords(seed):
    """A piece with chords on every beat and single notes between some beats, in CP steps."""
    rng = np.random.default_rng(seed)
    notes = [
        Note(4 * beat, pitch, 2, int(rng.integers(30, 100)))
        for beat in range(16)
        for pitch in sorted(rng.choice(np.arange(40, 80), size=int(rng.integers(1, 4)), replace=False))
    ]
    notes += [Note(4 * beat + 2, int(rng.integers(60, 80)), 2, 70) for beat in range(16) if rng.random() < 0.5]
    notes.sort(key=lambda note: (note.onset, note.pitch))
    return encode_notes(notes, [(0, float(rng.integers(60, 160)))], emotion=2)


def test_a_single_line_played_calmer_loses_notes_off_the_beat_and_keeps_every_beat():
    line = [Note(2 * step, 60 + step % 7, 2, 80) for step in range(32)]  # eighths, one note at a time
    piece = encode_notes(line, [(0, 100.0)], emotion=4)
    calm = decode_notes(STEERING.perform(piece, -0.5, 9))[0]
    onsets = {note.onset for note in calm}
    assert {onset for onset in range(0, 64, POSITIONS_PER_BEAT)} <= onsets  # every beat still played
    assert len(calm) < len(line) * 0.75  # 0.75 of the off-beat notes left out, on average
    assert {(n.onset, n.pitch) for n in calm} <= {(n.onset, n.pitch) for n in line}


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
        onsets, written = ({n.onset for n in decode_notes(p)[0]} for p in (played, piece))
        on_beat = {onset for onset in written if onset % POSITIONS_PER_BEAT == 0}
        if t >= 0:
            assert onsets == written  # the same rhythm: no onset lost or added
        else:
            assert on_beat <= onsets <= written  # thinner off the beat only: every beat still struck
        kinds = played[:, TYPE].tolist()
        beats = [i for i, word in enumerate(played) if word[TYPE] == TYPE_METRICAL and word[BAR_BEAT] > BAR]
        assert all(kinds[i + 1] == TYPE_NOTE for i in beats)  # no Beat left without its notes: still the grammar


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
