"""How long each stretch of music is and how fast it goes: bars that fill the time between two sync points (the
cuts that must hit, and the hit points) exactly, at a tempo within `tempo_range` of what the scene aims for —
4/4 bars, and a bar of another metre (3/4, 2/4, 5/8, 3/8, 7/8) where 4/4 alone would stray too far, as a composer
reaches a cut — easing into the next stretch's tempo over its last bar; and the film's tempo map and metres."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from emoscore.music.vocabulary import POSITIONS_PER_BAR, POSITIONS_PER_BEAT

log = logging.getLogger(__name__)

FINAL_RITARDANDO = 0.85  # the last bar of the film slows to this share of its tempo
ODD_BARS: dict[int, tuple[int, int]] = {12: (3, 4), 8: (2, 4), 10: (5, 8), 6: (3, 8), 14: (7, 8)}  # by preference
ODD_BAR_COST = 0.08  # an odd bar is worth an 8% tempo change: 4/4 throughout wins unless it strays further
OUT_OF_RANGE_COST = 10.0  # a layout outside the tempo range is taken only when none is inside it
SQUEEZE = 2.0  # a stretch between sync points may be played up to twice its aimed tempo, no faster
COINCIDE_S = 1e-3  # a hit this close to a cut that lands anyway is that cut


@dataclass(frozen=True)
class Segment:
    """A stretch of music between two sync points: the scenes it plays under (the first gives its quadrant), its
    intensity, its bars (16ths each: 16 is a 4/4 bar, 12 a 3/4 one…), its first 16th on the film's grid, the tempo
    of each of its beats (an odd bar's last eighth is a beat of its own), what starts it, and the tempo aimed for."""

    scenes: tuple[int, ...]
    quadrant: int
    intensity: float
    bars: tuple[int, ...]
    start: int
    beat_tempi: tuple[float, ...]
    starts_on: str  # "start", "cut", "hit" or "cut+hit"
    aim: float

    @property
    def scene(self) -> int:
        """The scene whose music this is (the first it plays under)."""
        return self.scenes[0]

    @property
    def positions(self) -> int:
        """Its length in 16ths."""
        return sum(self.bars)

    @property
    def end(self) -> int:
        """The 16th after its last."""
        return self.start + self.positions

    @property
    def tempo_bpm(self) -> float:
        """Its main tempo (that of its first beat), in quarter notes per minute."""
        return self.beat_tempi[0]

    @property
    def metres(self) -> tuple[str, ...]:
        """The time signature of each bar, as a composer writes it."""
        return tuple("{}/{}".format(*metre(bar)) for bar in self.bars)

    @property
    def bar_starts(self) -> tuple[int, ...]:
        """The 16th of every bar line in it, on the film's grid."""
        starts, position = [], self.start
        for bar in self.bars:
            starts.append(position)
            position += bar
        return tuple(starts)


def metre(positions: int) -> tuple[int, int]:
    """(numerator, denominator) of a bar `positions` 16ths long."""
    return (4, 4) if positions == POSITIONS_PER_BAR else ODD_BARS[positions]


def beats_of(bars: Sequence[int]) -> list[int]:
    """The beats (their 16ths) of these bars: quarters, and an eighth closing a bar of 3/8, 5/8 or 7/8."""
    beats: list[int] = []
    for bar in bars:
        beats += [POSITIONS_PER_BEAT] * (bar // POSITIONS_PER_BEAT) + (
            [bar % POSITIONS_PER_BEAT] if bar % POSITIONS_PER_BEAT else []
        )
    return beats


def aimed_tempo(quadrant: int, intensity: float, tempo_bpm: dict[str, float], steering: float) -> float:
    """The tempo a scene aims for: its quadrant's, scaled by intensity as Steering scales a photo's piece."""
    return tempo_bpm[f"Q{quadrant}"] * 2.0 ** (steering * intensity)


def bar_layout(positions: int) -> tuple[int, ...] | None:
    """4/4 bars, then at most two bars of another metre, that add up to `positions` 16ths; None when none do."""
    whole, rest = divmod(positions, POSITIONS_PER_BAR)
    if rest == 0:
        return (POSITIONS_PER_BAR,) * whole if whole else None
    if rest in ODD_BARS:
        return (POSITIONS_PER_BAR,) * whole + (rest,)
    for first in ODD_BARS:  # 2 or 4 over whole bars: one 4/4 bar becomes two odd ones (18 = 3/4 + 3/8)
        second = rest + POSITIONS_PER_BAR - first
        if whole and second in ODD_BARS:
            return (POSITIONS_PER_BAR,) * (whole - 1) + (first, second)
    return None


def choose_bars(duration_s: float, aim: float, tempo_range: float) -> tuple[int, ...]:
    """The bars that fill `duration_s` nearest the aimed tempo: inside `tempo_range` of it where any layout is,
    preferring 4/4 throughout unless an odd bar brings the tempo ODD_BAR_COST closer."""
    exact = duration_s * aim * POSITIONS_PER_BEAT / 60.0  # 16ths at exactly the aimed tempo
    scored = []
    low = max(6, 2 * math.floor(exact * (1 - tempo_range) / 2) - POSITIONS_PER_BAR)  # every even length has a layout
    for positions in range(low, 2 * math.ceil(exact * (1 + tempo_range) / 2) + POSITIONS_PER_BAR, 2):
        layout = bar_layout(positions)
        if layout is not None:
            scored.append((_cost(positions / exact, layout, tempo_range), layout))
    return min(scored)[1]


def _cost(ratio: float, layout: Sequence[int], tempo_range: float) -> float:
    """How far a layout played `ratio` times the aimed tempo is from what a composer would write."""
    cost = abs(math.log(ratio)) + ODD_BAR_COST * sum(bar != POSITIONS_PER_BAR for bar in layout[-2:])  # odd ones last
    return cost + OUT_OF_RANGE_COST * (abs(ratio - 1) > tempo_range + 1e-9)


@dataclass(frozen=True)
class SyncPoint:
    """A time the music must reach on a bar line: the film's start, a cut, a hit, or both."""

    seconds: float
    scene: int
    kind: str


class TooShort(ValueError):
    """Two sync points no cut can give way between (hits, or a hit and the film's start or end) are closer than the
    shortest bar (a 3/8 at twice the aimed tempo)."""

    def __init__(self, first: SyncPoint, seconds: float, needed: float) -> None:
        super().__init__(
            f"the {first.kind} at {first.seconds:.3f} s is {seconds:.3f} s from the next sync point (or the film's "
            f"end): no bar fits in less than {needed:.3f} s at its tempo; move the hit"
        )
        self.first = first


def sync_points(
    starts: Sequence[float],
    quadrants: Sequence[int],
    hits: Sequence[float],
    sync: str,
    *,
    coincide_s: float = COINCIDE_S,
    forced: Collection[int] = (),
) -> list[SyncPoint]:
    """The film's start, every cut that must hit (all; or only where the quadrant changes, and around the `forced`
    scenes) and every hit point, in time order; a hit within `coincide_s` (a frame) of a cut is that cut."""
    points = [SyncPoint(0.0, 0, "start")]
    for scene in range(1, len(starts)):
        if sync == "all" or quadrants[scene] != quadrants[scene - 1] or {scene, scene - 1} & set(forced):
            points.append(SyncPoint(starts[scene], scene, "cut"))
    for hit in sorted(hits):
        same = next((i for i, p in enumerate(points) if abs(p.seconds - hit) < coincide_s), None)
        if same is not None:
            points[same] = SyncPoint(points[same].seconds, points[same].scene, f"{points[same].kind}+hit")
            continue
        scene = max(i for i, start in enumerate(starts) if start <= hit + coincide_s)
        if abs(starts[scene] - hit) < coincide_s:  # a minor cut that now must hit
            points.append(SyncPoint(starts[scene], scene, "cut+hit"))
        else:
            points.append(SyncPoint(hit, scene, "hit"))
    return sorted(points, key=lambda point: point.seconds)


def plan_film(
    spans: Sequence[tuple[float, float]],
    quadrants: Sequence[int],
    intensities: Sequence[float],
    *,
    hits: Sequence[float] = (),
    tempo_bpm: dict[str, float],
    steering: float,
    tempo_range: float = 0.15,
    sync: str = "all",
    frame_s: float = COINCIDE_S,
    forced: Collection[int] = (),
) -> list[Segment]:
    """The segments of a film of scenes (start, end seconds) with their quadrants and intensities: one between
    every two sync points, its bars chosen near its aimed tempo, its beat tempi fitted so its bars last exactly
    until the next sync point (planned from the film's end backwards, so each ramp knows where the next starts).
    A cut closer to its neighbour than the shortest bar passes inside a bar; TooShort when only hits are left."""
    starts, end = [start for start, _ in spans], spans[-1][1]
    if any(not 0 <= hit < end for hit in hits):
        raise ValueError(f"hit points must lie inside the film (0–{end:.3f} s): {sorted(hits)}")
    points = sync_points(starts, quadrants, hits, sync, coincide_s=max(frame_s, COINCIDE_S), forced=forced)
    while True:
        stretches = [
            _stretch(point, following.seconds if following else end, spans, quadrants, intensities, tempo_bpm, steering)
            for point, following in zip(points, [*points[1:], None], strict=True)
        ]
        short = next((i for i, s in enumerate(stretches) if s[4] < _shortest_bar_s(s[3], tempo_range)), None)
        if short is None:
            break
        if points[short].kind == "cut":  # a cut gives way (passes inside a bar); a hit never does
            del points[short]
        elif short + 1 < len(points) and points[short + 1].kind == "cut":
            del points[short + 1]
        else:
            raise TooShort(points[short], stretches[short][4], _shortest_bar_s(stretches[short][3], tempo_range))
    tempi: list[tuple[tuple[int, ...], list[float]]] = [((), [])] * len(stretches)
    following_tempo: float | None = None
    for index in reversed(range(len(stretches))):
        _, _, _, aim, duration = stretches[index]
        bars = choose_bars(duration, aim, tempo_range)  # its own length and aim alone: a neighbour's change keeps it
        in_range = abs(sum(bars) / (duration * aim * POSITIONS_PER_BEAT / 60.0) - 1) <= tempo_range
        reach = tempo_range
        beat_tempi = _fit(duration, bars, following_tempo, reach)
        while in_range and reach > 1e-3 and abs(beat_tempi[0] / aim - 1) > tempo_range:
            reach /= 2  # the ramp pushed the steady tempo out of the range its bars keep to: a gentler ramp
            beat_tempi = _fit(duration, bars, following_tempo, reach)
        if in_range and abs(beat_tempi[0] / aim - 1) > tempo_range:
            beat_tempi = _fit(duration, bars, following_tempo, 0.0)  # no ramp: its bars' own tempo, in range
        if not in_range:
            point = stretches[index][0]
            log.warning(
                "the %.2f s after the %s at %.3f s hold no bar near %.0f BPM: played at %.0f BPM",
                duration,
                point.kind,
                point.seconds,
                aim,
                beat_tempi[0],
            )
        tempi[index] = (bars, beat_tempi)
        following_tempo = beat_tempi[0]
    segments, start = [], 0
    for (point, under, intensity, aim, _), (bars, beat_tempi) in zip(stretches, tempi, strict=True):
        quadrant = quadrants[point.scene]
        segments.append(Segment(under, quadrant, intensity, bars, start, tuple(beat_tempi), point.kind, aim))
        start += sum(bars)
    return segments


def _shortest_bar_s(aim: float, tempo_range: float) -> float:
    """Seconds of the shortest bar (a 3/8) at SQUEEZE times the aimed tempo (or the range's top, if higher): a
    shorter stretch cannot be a bar at any tempo a player would take."""
    return min(ODD_BARS) * 60.0 / POSITIONS_PER_BEAT / (aim * max(SQUEEZE, 1 + tempo_range))


def _stretch(
    point: SyncPoint,
    stop: float,
    spans: Sequence[tuple[float, float]],
    quadrants: Sequence[int],
    intensities: Sequence[float],
    tempo_bpm: dict[str, float],
    steering: float,
) -> tuple[SyncPoint, tuple[int, ...], float, float, float]:
    """(the point, the scenes under it until `stop`, their duration-weighted intensity, the aimed tempo, seconds)."""
    under = tuple(i for i, (a, b) in enumerate(spans) if a < stop - COINCIDE_S and b > point.seconds + COINCIDE_S)
    under = under or (point.scene,)  # a stretch shorter than COINCIDE_S: too short for a bar, refused by the caller
    weights = [max(min(spans[i][1], stop) - max(spans[i][0], point.seconds), 1e-9) for i in under]
    intensity = sum(w * intensities[i] for w, i in zip(weights, under, strict=True)) / sum(weights)
    return (
        point,
        under,
        intensity,
        aimed_tempo(quadrants[point.scene], intensity, tempo_bpm, steering),
        stop - point.seconds,
    )


def _fit(duration: float, bars: Sequence[int], following: float | None, reach: float) -> list[float]:
    """Beat tempi of `bars` lasting exactly `duration`: steady, then a ramp of equal tempo ratios over the last bar
    (at most half the beats) towards `following`, but no further than `reach` of the steady tempo (a ritardando
    when None). The length falls steadily as the steady tempo rises, so a bisection on its logarithm finds it."""
    beats = beats_of(bars)
    ramp = min(len(beats_of(bars[-1:])), len(beats) // 2)

    def tempi(steady: float) -> list[float]:
        towards = steady * FINAL_RITARDANDO if following is None else following
        goal = min(max(towards, steady * (1 - reach)), steady * (1 + reach))
        ratio = (goal / steady) ** (1 / (ramp + 1))
        return [steady] * (len(beats) - ramp) + [steady * ratio ** (step + 1) for step in range(ramp)]

    def length(steady: float) -> float:
        return sum(beat / POSITIONS_PER_BEAT * 60.0 / tempo for beat, tempo in zip(beats, tempi(steady), strict=True))

    low, high = math.log(1.0), math.log(100_000.0)
    for _ in range(80):
        middle = (low + high) / 2
        if length(math.exp(middle)) > duration:
            low = middle
        else:
            high = middle
    return tempi(math.exp((low + high) / 2))


def tempo_map(segments: Sequence[Segment]) -> list[tuple[int, float]]:
    """(16th position, BPM) at every beat whose tempo differs from the one before: MIDI tempo changes."""
    changes: list[tuple[int, float]] = []
    for segment in segments:
        position = segment.start
        for beat, tempo in zip(beats_of(segment.bars), segment.beat_tempi, strict=True):
            if not changes or abs(changes[-1][1] - tempo) > 1e-9:
                changes.append((position, tempo))
            position += beat
    return changes


def metre_map(segments: Sequence[Segment]) -> list[tuple[int, tuple[int, int]]]:
    """(16th position, time signature) wherever the metre changes: MIDI time signature events."""
    changes: list[tuple[int, tuple[int, int]]] = []
    for segment in segments:
        for start, bar in zip(segment.bar_starts, segment.bars, strict=True):
            if not changes or changes[-1][1] != metre(bar):
                changes.append((start, metre(bar)))
    return changes
