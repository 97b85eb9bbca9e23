"""Real music to learn from: the public-domain scores that ship with music21 (Bach chorales, Joplin, Mozart, …).

A score becomes grid notes the CP tokenizer reads: repeats written out, ties merged, every part merged into one
piano part, onsets and durations in 16ths from the first full bar (a pickup is kept before it), tempo from the first
metronome mark (a default otherwise), velocity from the dynamics marks (mezzo-forte otherwise). RomanText files
(harmonic analyses in the corpus beside some scores) are not music and are left out. Only duple metres (4/4, 2/4,
2/2, and their common-time spellings) are kept: the CP grid is 4/4, and a 3/4 piece would put bar lines in the
wrong place. Pieces may be transposed for augmentation (the model should not learn one key per composer).
"""

from __future__ import annotations

import functools
import itertools
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from emoscore.errors import InvalidMidi
from emoscore.music.cp import Note, quantize_velocity
from emoscore.music.vocabulary import HIGHEST_PITCH, LOWEST_PITCH, MAX_DURATION, POSITIONS_PER_BEAT

log = logging.getLogger(__name__)

T = TypeVar("T")
DUPLE = {"4/4", "2/4", "2/2", "4/2"}
DEFAULT_BPM = 100.0
DEFAULT_VELOCITY = 80
ANALYSES = {".rntxt", ".rtxt"}  # RomanText: harmonic analyses (block chords), not the music
DYNAMIC_VELOCITY = {"ppp": 24, "pp": 36, "p": 52, "mp": 66, "mf": 80, "f": 96, "ff": 110, "fff": 122}


@dataclass(frozen=True)
class ScoreSource:
    """A music21 corpus file and which of its works (an .abc file may hold many tunes)."""

    name: str
    path: Path


def _name(collection: str, path: Path) -> str:
    """`music21/<collection>/<path in it>`: unique (mozart/k80/movement1.mxl and haydn/…/movement1.mxl differ)."""
    parts = path.parts
    inside = parts[len(parts) - 1 - parts[::-1].index(collection) :] if collection in parts else (collection, path.name)
    return "music21/" + "/".join(inside)


def corpus_files(collections: list[str], limit: int) -> list[ScoreSource]:
    """Up to `limit` corpus files from the named collections (composer folders such as `bach`, `joplin`), in a
    stable order that interleaves the collections, so a small limit still samples each of them."""
    from music21 import corpus

    per_collection: list[list[ScoreSource]] = []
    for collection in collections:
        found = {Path(str(p)) for p in corpus.getComposer(collection)}
        paths = sorted(p for p in found if p.suffix.lower() not in ANALYSES)
        if not paths:
            raise InvalidMidi(collection, "no such collection in music21's corpus", "dataset_missing")
        per_collection.append([ScoreSource(_name(collection, p), p) for p in paths])
    chosen: list[ScoreSource] = []
    for index in range(max(map(len, per_collection), default=0)):
        chosen.extend(sources[index] for sources in per_collection if index < len(sources))
    return chosen[:limit]


def _velocity_map(flat: object) -> list[tuple[float, int]]:
    from music21 import dynamics

    marks = [
        (float(d.offset), DYNAMIC_VELOCITY.get(d.value, DEFAULT_VELOCITY))
        for d in flat.getElementsByClass(dynamics.Dynamic)
    ]  # type: ignore[attr-defined]
    return sorted(marks) or [(0.0, DEFAULT_VELOCITY)]


def _as_played(parsed: object, source: ScoreSource) -> object:
    """The score with its repeats written out, as a performance (and EMOPIA's transcriptions) plays them; as
    written where its repeat marks are malformed."""
    from music21 import bar, repeat

    if not parsed.recurse().getElementsByClass([bar.Repeat, repeat.RepeatExpression]):  # type: ignore[attr-defined]
        return parsed
    try:
        return parsed.expandRepeats()  # type: ignore[attr-defined]
    except Exception as error:  # music21's ExpanderException and others on odd marks
        log.debug("%s: repeats kept as written (%s)", source.name, error)
        return parsed


def score_notes(source: ScoreSource) -> tuple[list[Note], list[tuple[int, float]]]:
    """Grid notes and tempo of a corpus score; InvalidMidi (naming it and why) when it cannot be used."""
    notes, bpm, _ = read_score(source)
    return notes, [(0, bpm)]


