"""Beats and bars for MIDI whose tempo map is nominal: transcriptions of piano audio (EMOPIA's `midis/`).

EMOPIA's clips were transcribed from audio (GiantMIDI's model) and carry one nominal 120 BPM tempo with onsets in
seconds; the authors beat-tracked the *audio* (madmom) and re-timed the MIDI before tokenising. The audio is not
released, so we track beats from the notes themselves: an onset-strength envelope, a tempo from its
autocorrelation (with a log-tempo prior against octave errors), dynamic-programming beat tracking (Ellis 2007),
and the downbeat phase that puts bass notes, long notes and chord changes on bar lines. The notes are then
re-timed so that each tracked beat is one quarter note, with a tempo per bar. Written here because no maintained
library tracks beats from symbolic notes (librosa's tracker would need numba and an audio-style envelope anyway).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import miditoolkit
import numpy as np

log = logging.getLogger(__name__)

Timing = Literal["auto", "file", "beat_track"]
FPS = 100  # envelope frames per second
BPM_RANGE = (40.0, 220.0)
PRIOR_CENTER_BPM, PRIOR_OCTAVES = 120.0, 0.9
BEATS_PER_BAR = 4  # the CP vocabulary is a 4/4 grid, as in the EMOPIA and compound-word pipelines
COMB = ((1, 1.0), (2, 0.5), (4, 0.25))  # beat, half bar and bar periodicity (4/4)
LEVELS = (1.0, 2.0, 0.5, 1.5, 2.0 / 3.0)  # metrical levels the autocorrelation may confuse with the beat
HARMONY_FLOOR = 0.25  # how much a level without harmonic change per bar still counts
GRID_DIVISIONS = 24  # onsets of quantised files sit on 1/24 of a beat (16ths, 32nds and triplets alike)


@dataclass(frozen=True)
class BeatGrid:
    """Tracked beat times (seconds), the index of the first downbeat among them, and the tempo in BPM."""

    beats: np.ndarray
    first_downbeat: int
    bpm: float


def seconds_at(midi: miditoolkit.MidiFile, ticks: np.ndarray) -> np.ndarray:
    """Seconds of ticks under the file's tempo map (120 BPM before the first change)."""
    changes = sorted(midi.tempo_changes, key=lambda c: c.time) or [miditoolkit.TempoChange(120.0, 0)]
    at = np.array([0] + [c.time for c in changes[1:]], dtype=float)
    seconds_per_tick = np.array([60.0 / c.tempo / midi.ticks_per_beat for c in changes])
    elapsed = np.r_[0.0, np.cumsum(np.diff(at) * seconds_per_tick[:-1])]
    segment = np.searchsorted(at, ticks, side="right") - 1
    return elapsed[segment] + (ticks - at[segment]) * seconds_per_tick[segment]


def _note_arrays(midi: miditoolkit.MidiFile) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    notes = [n for instrument in midi.instruments if not instrument.is_drum for n in instrument.notes]
    if not notes:
        return (np.zeros(0),) * 4  # type: ignore[return-value]
    starts = seconds_at(midi, np.array([n.start for n in notes]))
    ends = seconds_at(midi, np.array([n.end for n in notes]))
    pitches = np.array([n.pitch for n in notes], dtype=float)
    velocities = np.array([n.velocity for n in notes], dtype=float)
    return starts, ends, pitches, velocities


def on_grid_share(midi: miditoolkit.MidiFile) -> float:
    """Share of onsets within a tick of a 1/24-beat grid (1.0 for quantised files, ~0.2 for transcriptions)."""
    ticks = np.array([n.start for i in midi.instruments if not i.is_drum for n in i.notes], dtype=float)
    if len(ticks) == 0:
        return 1.0
    step = midi.ticks_per_beat / GRID_DIVISIONS
    distance = np.abs(ticks / step - np.round(ticks / step)) * step
    return float(np.mean(distance <= max(1.0, midi.ticks_per_beat / 480)))


def has_nominal_timing(midi: miditoolkit.MidiFile) -> bool:
    """One tempo for the whole file and onsets off any musical grid: the tempo map says nothing about the beats."""
    tempi = {round(change.tempo, 3) for change in midi.tempo_changes}
    return len(tempi) <= 1 and on_grid_share(midi) < 0.9


def onset_envelope(starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray, velocities: np.ndarray) -> np.ndarray:
    """Onset strength per 10 ms frame: louder, lower and longer notes weigh more; smoothed over ±20 ms."""
    frames = int(np.ceil((ends.max() if len(ends) else 0) * FPS)) + 2 * FPS
    envelope = np.zeros(frames)
    low = 1.0 + (pitches < 60) * 0.5
    long = 1.0 + np.clip(ends - starts, 0, 1.0)
    np.add.at(envelope, np.round(starts * FPS).astype(int), velocities / 127.0 * low * long)
    kernel = np.exp(-0.5 * (np.arange(-4, 5) / 2.0) ** 2)
    return np.convolve(envelope, kernel / kernel.sum(), mode="same")


