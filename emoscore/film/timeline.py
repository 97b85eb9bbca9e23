"""The editor's timeline: a CMX3600 EDL, FCP7 XML, FCPX XML, OTIO or AAF file read through OpenTimelineIO (or a
CSV cue sheet) into the cuts and markers of the film on its own clock; SMPTE timecodes, drop-frame too, both ways."""

from __future__ import annotations

import csv
import itertools
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from xml.etree.ElementTree import Element

import opentimelineio as otio
from opentimelineio import opentime
from otio_fcpx_xml_adapter.fcpx_xml import FcpxXml

from emoscore.errors import InvalidVideo

log = logging.getLogger(__name__)

ADAPTERS = {
    ".edl": "cmx_3600",
    ".xml": "fcp_xml",
    ".fcpxml": "fcpx_xml",
    ".fcpxmld": "fcpx_xml",
    ".otio": "otio_json",
    ".aaf": "AAF",
}
FORMATS = {
    "cmx_3600": "a CMX 3600 EDL",
    "fcp_xml": "an FCP7 XML (xmeml)",
    "fcpx_xml": "an FCPX XML",
    "otio_json": "an OTIO file",
    "AAF": "an AAF",
}
DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))
RATE_TOLERANCE = 0.0005  # relative: 29.97 is 30000/1001, but 30 is not (they differ by 0.1 %)
TIMECODE = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:([:;])(\d{1,3})|\.(\d+))?$")
EDL_TIMECODE = re.compile(r"\b(\d{2}:\d{2}:\d{2})[:;](\d{2})\b")
EDL_OVERLAP = re.compile(r"Overlapping record in value: (\S+) for clip (.*)$")


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


@dataclass(frozen=True)
class _Event:
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
class _Edit:
    """What a reader found before any check: events and (record seconds, name) markers on the record clock."""

    rate: Fraction
    drop_frame: bool
    events: list[_Event]
    markers: list[tuple[Fraction, str]]


def _exact_rate(rate: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction: 29.97 (or 29.970029…, 2997/100) is 30000/1001, 23.976 is 24000/1001."""
    value = float(rate)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a frame rate: {rate}")
    nearest = opentime.RationalTime.nearest_smpte_timecode_rate(value)
    if abs(nearest - value) <= RATE_TOLERANCE * value:
        return Fraction(nearest).limit_denominator(1001)
    return (Fraction(rate) if isinstance(rate, int | Fraction) else Fraction(value)).limit_denominator(1001)


def _smpte(rate: Fraction) -> float | None:
    """The rate as OTIO's timecode functions take it, or None for a rate SMPTE timecode does not define."""
    value = float(rate)
    return value if opentime.RationalTime.is_smpte_timecode_rate(value) else None


def _fps(rate: Fraction) -> str:
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")


def is_drop_frame_rate(rate: float | Fraction) -> bool:
    """Whether timecodes at `rate` are drop-frame by default: the NTSC rates 29.97 and 59.94."""
    return _exact_rate(rate) in DROP_FRAME_RATES


def timecode(seconds: float, rate: float | Fraction, drop_frame: bool | None = None) -> str:
    """SMPTE timecode of a time (rounded to whole frames) at `rate`: HH:MM:SS;FF drop-frame (None: at 29.97 and
    59.94), HH:MM:SS:FF else; ValueError for a negative time or drop-frame at another rate."""
    exact = _exact_rate(rate)
    drop_frame = exact in DROP_FRAME_RATES if drop_frame is None else drop_frame
    if drop_frame and exact not in DROP_FRAME_RATES:
        raise ValueError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {_fps(exact)}")
    frames = round(Fraction(seconds) * exact)
    smpte = _smpte(exact)
    if smpte is not None:
        return opentime.to_timecode(opentime.RationalTime(frames, smpte), smpte, drop_frame)
    if frames < 0:
        raise ValueError(f"a timecode cannot be negative: {seconds} s")
    whole, frame = divmod(frames, round(exact))  # a rate SMPTE lacks (15, 12.5): counted at the nearest whole rate
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}:{frame:02d}"


