"""One continuous soundtrack: each segment composed for its scene's quadrant and intensity, going on from the
bars before it (the model's context), laid end to end on the film's tempo map; the dynamics eased across each cut;
written as one MIDI file and rendered to exactly the film's length."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import miditoolkit
import numpy as np
from miditoolkit import Marker, TimeSignature

from emoscore.config import FilmParams, GenerationParams
from emoscore.film.plan import Segment, metre_map, tempo_map
from emoscore.music.continuation import Continuation, compose_long
from emoscore.music.cp import Note, decode_notes, notes_to_midi
from emoscore.music.generate import Request, last_bars, performed
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling, Steering
from emoscore.music.vocabulary import POSITIONS_PER_BAR, POSITIONS_PER_BEAT
from emoscore.progress import Progress

FADE_S = 0.5  # the music fades out over the film's last half second instead of being cut off


def segment_seed(film_seed: int, scene: int, part: int) -> int:
    """The random stream of one segment of one scene (a hit splits a scene in parts): the same film always gets the
    same music."""
    return int(np.random.SeedSequence([film_seed, scene, part]).generate_state(1, dtype=np.uint64)[0] >> 1)


def segment_seeds(segments: Sequence[Segment], film_seed: int, seeds: dict[int, int]) -> list[int]:
    """Each segment's seed: from the film's, or from the seed a person chose for its scene's cue (`seeds`)."""
    parts: dict[int, int] = {}
    chosen = []
    for segment in segments:
        part = parts[segment.scene] = parts.get(segment.scene, -1) + 1
        chosen.append(segment_seed(seeds.get(segment.scene, film_seed), segment.scene, part))
    return chosen


