"""CMX 3600 EDLs through OTIO's cmx_3600 adapter, its faults corrected: FCM: DROP FRAME and ';' locators heeded,
locators moved from clip time to record time, made-up clip names dropped, an overlap named by both events."""

from __future__ import annotations

import itertools
import math
import re
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
from opentimelineio import opentime

from emoscore.errors import InvalidVideo
from emoscore.film.edit import FORMATS, Edit, edit_of, read_text, video_clips
from emoscore.film.timecode import DROP_FRAME_RATES, fps_text, timecode
from emoscore.text import first_line

EDL_TIMECODE = re.compile(r"\b(\d{2}:\d{2}:\d{2})[:;](\d{2})\b")
EDL_OVERLAP = re.compile(r"Overlapping record in value: (\S+) for clip (.*)$")


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


def read_edl(path: Path, fps: Fraction) -> Edit:
    """A CMX 3600 EDL at `fps` (29.97 or 59.94 when it counts drop-frame): its video events by event number, and
    its locators, which EDLs write in record time (the adapter files them as clip times: OTIO issue #345)."""
    text = read_text(path)
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
        reason = f"cannot read it as {FORMATS['cmx_3600']} at {fps_text(rate)} fps: {first_line(error)}"
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
    return edit_of(timeline, rate, drop_frame, numbers)


def _edl_timeline(edl: str, rate: Fraction, numbers: list[int], *, lenient: bool = False) -> otio.schema.Timeline:
    """The cmx_3600 adapter's reading of an EDL, less the names it makes up for unnamed events (the event number,
    or 'None' for an event that is a transition line alone)."""
    timeline = otio.adapters.read_from_string(
        edl, adapter_name="cmx_3600", rate=float(rate), ignore_timecode_mismatch=lenient
    )
    clips = video_clips(timeline)
    for number, clip in zip(numbers if len(numbers) == len(clips) else [], clips, strict=False):
        if clip.name == "None" or (clip.name.isdigit() and int(clip.name) == number):
            clip.name = ""
    return timeline


def _edl_overlap(edl: str, rate: Fraction, drop_frame: bool, numbers: list[int], record_in: str, name: str) -> str:
    """Why an EDL whose event starts inside the one before it is refused, naming both events."""
    try:  # leniently read, the late event follows the one before it, so the ones before it read true
        events = edit_of(_edl_timeline(edl, rate, numbers, lenient=True), rate, drop_frame, numbers).events
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