def parse_timecode(text: str, rate: float | Fraction) -> float:
    """Seconds of 'HH:MM:SS:FF' (frames at `rate`), 'HH:MM:SS;FF' (drop-frame), 'HH:MM:SS.mmm', 'MM:SS' or plain
    seconds; ValueError else, and for a drop-frame timecode that does not exist (00:01:00;00)."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"not a timecode: {text!r}")
        return value
    match = TIMECODE.match(text)
    if not match:
        raise ValueError(f"not a timecode: {text!r} (HH:MM:SS:FF, HH:MM:SS;FF drop-frame, HH:MM:SS.mmm or seconds)")
    hours, minutes, seconds, separator, frames, fraction = match.groups()
    clock = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    if frames is None:
        return clock + float(f"0.{fraction}") if fraction else float(clock)
    exact = _exact_rate(rate)
    nominal = round(exact)
    if int(minutes) > 59 or int(seconds) > 59 or int(frames) >= nominal:
        raise ValueError(f"not a timecode at {_fps(exact)} fps: {text!r} (frames run to {nominal - 1})")
    if separator == ";" and exact not in DROP_FRAME_RATES:
        raise ValueError(f"{text!r} is drop-frame (';'), which only 29.97 and 59.94 fps have, not {_fps(exact)}")
    smpte = _smpte(exact)
    if smpte is None:
        return float((clock * nominal + int(frames)) / exact)
    if separator == ";":  # the frames each minute skips (but every tenth) read as the next ones: refuse them
        in_hour = f"00:{int(minutes):02d}:{int(seconds):02d};{int(frames):02d}"
        if opentime.to_timecode(opentime.from_timecode(in_hour, smpte), smpte, True) != in_hour:
            raise ValueError(f"{text!r} does not exist in drop-frame timecode (each minute but every tenth skips it)")
    canonical = f"{int(hours or 0):02d}:{int(minutes):02d}:{int(seconds):02d}{separator}{int(frames):02d}"
    return float(round(opentime.from_timecode(canonical, smpte).value) / exact)


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
        edit = _read_csv(path, _exact_rate(fps))
    elif suffix == ".edl":
        edit = _read_edl(path, _exact_rate(fps))
    elif suffix in (".fcpxml", ".fcpxmld"):
        edit = _read_fcpx(path)
    elif suffix in ADAPTERS:
        edit = _read_otio(path, ADAPTERS[suffix])
    else:
        raise InvalidVideo(path, f"not a timeline (reads {', '.join([*ADAPTERS, '.csv'])})")
    return _checked(path, edit, film_rate, film_duration_s)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidVideo(path, f"cannot read it: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # EDLs from older systems are often Latin-1


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _read_csv(path: Path, rate: Fraction) -> _Edit:
    """(in, out) per row of a CSV cue sheet; InvalidVideo naming the line of a value that is not a timecode."""
    text = _read_text(path)
    events = []
    drop_frame = False
    for number, row in enumerate(csv.DictReader(text.splitlines()), 2):
        columns = {key.strip().lower(): value for key, value in row.items() if key}
        start, end = columns.get("in", columns.get("start")), columns.get("out", columns.get("end"))
        try:
            if start is None or end is None:
                raise ValueError("needs columns in,out (or start,end)")
            record_in, record_out = Fraction(parse_timecode(start, rate)), Fraction(parse_timecode(end, rate))
            events.append(_Event(number, "", record_in, record_out, "line"))
        except ValueError as error:
            raise InvalidVideo(path, f"line {number}: {error}") from None
        drop_frame = drop_frame or ";" in start + end
    return _Edit(rate, drop_frame, events, [])


def _edl_drop_frame(text: str) -> bool:
    """Whether an EDL counts drop-frame: its FCM line says so, or its timecodes use ';'."""
    fcm = re.search(r"^\s*FCM:\s*(.*)$", text, re.MULTILINE)
    stated = fcm is not None and "DROP" in fcm[1].upper() and "NON" not in fcm[1].upper()
    return stated or re.search(r"\d{2}:\d{2}:\d{2};\d{2}", text) is not None


def _edl_for_adapter(text: str, drop_frame: bool) -> str:
    """The EDL as the cmx_3600 adapter reads it right: a drop-frame EDL's event timecodes with ';' (the adapter
    counts ':' non-drop), and locators with ':' (its LOC pattern skips a ';' one)."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if re.match(r"\*?\s*LOC", stripped):
            line = EDL_TIMECODE.sub(r"\1:\2", line)
        elif drop_frame and stripped[:1].isdigit():
            line = EDL_TIMECODE.sub(r"\1;\2", line)
        lines.append(line)
    return "\n".join(lines)


