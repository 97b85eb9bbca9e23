"""The CP transformer and generation: cached decoding equals recomputation, and every output decodes."""

import numpy as np
import pytest
import torch

from emoscore.config import parse_params
from emoscore.errors import CheckpointError
from emoscore.music import generate as generate_module
from emoscore.music.classify import MusicClassifier, music_only
from emoscore.music.cp import BAR_BEAT, EMOTION, TYPE, decode_notes, encode_notes
from emoscore.music.generate import Request, generate, generate_batch, last_bars, parse_quadrant
from emoscore.music.grammar import Grammar
from emoscore.music.model import CPTransformer, KVCache
from emoscore.music.sampling import Sampling, Steering, sample_rows, sample_token
from emoscore.music.vocabulary import BAR, TYPE_EMOTION, TYPE_EOS, TYPE_METRICAL, VOCABULARY, Vocabulary
from tests.helpers import SMALL, classifier_config


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CPTransformer(SMALL).eval()


def test_cached_decoding_matches_full_recompute(model):
    words = generate(model, "Q1", bars=3, seed=5)
    x = torch.from_numpy(words[None])
    with torch.no_grad():
        full = model.hidden(x)
        cache = KVCache(model.config, capacity=4)  # smaller than the piece: the buffers must grow on the way
        pieces = [model.hidden(x[:, :7], cache), model.hidden(x[:, 7:9], cache)]  # a 2-step extension uses a mask
        for i in range(9, x.shape[1]):
            pieces.append(model.hidden(x[:, i : i + 1], cache))
    incremental = torch.cat(pieces, dim=1)
    assert torch.allclose(full, incremental, atol=1e-5)
    assert torch.allclose(model.type_logits(full), model.type_logits(incremental), atol=1e-5)


def test_generation_with_and_without_cache_is_identical(model):
    cached = generate(model, "Q3", bars=2, seed=11, use_cache=True)
    recomputed = generate(model, "Q3", bars=2, seed=11, use_cache=False)
    assert np.array_equal(cached, recomputed)


def test_a_batch_gives_each_piece_exactly_what_generating_it_alone_gives(model):
    """One cache of batch B, per-piece grammar and seeds: pieces finish at different steps (so the batch shrinks
    on the way) and still match one-at-a-time decoding token for token, with and without the cache."""
    sampling = Sampling({"pitch": 0.9}, {"type": 0.9}, key_prior=0.5, chord_bias=3.0)  # mode steered per piece
    steering = Steering(0.5, 40, 1.5)
    requests = [Request(1 + i % 4, 100 + i, (i % 3 - 1) * 0.7) for i in range(9)]
    batched = generate_batch(model, requests, bars=3, sampling=sampling, steering=steering)
    alone = [
        generate(model, r.quadrant, 3, seed=r.seed, sampling=sampling, intensity=r.intensity, steering=steering)
        for r in requests
    ]
    assert len({len(steps) for steps in alone}) > 1  # the batch really had pieces of different lengths
    assert all(np.array_equal(a, b) for a, b in zip(batched, alone, strict=True))
    recomputed = generate_batch(model, requests[:3], bars=3, sampling=sampling, use_cache=False, steering=steering)
    assert all(np.array_equal(a, b) for a, b in zip(recomputed, alone[:3], strict=True))


def test_a_batch_respects_max_steps_for_every_piece(model):
    pieces = generate_batch(model, [Request("Q2", seed) for seed in range(4)], bars=50, max_steps=40)
    assert all(len(steps) <= 40 and steps[-1, TYPE] == TYPE_EOS for steps in pieces)
    assert generate_batch(model, [], bars=2) == []


def test_rows_sample_as_each_row_alone():
    rng = np.random.default_rng(0)
    logits, allowed = rng.normal(size=(6, 20)), rng.random((6, 20)) < 0.7
    together = sample_rows(logits, allowed, 1.3, top_p=0.8, rngs=[np.random.default_rng(s) for s in range(6)])
    alone = [sample_token(logits[r], allowed[r], 1.3, top_p=0.8, rng=np.random.default_rng(r)) for r in range(6)]
    assert together.tolist() == alone and all(allowed[r, v] for r, v in enumerate(together))


@pytest.mark.parametrize("bars", [1, 4, 9])
@pytest.mark.parametrize("quadrant", ["Q1", "Q4"])
def test_untrained_model_output_still_decodes_to_the_requested_length(model, quadrant, bars):
    words = generate(model, quadrant, bars=bars, seed=bars)
    assert words[0, TYPE] == TYPE_EMOTION and words[0, EMOTION] == parse_quadrant(quadrant)
    assert words[-1, TYPE] == TYPE_EOS
    assert int(((words[:, TYPE] == TYPE_METRICAL) & (words[:, BAR_BEAT] == BAR)).sum()) == bars
    notes, tempi, emotion = decode_notes(words)
    assert notes and tempi and emotion == parse_quadrant(quadrant)
    assert max(n.onset for n in notes) < bars * 16
    # positions rise within each bar, so the decoded notes survive another round trip
    assert {(n.onset, n.pitch) for n in decode_notes(encode_notes(notes, tempi))[0]} == {
        (n.onset, n.pitch) for n in notes
    }


