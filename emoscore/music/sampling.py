"""How a next value is drawn, and how a piece is played at an intensity: per-family temperature and nucleus
sampling over many rows at once, and Steering's rules for tempo, velocity and density."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from emoscore.config import GenerationParams
from emoscore.music.cp import (
    BAR_BEAT,
    CHORD,
    PITCH,
    TEMPO,
    TYPE,
    VELOCITY,
    step_onsets,
    tempo_bin,
    tempo_of,
    velocity_bin,
    velocity_of,
)
from emoscore.music.vocabulary import BAR, CONTI, POSITIONS_PER_BAR, POSITIONS_PER_BEAT, TYPE_METRICAL, TYPE_NOTE


@dataclass(frozen=True)
class Sampling:
    """Per-family temperature and nucleus (top-p) mass (params.yaml `generation` holds the defaults), and how
    closely to follow the quadrant; a family not named is sampled as the model says: temperature 1, no nucleus cut."""

    temperature: dict[str, float] = field(default_factory=dict)
    top_p: dict[str, float] = field(default_factory=dict)
    guidance: float = 1.0  # classifier-free guidance scale on the quadrant (decoding.GuidedDecoder); 1 = none
    key_prior: float = 0.0  # minor pieces' pitch logits toward their key, taken minor (mode_steering); 0 = off
    major_key_prior: float = 0.0  # the same for major pieces, taken major; 0 = off
    chord_bias: float = 0.0  # chord logits of the quadrant's mode raised (mode_steering); 0 = off
    repeat_penalty: float = 0.0  # pitch logits of the onset before's pitches lowered (voice_leading); 0 = off
    openings: int = 1  # draws of a piece's opening bars; the first in the wanted mode goes on
    opening_bars: int = 2  # how many bars an opening is

    def __post_init__(self) -> None:
        if self.openings < 1 or self.opening_bars < 1:
            raise ValueError(f"openings and opening_bars must be at least 1, got {self.openings}, {self.opening_bars}")

    @classmethod
    def from_params(cls, generation: GenerationParams) -> Sampling:
        """The sampling settings of params.yaml's `generation` section."""
        return cls(
            dict(generation.temperature),
            dict(generation.top_p),
            generation.guidance,
            key_prior=generation.mode_steering["key_prior"],
            major_key_prior=generation.mode_steering["major_key_prior"],
            chord_bias=generation.mode_steering["chord_bias"],
            repeat_penalty=generation.repeat_penalty,
            openings=generation.openings["draws"],
            opening_bars=generation.openings["bars"],
        )

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
    down (t > 0), or per note an upper note of a chord or a note off the beat is left out (t < 0): a single line
    has no chord to thin (`_spare_off_beat` says which off-beat notes may go). The choices use their own random
    stream, so a piece at a higher intensity is the same piece, never slower or thinner, and no note of it softer.
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
        spare = _spare_off_beat(steps) if intensity < 0 else None  # only a calmer performance leaves notes out
        played, previous_type, beat = [], TYPE_METRICAL, None
        for index, word in enumerate(steps.tolist()):
            kind, first_at_onset = word[TYPE], previous_type == TYPE_METRICAL
            previous_type = kind
            if kind == TYPE_METRICAL and word[BAR_BEAT] != BAR and word[TEMPO] >= 2:
                word[TEMPO] = tempo_bin(tempo_of(word[TEMPO]) * 2.0 ** (self.tempo * intensity))
            if kind != TYPE_NOTE:
                beat = None  # a Beat none of whose notes was kept goes with them: the grammar has no empty onset
                if kind == TYPE_METRICAL and word[BAR_BEAT] > BAR:
                    beat = word
                else:
                    played.append(word)
                continue
            word[VELOCITY] = velocity_bin(int(np.clip(velocity_of(word[VELOCITY]) + self.velocity * intensity, 1, 127)))
            hit = draws.random() < chance
            kept = []
            if intensity > 0 and first_at_onset and hit and word[PITCH] > 12:
                kept.append([*word[:PITCH], word[PITCH] - 12, *word[PITCH + 1 :]])  # bass first, as encoded
            if not (intensity < 0 and hit and (spare[index] or not first_at_onset)):
                kept.append(word)
            if kept and beat is not None:
                played.append(beat)
                beat = None
            played.extend(kept)
        return np.array(played, dtype=np.int64)