def _edl_video_events(text: str) -> list[int]:
    """The numbers of an EDL's video events in order, one per clip the adapter puts on its video track (a
    transition's second line repeats its event's number)."""
    numbers: list[int] = []
    for line in text.splitlines():
        fields = line.split()
        is_video = len(fields) in (8, 9) and fields[0].isdigit() and "V" in fields[2].upper()
        if is_video and (not numbers or numbers[-1] != int(fields[0])):
            numbers.append(int(fields[0]))
    return numbers


def _read_edl(path: Path, fps: Fraction) -> _Edit:
    """A CMX 3600 EDL at `fps` (29.97 or 59.94 when it counts drop-frame): its video events by event number, and
    its locators, which EDLs write in record time (the adapter files them as clip times: OTIO issue #345)."""
    text = _read_text(path)
    drop_frame = _edl_drop_frame(text)
    rate = (DROP_FRAME_RATES[1] if fps > 45 else DROP_FRAME_RATES[0]) if drop_frame else fps
    edl = _edl_for_adapter(text, drop_frame)
    numbers = _edl_video_events(text)
    try:
        timeline = _edl_timeline(edl, rate, numbers)
    except Exception as error:  # the adapter raises what its parsing meets: EDLParseError, ValueError, IndexError
        overlap = EDL_OVERLAP.search(str(error))
        if overlap:
            raise InvalidVideo(path, _edl_overlap(edl, rate, drop_frame, numbers, overlap[1], overlap[2])) from None
        reason = f"cannot read it as {FORMATS['cmx_3600']} at {_fps(rate)} fps: {_first_line(error)}"
        raise InvalidVideo(path, reason) from error
    for clip in timeline.find_clips():
        for marker in clip.markers:
            start = marker.marked_range.start_time
            if drop_frame:  # the adapter counted the locator's digits non-drop
                digits = opentime.to_timecode(start, float(rate), False)
                written = f"{digits[:-3]};{digits[-2:]}"
                start = opentime.from_timecode(written, float(rate))
                if opentime.to_timecode(start, float(rate), True) != written:
                    raise InvalidVideo(path, f"marker {marker.name!r} at {written}: no such drop-frame timecode")
            marker.marked_range = opentime.TimeRange(
                timeline.tracks.transformed_time(start, clip), marker.marked_range.duration
            )
    return _edit_of(timeline, rate, drop_frame, numbers)


def _edl_timeline(edl: str, rate: Fraction, numbers: list[int], *, lenient: bool = False) -> otio.schema.Timeline:
    """The cmx_3600 adapter's reading of an EDL, less the names it makes up for unnamed events (the event number,
    or 'None' for an event that is a transition line alone)."""
    timeline = otio.adapters.read_from_string(
        edl, adapter_name="cmx_3600", rate=float(rate), ignore_timecode_mismatch=lenient
    )
    clips = _video_clips(timeline)
    for number, clip in zip(numbers if len(numbers) == len(clips) else [], clips, strict=False):
        if clip.name == "None" or (clip.name.isdigit() and int(clip.name) == number):
            clip.name = ""
    return timeline


