"""Emotion-conditioned generation: incremental decoding with a key/value cache, per-family temperature and
nucleus sampling, and grammar masks so that every output decodes to a valid piece of the requested length."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from emoscore.music.cp import BAR_BEAT, DURATION, FAMILIES, PITCH, TEMPO, TYPE, VELOCITY, bar_starts, emotion_word
from emoscore.music.decoding import HEAD_FAMILIES, Decoder, EagerDecoder, FixedDecoder, GuidedDecoder
from emoscore.music.families import CHORD
from emoscore.music.grammar import Grammar
from emoscore.music.mode_steering import chord_bias, mode_margin, pitch_bias, wants_minor
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling, Steering, sample_rows, to_host
from emoscore.music.vocabulary import (
    BAR,
    LOWEST_PITCH,
    QUADRANTS,
    TYPE_EOS,
    TYPE_METRICAL,
    TYPE_NOTE,
)
from emoscore.music.voice_leading import repeat_offsets


def parse_quadrant(quadrant: str | int) -> int:
    """'Q1'…'Q4' or 1…4 → 1…4; anything else is a ValueError naming the choices."""
    text = str(quadrant).strip().upper()
    if text in QUADRANTS:
        return QUADRANTS.index(text) + 1
    if text in {"1", "2", "3", "4"}:
        return int(text)
    raise ValueError(f"unknown quadrant {quadrant!r}; choose one of {', '.join(QUADRANTS)}")


@dataclass(frozen=True)
class Request:
    """One piece to compose: its quadrant, its seed (the piece is a function of these) and its intensity; with
    `context` (whole bars of steps, each bar opened by its Bar word: see `last_bars`) the piece goes on from them,
    so a film's next segment continues the music of the one before. The context is not part of the result."""

    quadrant: str | int
    seed: int = 0
    intensity: float = 0.0
    context: tuple[tuple[int, ...], ...] = ()


def performed(steps: np.ndarray, request: Request, steering: Steering | None) -> np.ndarray:
    """A whole piece played at its request's intensity (unchanged at 0)."""
    return (steering or Steering()).perform(steps, request.intensity, request.seed) if request.intensity else steps


def last_bars(steps: np.ndarray, bars: int) -> tuple[tuple[int, ...], ...]:
    """The last `bars` whole bars of a piece's steps (all of them when it has fewer; Bar words included, Emotion and
    EOS left out): the context for the piece that follows it."""
    body = [tuple(int(v) for v in word) for word in steps if word[TYPE] in (TYPE_METRICAL, TYPE_NOTE)]
    starts = bar_starts(body)
    return tuple(body[starts[-min(bars, len(starts))] :]) if bars > 0 and len(starts) else ()


def generate(
    model: CPTransformer,
    quadrant: str | int,
    bars: int = 16,
    *,
    seed: int = 0,
    sampling: Sampling | None = None,
    max_steps: int = 4096,
    use_cache: bool = True,
    intensity: float = 0.0,
    steering: Steering | None = None,
) -> np.ndarray:
    """CP steps of a new piece: Emotion(Q) · Bar · … · EOS with exactly `bars` bars (fewer if max_steps is hit);
    `intensity` (−1 … 1, see Steering) makes it calmer or more energetic than the quadrant's typical piece."""
    request = Request(quadrant, seed, intensity)
    return generate_batch(
        model, [request], bars, sampling=sampling, max_steps=max_steps, use_cache=use_cache, steering=steering
    )[0]


