"""An edit as a reader finds it, before any check: the clips of an OTIO timeline's first video track and its
markers, on the timeline's own record clock in exact seconds; and the text of a timeline file."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
from opentimelineio import opentime

from emoscore.errors import InvalidVideo
from emoscore.film.timecode import exact_rate

FORMATS = {
    "cmx_3600": "a CMX 3600 EDL",
    "fcp_xml": "an FCP7 XML (xmeml)",
    "fcpx_xml": "an FCPX XML",
    "otio_json": "an OTIO file",
    "AAF": "an AAF",
}


@dataclass(frozen=True)
class Event:
    """One clip of the first video track (or row of a CSV) on the timeline's own record clock, in exact seconds."""

    number: int  # EDL event number, else the clip's index from 1 (a CSV's line number)
    name: str
    record_in: Fraction
    record_out: Fraction
    kind: str = "event"

    @property
    def label(self) -> str:
        """How a message names it: "event 4 (clip 'door')", "line 3"."""
        return f"{self.kind} {self.number}" + (f" (clip {self.name!r})" if self.name else "")


@dataclass(frozen=True)
class Edit:
    """What a reader found before any check: events and (record seconds, name) markers on the record clock."""

    rate: Fraction
    drop_frame: bool
    events: list[Event]
    markers: list[tuple[Fraction, str]]


def read_text(path: Path) -> str:
    """A timeline file's text: UTF-8 (a BOM dropped), else Latin-1; InvalidVideo when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidVideo(path, f"cannot read it: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # EDLs from older systems are often Latin-1


def csv_rows(path: Path) -> list[tuple[int, dict[str, str | None]]]:
    """A CSV's rows (a cue sheet's or hit points') by the line each ends on, column names lower-cased and values
    stripped (None where a short row has none); InvalidVideo when it cannot be read as CSV."""
    reader = csv.DictReader(read_text(path).splitlines())
    rows = []
    try:
        for row in reader:
            columns = {
                key.strip().lower(): None if value is None else value.strip() for key, value in row.items() if key
            }
            rows.append((reader.line_num, columns))
    except csv.Error as error:
        raise InvalidVideo(path, f"line {reader.line_num}: cannot read it as CSV: {error}") from None
    return rows


def first_timeline(path: Path, found: otio.core.SerializableObject | None, adapter: str) -> otio.schema.Timeline:
    """The timeline an adapter returned, or the first one of a collection (an FCPX library, FCP7 bins)."""
    timeline = next(_timelines(found), None)
    if timeline is None or timeline.tracks is None:
        raise InvalidVideo(path, f"holds no timeline ({FORMATS[adapter]} with a sequence of clips)")
    return timeline


def _timelines(found: otio.core.SerializableObject | None) -> Iterator[otio.schema.Timeline]:
    if isinstance(found, otio.schema.Timeline):
        yield found
    elif isinstance(found, otio.schema.SerializableCollection):
        for child in found:
            yield from _timelines(child)


def video_clips(timeline: otio.schema.Timeline, track_name: str | None = None) -> list[otio.schema.Clip]:
    """The clips of the timeline's first video track (the one named `track_name` when it has one)."""
    tracks = timeline.video_tracks()
    named = [track for track in tracks if track.name == track_name]
    track = (named or tracks or [None])[0]
    return [] if track is None else [item for item in track if isinstance(item, otio.schema.Clip)]


def _all_markers(timeline: otio.schema.Timeline) -> Iterator[tuple[otio.core.Composable, otio.schema.Marker]]:
    for marker in timeline.tracks.markers:
        yield timeline.tracks, marker
    for item in timeline.tracks.find_children():
        for marker in getattr(item, "markers", ()):
            yield item, marker


def edit_of(
    timeline: otio.schema.Timeline,
    rate: Fraction,
    drop_frame: bool,
    numbers: list[int] | None = None,
    *,
    track_name: str | None = None,
) -> Edit:
    """The events (clips of the first video track) and markers of an OTIO timeline on its record clock (its global
    start time plus the position in its tracks); `numbers` are EDL event numbers, one per clip."""
    clips = video_clips(timeline, track_name)
    if numbers is None or len(numbers) != len(clips):
        numbers = list(range(1, len(clips) + 1))
    stack = timeline.tracks
    origin = _seconds(timeline.global_start_time) if timeline.global_start_time is not None else Fraction(0)
    events = []
    for number, clip in zip(numbers, clips, strict=True):
        placed = clip.transformed_time_range(clip.trimmed_range(), stack)
        record_in = origin + _seconds(placed.start_time)
        events.append(Event(number, clip.name, record_in, record_in + _seconds(placed.duration)))
    markers = {
        (origin + _seconds(start if item is stack else item.transformed_time(start, stack)), marker.name or "")
        for item, marker in _all_markers(timeline)
        for start in [marker.marked_range.start_time]
    }
    return Edit(rate, drop_frame, events, sorted(markers))


def _seconds(time: opentime.RationalTime) -> Fraction:
    """A time in exact seconds: OTIO holds 29.97 as a float, 29.970029…, which is 30000/1001."""
    return Fraction(time.value) / exact_rate(time.rate)
