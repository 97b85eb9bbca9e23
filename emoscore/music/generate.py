"""Emotion-conditioned generation: incremental decoding with a key/value cache, per-family temperature and
nucleus sampling, and grammar masks so that every output decodes to a valid piece of the requested length."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from emoscore.config import GenerationParams
from emoscore.music.cp import (
    BAR,
    BAR_BEAT,
    CONTI,
    DURATION,
    FAMILIES,
    IGNORE,
    PITCH,
    QUADRANTS,
    TEMPO,
    TYPE,
    TYPE_EOS,
    TYPE_METRICAL,
    TYPE_NOTE,
    VELOCITY,
    emotion_word,
    tempo_bin,
    tempo_of,
    velocity_bin,
    velocity_of,
)
from emoscore.music.families import CHORD
from emoscore.music.model import CPTransformer, KVCache


@dataclass(frozen=True)
class Sampling:
    """Per-family temperature and nucleus (top-p) mass (params.yaml `generation` holds the defaults); a family
    not named is sampled as the model says: temperature 1, no nucleus cut."""

    temperature: dict[str, float] = field(default_factory=dict)
    top_p: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_params(cls, generation: GenerationParams) -> Sampling:
        """The sampling settings of params.yaml's `generation` section."""
        return cls(dict(generation.temperature), dict(generation.top_p))

    def for_family(self, name: str) -> tuple[float, float]:
        """(temperature, top_p) of a family."""
        return self.temperature.get(name, 1.0), self.top_p.get(name, 1.0)


EMOPIA_RELEASED = Sampling(
    {"type": 1.0, "tempo": 1.2, "chord": 1.0, "bar-beat": 1.2, "pitch": 1.0, "duration": 2.0, "velocity": 5.0},
    {"type": 0.9, "tempo": 0.9, "chord": 0.99, "bar-beat": 1.0, "pitch": 0.9, "duration": 0.9, "velocity": 1.0},
)  # annahung31/EMOPIA workspace/transformer/models.py; eval_music compares it with params.yaml's settings


@dataclass(frozen=True)
class Steering:
    """Intensity within a quadrant, by rule, as a performance of what the model composed for the quadrant: the same
    piece played slower, softer and thinner, or faster, louder and fuller.

    EMOPIA labels clips only by quadrant, so there is no per-clip arousal to learn intensity from; and steering the
    sampler instead (we tried exponential tilting of the logits) pushed the model into other modes of its data
    rather than making the piece calmer. So, for intensity t: every tempo is scaled by 2^(tempo × t), every
    velocity moved by velocity × t, and with probability density × |t| per onset the bass is doubled an octave
    down (t > 0) or an upper note of a chord is left out (t < 0). The choices use their own random stream, so a
    piece at a higher intensity is the same piece, never slower or thinner, and no note of it softer.
    """

    tempo: float = 0.0
    velocity: float = 0.0
    density: float = 0.0

    @classmethod
    def from_params(cls, generation: GenerationParams) -> Steering:
        """The strengths of params.yaml's `generation.intensity`."""
        return cls(**generation.intensity)

    def perform(self, steps: np.ndarray, intensity: float, seed: int) -> np.ndarray:
        """The steps as played at `intensity` (−1 … 1; 0 returns them unchanged)."""
        if not intensity:
            return steps
        draws = np.random.default_rng([seed, 1])  # not the composing stream: the same piece at every intensity
        chance = min(1.0, self.density * abs(intensity))
        played, previous_type = [], TYPE_METRICAL
        for word in steps.tolist():
            kind, first_at_onset = word[TYPE], previous_type == TYPE_METRICAL
            previous_type = kind
            if kind == TYPE_METRICAL and word[BAR_BEAT] != BAR and word[TEMPO] >= 2:
                word[TEMPO] = tempo_bin(tempo_of(word[TEMPO]) * 2.0 ** (self.tempo * intensity))
            if kind != TYPE_NOTE:
                played.append(word)
                continue
            word[VELOCITY] = velocity_bin(int(np.clip(velocity_of(word[VELOCITY]) + self.velocity * intensity, 1, 127)))
            hit = draws.random() < chance
            if intensity > 0 and first_at_onset and hit and word[PITCH] > 12:
                played.append([*word[:PITCH], word[PITCH] - 12, *word[PITCH + 1 :]])  # bass first, as encoded
            if not (intensity < 0 and not first_at_onset and hit):
                played.append(word)
        return np.array(played, dtype=np.int64)


