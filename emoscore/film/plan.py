"""How long each scene's music is and how fast it goes: whole bars that fill the scene exactly, at a tempo near
the one its quadrant and intensity aim for, easing into the next scene's tempo over its last bar; and the tempo
map of the whole film as MIDI tempo changes, so every segment's first bar line falls on its cut."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from emoscore.music.vocabulary import POSITIONS_PER_BAR, POSITIONS_PER_BEAT

BEATS_PER_BAR = POSITIONS_PER_BAR // POSITIONS_PER_BEAT
FINAL_RITARDANDO = 0.85  # the last bar of the film slows to this share of its tempo


@dataclass(frozen=True)
class Segment:
    """One scene's music: its quadrant (1–4), intensity, bars, first bar (from the film's start) and the tempo
    of each of its beats (BPM), which add up to the scene's length."""

    scene: int
    quadrant: int
    intensity: float
    bars: int
    first_bar: int
    beat_tempi: tuple[float, ...]

    @property
    def tempo_bpm(self) -> float:
        """The segment's main tempo (that of its first beat)."""
        return self.beat_tempi[0]


def aimed_tempo(quadrant: int, intensity: float, tempo_bpm: dict[str, float], steering: float) -> float:
    """The tempo a scene aims for: its quadrant's, scaled by intensity as Steering scales a photo's piece."""
    return tempo_bpm[f"Q{quadrant}"] * 2.0 ** (steering * intensity)


def bars_for(duration_s: float, tempo: float) -> int:
    """Whole 4/4 bars closest to filling `duration_s` at `tempo` (at least one)."""
    return max(1, round(duration_s * tempo / (60.0 * BEATS_PER_BAR)))


def plan_segments(
    durations: Sequence[float],
    quadrants: Sequence[int],
    intensities: Sequence[float],
    *,
    tempo_bpm: dict[str, float],
    steering: float,
) -> list[Segment]:
    """A segment per scene: whole bars near the aimed tempo, and a tempo that fills the scene exactly while its
    last bar (half of a one-bar segment) steps towards the next segment's tempo (planned from the film's end
    backwards, so each ramp ends one equal step short of where the next segment starts; the film's last bar slows
    a little)."""
    aims = [aimed_tempo(q, i, tempo_bpm, steering) for q, i in zip(quadrants, intensities, strict=True)]
    bars = [bars_for(duration, aim) for duration, aim in zip(durations, aims, strict=True)]
    tempi: list[list[float]] = [[] for _ in durations]
    following: float | None = None
    for index in reversed(range(len(durations))):
        tempi[index] = _fit(durations[index], bars[index], following)
        following = tempi[index][0]
    segments, first_bar = [], 0
    for index, count in enumerate(bars):
        segments.append(Segment(index, quadrants[index], intensities[index], count, first_bar, tuple(tempi[index])))
        first_bar += count
    return segments


def _fit(duration: float, bars: int, following: float | None) -> list[float]:
    """Beat tempi of `bars` bars lasting exactly `duration`: steady, then a ramp of equal tempo ratios towards
    `following` (towards a ritardando when None). The length falls steadily as the steady tempo rises, from
    endless to nothing, so a bisection (on its logarithm) always finds it."""
    beats = BEATS_PER_BAR * bars
    ramp = min(BEATS_PER_BAR, beats // 2)

    def tempi(steady: float) -> list[float]:
        goal = following if following is not None else steady * FINAL_RITARDANDO
        ratio = (goal / steady) ** (1 / (ramp + 1))
        return [steady] * (beats - ramp) + [steady * ratio ** (step + 1) for step in range(ramp)]

    low, high = math.log(1.0), math.log(100_000.0)
    for _ in range(200):
        middle = (low + high) / 2
        if sum(60.0 / tempo for tempo in tempi(math.exp(middle))) > duration:
            low = middle
        else:
            high = middle
    return tempi(math.exp((low + high) / 2))


def tempo_map(segments: Sequence[Segment]) -> list[tuple[int, float]]:
    """(16th-note position, BPM) at every beat whose tempo differs from the one before: MIDI tempo changes."""
    changes: list[tuple[int, float]] = []
    for segment in segments:
        for beat, tempo in enumerate(segment.beat_tempi):
            position = (segment.first_bar * BEATS_PER_BAR + beat) * POSITIONS_PER_BEAT
            if not changes or abs(changes[-1][1] - tempo) > 1e-9:
                changes.append((position, tempo))
    return changes