def test_same_seed_same_piece_other_seed_other_piece(model):
    assert np.array_equal(generate(model, 2, bars=2, seed=3), generate(model, 2, bars=2, seed=3))
    assert not np.array_equal(generate(model, 2, bars=2, seed=3), generate(model, 2, bars=2, seed=4))


def test_unknown_quadrant_is_refused(model):
    with pytest.raises(ValueError, match="unknown quadrant 'Q5'"):
        generate(model, "Q5")
    assert parse_quadrant("q2") == 2 and parse_quadrant(4) == 4


def test_nucleus_sampling_respects_mask_and_top_p():
    rng = np.random.default_rng(0)
    logits = np.array([5.0, 4.0, 0.0, -1.0])
    allowed = np.array([False, True, True, True])
    draws = {sample_token(logits, allowed, 1.0, top_p=0.5, rng=rng) for _ in range(50)}
    assert draws == {1}  # 0 is masked, and index 1 alone holds more than half of what is left
    assert sample_token(logits, allowed, 0.0, top_p=1.0, rng=rng) == 1  # temperature 0 = greedy


def test_sampling_follows_the_softmax_inside_the_nucleus():
    rng = np.random.default_rng(1)
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    allowed = np.ones(4, dtype=bool)
    counts = np.bincount([sample_token(logits, allowed, 1.0, top_p=0.9, rng=rng) for _ in range(20_000)], minlength=4)
    # top-p 0.9 keeps 0.5, 0.3 and 0.15 (0.8 < 0.9 before the third), renormalised over 0.95; never the 0.05
    assert counts[3] == 0
    assert np.allclose(counts[:3] / counts.sum(), np.array([0.5, 0.3, 0.15]) / 0.95, atol=0.015)
    hot = np.bincount([sample_token(logits, allowed, 2.0, top_p=1.0, rng=rng) for _ in range(20_000)], minlength=4)
    flattened = np.array([0.5, 0.3, 0.15, 0.05]) ** 0.5
    assert np.allclose(hot / hot.sum(), flattened / flattened.sum(), atol=0.015)  # temperature 2 flattens


def test_grammar_forces_a_note_after_a_beat_and_a_bar_limit():
    grammar = Grammar(bars=1)
    grammar.advance([0, 0, 5, TYPE_METRICAL, 0, 0, 0, 0])
    assert grammar.allowed_types(4).tolist() == [False, False, True, False]
    grammar.advance([0, 0, 0, 2, 10, 2, 30, 0])
    assert grammar.allowed_types(4)[TYPE_EOS]
    assert grammar.ends([0, 0, BAR, TYPE_METRICAL, 0, 0, 0, 0])  # only one bar was asked for: a Bar ends it


def test_a_bar_drawn_in_the_last_bar_ends_the_piece():
    grammar = Grammar(bars=2)
    grammar.advance([0, 0, 2, TYPE_METRICAL, 0, 0, 0, 0])  # bar 1, a beat and a note
    grammar.advance([0, 0, 0, 2, 10, 2, 30, 0])
    bar = [0, 0, BAR, TYPE_METRICAL, 0, 0, 0, 0]
    assert not grammar.ends(bar)
    grammar.advance(bar)  # bar 2, the last: a Bar may still be drawn and ends the piece, but not before a note
    assert grammar.allowed_values(BAR_BEAT, TYPE_METRICAL, 18)[BAR] and grammar.ends(bar) and grammar.empties(bar)
    grammar.advance([0, 0, 3, TYPE_METRICAL, 0, 0, 0, 0])
    assert not grammar.ends([0, 0, 4, TYPE_METRICAL, 0, 0, 0, 0])  # a beat of the last bar does not
    grammar.advance([0, 0, 0, 2, 12, 2, 30, 0])
    assert grammar.ends(bar) and not grammar.empties(bar)