def parse_quadrant(quadrant: str | int) -> int:
    """'Q1'…'Q4' or 1…4 → 1…4; anything else is a ValueError naming the choices."""
    text = str(quadrant).strip().upper()
    if text in QUADRANTS:
        return QUADRANTS.index(text) + 1
    if text in {"1", "2", "3", "4"}:
        return int(text)
    raise ValueError(f"unknown quadrant {quadrant!r}; choose one of {', '.join(QUADRANTS)}")


def sample_token(logits: torch.Tensor | np.ndarray, allowed: np.ndarray, temperature: float, top_p: float,
                 rng: np.random.Generator) -> int:  # fmt: skip
    """Sample one value from 1-D logits restricted to `allowed`, with temperature and nucleus sampling.

    NumPy, not torch: on vectors of a few dozen values each torch call costs more than the arithmetic. Torch
    logits may live on any device (and in any float type); they come to the CPU here, once.
    """
    if isinstance(logits, torch.Tensor):
        logits = logits.detach().float().cpu().numpy()
    values = np.where(allowed, np.asarray(logits, dtype=np.float64), -np.inf)
    if temperature <= 0:
        return int(values.argmax())
    scaled = values / temperature
    probabilities = np.exp(scaled - scaled.max())
    order = np.argsort(-probabilities, kind="stable")
    ordered = probabilities[order] / probabilities.sum()
    cumulative = np.cumsum(ordered)
    kept = max(1, int(np.count_nonzero(cumulative - ordered < top_p)))  # the nucleus is a prefix of the order
    choice = np.searchsorted(cumulative[:kept], rng.random() * cumulative[kept - 1], side="right")
    return int(order[min(int(choice), kept - 1)])


@dataclass
class Grammar:
    """What may come next. State: the current bar (1-based), the last beat position in it (-1 before any), the
    last step's type, and whether tempo and chord have been set. Exactly `bars` bars are produced."""

    bars: int
    bar: int = 1
    position: int = -1
    last_type: int = TYPE_METRICAL
    tempo_set: bool = False
    chord_set: bool = False

    @property
    def can_beat(self) -> bool:
        """A later position is left in this bar."""
        return self.position < 15

    @property
    def can_bar(self) -> bool:
        """Another bar may start."""
        return self.bar < self.bars

    def allowed_types(self, size: int) -> np.ndarray:
        """A Beat is followed by a Note, a Note by a Note or a Metrical step; EOS only in the last bar after a note."""
        allowed = np.zeros(size, dtype=bool)
        if self.last_type == TYPE_METRICAL and self.position >= 0:
            allowed[TYPE_NOTE] = True
            return allowed
        allowed[TYPE_NOTE] = self.last_type == TYPE_NOTE
        allowed[TYPE_METRICAL] = self.can_beat or self.can_bar
        allowed[TYPE_EOS] = (not self.can_bar and self.last_type == TYPE_NOTE) or not allowed[TYPE_METRICAL]
        return allowed

    def allowed_values(self, family: int, word_type: int, size: int) -> np.ndarray:
        """Values of a family allowed in a step of the given type (tempo/chord of Beats: see beat_values)."""
        allowed = np.zeros(size, dtype=bool)
        if word_type == TYPE_NOTE and family in (PITCH, DURATION, VELOCITY):
            allowed[1:] = True
        elif word_type == TYPE_METRICAL and family == BAR_BEAT:
            allowed[2 + self.position + 1 :] = True
            allowed[BAR] = self.can_bar
        else:
            allowed[IGNORE] = True
        return allowed

    def beat_values(self, family: int, size: int) -> np.ndarray:
        """Tempo/chord of a Beat word: a real value the first time, then CONTI or a change."""
        allowed = np.zeros(size, dtype=bool)
        allowed[2:] = True
        allowed[CONTI] = self.tempo_set if family == TEMPO else self.chord_set
        return allowed

    def advance(self, word: list[int]) -> None:
        """Update the state after a step."""
        self.last_type = word[TYPE]
        if word[TYPE] == TYPE_METRICAL and word[BAR_BEAT] == BAR:
            self.bar, self.position = self.bar + 1, -1
        elif word[TYPE] == TYPE_METRICAL:
            self.position = word[BAR_BEAT] - 2
            self.tempo_set = self.chord_set = True