def periodicity(envelope: np.ndarray) -> np.ndarray:
    """Autocorrelation of the envelope, normalised to 1 at lag 0 (all zeros for a flat envelope)."""
    centred = envelope - envelope.mean()
    spectrum = np.fft.rfft(centred, n=2 * len(centred))
    autocorrelation = np.fft.irfft(spectrum * np.conj(spectrum))[: len(centred)]
    return autocorrelation / autocorrelation[0] if autocorrelation[0] > 0 else np.zeros_like(autocorrelation)


def tempo_score(autocorrelation: np.ndarray, bpm: float) -> float:
    """How well a tempo explains the onsets: the autocorrelation at its beat and bar lags, under a log-tempo prior."""
    lag = 60.0 * FPS / bpm
    if COMB[-1][0] * lag >= len(autocorrelation) - 1:
        return -np.inf
    comb = sum(w * np.interp(k * lag, np.arange(len(autocorrelation)), autocorrelation) for k, w in COMB)
    return float(comb * np.exp(-0.5 * (np.log2(bpm / PRIOR_CENTER_BPM) / PRIOR_OCTAVES) ** 2))


def estimate_period(autocorrelation: np.ndarray) -> float:
    """Beat period in frames: the lag of an onset envelope's autocorrelation (`periodicity`), with its multiples,
    that is strongest under a log-tempo prior."""
    tempi = np.arange(BPM_RANGE[0], BPM_RANGE[1], 0.25)
    scores = [tempo_score(autocorrelation, bpm) for bpm in tempi]
    if not np.isfinite(max(scores)) or max(scores) <= 0:
        return 60.0 * FPS / PRIOR_CENTER_BPM
    return float(60.0 * FPS / tempi[int(np.argmax(scores))])


def track_beats(envelope: np.ndarray, period: float, tightness: float = 100.0) -> np.ndarray:
    """Beat frames by dynamic programming: strong onsets on beats, inter-beat intervals close to `period`."""
    score = envelope / (envelope.std() or 1.0)
    cumulative = score.copy()
    backlink = np.full(len(score), -1)
    offsets = np.arange(-round(2 * period), -round(period / 2) + 1)
    penalty = -tightness * np.log(-offsets / period) ** 2
    for t in range(len(score)):
        previous = t + offsets
        valid = previous >= 0
        if not valid.any():
            continue
        candidates = cumulative[previous[valid]] + penalty[valid]
        best = int(np.argmax(candidates))
        if candidates[best] > 0:
            cumulative[t] = score[t] + candidates[best]
            backlink[t] = previous[valid][best]
    tail = cumulative[max(0, len(cumulative) - round(period)) :]
    beat = len(cumulative) - len(tail) + int(np.argmax(tail))
    beats = [beat]
    while backlink[beats[-1]] >= 0:
        beats.append(int(backlink[beats[-1]]))
    return np.array(beats[::-1])


def _extend(beats: np.ndarray, start: float, end: float) -> np.ndarray:
    """Continue the beat sequence at its edge intervals so that it covers start … end."""
    beats = list(beats)
    while beats[0] > start:
        beats.insert(0, beats[0] - (beats[1] - beats[0]))
    while beats[-1] <= end:
        beats.append(beats[-1] + (beats[-1] - beats[-2]))
    return np.array(beats)


