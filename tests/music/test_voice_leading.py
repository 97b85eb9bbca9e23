"""The repetition penalty: the pitches of the onset before are lowered, and with a strong penalty no voice strikes
the pitch it just struck, from the context a piece goes on from too."""

import itertools

import numpy as np
import pytest
import torch

from emoscore.music.cp import TYPE, Note, decode_notes
from emoscore.music.generate import Request, _Piece, generate_batch
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling
from emoscore.music.vocabulary import LOWEST_PITCH, TYPE_METRICAL, TYPE_NOTE
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


def test_the_penalty_hears_the_context_a_piece_goes_on_from(model):
    context = tuple(tuple(int(v) for v in word) for word in body_of(generate_batch(model, [Request(2, 5)], bars=2)[0]))
    notes = decode_notes(np.array(context))[0]
    last = max(note.onset for note in notes)
    piece = _Piece(Request(2, 6, context=context), bars=2)
    # the context's last onset is the one the first new Beat makes 'the onset before'
    assert sorted(piece.struck_now) == sorted(n.pitch - LOWEST_PITCH + 1 for n in notes if n.onset == last)
    sampling = Sampling({"pitch": 0.3}, repeat_penalty=20.0)
    going_on = generate_batch(model, [Request(2, 6, context=context)], bars=2, sampling=sampling)[0]
    first = decode_notes(going_on)[0]
    opening = {n.pitch for n in first if n.onset == min(m.onset for m in first)}
    assert not opening & {
        n.pitch for n in notes if n.onset == last
    }  # its first onset repeats none of the context's last


def body_of(steps: np.ndarray) -> np.ndarray:
    """A piece's steps without its Emotion and EOS words: a context."""
    return steps[(steps[:, TYPE] == TYPE_METRICAL) | (steps[:, TYPE] == TYPE_NOTE)]
