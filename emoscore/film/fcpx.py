"""FCPX XML (.fcpxml, .fcpxmld) through OTIO's fcpx_xml adapter, read with exact rational times."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from xml.etree.ElementTree import Element

from opentimelineio import opentime
from otio_fcpx_xml_adapter.fcpx_xml import FcpxXml

from emoscore.errors import InvalidVideo
from emoscore.film.edit import FORMATS, Edit, edit_of, first_timeline, read_text
from emoscore.film.timecode import DROP_FRAME_RATES, exact_rate
from emoscore.text import first_line


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


def read_fcpx(path: Path) -> Edit:
    """An FCPX XML (or .fcpxmld bundle): its first project's primary storyline (lane 0) and clip markers; positions
    are the sequence's own times, which start at its tcStart."""
    text = read_text(path / "Info.fcpxml" if path.is_dir() else path)
    try:
        reader = _ExactFcpxXml(text)
        found = reader.to_otio()
    except Exception as error:  # a malformed file fails wherever the adapter meets it: ParseError, AttributeError
        raise InvalidVideo(path, f"cannot read it as {FORMATS['fcpx_xml']}: {first_line(error)}") from error
    timeline = first_timeline(path, found, "fcpx_xml")
    sequence = reader.fcpx_xml.find(".//project/sequence")  # the timeline's: the adapter read its format
    rate = exact_rate(reader._format_frame_rate(sequence.get("format")))
    tc_format = sequence.get("tcFormat")
    drop_frame = rate in DROP_FRAME_RATES if tc_format is None else tc_format == "DF"
    return edit_of(timeline, rate, drop_frame, track_name="0")
