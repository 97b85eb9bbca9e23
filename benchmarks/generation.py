"""Music generation: the KV cache against recomputing, and many pieces decoded together."""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.common import PROJECT, best_of, record, trained_params
from emoscore.config import load_params
from emoscore.music.generate import Request, generate, generate_batch
from emoscore.music.model import CPTransformer, MusicConfig
from emoscore.music.sampling import Sampling, Steering


def bench_generation(steps: int, repeats: int) -> None:
    """Generated CP steps/s with the key/value cache vs recomputing the whole sequence every step."""
    torch.manual_seed(0)
    music = load_params(PROJECT / "params.yaml").music  # the size of the model the project trains
    model = CPTransformer(MusicConfig.from_params(music)).eval()
    generate(model, "Q1", bars=4, seed=0)  # warm-up
    (cached_time, cached), (full_time, full) = best_of(
        repeats,
        lambda: generate(model, "Q1", bars=10_000, seed=3, max_steps=steps + 1),
        lambda: generate(model, "Q1", bars=10_000, seed=3, max_steps=steps + 1, use_cache=False),
    )
    assert np.array_equal(cached, full) and len(cached) == steps + 1
    ratio = full_time / cached_time
    record(
        "generation KV cache",
        f"steps/s cached ÷ recomputed at {steps} steps",
        ratio,
        "≥ 8×",
        ratio >= 8,
        f"cached {steps / cached_time:.0f} steps/s, recomputed {steps / full_time:.0f} steps/s, "
        f"d_model {music.d_model} × {music.n_layers} layers, best of {repeats}",
    )


def bench_batched_generation(pieces: int, repeats: int) -> None:
    """8-bar pieces/s decoded 32 at a time in one cache vs one at a time, with the trained model."""
    params = trained_params()
    if params is None:
        return
    model, _ = CPTransformer.from_checkpoint(PROJECT / params.music.out)
    sampling, steering = Sampling.from_params(params.generation), Steering.from_params(params.generation)
    requests = [Request(1 + i % 4, 7000 + i, (i % 5 - 2) / 2) for i in range(pieces)]

    def one_at_a_time() -> list:
        return [
            generate(model, r.quadrant, 8, seed=r.seed, sampling=sampling, intensity=r.intensity, steering=steering)
            for r in requests
        ]

    def batched() -> list:
        chunks = [requests[start : start + 32] for start in range(0, pieces, 32)]
        return [
            piece for chunk in chunks for piece in generate_batch(model, chunk, 8, sampling=sampling, steering=steering)
        ]

    (alone_time, alone), (batch_time, batch) = best_of(repeats, one_at_a_time, batched)
    assert all(np.array_equal(a, b) for a, b in zip(alone, batch, strict=True)), "batched pieces differ"
    ratio = alone_time / batch_time
    steps = sum(len(piece) for piece in batch)
    record(
        "batched generation",
        "pieces/s at batch 32 ÷ one at a time (CPU)",
        ratio,
        "≥ 6×",
        ratio >= 6,
        f"{pieces / batch_time:.1f} vs {pieces / alone_time:.1f} pieces/s, {steps} steps in all, identical "
        f"tokens, {torch.get_num_threads()} threads, best of {repeats}",
    )
