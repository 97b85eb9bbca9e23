"""When FluidSynth's MIDI player sounds each note: the sample at which its note-on and note-off take effect.

The note-bank renderer must put every note where FluidSynth's own player (driven by the sample clock, as
`render.Synthesizer` runs it) puts it, to the sample: a note a 64-sample block early or late is a phase error that no
spectrum hides. FluidSynth 2.x calls its player once per 64-sample block with the whole milliseconds since play
began, and the player sends every event whose tick is at most `start_ticks + int((msec - start_msec) / deltatime +
0.5)`, `deltatime` being milliseconds per tick in single precision; a tempo event restarts that count from the
callback that sent it (`fluid_player_update_tempo`). After the last event the player plays on until no voice is left,
then for 2 s more (`FLUID_PLAYER_STOP_GRACE_MS`, the reverb's tail). No library exposes this schedule, so it is
written out here from FluidSynth's `fluid_midi.c`; tests hold it to FluidSynth's renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import miditoolkit
import numpy as np

from emoscore.music.midi_read import MidiEvents, Part, read_midi

BLOCK = 64  # FluidSynth's FLUID_BUFSIZE: events take effect at the start of a block
STOP_GRACE_S = 2.0  # FLUID_PLAYER_STOP_GRACE_MS
LATENCY = BLOCK  # an event the player sends at a block's start sounds from the next block (measured, every time)
DEFAULT_TEMPO_US = 500_000  # 120 BPM until the file says otherwise


@dataclass(frozen=True)
class Schedule:
    """A file's notes as FluidSynth's player sounds them: key, velocity, on and off sample (block starts)."""

    keys: np.ndarray
    velocities: np.ndarray
    on: np.ndarray
    off: np.ndarray
    last_event: int  # the sample of the block that sent the file's last event (its end of track)

    def __len__(self) -> int:
        return len(self.keys)


def _msec(blocks: np.ndarray, sample_rate: int) -> np.ndarray:
    """The whole milliseconds FluidSynth's sample timer reports at the start of each block."""
    return (1000.0 * (blocks * BLOCK).astype(np.float64) / sample_rate).astype(np.int64)


def _deltatime(tempo_us: int, division: int) -> float:
    """Milliseconds per tick as FluidSynth computes them: in float32."""
    return float(np.float32(np.float32(tempo_us) / np.float32(division)) / np.float32(1000.0))


def _fire_blocks(ticks: np.ndarray, tempi: list[tuple[int, int]], division: int, sample_rate: int) -> np.ndarray:
    """The block at which the player sends an event at each tick (`ticks` sorted), following tempo events."""
    blocks = np.empty(len(ticks), dtype=np.int64)
    start_block, start_msec, start_ticks = 0, 0, 0
    deltatime = _deltatime(DEFAULT_TEMPO_US, division)
    pending = sorted(tempi)
    done = 0
    while done < len(ticks):
        # events up to the next tempo event (which is sent in tick order with the others) follow this segment
        limit = pending[0][0] if pending else None
        upto = len(ticks) if limit is None else int(np.searchsorted(ticks, limit, side="left"))
        target = max(int(ticks[upto - 1]) if upto > done else start_ticks, limit if limit is not None else 0)
        # enough blocks to reach `target` at this tempo, with room for the rounding
        span = int((target - start_ticks + 2) * deltatime * sample_rate / 1000 / BLOCK) + 4
        candidates = start_block + np.arange(max(span, 1))
        current = start_ticks + ((_msec(candidates, sample_rate) - start_msec) / deltatime + 0.5).astype(np.int64)
        if upto > done:
            blocks[done:upto] = candidates[np.searchsorted(current, ticks[done:upto], side="left")]
            done = upto
        if limit is None:
            break
        tempo_tick, tempo_us = pending.pop(0)
        # the callback that sends the tempo event restarts the count from its own msec and ticks
        index = int(np.searchsorted(current, tempo_tick, side="left"))
        start_block = int(candidates[index])
        start_msec, start_ticks = int(_msec(np.array([start_block]), sample_rate)[0]), int(current[index])
        deltatime = _deltatime(tempo_us, division)
    return blocks