def _spare_off_beat(steps: np.ndarray) -> np.ndarray:
    """Per step, whether it is a note off the beat that a calmer performance may leave out: in a bar that keeps a
    note on a beat, not at the piece's last onset (so no bar falls silent and the piece ends where it ended), and not
    at an onset whose Beat changes the tempo or chord (the Beat goes when its notes do)."""
    onsets = step_onsets(steps)
    beats = (steps[:, TYPE] == TYPE_METRICAL) & (steps[:, BAR_BEAT] > BAR)
    changing = beats & ((steps[:, TEMPO] > CONTI) | (steps[:, CHORD] > CONTI))
    opened_by = np.maximum.accumulate(np.where(steps[:, TYPE] == TYPE_METRICAL, np.arange(len(steps)), 0))
    notes = (steps[:, TYPE] == TYPE_NOTE) & ~changing[opened_by]
    on_beat = notes & (onsets % POSITIONS_PER_BEAT == 0)
    bars_on_beat = np.unique(onsets[on_beat] // POSITIONS_PER_BAR)
    last = onsets[notes].max(initial=-1)
    return notes & ~on_beat & np.isin(onsets // POSITIONS_PER_BAR, bars_on_beat) & (onsets < last)


def sample_token(
    logits: torch.Tensor | np.ndarray,
    allowed: np.ndarray,
    temperature: float,
    *,
    top_p: float,
    rng: np.random.Generator,
) -> int:
    """Sample one value from 1-D logits restricted to `allowed`, with temperature and nucleus sampling."""
    if isinstance(logits, torch.Tensor):
        logits = to_host(logits)
    return int(sample_rows(np.asarray(logits)[None], allowed[None], temperature, top_p=top_p, rngs=[rng])[0])


def sample_rows(
    logits: np.ndarray, allowed: np.ndarray, temperature: float, *, top_p: float, rngs: list[np.random.Generator]
) -> np.ndarray:
    """One value per row of [R, V] logits restricted to `allowed`, each row drawing from its own random stream.

    NumPy, not torch: on rows of a few dozen values each torch call costs more than the arithmetic; and a row's
    result does not depend on the other rows, so a piece samples the same in a batch as alone. The draw is read
    off the nucleus in vocabulary order, not in order of probability: two values within rounding of each other
    (another kernel, another device) may swap places in a sort, and that must not change which value is drawn.
    """
    values = np.where(allowed, np.asarray(logits, dtype=np.float64), -np.inf)
    if temperature <= 0:
        return values.argmax(axis=1)
    scaled = values / temperature
    probabilities = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    order = np.argsort(-probabilities, axis=1, kind="stable")
    ordered = np.take_along_axis(probabilities, order, axis=1)
    kept = np.maximum(1, np.count_nonzero(np.cumsum(ordered, axis=1) - ordered < top_p, axis=1))  # the nucleus
    in_nucleus = np.zeros(values.shape, dtype=bool)
    np.put_along_axis(in_nucleus, order, np.arange(values.shape[1])[None, :] < kept[:, None], axis=1)
    cumulative = np.cumsum(np.where(in_nucleus, probabilities, 0.0), axis=1)
    draws = np.array([rng.random() for rng in rngs]) * cumulative[:, -1]
    return np.minimum(np.count_nonzero(cumulative <= draws[:, None], axis=1), values.shape[1] - 1)


def to_host(logits: torch.Tensor) -> np.ndarray:
    """Logits from the model's device (any float type) as a float32 NumPy array: the one transfer per family."""
    return logits.detach().float().cpu().numpy()