def _edl_overlap(edl: str, rate: Fraction, drop_frame: bool, numbers: list[int], record_in: str, name: str) -> str:
    """Why an EDL whose event starts inside the one before it is refused, naming both events."""
    try:  # leniently read, the late event follows the one before it, so the ones before it read true
        events = _edit_of(_edl_timeline(edl, rate, numbers, lenient=True), rate, drop_frame, numbers).events
        start = opentime.from_timecode(record_in, float(rate)).to_seconds()
    except Exception:  # only the message is at stake here
        events, start = [], math.inf
    for before, event in itertools.pairwise(events):
        if event.record_in == before.record_out and start < before.record_out and event.name in (name, ""):
            return (
                f"{event.label} starts at {record_in}, before {before.label} ends at "
                f"{timecode(before.record_out, rate, drop_frame)}: clips must not overlap"
            )
    return f"an event (clip {name!r}) starts at {record_in}, inside the event before it: clips must not overlap"


class _ExactFcpxXml(FcpxXml):
    """The fcpx_xml adapter's reader with exact times: it truncates a format's rate to a whole number (29.97 reads
    as 29) and floors each time's float product with it (29/25 s reads as 28 frames); these round exactly."""

    def _frame_duration(self, format_id: str) -> Fraction:
        return _fcpx_seconds(self._format_by_id(format_id).get("frameDuration"))

    def _format_frame_rate(self, format_id: str) -> float:
        return float(1 / self._frame_duration(format_id))

    def _number_of_frames(self, time_value: str | None, format_id: str) -> int:
        return round(_fcpx_seconds(time_value) / self._frame_duration(format_id))

    def _time_range(self, element: Element, format_id: str) -> opentime.TimeRange:
        rate = self._format_frame_rate(format_id)
        return opentime.TimeRange(
            opentime.RationalTime(self._number_of_frames(element.get("start"), format_id), rate),
            opentime.RationalTime(self._number_of_frames(element.get("duration"), format_id), rate),
        )


def _fcpx_seconds(value: str | None) -> Fraction:
    """An FCPX time ('1001/30000s', '3600s', '0s'; absent is 0) as exact seconds."""
    return Fraction(value.removesuffix("s")) if value else Fraction(0)


def _read_fcpx(path: Path) -> _Edit:
    """An FCPX XML (or .fcpxmld bundle): its first project's primary storyline (lane 0) and clip markers; positions
    are the sequence's own times, which start at its tcStart."""
    text = _read_text(path / "Info.fcpxml" if path.is_dir() else path)
    try:
        reader = _ExactFcpxXml(text)
        found = reader.to_otio()
    except Exception as error:  # a malformed file fails wherever the adapter meets it: ParseError, AttributeError
        raise InvalidVideo(path, f"cannot read it as {FORMATS['fcpx_xml']}: {_first_line(error)}") from error
    timeline = _first_timeline(path, found, "fcpx_xml")
    sequence = reader.fcpx_xml.find(".//project/sequence")  # the timeline's: the adapter read its format
    rate = _exact_rate(reader._format_frame_rate(sequence.get("format")))
    tc_format = sequence.get("tcFormat")
    drop_frame = rate in DROP_FRAME_RATES if tc_format is None else tc_format == "DF"
    return _edit_of(timeline, rate, drop_frame, track_name="0")


