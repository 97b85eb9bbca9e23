"""The repetition penalty: the pitches of the onset before are lowered, and with a strong penalty no voice strikes
the pitch it just struck, across a continued piece's chunks too."""

import itertools

import numpy as np
import pytest
import torch

from emoscore.music.continuation import compose_long
from emoscore.music.cp import Note, decode_notes
from emoscore.music.generate import Request, generate_batch
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling
from emoscore.music.voice_leading import repeat_offsets
from tests.helpers import SMALL


def test_offsets_lower_only_the_pitches_struck_before():
    offsets = repeat_offsets([[5, 9], [], [0, 88, 200]], 89, 1.5)
    assert offsets.shape == (3, 89)
    assert set(np.flatnonzero(offsets[0])) == {5, 9} and (offsets[0, [5, 9]] == -1.5).all()
    assert not offsets[1].any()
    assert set(np.flatnonzero(offsets[2])) == {88}  # <ignore> and values past the vocabulary never touched


def repeats(notes: list[Note]) -> int:
    """Notes that strike a pitch struck at the onset just before."""
    struck: dict[int, set[int]] = {}
    for note in notes:
        struck.setdefault(note.onset, set()).add(note.pitch)
    onsets = sorted(struck)
    return sum(len(struck[now] & struck[before]) for before, now in itertools.pairwise(onsets))


@pytest.fixture(scope="module")
def model() -> CPTransformer:
    torch.manual_seed(3)
    return CPTransformer(SMALL).eval()


def test_a_strong_penalty_leaves_no_repeated_note(model):
    requests = [Request(q, 60 + q) for q in (1, 2, 3, 4)]
    plain = generate_batch(model, requests, bars=4, sampling=Sampling({"pitch": 0.3}))
    assert sum(repeats(decode_notes(piece)[0]) for piece in plain) > 0  # a cold model does repeat …
    penalised = generate_batch(model, requests, bars=4, sampling=Sampling({"pitch": 0.3}, repeat_penalty=20.0))
    notes = [decode_notes(piece)[0] for piece in penalised]
    assert all(len(piece) > 8 for piece in notes)
    assert sum(repeats(piece) for piece in notes) == 0  # … and with the penalty no voice strikes its last pitch


def test_the_penalty_hears_the_context_a_continued_piece_goes_on_from(model):
    sampling = Sampling({"pitch": 0.3}, repeat_penalty=20.0)
    pieces = compose_long(model, [Request(2, 5), Request(4, 6)], 16, sampling=sampling)
    for piece in pieces:
        notes = decode_notes(piece)[0]
        assert max(note.onset for note in notes) >= 12 * 16  # past the first chunk
        assert repeats(notes) == 0
