"""Fixed-shape decoding (what a GPU replays as CUDA graphs) against eager decoding, run op by op on the CPU."""

import math

import numpy as np
import pytest
import torch

from emoscore.music.decoding import EagerDecoder, FixedDecoder
from emoscore.music.generate import Request, generate_batch, last_bars, pick_decoder
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling, Steering
from tests.helpers import SMALL


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return CPTransformer(SMALL).eval()


def test_fixed_shapes_give_the_tokens_eager_decoding_gives(model):
    """Masked attention over every slot of a fixed buffer, the position as a device tensor, finished pieces leaving
    the batch (new shapes): the same pieces, token for token, with contexts and intensities too."""
    sampling, steering = Sampling({"pitch": 0.9}, {"type": 0.9}), Steering(0.5, 40, 1.5)
    requests = [Request(1 + i % 4, 200 + i, (i % 3 - 1) * 0.7) for i in range(6)]
    eager = generate_batch(model, requests, bars=3, sampling=sampling, steering=steering, decoding="eager")
    fixed = generate_batch(model, requests, bars=3, sampling=sampling, steering=steering, decoding="fixed")
    assert len({len(steps) for steps in eager}) > 1  # pieces finished at different rounds
    assert all(np.array_equal(a, b) for a, b in zip(eager, fixed, strict=True))
    context = last_bars(eager[0], 2)
    contexted = [Request("Q2", 7, context=context), Request("Q4", 8, context=context)]
    np.testing.assert_array_equal(
        np.concatenate(generate_batch(model, contexted, bars=2, decoding="eager")),
        np.concatenate(generate_batch(model, contexted, bars=2, decoding="fixed")),
    )


@torch.inference_mode()
def test_a_fixed_cache_doubles_in_place_and_keeps_every_step(model):
    """From 64 slots (a capacity rounds up to whole 64-slot tiles), the buffers double twice on the way (what
    makes a GPU capture its graphs again); every round's logits equal the eager decoder's on the same steps."""
    steps = torch.from_numpy(generate_batch(model, [Request("Q1", 3)], bars=24)[0][None])
    assert steps.shape[1] > 128
    eager, fixed = EagerDecoder(model, 1, 4), FixedDecoder(model, 1, 8, graphs=False)
    prompt = steps[:, :5]
    torch.testing.assert_close(fixed.type_logits(prompt), eager.type_logits(prompt), rtol=0, atol=1e-5)
    for index in range(5, steps.shape[1]):
        step = steps[:, index : index + 1]
        torch.testing.assert_close(fixed.type_logits(step), eager.type_logits(step), rtol=0, atol=1e-5)
        types = step[:, 0, 3]
        torch.testing.assert_close(fixed.family_logits(types), eager.family_logits(types), rtol=0, atol=1e-5)
    assert fixed.cache.capacity == 64 * 2 ** math.ceil(math.log2(steps.shape[1] / 64))  # the smallest that holds it


@torch.inference_mode()
def test_a_prompt_longer_than_the_fixed_cache_grows_it_and_decoding_goes_on(model):
    """A film segment's context may be longer than the cache's first 64 slots: the prompt grows the buffers, and
    the next single step reads all of them through a mask of the same length."""
    steps = torch.from_numpy(generate_batch(model, [Request("Q2", 5)], bars=24)[0][None])
    eager, fixed = EagerDecoder(model, 1, 8), FixedDecoder(model, 1, 8, graphs=False)
    prompt = steps[:, :100]
    torch.testing.assert_close(fixed.type_logits(prompt), eager.type_logits(prompt), rtol=0, atol=1e-5)
    for index in range(100, 110):
        step = steps[:, index : index + 1]
        torch.testing.assert_close(fixed.type_logits(step), eager.type_logits(step), rtol=0, atol=1e-5)


def test_the_decoder_is_chosen_by_device_and_asked_for_by_name(model):
    assert isinstance(
        pick_decoder(model, 2, 16, use_cache=True, decoding="auto"), EagerDecoder
    )  # the CPU: launches are cheap
    assert isinstance(pick_decoder(model, 2, 16, use_cache=True, decoding="fixed"), FixedDecoder)
    assert isinstance(
        pick_decoder(model, 2, 16, use_cache=False, decoding="fixed"), EagerDecoder
    )  # no cache: nothing to fix
    with pytest.raises(ValueError, match="choose auto, eager or fixed"):
        pick_decoder(model, 2, 16, use_cache=True, decoding="graphs")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CUDA graphs need the model on a CUDA device"):
        FixedDecoder(model, 1, 8, graphs=True)


def test_guidance_decodes_each_piece_with_an_unconditioned_twin_and_pushes_from_it(model):
    """At a scale a hair above 1 the guided pieces are the unguided ones, token for token, while pieces leave the
    batch at different rounds (each row keeps its twin); the logits are u + g·(c − u), the twin's Emotion 0."""
    from emoscore.music.decoding import GuidedDecoder

    requests = [Request(1 + i % 4, 300 + i) for i in range(5)]
    plain = generate_batch(model, requests, bars=3, decoding="eager")
    assert len({len(steps) for steps in plain}) > 1
    nearly = generate_batch(model, requests, bars=3, sampling=Sampling(guidance=1 + 1e-6), decoding="eager")
    assert all(np.array_equal(a, b) for a, b in zip(plain, nearly, strict=True))
    pushed = generate_batch(model, requests, bars=3, sampling=Sampling(guidance=4.0), decoding="eager")
    assert not all(np.array_equal(a, b) for a, b in zip(plain, pushed, strict=True))
    fixed = generate_batch(model, requests, bars=3, sampling=Sampling(guidance=4.0), decoding="fixed")
    assert all(np.array_equal(a, b) for a, b in zip(pushed, fixed, strict=True))  # the GPU path's arithmetic

    class Inner:
        def __init__(self):
            self.fed, self.kept = None, None

        def type_logits(self, pending):
            self.fed = pending
            return pending[:, 0, 7:8].float().repeat(1, 3)  # logits = the Emotion value fed

        def family_logits(self, types):
            return torch.stack([types.float(), torch.arange(len(types)).float()], dim=1)

        def select(self, rows):
            self.kept = rows

    inner = Inner()
    guided = GuidedDecoder(inner, 2, 3.0)
    prompt = torch.tensor([[[0, 0, 0, 3, 0, 0, 0, 2]], [[0, 0, 0, 3, 0, 0, 0, 4]]])
    logits = guided.type_logits(prompt)
    assert inner.fed[:, 0, 7].tolist() == [2, 4, 0, 0]  # the asked rows, then their twins with Emotion 0
    assert logits.tolist() == [[6.0] * 3, [12.0] * 3]  # 0 + 3 × (c − 0)
    assert guided.family_logits(torch.tensor([5, 6]))[:, 1].tolist() == [-4.0, -3.0]  # rows 0,1 against twins 2,3
    guided.select(torch.tensor([1]))
    assert inner.kept.tolist() == [1, 3] and guided.batch == 1