class _Piece:
    """Decoding state of one piece of a batch: its words, grammar and own random stream."""

    def __init__(self, request: Request, bars: int, draw: int = 0, opening_bars: int = 0) -> None:
        self.request = request
        context = [list(word) for word in request.context]
        self.words = [emotion_word(parse_quadrant(request.quadrant)), *context, [0, 0, BAR, TYPE_METRICAL, 0, 0, 0, 0]]
        self.given = len(context)  # the context's steps, dropped from the result
        given_bars = len(bar_starts(context))
        beats = any(word[TYPE] == TYPE_METRICAL and word[BAR_BEAT] > BAR for word in context)
        self.grammar = Grammar(bars=given_bars + bars, bar=given_bars + 1, tempo_set=beats, chord_set=beats)
        self.rng = np.random.default_rng([request.seed, OPENING_STREAM, draw] if draw else request.seed)
        self.done = False
        self.dropped = False  # an opening not kept (Sampling.openings)
        self.opening_end = given_bars + opening_bars  # the bar after which its opening is judged
        self.opening: np.ndarray | None = None  # pitch_classes when it got there
        self.minor = wants_minor(parse_quadrant(request.quadrant))
        self.pitch_classes = np.zeros(12)  # duration-weighted, the context's notes included (mode_steering)
        self.struck_before: list[int] = []  # pitch values of the onset before (voice_leading)
        self.struck_now: list[int] = []
        for word in context:
            self.hear(word)

    def hear(self, word: list[int]) -> None:
        """Count a written note's pitch class, weighted by its duration, and which pitches each onset struck."""
        if word[TYPE] == TYPE_METRICAL and self.struck_now:
            self.struck_before, self.struck_now = self.struck_now, []
        elif word[TYPE] == TYPE_NOTE and word[PITCH] > 0:
            self.pitch_classes[(word[PITCH] - 1 + LOWEST_PITCH) % 12] += max(word[DURATION], 1)
            self.struck_now.append(word[PITCH])


EOS_WORD = [0, 0, 0, TYPE_EOS, 0, 0, 0, 0]
OPENING_STREAM = 0x6F70  # the random streams of a piece's other openings: [seed, OPENING_STREAM, draw]


def _keep_openings(pieces: list[_Piece], draws: int, undecided: set[int], *, at_end: bool = False) -> None:
    """For each request in `undecided` whose `draws` openings have all passed their opening bars (or ended, or
    decoding stops: `at_end`), keep the first in the wanted mode (else the nearest to it) and drop the others:
    the model's own choice among openings in that mode, not the most emphatic one (taking the best fit cost Q3
    pitch-class entropy, 0.86 → 0.82)."""
    for request in sorted(undecided):
        group = pieces[request * draws : (request + 1) * draws]
        for piece in group:
            if piece.opening is None and (at_end or piece.done or piece.grammar.bar > piece.opening_end):
                piece.opening = piece.pitch_classes.copy()  # its opening's notes, whenever the others get there
        if any(piece.opening is None for piece in group):
            continue
        openings = np.stack([piece.opening for piece in group])
        margins = mode_margin(openings, np.array([p.minor for p in group]))
        margins[openings.sum(axis=1) == 0] = -np.inf  # an opening with no notes is in no mode
        fitting = np.flatnonzero(margins > 0)
        kept = int(fitting[0]) if len(fitting) else int(np.argmax(margins))
        for draw, piece in enumerate(group):
            if draw != kept:
                piece.done = piece.dropped = True
        undecided.discard(request)


Decoding = Literal["auto", "eager", "fixed"]


def pick_decoder(model: CPTransformer, batch: int, capacity: int, *, use_cache: bool, decoding: Decoding) -> Decoder:
    """auto: fixed shapes replayed as CUDA graphs on a GPU, eager on the CPU (where launches cost little); fixed on
    the CPU runs the fixed-shape arithmetic op by op (what the tests compare with eager)."""
    on_gpu = next(model.parameters()).device.type == "cuda"
    if decoding == "eager" or not use_cache or (decoding == "auto" and not on_gpu):
        return EagerDecoder(model, batch, capacity, use_cache)
    if decoding not in ("auto", "fixed"):
        raise ValueError(f"unknown decoding {decoding!r}; choose auto, eager or fixed")
    return FixedDecoder(model, batch, capacity, graphs=on_gpu)