def _read_otio(path: Path, adapter: str) -> _Edit:
    """An OTIO, FCP7 XML or AAF timeline: its first video track, and the markers of the timeline, tracks and clips."""
    try:
        found = otio.adapters.read_from_file(str(path), adapter_name=adapter)
    except Exception as error:  # each adapter raises its own: ValueError, ParseError, aaf2's AAFError, OTIOError
        raise InvalidVideo(path, f"cannot read it as {FORMATS[adapter]}: {_first_line(error)}") from error
    timeline = _first_timeline(path, found, adapter)
    clips = _video_clips(timeline)
    start = timeline.global_start_time
    if start is None and clips:
        start = clips[0].range_in_parent().start_time
    rate = _exact_rate(start.rate if start is not None else 24)
    display = timeline.metadata.get("fcp_xml", {}).get("timecode", {}).get("displayformat")
    drop_frame = rate in DROP_FRAME_RATES if display is None else display == "DF"
    if adapter == "fcp_xml":  # FCP7 counts a clip's markers from its media's first frame, as its in point
        for clip in clips:
            media = clip.media_reference.available_range if clip.media_reference else None
            for marker in clip.markers if media else ():
                moved = marker.marked_range.start_time + media.start_time
                marker.marked_range = opentime.TimeRange(moved, marker.marked_range.duration)
    return _edit_of(timeline, rate, drop_frame)


def _first_timeline(path: Path, found: otio.core.SerializableObject | None, adapter: str) -> otio.schema.Timeline:
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


def _video_clips(timeline: otio.schema.Timeline, track_name: str | None = None) -> list[otio.schema.Clip]:
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


def _edit_of(
    timeline: otio.schema.Timeline,
    rate: Fraction,
    drop_frame: bool,
    numbers: list[int] | None = None,
    *,
    track_name: str | None = None,
) -> _Edit:
    """The events (clips of the first video track) and markers of an OTIO timeline on its record clock (its global
    start time plus the position in its tracks); `numbers` are EDL event numbers, one per clip."""
    clips = _video_clips(timeline, track_name)
    if numbers is None or len(numbers) != len(clips):
        numbers = list(range(1, len(clips) + 1))
    stack = timeline.tracks
    origin = _seconds(timeline.global_start_time) if timeline.global_start_time is not None else Fraction(0)
    events = []
    for number, clip in zip(numbers, clips, strict=True):
        placed = clip.transformed_time_range(clip.trimmed_range(), stack)
        record_in = origin + _seconds(placed.start_time)
        events.append(_Event(number, clip.name, record_in, record_in + _seconds(placed.duration)))
    markers = {
        (origin + _seconds(start if item is stack else item.transformed_time(start, stack)), marker.name or "")
        for item, marker in _all_markers(timeline)
        for start in [marker.marked_range.start_time]
    }
    return _Edit(rate, drop_frame, events, sorted(markers))


def _seconds(time: opentime.RationalTime) -> Fraction:
    """A time in exact seconds: OTIO holds 29.97 as a float, 29.970029…, which is 30000/1001."""
    return Fraction(time.value) / _exact_rate(time.rate)


def _checked(path: Path, edit: _Edit, film_rate: Fraction | None, film_duration_s: float | None) -> Timeline:
    """The edit on the film's clock (0 at its first clip's record in), once its clips follow each other, its rate is
    the film's and its clips and markers lie within the film; InvalidVideo naming the event else."""
    rate, drop_frame, events = edit.rate, edit.drop_frame, edit.events
    if not events:
        what = "CSV rows with in,out" if path.suffix.lower() == ".csv" else "clips on its first video track"
        raise InvalidVideo(path, f"no scenes in it ({what})")
    if film_rate is not None and abs(float(rate) - float(film_rate)) > RATE_TOLERANCE * float(film_rate):
        film_fps = _fps(_exact_rate(film_rate))
        raise InvalidVideo(path, f"its rate is {_fps(rate)} fps but the film runs at {film_fps} fps")
    half_frame = 0.5 / float(rate)
    cue_sheet = events[0].kind == "line"  # a CSV's rows, named as before: "line 3: starts at 3.000 s"
    noun = "scenes" if cue_sheet else "clips"

    def at(seconds: Fraction | float) -> str:
        return f"{float(seconds):.3f} s" if cue_sheet else timecode(max(float(seconds), 0.0), rate, drop_frame)

    def who(event: _Event) -> str:
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
