"""Pieces of any length, the one way every caller composes: the model learnt clips of `first_bars` bars (EMOPIA's
are ~8), so a longer piece is its first clip, then `next_bars` at a time, each going on from the last
`context_bars` bars composed, so the model is never asked past the end of what it learnt.

Asked for 16 bars in one go, the demo model's bars 9–16 had half the notes of bars 1–8 and drifted off key
(issue #26); continued this way every 8-bar section keeps the first's density and key clarity (docs/music.md).
A piece no longer than `first_bars` is exactly what `generate_batch` writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from emoscore.music.cp import TYPE
from emoscore.music.generate import EOS_WORD, Request, generate_batch, last_bars
from emoscore.music.sampling import Sampling, Steering
from emoscore.music.vocabulary import TYPE_METRICAL, TYPE_NOTE

MAX_BARS = 64  # what `generate`, the API and scoring may ask for; a film's scene may be longer


@dataclass(frozen=True)
class Continuation:
    """How a long piece is cut: its first clip, then chunks each going on from the bars before it."""

    first_bars: int = 8
    next_bars: int = 4
    context_bars: int = 4

    def chunks(self, bars: int) -> list[int]:
        """The bars of each chunk of a `bars`-bar piece."""
        sizes = [min(bars, self.first_bars)]
        while sum(sizes) < bars:
            sizes.append(min(self.next_bars, bars - sum(sizes)))
        return sizes


def chunk_seed(seed: int, chunk: int) -> int:
    """The random stream of a piece's `chunk`-th chunk: the piece's own seed for the first (a short piece is
    unchanged), one derived from it for each later one."""
    if chunk == 0:
        return seed
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1, dtype=np.uint64)[0] >> 1)


def body(steps: np.ndarray) -> np.ndarray:
    """A piece's Metrical and Note steps (no Emotion, no EOS)."""
    return steps[np.isin(steps[:, TYPE], (TYPE_METRICAL, TYPE_NOTE))]


def compose_long(
    model: object,
    requests: list[Request],
    bars: int,
    *,
    continuation: Continuation = Continuation(),
    sampling: Sampling | None = None,
    steering: Steering | None = None,
    max_steps: int = 4096,
    on_chunk: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """CP steps of `bars`-bar pieces, one per request (its context, if any, is what the first chunk goes on from),
    chunk by chunk (`max_steps` each); within a chunk the pieces whose contexts have the same number of steps
    decode as one batch."""
    if bars < 1:
        raise ValueError(f"bars must be at least 1, got {bars}")
    parts: list[list[np.ndarray]] = [[] for _ in requests]
    contexts = [request.context for request in requests]
    for chunk, size in enumerate(continuation.chunks(bars)):
        groups: dict[int, list[int]] = defaultdict(list)
        for index, context in enumerate(contexts):
            groups[len(context)].append(index)
        for members in groups.values():
            chunk_requests = [
                replace(requests[i], seed=chunk_seed(requests[i].seed, chunk), context=contexts[i]) for i in members
            ]
            made = generate_batch(
                model, chunk_requests, size, sampling=sampling, max_steps=max_steps, steering=steering
            )
            for index, steps in zip(members, made, strict=True):
                parts[index].append(steps)
        for index, pieces in enumerate(parts):
            contexts[index] = last_bars(np.concatenate([body(p) for p in pieces]), continuation.context_bars)
        if on_chunk is not None:
            on_chunk(size)
    return [np.concatenate([p[0][:1], *(body(chunk) for chunk in p), [EOS_WORD]]).astype(np.int64) for p in parts]