@torch.inference_mode()
def generate_batch(
    model: CPTransformer,
    requests: list[Request],
    bars: int = 16,
    *,
    sampling: Sampling | None = None,
    max_steps: int = 4096,
    use_cache: bool = True,
    steering: Steering | None = None,
    decoding: Decoding = "auto",
) -> list[np.ndarray]:
    """Pieces for all requests decoded together (one key/value cache of batch B, each piece with its own grammar
    and random stream): the same steps as generating them one at a time, in a fraction of the time. With
    `sampling.openings` > 1 each piece's first `sampling.opening_bars` bars are drawn that many times in the same
    batch and the first draw in the wanted mode goes on (`_keep_openings`); the first draw is the piece's own
    seed's, so a piece whose own opening is in its mode is the piece it was with one draw."""
    if bars < 1:
        raise ValueError("bars must be at least 1")
    if not requests:
        return []
    sampling = sampling or Sampling()
    model.eval()
    device = next(model.parameters()).device
    draws = sampling.openings
    pieces = [_Piece(request, bars, draw, sampling.opening_bars) for request in requests for draw in range(draws)]
    undecided = set(range(len(requests))) if draws > 1 else set()
    if len({len(piece.words) for piece in pieces}) > 1:
        raise ValueError("the pieces of one batch need contexts of the same number of steps")
    live = list(range(len(pieces)))  # the pieces still decoding, in the decoder's batch order
    capacity = min(max_steps, 1024) + len(pieces[0].words)
    guided = sampling.guidance != 1.0
    decoder: Decoder = pick_decoder(
        model, len(pieces) * (2 if guided else 1), capacity, use_cache=use_cache, decoding=decoding
    )
    if guided:
        decoder = GuidedDecoder(decoder, len(pieces), sampling.guidance)
    pending = torch.tensor([piece.words for piece in pieces], device=device)
    for _ in range(max_steps - 3):  # every round adds one step to each piece still decoding
        types = _sample_types(decoder.type_logits(pending), [pieces[i] for i in live], sampling)
        heads = decoder.family_logits(torch.tensor(types, device=device))
        for piece, word_type in zip((pieces[i] for i in live), types, strict=True):
            piece.done = word_type == TYPE_EOS
            piece.words.append([0] * TYPE + [word_type] + [0] * (len(FAMILIES) - TYPE - 1))
        _sample_families(model, heads, [pieces[i] for i in live], sampling)
        for index in live:
            pieces[index].done = pieces[index].done or pieces[index].grammar.ends(pieces[index].words[-1])
        step = [pieces[i].words[-1] if not pieces[i].done else EOS_WORD for i in live]
        for index in live:
            if pieces[index].done:
                pieces[index].words.pop()
            else:
                pieces[index].grammar.advance(pieces[index].words[-1])
                pieces[index].hear(pieces[index].words[-1])
        _keep_openings(pieces, draws, undecided)
        pending = torch.tensor([[word] for word in step], device=device)
        finished = [position for position, index in enumerate(live) if pieces[index].done]
        if len(finished) == len(live):
            break
        if len(finished) * 4 >= len(live):  # finished pieces leave: the tail costs what is left
            keep = [position for position, index in enumerate(live) if not pieces[index].done]
            live = [live[position] for position in keep]
            rows = torch.tensor(keep, device=device)
            pending = pending[rows]
            decoder.select(rows)
    _keep_openings(pieces, draws, undecided, at_end=True)  # max_steps reached before an opening ended
    results = []
    for piece in (piece for piece in pieces if not piece.dropped):
        steps = np.array([piece.words[0], *piece.words[1 + piece.given :], EOS_WORD], dtype=np.int64)
        results.append(performed(steps, piece.request, steering))
    return results


