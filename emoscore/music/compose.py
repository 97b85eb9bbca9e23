"""One piece, end to end: generate CP steps for an emotion, write the MIDI file, render its audio when possible.

Shared by `emoscore generate` and scoring, so a piece is written the same way wherever it comes from.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscore.config import GenerationParams, RenderParams
from emoscore.device import pick_device
from emoscore.music.audio import render_audio
from emoscore.music.continuation import MAX_BARS, compose_long
from emoscore.music.cp import decode_notes, decode_to_midi, duration_seconds
from emoscore.music.generate import Request
from emoscore.music.model import CPTransformer
from emoscore.music.render import RenderUnavailable
from emoscore.music.sampling import Sampling, Steering
from emoscore.music.vocabulary import Vocabulary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Piece:
    """What was written: the MIDI file, the audio file (None with the reason when it could not be rendered)."""

    steps: np.ndarray
    midi_path: Path
    n_notes: int
    duration_s: float
    audio_path: Path | None = None
    audio_problem: str | None = None


@functools.cache
def music_model(checkpoint: Path, device: str, vocabulary: Path | None = None) -> CPTransformer:
    """This process's music model: loaded once, on `device`; refuses a vocabulary other than `vocabulary`'s."""
    expected = Vocabulary.load(vocabulary) if vocabulary and Path(vocabulary).exists() else None
    model, _ = CPTransformer.from_checkpoint(checkpoint, expected)
    return model.to(pick_device(device))


def compose_pieces(
    model: CPTransformer, requests: list[Request], bars: int, generation: GenerationParams
) -> list[np.ndarray]:
    """CP steps of every requested `bars`-bar piece (1–64), decoded together with params.yaml's sampling and
    intensity rules; a piece longer than the model's clips is continued chunk by chunk (see `continuation`)."""
    if not 1 <= bars <= MAX_BARS:
        raise ValueError(f"bars must be 1–{MAX_BARS}, got {bars}")
    return compose_long(
        model,
        requests,
        bars,
        sampling=Sampling.from_params(generation),
        max_steps=generation.max_steps,
        steering=Steering.from_params(generation),
    )


def write_piece(
    steps: np.ndarray, midi_path: Path, audio_path: Path | None = None, render: RenderParams | None = None
) -> Piece:
    """Write a piece's MIDI file atomically, and render `audio_path` from it if given (when the renderer can)."""
    midi_path = Path(midi_path)
    midi_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = midi_path.with_name(f".{midi_path.name}.tmp")
    decode_to_midi(steps, temporary)
    temporary.replace(midi_path)
    notes, tempi, _ = decode_notes(steps)
    written, problem = None, None
    if audio_path is not None:
        try:
            written = render_audio(midi_path, Path(audio_path), render)
        except RenderUnavailable as error:
            problem = str(error)
            log.debug("no audio for %s: %s", midi_path, error)
    return Piece(steps, midi_path, len(notes), duration_seconds(notes, tempi), written, problem)


def compose_piece(
    model: CPTransformer,
    quadrant: int,
    bars: int,
    *,
    seed: int,
    generation: GenerationParams,
    midi_path: Path,
    audio_path: Path | None = None,
    render: RenderParams | None = None,
    intensity: float = 0.0,
) -> Piece:
    """Generate a piece in `quadrant` (at `intensity` within it) and write it to `midi_path` atomically; also
    render `audio_path` if given."""
    steps = compose_pieces(model, [Request(quadrant, seed, intensity)], bars, generation)[0]
    return write_piece(steps, midi_path, audio_path, render)
