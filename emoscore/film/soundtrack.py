"""One continuous soundtrack: each segment composed for its scene's quadrant and intensity, going on from the
bars before it (the model's context), laid end to end on the film's tempo map; the dynamics eased across each cut;
written as one MIDI file and rendered to exactly the film's length."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emoscore.config import FilmParams, GenerationParams
from emoscore.film.plan import Segment, tempo_map
from emoscore.music.continuation import Continuation, compose_long
from emoscore.music.cp import Note, decode_notes, notes_to_midi
from emoscore.music.generate import Request, last_bars
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling, Steering
from emoscore.music.vocabulary import POSITIONS_PER_BAR
from emoscore.progress import Progress

FADE_S = 0.5  # the music fades out over the film's last half second instead of being cut off


def segment_seed(film_seed: int, scene: int, chunk: int) -> int:
    """The random stream of one chunk of one scene: the same film always gets the same music."""
    return int(np.random.SeedSequence([film_seed, scene, chunk]).generate_state(1, dtype=np.uint64)[0] >> 1)


def compose_segments(
    model: CPTransformer,
    segments: Sequence[Segment],
    film_seed: int,
    *,
    generation: GenerationParams,
    film: FilmParams,
    progress: bool = False,
) -> list[list[np.ndarray]]:
    """CP steps per segment, composed as any long piece is (`continuation`) in chunks of at most `film.chunk_bars`
    bars, each going on from the last `film.context_bars` bars composed before it (across cuts too): segments
    follow each other, so one at a time."""
    sampling, steering = Sampling.from_params(generation), Steering.from_params(generation)
    # no returns: a cue's form is the film's (its scenes and arc); restating a scene's opening is not measured yet
    cutting = Continuation(film.chunk_bars, film.chunk_bars, film.context_bars, return_every=0)
    composed: list[np.ndarray] = []
    with Progress(total=sum(s.bars for s in segments), desc="composing", unit="bar", disable=not progress) as bar:
        for segment in segments:
            context = last_bars(composed[-1], film.context_bars) if composed else ()
            request = Request(segment.quadrant, segment_seed(film_seed, segment.scene, 0), segment.intensity, context)
            (steps,) = compose_long(
                model,
                [request],
                segment.bars,
                continuation=cutting,
                sampling=sampling,
                steering=steering,
                max_steps=generation.max_steps,
                on_chunk=bar.update,
            )
            composed.append(steps)
    return composed


def assemble(segments: Sequence[Segment], composed: Sequence[np.ndarray]) -> list[Note]:
    """Every segment's notes at its place on the film's grid, cut at the film's end, with each cut's first bar
    eased from the loudness of the bar before it to its own."""
    notes: list[Note] = []
    for segment, steps in zip(segments, composed, strict=True):
        offset = segment.first_bar * POSITIONS_PER_BAR
        notes.extend(Note(n.onset + offset, n.pitch, n.duration, n.velocity) for n in decode_notes(steps)[0])
    end = (segments[-1].first_bar + segments[-1].bars) * POSITIONS_PER_BAR
    notes = [Note(n.onset, n.pitch, min(n.duration, end - n.onset), n.velocity) for n in notes if n.onset < end]
    for segment in segments[1:]:
        notes = ease_dynamics(notes, segment.first_bar * POSITIONS_PER_BAR)
    return sorted(notes, key=lambda n: (n.onset, n.pitch))


def ease_dynamics(notes: list[Note], cut: int) -> list[Note]:
    """Move the first bar after `cut` (a 16th-note position) from the mean velocity of the bar before it to its
    own, linearly over the bar: the music changes at the cut without a jump in loudness."""
    before = [n.velocity for n in notes if cut - POSITIONS_PER_BAR <= n.onset < cut]
    after = [n.velocity for n in notes if cut <= n.onset < cut + POSITIONS_PER_BAR]
    if not before or not after:
        return notes
    gap = float(np.mean(before) - np.mean(after))
    eased = []
    for note in notes:
        if cut <= note.onset < cut + POSITIONS_PER_BAR:
            share = 1.0 - (note.onset - cut) / POSITIONS_PER_BAR
            note = Note(note.onset, note.pitch, note.duration, int(np.clip(round(note.velocity + gap * share), 1, 127)))
        eased.append(note)
    return eased


def write_midi(segments: Sequence[Segment], notes: Sequence[Note], path: Path) -> Path:
    """The soundtrack as a one-track piano MIDI file on the film's tempo map."""
    notes_to_midi(notes, tempo_map(segments)).dump(str(path))
    return path


def fit_length(samples: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    """Rendered audio cut or padded with silence to exactly `seconds`, faded out over its last FADE_S."""
    frames = round(seconds * sample_rate)
    fitted = np.zeros((frames, samples.shape[1]), dtype=np.int16)
    fitted[: min(frames, len(samples))] = samples[:frames]
    fade = min(frames, round(FADE_S * sample_rate))
    ramp = np.linspace(1.0, 0.0, fade)[:, None]
    fitted[frames - fade :] = (fitted[frames - fade :] * ramp).astype(np.int16)
    return fitted
