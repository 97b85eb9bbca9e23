"""Hit points: moments the music must land on with an accented downbeat ("the door slams at 00:01:12:05"), given
as timecodes on the film's clock, a CSV of them, or the markers of the editor's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from emoscore.errors import InvalidVideo
from emoscore.film.edit import csv_rows
from emoscore.film.placement import Event
from emoscore.film.scenes import parse_timecode

Hit = tuple[float, str, Path | None, str]  # seconds, name, the file it came from (None: the command line), where


def read_hits(values: Sequence[str], rate: Fraction | float, film: Path) -> list[Hit]:
    """Each `--hit`: a timecode on the film's clock, or a CSV file with a `time` (or `timecode`) column and an
    optional `name` column; InvalidVideo naming the value (with the film) or the file and its line."""
    hits: list[Hit] = []
    for value in values:
        path = Path(value)
        if path.suffix.lower() == ".csv":
            hits.extend(_csv_hits(path, rate))
            continue
        try:
            hits.append((parse_timecode(value, rate), "", None, f"--hit {value}"))
        except ValueError as error:
            raise InvalidVideo(film, f"--hit {value}: {error}") from None
    return hits


def _csv_hits(path: Path, rate: Fraction | float) -> list[Hit]:
    rows = csv_rows(path)
    if not rows:
        raise InvalidVideo(path, "no hit points in it (a time or timecode column, one row per hit)")
    hits = []
    for line, columns in rows:
        text = columns.get("time") or columns.get("timecode")
        if not text:
            raise InvalidVideo(path, f"line {line}: needs a time (or timecode) column")
        try:
            hits.append((parse_timecode(text, rate), columns.get("name") or "", path, f"line {line}"))
        except ValueError as error:
            raise InvalidVideo(path, f"line {line}: {error}") from None
    return hits


def hit_events(hits: Sequence[Hit], film: Path, duration_s: float, frame_s: float) -> list[Event]:
    """The hits as events, in time order; InvalidVideo for one outside the film (before it, or at or after its
    last frame), naming where it came from."""
    events = []
    for number, (seconds, name, origin, where) in enumerate(sorted(hits, key=lambda hit: hit[0]), 1):
        if seconds < 0 or seconds > duration_s - frame_s / 2:
            raise InvalidVideo(
                origin or film,
                f"{where}: the hit point at {seconds:.3f} s is outside the film (0–{duration_s:.3f} s); hit points"
                " count from the film's first frame (00:00:00:00), not from an edit's record timecode (01:00:00:00)",
            )
        events.append(Event("hit", seconds, name or f"hit {number}", required=True))
    return events