def read_score(source: ScoreSource) -> tuple[list[Note], float, bool]:
    """Grid notes, tempo and whether the tempo is the score's own metronome mark (else DEFAULT_BPM)."""
    from music21 import converter, meter, stream, tempo

    try:
        parsed = converter.parse(source.path)
    except Exception as error:  # music21 raises many kinds on bad files
        raise InvalidMidi(source.name, f"music21 cannot parse it: {error}", "unparseable") from None
    if isinstance(parsed, stream.Opus):
        parsed = parsed.scores[0] if parsed.scores else None
    if parsed is None:
        raise InvalidMidi(source.name, "no score in the file", "no_notes")
    parsed = _as_played(parsed, source)
    signatures = parsed.recurse().getElementsByClass(meter.TimeSignature)
    metre = signatures[0].ratioString if signatures else "4/4"
    odd = next((s.ratioString for s in signatures if s.ratioString not in DUPLE), None)
    if odd is not None:  # the first metre that is not duple, which need not be the score's first
        where = "" if odd == metre else f", after {metre},"
        raise InvalidMidi(source.name, f"metre {odd}{where} is not duple (the CP grid is 4/4)", "not_duple")
    flat = parsed.stripTies().flatten()
    first = parsed.parts[0].getElementsByClass(stream.Measure) if parsed.parts else []
    bar = signatures[0].barDuration.quarterLength if signatures else 4.0
    # an anacrusis (a short first bar) ends on the first bar line: shift it by what the short bar lacks
    shift = bar - first[0].duration.quarterLength if len(first) and first[0].duration.quarterLength < bar else 0.0
    velocities = _velocity_map(flat)
    longest: dict[tuple[int, int], Note] = {}
    for element in flat.notes:
        length = float(element.quarterLength)
        if length <= 0:
            continue  # grace notes
        offset = float(element.offset)
        heard = [v for at, v in velocities if at <= offset + 1e-9]
        velocity = quantize_velocity(heard[-1] if heard else DEFAULT_VELOCITY)
        onset = round((offset + shift) * POSITIONS_PER_BEAT)
        duration = max(1, min(MAX_DURATION, round(length * POSITIONS_PER_BEAT)))
        for pitch in element.pitches:
            if LOWEST_PITCH <= pitch.midi <= HIGHEST_PITCH:
                note = Note(onset, pitch.midi, duration, velocity)
                if (onset, pitch.midi) not in longest or duration > longest[(onset, pitch.midi)].duration:
                    longest[(onset, pitch.midi)] = note
    if len(longest) < 8:
        raise InvalidMidi(source.name, f"only {len(longest)} notes", "no_notes")
    marks = parsed.recurse().getElementsByClass(tempo.MetronomeMark)
    bpm = next((float(m.getQuarterBPM()) for m in marks if m.getQuarterBPM()), None)
    return sorted(longest.values(), key=lambda n: (n.onset, n.pitch)), bpm or DEFAULT_BPM, bpm is not None


def transposed(notes: list[Note], semitones: int) -> list[Note]:
    """The notes moved by `semitones`, dropping any that leave the piano's range."""
    return [
        Note(n.onset, n.pitch + semitones, n.duration, n.velocity)
        for n in notes
        if LOWEST_PITCH <= n.pitch + semitones <= HIGHEST_PITCH
    ]


def read_scores(
    sources: Sequence[ScoreSource], read: Callable[[ScoreSource], T], workers: int | None = None
) -> Iterator[tuple[ScoreSource, T | InvalidMidi]]:
    """Each source with `read(source)` (a picklable function; e.g. `read_score`) or the InvalidMidi why not, in
    order, in `workers` spawned processes (one per core by default): music21 takes 0.1-1.5 s a file."""
    attempt = functools.partial(_attempt, read)
    workers = min(len(sources), workers or os.cpu_count() or 1)
    if workers <= 1:
        yield from ((source, attempt(source)) for source in sources)
        return
    # spawned, not forked: the stages that call this run inside a threaded Prefect process
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    waiting = iter(sources)
    # at most two scores a worker in flight, so a caller that stops early (an error, Ctrl-C) leaves little to
    # finish; pool.map would queue the whole corpus, and shutting down waited for all of it
    flight = deque((source, pool.submit(attempt, source)) for source in itertools.islice(waiting, 2 * workers))
    try:
        while flight:
            source, future = flight.popleft()
            result = future.result()
            for following in itertools.islice(waiting, 1):
                flight.append((following, pool.submit(attempt, following)))
            yield source, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _attempt(read: Callable[[ScoreSource], T], source: ScoreSource) -> T | InvalidMidi:
    try:
        return read(source)
    except InvalidMidi as error:
        return error