def _sounding_off(
    on_ticks: np.ndarray, off_ticks: np.ndarray, keys: np.ndarray, pedal: list[tuple[int, bool]]
) -> np.ndarray:
    """The tick at which each note of one channel starts its release. FluidSynth lets a voice go at the first note-off
    of its key after it started (a note's own, or an overlapping one's of the same key), or at the key's next
    note-on if that comes first; with the sustain pedal (CC64 >= 64) down at that moment, the voice sounds on until
    the pedal is lifted."""
    big = np.int64(1) << 40
    let_go = off_ticks.copy()
    offs = np.sort(keys * big + off_ticks)
    after = np.searchsorted(offs, keys * big + on_ticks, side="right")
    found = after < len(offs)
    first_off = offs[np.minimum(after, len(offs) - 1)]
    same_key = found & (first_off // big == keys)
    let_go[same_key] = np.minimum(let_go[same_key], first_off[same_key] - keys[same_key] * big)
    order = np.lexsort((np.arange(len(keys)), on_ticks, keys))  # a same-tick repeat: the later one in the file wins
    first, second = order[:-1], order[1:]
    again = keys[first] == keys[second]
    let_go[first[again]] = np.minimum(let_go[first[again]], on_ticks[second[again]])
    if not pedal:
        return let_go
    ticks = np.array([tick for tick, _ in pedal])
    down = np.array([state for _, state in pedal])
    last = np.searchsorted(ticks, let_go, side="right") - 1
    held = (last >= 0) & down[np.maximum(last, 0)]
    ups = np.append(ticks[~down], np.iinfo(np.int64).max)  # a pedal never lifted holds to the end
    lifted = ups[np.searchsorted(ups[:-1], let_go, side="right")]
    return np.where(held, lifted, let_go)


def schedule(midi: miditoolkit.MidiFile | Path, sample_rate: int) -> Schedule:
    """Every non-drum note of a MIDI file with the samples at which FluidSynth's player turns it on and off
    (each instrument its own channel, its sustain pedal honoured). A path is read by `midi_read`, or by
    miditoolkit where that reader does not take the file."""
    events = None if isinstance(midi, miditoolkit.MidiFile) else read_midi(midi)
    if events is None:
        events = _from_miditoolkit(midi if isinstance(midi, miditoolkit.MidiFile) else miditoolkit.MidiFile(str(midi)))
    end_tick = events.max_tick + 1  # miditoolkit ends each track one tick after its last event
    parts = []
    for part in events.parts:
        notes = [note for note in part.notes if note[3] > 0] if not part.is_drum else []
        if not notes:
            continue
        on, off, keys, velocities = (np.array(column, dtype=np.int64) for column in zip(*notes, strict=True))
        off = np.maximum(off, on)
        pedal = sorted((tick, value >= 64) for tick, number, value in part.controls if number == 64)
        off = np.minimum(_sounding_off(on, off, keys, pedal), end_tick)
        parts.append((keys, velocities, on, off))
    keys, velocities, on_ticks, off_ticks = (
        (np.concatenate(column) for column in zip(*parts, strict=True)) if parts else (np.zeros(0, np.int64),) * 4
    )
    every = np.concatenate([on_ticks, off_ticks, [end_tick]])
    order = np.argsort(every, kind="stable")
    fired = np.empty_like(every)
    fired[order] = _fire_blocks(every[order], events.tempi, events.ticks_per_beat, sample_rate)
    samples = fired * BLOCK + LATENCY
    return Schedule(keys, velocities, samples[: len(keys)], samples[len(keys) : 2 * len(keys)], int(samples[-1]))


def _from_miditoolkit(midi: miditoolkit.MidiFile) -> MidiEvents:
    """What `midi_read` gives, from a file miditoolkit has read."""
    parts = [
        Part(
            instrument.is_drum,
            [(note.start, note.end, note.pitch, note.velocity) for note in instrument.notes],
            [(change.time, change.number, change.value) for change in instrument.control_changes],
        )
        for instrument in midi.instruments
    ]
    tempi = [(change.time, round(60_000_000 / change.tempo)) for change in midi.tempo_changes if change.tempo > 0]
    return MidiEvents(midi.ticks_per_beat, parts, tempi, int(midi.max_tick))