def beat_chroma(beats: np.ndarray, starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """Pitch-class weight per beat [beats, 12] of the notes starting nearest to it: the bass (lowest third of the
    pitches) and longer notes weigh most, as they carry the harmony while melodies wander through the scale."""
    nearest = np.abs(starts[:, None] - beats[None, :]).argmin(axis=1)
    weight = (1 + np.clip(ends - starts, 0, 2)) * np.where(pitches <= np.percentile(pitches, 33), 4.0, 1.0)
    chroma = np.zeros((len(beats), 12))
    np.add.at(chroma, nearest, np.eye(12)[pitches.astype(int) % 12] * weight[:, None])
    return chroma


def bar_change(chroma: np.ndarray, phase: int) -> float:
    """Mean cosine distance between the pitch classes of consecutive bars that start at beat `phase`: harmony is
    steadier within bars than across them, so this is largest at the right bar length and phase."""
    bars = np.add.reduceat(chroma[phase:], np.arange(0, len(chroma) - phase, BEATS_PER_BAR), axis=0)
    norms = np.linalg.norm(bars, axis=1)
    unit = bars / np.where(norms > 0, norms, 1)[:, None]
    pairs = (norms[1:] > 0) & (norms[:-1] > 0)
    return float((1.0 - (unit[1:] * unit[:-1]).sum(axis=1))[pairs].mean()) if pairs.any() else 0.0


def downbeat_phase(
    beats: np.ndarray, starts: np.ndarray, ends: np.ndarray, *, pitches: np.ndarray, velocities: np.ndarray
) -> int:
    """Which of the first BEATS_PER_BAR beats is a downbeat: louder, lower and longer onsets on it, and harmony
    that is steadier within bars than across them. Each cue is scaled to [0, 1] across the phases, then summed."""
    nearest = np.abs(starts[:, None] - beats[None, :]).argmin(axis=1)
    on_beat = np.abs(starts - beats[nearest]) < 0.07
    bass = (pitches <= np.percentile(pitches, 25)).astype(float)
    length = np.clip(ends - starts, 0, 2)
    loudness = velocities - velocities.mean()
    chroma = beat_chroma(beats, starts, ends, pitches)
    cues = np.zeros((4, BEATS_PER_BAR))
    for phase in range(BEATS_PER_BAR):
        on = on_beat & (nearest % BEATS_PER_BAR == phase)
        if on.any():
            cues[0, phase], cues[1, phase], cues[2, phase] = loudness[on].mean(), bass[on].mean(), length[on].mean()
        cues[3, phase] = bar_change(chroma, phase)
    spread = cues.max(axis=1, keepdims=True) - cues.min(axis=1, keepdims=True)
    scaled = (cues - cues.min(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1)
    return int(np.argmax(scaled.sum(axis=0)))


def track(midi: miditoolkit.MidiFile) -> BeatGrid | None:
    """Beats and first downbeat of a file's notes (None when there are too few notes to tell)."""
    starts, ends, pitches, velocities = _note_arrays(midi)
    if len(starts) < 8 or ends.max() - starts.min() < 2.0:
        return None
    envelope = onset_envelope(starts, ends, pitches, velocities)
    autocorrelation = periodicity(envelope)
    period = estimate_period(autocorrelation)
    best: tuple[float, float, np.ndarray] | None = None
    for candidate in (period * f for f in LEVELS if BPM_RANGE[0] <= 60.0 * FPS / (period * f) <= BPM_RANGE[1]):
        frames = track_beats(envelope, candidate)
        if len(frames) < 3:
            continue
        beats = _extend(frames / FPS, starts.min() - 1e-6, ends.max())
        chroma = beat_chroma(beats, starts, ends, pitches)
        harmony = max(bar_change(chroma, phase) for phase in range(BEATS_PER_BAR))
        score = max(tempo_score(autocorrelation, 60.0 * FPS / candidate), 0.0) * (HARMONY_FLOOR + harmony)
        if best is None or score > best[0]:
            best = (score, candidate, beats)
    if best is None:
        return None
    _, period, beats = best
    phase = downbeat_phase(beats, starts, ends, pitches=pitches, velocities=velocities)
    return BeatGrid(beats, phase, 60.0 * FPS / period)


def retime(midi: miditoolkit.MidiFile, grid: BeatGrid, ticks_per_beat: int = 480) -> miditoolkit.MidiFile:
    """A copy whose quarter notes are the tracked beats (first downbeat on a bar line), with one tempo per bar."""
    starts, ends, _, _ = _note_arrays(midi)
    beats = grid.beats
    # the beat index of the first downbeat lands on bar 1 (or bar 0 when no note comes before it)
    first_note_beat = np.interp(starts.min(), beats, np.arange(len(beats)))
    shift = 0 if first_note_beat >= grid.first_downbeat - 0.5 else BEATS_PER_BAR
    origin = grid.first_downbeat - shift
    out = miditoolkit.MidiFile(ticks_per_beat=ticks_per_beat)
    piano = miditoolkit.Instrument(program=0, is_drum=False, name="Piano")
    index = np.arange(len(beats))
    for start, end, note in zip(
        starts, ends, (n for i in midi.instruments if not i.is_drum for n in i.notes), strict=True
    ):
        onset = round((np.interp(start, beats, index) - origin) * ticks_per_beat)
        offset = round((np.interp(end, beats, index) - origin) * ticks_per_beat)
        if onset >= 0:
            piano.notes.append(miditoolkit.Note(note.velocity, note.pitch, onset, max(offset, onset + 1)))
    out.instruments.append(piano)
    intervals = np.diff(beats)
    tempi = []
    for bar_start in range(origin, len(intervals), BEATS_PER_BAR):
        bar = intervals[max(bar_start, 0) : bar_start + BEATS_PER_BAR]
        if len(bar):
            bpm = round(60.0 / float(np.median(bar)), 2)
            if not tempi or tempi[-1].tempo != bpm:
                tempi.append(miditoolkit.TempoChange(bpm, max(bar_start - origin, 0) * ticks_per_beat))
    out.tempo_changes = tempi or [miditoolkit.TempoChange(grid.bpm, 0)]
    out.time_signature_changes = [miditoolkit.TimeSignature(BEATS_PER_BAR, 4, 0)]
    return out


def apply_timing(
    midi: miditoolkit.MidiFile, timing: Timing, source: str = "<midi>"
) -> tuple[miditoolkit.MidiFile, bool]:
    """The file as tokenising should see it and whether its beats were tracked: `file` keeps the tempo map,
    `beat_track` always re-times, `auto` re-times only files whose timing is nominal."""
    if timing == "file" or (timing == "auto" and not has_nominal_timing(midi)):
        return midi, False
    grid = track(midi)
    if grid is None:
        log.debug("%s: too few notes to track beats; keeping the file's timing", source)
        return midi, False
    log.debug("%s: beats tracked at %.1f BPM, first downbeat at beat %d", source, grid.bpm, grid.first_downbeat)
    return retime(midi, grid), True