def compose_segments(
    model: CPTransformer,
    segments: Sequence[Segment],
    seeds: Sequence[int],
    *,
    generation: GenerationParams,
    film: FilmParams,
    kept: Sequence[np.ndarray | None] = (),
    progress: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """CP steps per segment (one 4/4 bar per bar of the plan: an odd bar is the start of one), composed as any long
    piece is (`continuation`), each going on from the last `film.context_bars` bars before it (across a cut only
    into the same quadrant, unless `film.carry_context` is always): segments follow each other, so one at a time.
    Each is composed as its quadrant's typical music, the next goes on from it as composed, and then it is played
    at its intensity, so intensities never stack: (as played, as composed). A segment whose steps as composed are
    `kept` is not composed again, only played."""
    sampling, steering = Sampling.from_params(generation), Steering.from_params(generation)
    # no returns: a cue's form is the film's (its scenes and arc); restating a scene's opening is not measured yet.
    # One draw a chunk: scenes of 25 bars held their density without it (issue #26), and a second doubles the time.
    cutting = Continuation(film.chunk_bars, film.chunk_bars, film.context_bars, return_every=0, candidates=1)
    kept = list(kept) or [None] * len(segments)
    played: list[np.ndarray] = []
    composed: list[np.ndarray] = []
    total = sum(len(s.bars) for s, k in zip(segments, kept, strict=True) if k is None)
    with Progress(total=total, desc="composing", unit="bar", disable=not progress) as bar:
        for index, (segment, seed, steps) in enumerate(zip(segments, seeds, kept, strict=True)):
            if steps is None:
                carried = index and (film.carry_context == "always" or segments[index - 1].quadrant == segment.quadrant)
                context = last_bars(composed[-1], film.context_bars) if carried else ()
                (steps,) = compose_long(
                    model,
                    [Request(segment.quadrant, seed, 0.0, context)],
                    len(segment.bars),
                    continuation=cutting,
                    sampling=sampling,
                    max_steps=generation.max_steps,
                    on_chunk=bar.update,
                )
            composed.append(steps)
            played.append(performed(steps, Request(segment.quadrant, seed, segment.intensity), steering))
    return played, composed


def segment_notes(segment: Segment, steps: np.ndarray) -> list[Note]:
    """A segment's notes on the film's grid: composed bar b becomes the plan's bar b, an odd bar its first 16ths
    (notes that would start after its end are left out, and notes in it end by its end)."""
    notes = []
    for note in decode_notes(steps)[0]:
        index, within = divmod(note.onset, POSITIONS_PER_BAR)
        if index >= len(segment.bars) or within >= segment.bars[index]:
            continue
        onset = segment.bar_starts[index] + within
        room = segment.end - onset if segment.bars[index] == POSITIONS_PER_BAR else segment.bars[index] - within
        notes.append(Note(onset, note.pitch, max(1, min(note.duration, room)), note.velocity))
    return notes


def assemble(segments: Sequence[Segment], composed: Sequence[np.ndarray], accent: int = 0) -> list[Note]:
    """Every segment's notes at its place on the film's grid, cut at the film's end; each cut's first bar eased from
    the loudness of the bar before it to its own, and a hit's downbeat accented by `accent`."""
    notes = [note for segment, steps in zip(segments, composed, strict=True) for note in segment_notes(segment, steps)]
    end = segments[-1].end
    notes = [Note(n.onset, n.pitch, min(n.duration, end - n.onset), n.velocity) for n in notes if n.onset < end]
    for segment in segments:
        if "cut" in segment.starts_on:
            notes = ease_dynamics(notes, segment.start)
        if "hit" in segment.starts_on:  # the film's first frame may be a hit too
            notes = accented(notes, segment.start, accent)
    return sorted(notes, key=lambda n: (n.onset, n.pitch))


def accented(notes: list[Note], position: int, accent: int) -> list[Note]:
    """The notes that start at `position` played `accent` louder; where none does, a low note of the bar's harmony
    (an octave under its lowest note) is added there, so the hit always sounds."""
    on = [n for n in notes if n.onset == position]
    if not on:
        bar = [n for n in notes if position <= n.onset < position + POSITIONS_PER_BAR]
        level = int(np.mean([n.velocity for n in bar])) if bar else 64
        low = min((n.pitch for n in bar), default=57)
        notes = [*notes, Note(position, low - 12 if low >= 33 else low, POSITIONS_PER_BEAT, level)]
    return [
        Note(n.onset, n.pitch, n.duration, min(127, n.velocity + accent)) if n.onset == position else n for n in notes
    ]


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


def soundtrack_midi(
    segments: Sequence[Segment], notes: Sequence[Note], markers: Sequence[tuple[int, str]] = ()
) -> miditoolkit.MidiFile:
    """The soundtrack as a one-track piano MIDI file on the film's tempo map and metres, with a marker per cut and
    hit (16th position, text): what a DAW needs to go on from it."""
    midi = notes_to_midi(notes, tempo_map(segments))
    ticks = midi.ticks_per_beat // POSITIONS_PER_BEAT
    midi.time_signature_changes = [TimeSignature(n, d, at * ticks) for at, (n, d) in metre_map(segments)]
    mark(midi, markers)
    return midi


def mark(midi: miditoolkit.MidiFile, markers: Sequence[tuple[int, str]]) -> None:
    """Set a file's markers (16th position, text): where the tempo map must exist before they can be placed."""
    ticks = midi.ticks_per_beat // POSITIONS_PER_BEAT
    midi.markers = [Marker(text, at * ticks) for at, text in markers]


def excerpt(midi: miditoolkit.MidiFile, start: int, end: int) -> miditoolkit.MidiFile:
    """Ticks [start, end) of a file as a file of their own starting at 0: its notes, and the tempo, metre and
    markers in force (one cue's MIDI for a DAW)."""
    part = miditoolkit.MidiFile(ticks_per_beat=midi.ticks_per_beat)
    piano = miditoolkit.Instrument(program=0, is_drum=False, name="Piano")
    piano.notes = [
        miditoolkit.Note(n.velocity, n.pitch, n.start - start, min(n.end, end) - start)
        for instrument in midi.instruments
        for n in instrument.notes
        if start <= n.start < end
    ]
    part.instruments.append(piano)

    def within(events: list, make: Callable) -> list:
        before = [e for e in events if e.time <= start][-1:]
        return [make(e, max(0, e.time - start)) for e in before + [e for e in events if start < e.time < end]]

    part.tempo_changes = within(midi.tempo_changes, lambda e, t: miditoolkit.TempoChange(e.tempo, t))
    part.time_signature_changes = within(
        midi.time_signature_changes, lambda e, t: TimeSignature(e.numerator, e.denominator, t)
    )
    part.markers = [Marker(m.text, m.time - start) for m in midi.markers if start <= m.time < end]
    return part


def fit_length(samples: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    """Rendered audio as float32 on the -1…1 scale (int16 input rescaled), cut or padded with silence to exactly
    `seconds`, faded out over its last FADE_S."""
    if samples.dtype == np.int16:
        samples = samples / 32768.0
    frames = round(seconds * sample_rate)
    fitted = np.zeros((frames, samples.shape[1]), dtype=np.float32)
    fitted[: min(frames, len(samples))] = samples[:frames]
    fade = min(frames, round(FADE_S * sample_rate))
    fitted[frames - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    return fitted