def _sample_types(logits: torch.Tensor, pieces: list[_Piece], sampling: Sampling) -> list[int]:
    """The next step's type of every piece (EOS for those already finished), each from its own grammar."""
    size = logits.shape[-1]
    allowed = np.stack([piece.grammar.allowed_types(size) for piece in pieces])
    for row, piece in enumerate(pieces):
        if piece.done:
            allowed[row] = False
            allowed[row, TYPE_EOS] = True
    temperature, top_p = sampling.for_family("type")
    drawn = sample_rows(to_host(logits), allowed, temperature, top_p=top_p, rngs=[p.rng for p in pieces])
    return [TYPE_EOS if piece.done else int(value) for piece, value in zip(pieces, drawn, strict=True)]


def _offsets(family: int, pieces: list[_Piece], sampling: Sampling, logits: np.ndarray) -> np.ndarray | float:
    """mode_steering's and voice_leading's offsets for this family's `logits` (0 where it has none or is off)."""
    size = logits.shape[1]
    if family == PITCH:
        offsets: np.ndarray | float = 0.0
        if sampling.key_prior or sampling.major_key_prior:
            weights = np.stack([piece.pitch_classes for piece in pieces])
            minor = np.array([piece.minor for piece in pieces])
            offsets = pitch_bias(weights, minor, size, sampling.key_prior, sampling.major_key_prior)
        if sampling.repeat_penalty:
            offsets = offsets + repeat_offsets([piece.struck_before for piece in pieces], size, sampling.repeat_penalty)
        return offsets
    if family == CHORD and sampling.chord_bias:
        return chord_bias(logits, np.array([piece.minor for piece in pieces]), sampling.chord_bias)
    return 0.0


def _no_bar(allowed: np.ndarray) -> np.ndarray:
    allowed[BAR] = False
    return allowed


def _sample_families(model: CPTransformer, heads: torch.Tensor, pieces: list[_Piece], sampling: Sampling) -> None:
    """Fill in the families of each piece's new step (the last of its words), family by family across the batch;
    a piece draws them in the order a piece alone does, so its random stream is consumed the same way."""
    sizes = model.config.vocab_sizes
    columns = np.cumsum([sizes[index] for index in HEAD_FAMILIES])[:-1]
    logits = dict(zip(HEAD_FAMILIES, np.split(to_host(heads), columns, axis=1), strict=True))
    notes = [row for row, piece in enumerate(pieces) if not piece.done and piece.words[-1][TYPE] == TYPE_NOTE]
    beats = [row for row, piece in enumerate(pieces) if not piece.done and piece.words[-1][TYPE] == TYPE_METRICAL]

    def draw(index: int, rows: list[int], allowed: Callable[[Grammar], np.ndarray]) -> None:
        if not rows:
            return
        temperature, top_p = sampling.for_family(FAMILIES[index])
        masks = np.stack([allowed(pieces[row].grammar) for row in rows])
        scores = logits[index][rows]
        values = sample_rows(
            scores + _offsets(index, [pieces[row] for row in rows], sampling, scores),
            masks,
            temperature,
            top_p=top_p,
            rngs=[pieces[row].rng for row in rows],
        )
        for row, value in zip(rows, values, strict=True):
            pieces[row].words[-1][index] = int(value)

    for index in (PITCH, DURATION, VELOCITY):
        draw(index, notes, lambda grammar, index=index: grammar.allowed_values(index, TYPE_NOTE, sizes[index]))
    draw(BAR_BEAT, beats, lambda grammar: grammar.allowed_values(BAR_BEAT, TYPE_METRICAL, sizes[BAR_BEAT]))
    empty = [row for row in beats if pieces[row].grammar.empties(pieces[row].words[-1])]
    draw(BAR_BEAT, empty, lambda grammar: _no_bar(grammar.allowed_values(BAR_BEAT, TYPE_METRICAL, sizes[BAR_BEAT])))
    beats = [row for row in beats if pieces[row].words[-1][BAR_BEAT] != BAR]
    for index in (TEMPO, CHORD):
        draw(index, beats, lambda grammar, index=index: grammar.beat_values(index, sizes[index]))