def test_a_short_piece_is_the_opening_of_the_longer_one_with_its_seed(model, monkeypatch):
    """Asked for 2 bars, a piece ends where the model asks for a third: the same steps as the first 2 bars of the
    8-bar piece of its seed (masking the Bar instead crammed the last bar with notes the model never meant). The
    model here never asks to end by itself, as a trained one does not inside a clip; an untrained one would."""
    type_logits = model.type_logits
    monkeypatch.setattr(model, "type_logits", lambda hidden: type_logits(hidden) - 1e4 * (torch.arange(4) == TYPE_EOS))
    sampling = Sampling(key_prior=0.5, chord_bias=3.0, repeat_penalty=1.0)
    empty = 0
    for seed in range(12):
        long, short = (generate(model, "Q2", bars, seed=seed, sampling=sampling) for bars in (8, 2))
        bars = np.flatnonzero((long[:, TYPE] == TYPE_METRICAL) & (long[:, BAR_BEAT] == BAR))
        assert (short[bars[1] + 1 :, TYPE] == 2).any()  # its last bar has notes
        if bars[2] == bars[1] + 1:  # the long piece left its bar 2 empty; the short one may not, so they part
            empty += 1
            continue
        assert np.array_equal(short[:-1], long[: bars[2]]) and short[-1, TYPE] == TYPE_EOS
    assert empty < 6


def test_a_piece_of_several_openings_goes_on_from_the_first_in_its_mode(model):
    """With two openings, a piece whose own opening is in its quadrant's mode is the piece it is with one; the
    others go on from an opening nearer that mode; every piece still has its bars."""
    one, two = Sampling(key_prior=0.5, chord_bias=3.0), Sampling(key_prior=0.5, chord_bias=3.0, openings=2)
    requests = [Request(1 + i % 4, 300 + i) for i in range(16)]
    alone, chosen = generate_batch(model, requests, 4, sampling=one), generate_batch(model, requests, 4, sampling=two)
    kept = changed = 0
    for request, a, c in zip(requests, alone, chosen, strict=True):
        margins = [_opening_margin(steps, request.quadrant) for steps in (a, c)]
        if margins[0] > 0:
            kept += 1
            assert np.array_equal(a, c)
        else:
            assert margins[1] >= margins[0]  # the other opening where it is nearer the mode, else its own
            changed += not np.array_equal(a, c)
        assert int(((c[:, TYPE] == TYPE_METRICAL) & (c[:, BAR_BEAT] == BAR)).sum()) == 4
    assert kept > 0 and changed > 0  # both cases were met
    fewer = generate_batch(model, requests[5:8], 4, sampling=two)  # a piece is the same in any batch
    assert all(np.array_equal(x, y) for x, y in zip(fewer, chosen[5:8], strict=True))


def test_openings_still_undecided_when_decoding_stops_give_one_piece_per_request(model):
    two = Sampling(openings=2, opening_bars=3)
    requests = [Request(q, 70 + q) for q in (1, 2, 3)]
    cut = generate_batch(model, requests, 4, sampling=two, max_steps=12)  # stops inside every opening
    assert len(cut) == len(requests)
    assert [steps[0, EMOTION] for steps in cut] == [1, 2, 3] and all(len(steps) <= 12 for steps in cut)


def _opening_margin(steps: np.ndarray, quadrant: int) -> float:
    """mode_margin of a piece's first two bars, counted as decoding counts them (duration values as weights)."""
    from emoscore.music.cp import DURATION, PITCH
    from emoscore.music.mode_steering import mode_margin, wants_minor
    from emoscore.music.vocabulary import LOWEST_PITCH, TYPE_NOTE

    bars = np.flatnonzero((steps[:, TYPE] == TYPE_METRICAL) & (steps[:, BAR_BEAT] == BAR))
    weights = np.zeros(12)
    for word in steps[: bars[2]]:
        if word[TYPE] == TYPE_NOTE and word[PITCH] > 0:
            weights[(word[PITCH] - 1 + LOWEST_PITCH) % 12] += max(word[DURATION], 1)
    return float(mode_margin(weights[None], np.array([wants_minor(quadrant)]))[0])


def test_checkpoint_round_trip_and_vocabulary_mismatch(model, tmp_path):
    path = tmp_path / "music.pt"
    model.save(path, VOCABULARY)
    loaded, vocabulary = CPTransformer.from_checkpoint(path, VOCABULARY)
    assert vocabulary == VOCABULARY
    assert np.array_equal(generate(loaded, 1, bars=2, seed=1), generate(model, 1, bars=2, seed=1))
    other = Vocabulary({**VOCABULARY.families, "emotion": ("<ignore>", "Q1", "Q2")})
    with pytest.raises(CheckpointError, match=r"vocabulary does not match.*emotion"):
        CPTransformer.from_checkpoint(path, other)


def test_classifier_ignores_the_emotion_word():
    torch.manual_seed(0)
    classifier = MusicClassifier(classifier_config(d_model=16, n_layers=1, window=32)).eval()
    piece = encode_notes([], [(0, 120.0)], emotion=1)[:1]
    body = encode_notes(
        [n for n in decode_notes(generate(CPTransformer(SMALL).eval(), 1, bars=2, seed=0))[0]], [(0, 100.0)]
    )
    as_q1 = np.concatenate([piece, body])
    as_q4 = as_q1.copy()
    as_q4[0, EMOTION] = 4
    assert np.array_equal(music_only(as_q1), music_only(as_q4))
    assert np.allclose(classifier.quadrant_probabilities(as_q1), classifier.quadrant_probabilities(as_q4))
    assert classifier.quadrant_probabilities(as_q1).sum() == pytest.approx(1.0)


