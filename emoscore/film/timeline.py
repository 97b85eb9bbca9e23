"""The editor's timeline: a CMX3600 EDL, FCP7 XML, FCPX XML, OTIO or AAF file read through OpenTimelineIO (or a
CSV cue sheet) into the cuts and markers of the film on its own clock, once checked against the film."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
from opentimelineio import opentime

from emoscore.errors import InvalidVideo
from emoscore.film.edit import FORMATS, Edit, Event, csv_rows, edit_of, first_timeline, video_clips
from emoscore.film.edl import read_edl
from emoscore.film.fcpx import read_fcpx
from emoscore.film.timecode import DROP_FRAME_RATES, RATE_TOLERANCE, exact_rate, fps_text, parse_timecode, timecode
from emoscore.text import first_line

log = logging.getLogger(__name__)

ADAPTERS = {
    ".edl": "cmx_3600",
    ".xml": "fcp_xml",
    ".fcpxml": "fcpx_xml",
    ".fcpxmld": "fcpx_xml",
    ".otio": "otio_json",
    ".aaf": "AAF",
}


@dataclass(frozen=True)
class Marker:
    """A marker of the editor's (a hit point): where it sits on the film's clock, and its name."""

    seconds: float  # on the film's clock (0 = the timeline's first record in)
    name: str


@dataclass(frozen=True)
class Timeline:
    """The cuts and markers of an editor's timeline, on the film's clock, with the rate its timecodes count in."""

    path: Path
    rate: Fraction  # the edit's frame rate, exact: Fraction(30000, 1001) for 29.97
    drop_frame: bool  # its timecodes are written drop-frame (29.97/59.94 DF)
    spans: tuple[tuple[float, float], ...]  # (in, out) seconds per clip of the first video track, in record order
    names: tuple[str, ...]  # clip name per span ("" when none)
    markers: tuple[Marker, ...]  # on the timeline, its tracks and its clips, sorted


def read_timeline(
    path: Path,
    *,
    fps: float | Fraction = 25,
    film_rate: Fraction | None = None,
    film_duration_s: float | None = None,
) -> Timeline:
    """The editor's timeline at `path` (by suffix: .edl .xml .fcpxml/.fcpxmld .otio .aaf, or a .csv with columns
    in,out or start,end); `fps` is the rate an EDL or CSV counts frames in (they carry none). InvalidVideo naming
    the file and the event when it cannot be read, has no clips, overlaps, disagrees with the film's rate, or has a
    clip or marker outside the film."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        edit = _read_csv(path, exact_rate(fps))
    elif suffix == ".edl":
        edit = read_edl(path, exact_rate(fps))
    elif suffix in (".fcpxml", ".fcpxmld"):
        edit = read_fcpx(path)
    elif suffix in ADAPTERS:
        edit = _read_otio(path, ADAPTERS[suffix])
    else:
        raise InvalidVideo(path, f"not a timeline (reads {', '.join([*ADAPTERS, '.csv'])})")
    return _checked(path, edit, film_rate, film_duration_s)


def _read_csv(path: Path, rate: Fraction) -> Edit:
    """(in, out) per row of a CSV cue sheet; InvalidVideo naming the line of a value that is not a timecode."""
    events = []
    drop_frame = False
    for number, columns in csv_rows(path):
        start, end = columns.get("in", columns.get("start")), columns.get("out", columns.get("end"))
        try:
            if start is None or end is None:
                raise ValueError("needs columns in,out (or start,end)")
            record_in, record_out = Fraction(parse_timecode(start, rate)), Fraction(parse_timecode(end, rate))
            events.append(Event(number, "", record_in, record_out, "line"))
        except ValueError as error:
            raise InvalidVideo(path, f"line {number}: {error}") from None
        drop_frame = drop_frame or ";" in start + end
    return Edit(rate, drop_frame, events, [])


