"""Pieces of any length, the one way every caller composes: the model learnt clips of `first_bars` bars (EMOPIA's
are ~8), so a longer piece is its first clip, then `next_bars` at a time, each going on from the last
`context_bars` bars composed, so the model is never asked past the end of what it learnt.

Asked for 16 bars in one go, the demo model's bars 9–16 had half the notes of bars 1–8 and drifted off key
(issue #26); continued this way every 8-bar section keeps the first's density and key clarity (docs/music.md).
A piece no longer than `first_bars` is exactly what `generate_batch` writes. Only a piece's first chunk, and only
with no context, draws several openings (`Sampling.openings`): the key is set there; a chunk going on from bars
before it keeps their key, and later chunks draw their own candidates for density.

Form: a model continuing 4 bars at a time never restates anything (no bar recurs), where real music keeps coming
back to its ideas. So the last phrase of every 16 bars (`return_every` chunks) is a return: it restates the opening
bars and the model composes the last `varied_bars` of the phrase anew from them (a varied return, A B A' in 16
bars), and the music goes on from there. Measured in docs/music.md ("Form").

Intensity: chunks are composed as the quadrant's typical piece and the whole piece is played at its intensity
once (`Steering.perform`). Played chunk by chunk, each chunk went on from bars already played faster and louder
and was played faster and louder again: at intensity 0.4 a 32-bar piece's tempo rose 1.19× and its velocity by 11
after its first 8 bars (docs/music.md, "Intensity within a quadrant").

Density: each chunk's notes follow the bars just before it, so over 64 bars a piece's density wanders (a random
walk: the demo model's sections reached 1.21× the first's). With `candidates` > 1 each chunk is drawn that many
times (one batch) and the draw whose notes per bar are nearest the piece's opening is kept, which pulls every
section back towards the first (docs/music.md, "Any length").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from emoscore.music.cp import TYPE, bar_starts
from emoscore.music.generate import EOS_WORD, Request, generate_batch, last_bars, performed
from emoscore.music.sampling import Sampling, Steering
from emoscore.music.vocabulary import TYPE_METRICAL, TYPE_NOTE

MAX_BARS = 64  # what `generate`, the API and scoring may ask for; a film's scene may be longer


@dataclass(frozen=True)
class Continuation:
    """How a long piece is cut: its first clip, then chunks each going on from the bars before it."""

    first_bars: int = 8
    next_bars: int = 4
    context_bars: int = 4
    return_every: int = 4  # chunks per return: with 4-bar chunks, bars 13–16, 29–32, … restate; 0 = never
    varied_bars: int = 2  # bars at the end of a return the model composes anew
    candidates: int = 2  # draws of each later chunk; the one nearest the opening's density is kept

    def __post_init__(self) -> None:
        if min(self.first_bars, self.next_bars, self.varied_bars, self.candidates) < 1:
            raise ValueError(f"a continuation needs chunks, varied bars and candidates of at least 1: {self}")
        if min(self.context_bars, self.return_every) < 0:
            raise ValueError(f"context bars and return_every cannot be negative: {self}")

    def chunks(self, bars: int) -> list[int]:
        """The bars of each chunk of a `bars`-bar piece."""
        sizes = [min(bars, self.first_bars)]
        while sum(sizes) < bars:
            sizes.append(min(self.next_bars, bars - sum(sizes)))
        return sizes

    def restated(self, chunk: int, size: int) -> int:
        """How many bars of chunk `chunk` (of `size` bars) restate the opening: 0 unless it is a return."""
        if chunk == 0 or self.return_every <= 0 or chunk % self.return_every != self.return_every // 2:
            return 0
        return max(0, min(size - self.varied_bars, self.first_bars - self.varied_bars))


def chunk_seed(seed: int, chunk: int, candidate: int = 0) -> int:
    """The random stream of a piece's `chunk`-th chunk (its `candidate`-th draw): the piece's own seed for the first
    (a short piece is unchanged), one derived from it for each later one."""
    if chunk == 0:
        return seed
    entropy = [seed, chunk, candidate] if candidate else [seed, chunk]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1)


def notes_per_bar(steps: np.ndarray) -> float:
    """The density of CP steps: Note words per bar (0 for no bars)."""
    words = body(steps)
    bars = len(bar_starts(words))
    return float(np.count_nonzero(words[:, TYPE] == TYPE_NOTE)) / bars if bars else 0.0


def nearest_density(candidates: list[np.ndarray], target: float) -> np.ndarray:
    """The candidate whose notes per bar are nearest `target` (in ratio, so 8 vs 16 is as far as 32 vs 16); the
    first of equals."""
    distances = [abs(np.log((notes_per_bar(c) + 1.0) / (target + 1.0))) for c in candidates]
    return candidates[int(np.argmin(distances))]


def body(steps: np.ndarray) -> np.ndarray:
    """A piece's Metrical and Note steps (no Emotion, no EOS)."""
    return steps[np.isin(steps[:, TYPE], (TYPE_METRICAL, TYPE_NOTE))]


def opening(steps: np.ndarray, bars: int) -> np.ndarray:
    """The first `bars` whole bars of a piece's body (each opened by its Bar word)."""
    words = body(steps)
    starts = bar_starts(words)
    return words[starts[0] : starts[bars]] if len(starts) > bars else words[starts[0] :] if len(starts) else words


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

    def go_on() -> None:
        for index, pieces in enumerate(parts):
            contexts[index] = last_bars(np.concatenate([body(p) for p in pieces]), continuation.context_bars)

    for chunk, size in enumerate(continuation.chunks(bars)):
        restated = continuation.restated(chunk, size)
        if restated:
            for pieces in parts:
                pieces.append(opening(pieces[0], restated))
            go_on()
        groups: dict[int, list[int]] = defaultdict(list)
        for index, context in enumerate(contexts):
            groups[len(context)].append(index)
        draws = continuation.candidates if chunk else 1
        for length, members in groups.items():
            chunk_requests = [  # composed as asked, played at the piece's intensity once it is whole (below)
                replace(requests[i], seed=chunk_seed(requests[i].seed, chunk, k), context=contexts[i], intensity=0.0)
                for i in members
                for k in range(draws)
            ]
            made = generate_batch(
                model,
                chunk_requests,
                size - restated,
                sampling=sampling if (chunk == 0 and not length) or sampling is None else replace(sampling, openings=1),
                max_steps=max_steps,
            )
            for n, index in enumerate(members):
                drawn = made[n * draws : (n + 1) * draws]
                parts[index].append(drawn[0] if draws == 1 else nearest_density(drawn, notes_per_bar(parts[index][0])))
        go_on()
        if on_chunk is not None:
            on_chunk(size)
    pieces = [np.concatenate([p[0][:1], *(body(chunk) for chunk in p), [EOS_WORD]]).astype(np.int64) for p in parts]
    return [performed(piece, request, steering) for piece, request in zip(pieces, requests, strict=True)]