def test_sampling_defaults_and_overrides():
    sampling = Sampling.from_params(parse_params({"generation": {"temperature": {"pitch": 0.5}}}).generation)
    assert sampling.for_family("pitch")[0] == 0.5
    assert sampling.for_family("duration") == (1.0, 0.9)  # params.yaml's top_p, the family's temperature left out
    assert Sampling().for_family("duration") == (1.0, 1.0)  # named nowhere: as the model says


def test_generation_keeps_every_tensor_on_the_models_device(model, monkeypatch):
    """On the `meta` device a tensor moved elsewhere (say, the hidden state to the CPU, which crashed generation
    on CUDA) raises at once, and no data exists, so this CPU test stands for any accelerator: sampling is
    replaced by a stub that checks the logits' device and picks the first allowed value."""
    on_meta = CPTransformer(SMALL).to("meta").eval()
    seen = set()

    def to_host(logits):
        seen.add(logits.device.type)
        return np.zeros(logits.shape, dtype=np.float32)

    def first_allowed(logits, allowed, temperature, top_p, rngs):
        return allowed.argmax(axis=1)

    monkeypatch.setattr(generate_module, "to_host", to_host)
    monkeypatch.setattr(generate_module, "sample_rows", first_allowed)
    steps = generate(on_meta, "Q2", bars=2, seed=0, max_steps=64)
    assert seen == {"meta"} and steps[0, EMOTION] == 2 and steps[-1, TYPE] == TYPE_EOS


def test_a_piece_goes_on_from_its_context(model):
    """A film segment continues the previous one: the context is fed but not returned, the new piece has exactly
    its own bars, the cache and full recompute agree, and a batch of contexted pieces equals each alone."""
    first = generate(model, "Q3", bars=4, seed=1)
    context = last_bars(first, 2)
    assert context[0][TYPE] == TYPE_METRICAL and context[0][BAR_BEAT] == BAR
    assert sum(word[BAR_BEAT] == BAR and word[TYPE] == TYPE_METRICAL for word in context) == 2
    assert last_bars(first, 9) == last_bars(first, 4) and last_bars(first, 0) == ()  # never more than there is
    requests = [Request("Q1", 9, context=context), Request("Q2", 10, context=context)]
    together = generate_batch(model, requests, bars=3)
    for request, piece in zip(requests, together, strict=True):
        alone = generate_batch(model, [request], bars=3)[0]
        recomputed = generate_batch(model, [request], bars=3, use_cache=False)[0]
        np.testing.assert_array_equal(piece, alone)
        np.testing.assert_array_equal(piece, recomputed)
        notes, _, emotion = decode_notes(piece)
        assert emotion == parse_quadrant(request.quadrant)
        assert sum(1 for w in piece if w[TYPE] == TYPE_METRICAL and w[BAR_BEAT] == BAR) == 3
        assert notes and max(n.onset for n in notes) < 3 * 16
    # the context changes what comes next (it is attended to), not just the random stream
    assert not np.array_equal(together[0], generate(model, "Q1", bars=3, seed=9))
    with pytest.raises(ValueError, match="same number of steps"):
        generate_batch(model, [Request("Q1", 1, context=context), Request("Q1", 1)], bars=2)


def test_the_grammar_strikes_a_key_once_at_a_time_and_at_most_ten_at_once():
    """A guided Q1 piece once looped on one onset until max_steps (4,000 notes); the grammar now ends that."""
    from emoscore.music.families import PITCH
    from emoscore.music.grammar import MAX_STRUCK, Grammar
    from emoscore.music.vocabulary import TYPE_METRICAL, TYPE_NOTE

    grammar = Grammar(bars=2)
    grammar.advance([0, 0, 2, TYPE_METRICAL, 0, 0, 0, 0])  # Beat 0
    for pitch in range(40, 40 + MAX_STRUCK):
        assert grammar.allowed_types(4)[TYPE_NOTE] or pitch == 40
        assert not grammar.allowed_values(PITCH, TYPE_NOTE, 89)[list(grammar.struck)].any()
        grammar.advance([0, 0, 0, TYPE_NOTE, pitch, 4, 40, 0])
    allowed = grammar.allowed_types(4)
    assert not allowed[TYPE_NOTE] and allowed[TYPE_METRICAL]  # ten struck: on to the next position
    grammar.advance([0, 0, 3, TYPE_METRICAL, 0, 0, 0, 0])  # Beat 1: every key free again
    assert grammar.allowed_values(PITCH, TYPE_NOTE, 89)[40:50].all() and not grammar.struck