def _read_otio(path: Path, adapter: str) -> Edit:
    """An OTIO, FCP7 XML or AAF timeline: its first video track, and the markers of the timeline, tracks and clips."""
    try:
        found = otio.adapters.read_from_file(str(path), adapter_name=adapter)
    except Exception as error:  # each adapter raises its own: ValueError, ParseError, aaf2's AAFError, OTIOError
        raise InvalidVideo(path, f"cannot read it as {FORMATS[adapter]}: {first_line(error)}") from error
    timeline = first_timeline(path, found, adapter)
    clips = video_clips(timeline)
    start = timeline.global_start_time
    if start is None and clips:
        start = clips[0].range_in_parent().start_time
    rate = exact_rate(start.rate if start is not None else 24)
    display = timeline.metadata.get("fcp_xml", {}).get("timecode", {}).get("displayformat")
    drop_frame = rate in DROP_FRAME_RATES if display is None else display == "DF"
    if adapter == "fcp_xml":  # FCP7 counts a clip's markers from its media's first frame, as its in point
        for clip in clips:
            media = clip.media_reference.available_range if clip.media_reference else None
            for marker in clip.markers if media else ():
                moved = marker.marked_range.start_time + media.start_time
                marker.marked_range = opentime.TimeRange(moved, marker.marked_range.duration)
    return edit_of(timeline, rate, drop_frame)


def _checked(path: Path, edit: Edit, film_rate: Fraction | None, film_duration_s: float | None) -> Timeline:
    """The edit on the film's clock (0 at its first clip's record in), once its clips follow each other, its rate is
    the film's and its clips and markers lie within the film; InvalidVideo naming the event else."""
    rate, drop_frame, events = edit.rate, edit.drop_frame, edit.events
    if not events:
        what = "CSV rows with in,out" if path.suffix.lower() == ".csv" else "clips on its first video track"
        raise InvalidVideo(path, f"no scenes in it ({what})")
    if film_rate is not None and abs(float(rate) - float(film_rate)) > RATE_TOLERANCE * float(film_rate):
        film_fps = fps_text(exact_rate(film_rate))
        raise InvalidVideo(path, f"its rate is {fps_text(rate)} fps but the film runs at {film_fps} fps")
    half_frame = 0.5 / float(rate)
    cue_sheet = events[0].kind == "line"  # a CSV's rows, named as before: "line 3: starts at 3.000 s"
    noun = "scenes" if cue_sheet else "clips"

    def at(seconds: Fraction | float) -> str:
        return f"{float(seconds):.3f} s" if cue_sheet else timecode(max(float(seconds), 0.0), rate, drop_frame)

    def who(event: Event) -> str:
        return f"{event.label}:" if cue_sheet else event.label

    for event in events:
        if event.record_out <= event.record_in:
            raise InvalidVideo(
                path, f"{who(event)} ends at {at(event.record_out)}, not after it starts at {at(event.record_in)}"
            )
    for before, event in itertools.pairwise(events):
        if event.record_in < before.record_out - half_frame:
            raise InvalidVideo(
                path,
                f"{who(event)} starts at {at(event.record_in)}, before {before.label} ends at "
                f"{at(before.record_out)}: {noun} must not overlap",
            )
        if event.record_in > before.record_out + half_frame:
            log.warning(
                "%s: %s starts %.3f s after the one before it ends; that one's music runs on over the gap",
                path,
                event.label,
                float(event.record_in - before.record_out),
            )
    origin = events[0].record_in
    if film_duration_s is not None:
        for event in events:
            if event.record_in - origin > film_duration_s - half_frame:
                raise InvalidVideo(
                    path,
                    f"{who(event)} starts at {at(event.record_in)}, {float(event.record_in - origin):.3f} s into "
                    f"the film: past the film's end at {film_duration_s:.3f} s ({at(origin + film_duration_s)} on "
                    "its clock)",
                )
    markers = []
    for seconds, name in edit.markers:
        film_s = float(seconds - origin)
        if film_s < -half_frame:
            raise InvalidVideo(
                path, f"marker {name!r} at {at(seconds)} is before the film starts (its first clip, at {at(origin)})"
            )
        if film_duration_s is not None and film_s > film_duration_s + half_frame:
            raise InvalidVideo(
                path,
                f"marker {name!r} at {at(seconds)}, {film_s:.3f} s into the film: past the film's end at "
                f"{film_duration_s:.3f} s ({at(origin + film_duration_s)} on its clock)",
            )
        markers.append(Marker(max(film_s, 0.0), name))
    return Timeline(
        path=path,
        rate=rate,
        drop_frame=drop_frame,
        spans=tuple((float(event.record_in - origin), float(event.record_out - origin)) for event in events),
        names=tuple(event.name for event in events),
        markers=tuple(sorted(markers, key=lambda marker: (marker.seconds, marker.name))),
    )
