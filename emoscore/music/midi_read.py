"""What the note-bank renderer reads of a Standard MIDI File, read in one compiled pass instead of through mido.

The renderer needs each part's notes and sustain pedal, the tempo changes, the division and the tick of the file's
last event (FluidSynth's player stops after it). miditoolkit (over mido, pure Python) took ~5 ms per 8-bar piece,
a quarter of the whole render; symusic is fast but does not report the end-of-track tick. So the file's bytes are
scanned here by numba into arrays of events, and the parts are formed exactly as miditoolkit forms its
instruments (by program, channel and track; a note-off closes the earliest open note of its key; control changes
before a part's first note go to it), which a property test holds against miditoolkit on random files. A file
this reader does not take (SMPTE time, system-common bytes, a truncated track) is read by miditoolkit instead.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

NOTE_ON, NOTE_OFF, CONTROL, PROGRAM, TEMPO = range(5)
_BAD = -1


@dataclass
class Part:
    """One instrument's notes (on tick, off tick, key, velocity) and control changes (tick, number, value)."""

    is_drum: bool
    notes: list[tuple[int, int, int, int]] = field(default_factory=list)
    controls: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class MidiEvents:
    """A file as the renderer needs it: parts, tempo changes (tick, µs a beat), division, and `max_tick` as
    miditoolkit has it (one past the last event's tick)."""

    ticks_per_beat: int
    parts: list[Part]
    tempi: list[tuple[int, int]]
    max_tick: int