@torch.inference_mode()
def generate(
    model: CPTransformer,
    quadrant: str | int,
    bars: int = 16,
    seed: int = 0,
    sampling: Sampling | None = None,
    max_steps: int = 4096,
    use_cache: bool = True,
    intensity: float = 0.0,
    steering: Steering | None = None,
) -> np.ndarray:
    """CP steps of a new piece: Emotion(Q) · Bar · … · EOS with exactly `bars` bars (fewer if max_steps is hit);
    `intensity` (−1 … 1, see Steering) makes it calmer or more energetic than the quadrant's typical piece."""
    if bars < 1:
        raise ValueError("bars must be at least 1")
    emotion = parse_quadrant(quadrant)
    sampling = sampling or Sampling()
    model.eval()
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    sizes = list(model.config.vocab_sizes)
    words = [emotion_word(emotion), [0, 0, BAR, TYPE_METRICAL, 0, 0, 0, 0]]
    grammar = Grammar(bars=bars)
    cache = KVCache(model.config, capacity=min(max_steps, 1024), device=device) if use_cache else None
    pending = torch.tensor([words], device=device)
    while len(words) < max_steps - 1:
        if cache is not None:
            hidden = model.hidden(pending, cache)
        else:
            hidden = model.hidden(torch.tensor([words], device=device))
        last = hidden[0, -1]  # stays on the model's device: the heads run there, only logits come to the CPU
        temperature, top_p = sampling.for_family("type")
        allowed_types = grammar.allowed_types(sizes[TYPE])
        word_type = sample_token(model.type_logits(last), allowed_types, temperature, top_p, rng)
        if word_type == TYPE_EOS:
            break
        conditioned = model.condition_on_type(last[None], torch.tensor([word_type], device=device))
        word = [0] * len(FAMILIES)  # families a step of this type does not use stay 0 ("ignore")
        word[TYPE] = word_type

        def draw(index: int, allowed: np.ndarray, state: torch.Tensor = conditioned) -> int:
            temperature, top_p = sampling.for_family(FAMILIES[index])
            logits = model.family_head(state, FAMILIES[index])[0]
            return sample_token(logits, allowed, temperature, top_p, rng)

        if word_type == TYPE_NOTE:
            for index in (PITCH, DURATION, VELOCITY):
                word[index] = draw(index, grammar.allowed_values(index, word_type, sizes[index]))
        else:
            word[BAR_BEAT] = draw(BAR_BEAT, grammar.allowed_values(BAR_BEAT, word_type, sizes[BAR_BEAT]))
            if word[BAR_BEAT] != BAR:
                for index in (TEMPO, CHORD):
                    word[index] = draw(index, grammar.beat_values(index, sizes[index]))
        grammar.advance(word)
        words.append(word)
        pending = torch.tensor([[word]], device=device)
    words.append([0, 0, 0, TYPE_EOS, 0, 0, 0, 0])
    steps = np.array(words, dtype=np.int64)
    return (steering or Steering()).perform(steps, intensity, seed) if intensity else steps
