"""SMPTE timecodes both ways, drop-frame too (';' at 29.97 and 59.94), on OTIO's timecode arithmetic; frame rates
as exact fractions."""

from __future__ import annotations

import math
import re
from fractions import Fraction

from opentimelineio import opentime

DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))
RATE_TOLERANCE = 0.0005  # relative: 29.97 is 30000/1001, but 30 is not (they differ by 0.1 %)
TIMECODE = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:([:;])(\d{1,3})|\.(\d+))?$")


def exact_rate(rate: float | Fraction) -> Fraction:
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


def fps_text(rate: Fraction) -> str:
    """A rate as messages write it: '29.97', '25'."""
    return f"{float(rate):.3f}".rstrip("0").rstrip(".")


def is_drop_frame_rate(rate: float | Fraction) -> bool:
    """Whether timecodes at `rate` are drop-frame by default: the NTSC rates 29.97 and 59.94."""
    return exact_rate(rate) in DROP_FRAME_RATES


def timecode(seconds: float, rate: float | Fraction, drop_frame: bool | None = None) -> str:
    """SMPTE timecode of a time (rounded to whole frames) at `rate`: HH:MM:SS;FF drop-frame (None: at 29.97 and
    59.94), HH:MM:SS:FF else; ValueError for a negative time or drop-frame at another rate."""
    exact = exact_rate(rate)
    drop_frame = exact in DROP_FRAME_RATES if drop_frame is None else drop_frame
    if drop_frame and exact not in DROP_FRAME_RATES:
        raise ValueError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {fps_text(exact)}")
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
    if (hours is not None or frames is not None) and (int(minutes) > 59 or int(seconds) > 59):
        raise ValueError(f"not a timecode: {text!r} (minutes and seconds run to 59)")
    if frames is None:
        return clock + float(f"0.{fraction}") if fraction else float(clock)
    exact = exact_rate(rate)
    nominal = round(exact)
    if int(minutes) > 59 or int(seconds) > 59 or int(frames) >= nominal:
        raise ValueError(f"not a timecode at {fps_text(exact)} fps: {text!r} (frames run to {nominal - 1})")
    if separator == ";" and exact not in DROP_FRAME_RATES:
        raise ValueError(f"{text!r} is drop-frame (';'), which only 29.97 and 59.94 fps have, not {fps_text(exact)}")
    smpte = _smpte(exact)
    if smpte is None:
        return float((clock * nominal + int(frames)) / exact)
    if separator == ";":  # the frames each minute skips (but every tenth) read as the next ones: refuse them
        in_hour = f"00:{int(minutes):02d}:{int(seconds):02d};{int(frames):02d}"
        if opentime.to_timecode(opentime.from_timecode(in_hour, smpte), smpte, True) != in_hour:
            raise ValueError(f"{text!r} does not exist in drop-frame timecode (each minute but every tenth skips it)")
    canonical = f"{int(hours or 0):02d}:{int(minutes):02d}:{int(seconds):02d}{separator}{int(frames):02d}"
    return float(round(opentime.from_timecode(canonical, smpte).value) / exact)