@numba.njit(cache=True)
def _vlq(data: np.ndarray, at: int, end: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if at >= end:
            return _BAD, at
        byte = data[at]
        at += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at
    return _BAD, at


@numba.njit(cache=True)
def _put(events: np.ndarray, row: int, track: int, tick: int, kind: int, channel: int, a: int, b: int) -> None:
    events[row, 0], events[row, 1], events[row, 2] = track, tick, kind
    events[row, 3], events[row, 4], events[row, 5] = channel, a, b


@numba.njit(cache=True)
def _scan(data: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(division or -1, events [n, 6]: track, tick, kind, channel, a, b; last tick per track) of a file's bytes."""
    none = (np.zeros((0, 6), np.int64), np.zeros(0, np.int64))
    size = len(data)
    if size < 14 or data[0] != 0x4D or data[1] != 0x54 or data[2] != 0x68 or data[3] != 0x64:
        return -1, none[0], none[1]
    header = (data[4] << 24) | (data[5] << 16) | (data[6] << 8) | data[7]
    division = (int(data[12]) << 8) | int(data[13])
    if header < 6 or division & 0x8000 or division == 0:
        return -1, none[0], none[1]
    tracks = (int(data[10]) << 8) | int(data[11])
    events = np.empty((max(16, size), 6), np.int64)  # every event takes at least two bytes
    ends = np.zeros(tracks, np.int64)
    count, at = 0, 8 + header
    for track in range(tracks):  # as mido reads: the header's count of chunks, each a track
        if at + 8 > size:
            return -1, none[0], none[1]
        length = (int(data[at + 4]) << 24) | (int(data[at + 5]) << 16) | (int(data[at + 6]) << 8) | int(data[at + 7])
        is_track = data[at] == 0x4D and data[at + 1] == 0x54 and data[at + 2] == 0x72 and data[at + 3] == 0x6B
        start, stop = at + 8, at + 8 + length
        at = stop
        if not is_track or stop > size:
            return -1, none[0], none[1]
        tick, status, last, position = 0, -1, 0, start
        while position < stop:
            delta, position = _vlq(data, position, stop)
            if delta == _BAD or position >= stop:
                return -1, none[0], none[1]
            tick += delta
            last = tick
            byte = int(data[position])
            if byte >= 0x80:
                position += 1
                if byte != 0xFF:
                    status = byte
            elif status < 0 or status >= 0xF0:
                return -1, none[0], none[1]
            else:
                byte = status  # running status: `byte` was the first data byte, not read yet
            if byte == 0xFF:
                if position >= stop:
                    return -1, none[0], none[1]
                kind = int(data[position])
                length, position = _vlq(data, position + 1, stop)
                if length == _BAD or position + length > stop:
                    return -1, none[0], none[1]
                if kind == 0x51 and length != 3:
                    return -1, none[0], none[1]  # a tempo of another length: mido's to read or refuse
                if kind == 0x51:
                    tempo = (int(data[position]) << 16) | (int(data[position + 1]) << 8) | int(data[position + 2])
                    _put(events, count, track, tick, TEMPO, 0, tempo, 0)
                    count += 1
                position += length
                continue
            if byte == 0xF0 or byte == 0xF7:
                length, position = _vlq(data, position, stop)
                if length == _BAD or position + length > stop:
                    return -1, none[0], none[1]
                position += length
                continue
            if byte > 0xF0:
                return -1, none[0], none[1]  # system common or real-time bytes in a file: left to mido
            high, channel = byte & 0xF0, byte & 0x0F
            width = 1 if high == 0xC0 or high == 0xD0 else 2
            if position + width > stop:
                return -1, none[0], none[1]
            a = int(data[position])
            b = int(data[position + 1]) if width == 2 else 0
            position += width
            if a >= 0x80 or b >= 0x80:
                return -1, none[0], none[1]  # mido refuses a data byte over 127
            if high == 0x90 and b > 0:
                _put(events, count, track, tick, NOTE_ON, channel, a, b)
            elif high == 0x80 or high == 0x90:
                _put(events, count, track, tick, NOTE_OFF, channel, a, b)
            elif high == 0xB0:
                _put(events, count, track, tick, CONTROL, channel, a, b)
            elif high == 0xC0:
                _put(events, count, track, tick, PROGRAM, channel, a, 0)
            else:
                continue
            count += 1
        ends[track] = last
    return division, events[:count], ends


def read_midi(path: Path | str) -> MidiEvents | None:
    """The file's parts, tempi, division and last tick; None where this reader does not take the file (or it is
    not a MIDI file), for the caller to read it with miditoolkit."""
    division, events, ends = _scan(np.fromfile(path, dtype=np.uint8))
    if division < 0 or len(ends) == 0 or np.any((events[:, 2] == TEMPO) & (events[:, 4] == 0)):
        return None  # (a tempo of 0 µs a beat: mido's error to report)
    return MidiEvents(division, _parts(events.tolist()), _tempi(events), int(ends.max()) + 1)


def _tempi(events: np.ndarray) -> list[tuple[int, int]]:
    """Tempo changes as miditoolkit keeps them: 120 BPM from tick 0 unless the file sets one there, then each
    change of value in the order the tracks hold them; in µs a beat, as its BPM rounds back."""
    kept = [(0, 120.0)]
    for tick, tempo in events[events[:, 2] == TEMPO][:, [1, 4]].tolist():
        bpm = 60 * 1e6 / tempo * 4 / 4  # mido's tempo2bpm, float for float
        if tick == 0:
            kept = [(0, bpm)]
        elif bpm != kept[-1][1]:
            kept.append((tick, bpm))
    return [(tick, round(60_000_000 / bpm)) for tick, bpm in kept]


def _parts(events: list[list[int]]) -> list[Part]:
    """Instruments as miditoolkit makes them from the same events (its `_load_instruments`, step for step)."""
    parts: dict[tuple[int, int, int], Part] = {}
    stragglers: dict[tuple[int, int], Part] = {}

    def part(program: int, channel: int, track: int, create: bool) -> Part:
        if (program, channel, track) in parts:
            return parts[(program, channel, track)]
        if not create and (channel, track) in stragglers:
            return stragglers[(channel, track)]
        made = Part(channel == 9)
        if create:
            if (channel, track) in stragglers:
                made.controls = stragglers[(channel, track)].controls
            parts[(program, channel, track)] = made
        else:
            stragglers[(channel, track)] = made
        return made

    current_track = -1
    for track, tick, kind, channel, a, b in events:
        if track != current_track:
            current_track, programs, open_notes = track, [0] * 16, defaultdict(list)
        if kind == PROGRAM:
            programs[channel] = a
        elif kind == NOTE_ON:
            open_notes[(channel, a)].append((tick, b))
        elif kind == NOTE_OFF:
            waiting = open_notes.get((channel, a))
            if waiting:
                start, velocity = waiting.pop(0)
                part(programs[channel], channel, track, True).notes.append((start, tick, a, velocity))
                if not waiting:
                    del open_notes[(channel, a)]
        elif kind == CONTROL:
            part(programs[channel], channel, track, False).controls.append((tick, a, b))
    return list(parts.values())
