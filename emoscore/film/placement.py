"""Where the music put the film's cuts and hits, read back from the soundtrack's MIDI file (its tempo map and time
signatures), not from the plan that wrote it: the bar lines a DAW would draw, the nearest one to every event, and
the share that landed within a frame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import miditoolkit
import numpy as np

from emoscore.music.timing import seconds_at


@dataclass(frozen=True)
class Event:
    """A moment of the picture the music answers: a cut (between scenes) or a hit point."""

    kind: str  # "cut" or "hit"
    seconds: float
    name: str
    required: bool  # the plan must put a bar line on it (every hit; a cut unless film.sync lets it pass)


def bar_line_ticks(midi: miditoolkit.MidiFile, end_tick: int) -> np.ndarray:
    """The tick of every bar line up to `end_tick`, from the file's time signatures (4/4 before the first)."""
    signatures = sorted(midi.time_signature_changes, key=lambda s: s.time) or [miditoolkit.TimeSignature(4, 4, 0)]
    lines: list[int] = []
    for signature, following in zip(signatures, [*signatures[1:], None], strict=True):
        length = midi.ticks_per_beat * 4 * signature.numerator // signature.denominator
        stop = following.time if following else end_tick + 1
        lines.extend(range(signature.time, stop, length))
    return np.array(sorted(set(lines)), dtype=np.int64)


def downbeats(midi: miditoolkit.MidiFile, end_tick: int) -> np.ndarray:
    """Seconds of every bar line of the file up to `end_tick`."""
    return seconds_at(midi, bar_line_ticks(midi, end_tick).astype(float))


@dataclass(frozen=True)
class Placement:
    """An event and the bar line nearest it: how far off it is (ms) and whether that is within a frame."""

    event: Event
    downbeat_s: float
    offset_ms: float
    on_downbeat: bool

    def as_row(self) -> dict:
        """The cue sheet's view of it."""
        return {
            "kind": self.event.kind,
            "name": self.event.name,
            "seconds": round(self.event.seconds, 6),
            "required": self.event.required,
            "downbeat_s": round(self.downbeat_s, 6),
            "offset_ms": round(self.offset_ms, 3),
            "on_downbeat": self.on_downbeat,
        }


def nearest_index(grid: np.ndarray, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Index of the value of an increasing, finite, non-empty `grid` nearest each finite time, ties to the earlier
    (as argmin): one sorted search, not an argmin over the grid per time (a 2-hour film: ~600 cuts, ~80,000 16ths)."""
    if len(grid) == 0:
        raise ValueError("no grid to place times on")
    wanted = np.asarray(times, dtype=float)
    if len(grid) == 1:
        return np.zeros(len(wanted), dtype=np.int64)
    after = np.clip(np.searchsorted(grid, wanted), 1, len(grid) - 1)
    earlier = np.abs(wanted - grid[after - 1]) <= np.abs(grid[after] - wanted)
    return np.where(earlier, after - 1, after)


def place(events: Sequence[Event], bar_lines_s: np.ndarray, frame_s: float) -> list[Placement]:
    """Each event with its nearest bar line; on it when within one frame."""
    placements = []
    nearest_lines = bar_lines_s[nearest_index(bar_lines_s, [event.seconds for event in events])]
    for event, nearest in zip(events, nearest_lines.tolist(), strict=True):
        offset = (nearest - event.seconds) * 1000
        placements.append(Placement(event, nearest, offset, abs(offset) <= frame_s * 1000 + 1e-6))
    return placements


def sync_rate(placements: Sequence[Placement]) -> dict:
    """The cut-and-hit rate: the share of the events that must land on a bar line that did, and the mean offset."""
    required = [p for p in placements if p.event.required]
    return {
        "events": len(required),
        "on_downbeat": sum(p.on_downbeat for p in required),
        "rate": round(sum(p.on_downbeat for p in required) / len(required), 4) if required else None,
        "mean_offset_ms": round(float(np.mean([abs(p.offset_ms) for p in required])), 3) if required else None,
    }
