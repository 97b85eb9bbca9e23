"""Scenes of a film: from the cuts a scan found, or from an ordered folder of stills with optional in/out
timecodes (a CSV, or a CMX3600 EDL as editing software exports it); SMPTE timecodes both ways."""

from __future__ import annotations

import csv
import itertools
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from emoscore.errors import InvalidVideo
from emoscore.film.video import FilmScan
from emoscore.images import IMAGE_SUFFIXES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scene:
    """One scene: where it starts and ends on the film's clock (seconds), and the still it shows, if any."""

    index: int
    start_s: float
    end_s: float
    still: Path | None = None

    @property
    def duration_s(self) -> float:
        """Its length in seconds."""
        return self.end_s - self.start_s


def scenes_from_scan(scan: FilmScan, min_scene_s: float) -> list[Scene]:
    """A scene per cut; one shorter than `min_scene_s` (a flash, a detector's false cut) joins the one before it,
    or the one after when it opens the film."""
    bounds = [0.0, *(scan.frame_times[cut] for cut in scan.cuts), scan.duration_s]
    spans = [[start, end] for start, end in itertools.pairwise(bounds) if end > start]
    merged: list[list[float]] = []
    for span in spans:
        if merged and (span[1] - span[0] < min_scene_s or merged[-1][1] - merged[-1][0] < min_scene_s):
            merged[-1][1] = span[1]
        else:
            merged.append(span)
    return [Scene(index, start, end) for index, (start, end) in enumerate(merged)]


def timecode(seconds: float, fps: float) -> str:
    """SMPTE non-drop timecode HH:MM:SS:FF of a time at `fps` (rounded to whole frames)."""
    rate = round(fps)
    frames = round(seconds * fps)
    whole, frame = divmod(frames, rate)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}:{frame:02d}"


TIMECODE = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:([:;])(\d{1,3})|\.(\d+))?$")


def parse_timecode(text: str, fps: float) -> float:
    """Seconds of 'HH:MM:SS:FF' (frames at `fps`), 'HH:MM:SS.mmm', 'MM:SS' or plain seconds; ValueError else."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    match = TIMECODE.match(text)
    if not match:
        raise ValueError(f"not a timecode: {text!r} (HH:MM:SS:FF, HH:MM:SS.mmm or seconds)")
    hours, minutes, seconds, _, frames, fraction = match.groups()
    value = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    if frames is not None:
        value += int(frames) / fps
    elif fraction is not None:
        value += float(f"0.{fraction}")
    return float(value)


EDL_EVENT = re.compile(r"^\s*\d{3,}\s+.*?((?:\d{2}[:;]){3}\d{2})\s+((?:\d{2}[:;]){3}\d{2})\s*$")


def read_timecodes(path: Path, fps: float) -> list[tuple[float, float]]:
    """(in, out) seconds per scene from a CSV (columns in/out or start/end) or a CMX3600 EDL (each event's record
    in/out); InvalidVideo naming the file and line when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidVideo(path, f"cannot read timecodes: {error}") from None
    if path.suffix.lower() == ".edl":
        events = ((number, EDL_EVENT.match(line)) for number, line in enumerate(text.splitlines(), 1))
        lines = [(number, match[1], match[2]) for number, match in events if match]
    else:
        lines = []
        for number, row in enumerate(csv.DictReader(text.splitlines()), 2):
            columns = {key.strip().lower(): value for key, value in row.items() if key}
            lines.append((number, columns.get("in", columns.get("start")), columns.get("out", columns.get("end"))))
    spans: list[tuple[float, float]] = []
    numbers: list[int] = []
    for number, start, end in lines:
        try:
            if start is None or end is None:
                raise ValueError("needs columns in,out (or start,end)")
            spans.append((parse_timecode(start, fps), parse_timecode(end, fps)))
            numbers.append(number)
        except ValueError as error:
            raise InvalidVideo(path, f"line {number}: {error}") from None
    if not spans:
        raise InvalidVideo(path, "no scenes in it (CSV rows with in,out or EDL events)")
    for start, end in spans:
        if end <= start:
            raise InvalidVideo(path, f"a scene ends ({end:.3f} s) before it starts ({start:.3f} s)")
    frame = 1 / fps
    for (before, after), (line_before, line) in zip(
        itertools.pairwise(spans), itertools.pairwise(numbers), strict=True
    ):
        if after[0] < before[1] - frame / 2:
            raise InvalidVideo(
                path,
                f"line {line}: starts at {after[0]:.3f} s, inside the scene of line "
                f"{line_before} ({before[0]:.3f}–{before[1]:.3f} s): scenes must not overlap",
            )
        if after[0] > before[1] + frame / 2:
            log.warning(
                "%s: line %d starts %.3f s after the scene before it ends; that scene's music runs on over the gap",
                path,
                line,
                after[0] - before[1],
            )
    return spans


def _natural(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_stills(folder: Path) -> list[Path]:
    """The images of a folder (not its subfolders) in natural name order: shot_2 before shot_10."""
    stills = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=_natural)
    if not stills:
        raise InvalidVideo(folder, "no images in this folder")
    return stills


def still_scenes(folder: Path, timecodes: Path | None, still_seconds: float, fps: float) -> list[Scene]:
    """A scene per still, in name order: `still_seconds` each, or the i-th timecode span for the i-th still (the
    film's clock starts at the first span's in; a gap before the next span belongs to the scene before it)."""
    stills = list_stills(folder)
    if timecodes is None:
        return [Scene(i, i * still_seconds, (i + 1) * still_seconds, still) for i, still in enumerate(stills)]
    spans = read_timecodes(timecodes, fps)
    if len(spans) != len(stills):
        raise InvalidVideo(timecodes, f"{len(spans)} scenes for the {len(stills)} stills in {folder}")
    origin = spans[0][0]
    starts = [start - origin for start, _ in spans]
    if any(later < earlier for earlier, later in itertools.pairwise(starts)):
        raise InvalidVideo(timecodes, "scenes are not in time order")
    ends = [*starts[1:], spans[-1][1] - origin]
    return [Scene(i, start, end, still) for i, (start, end, still) in enumerate(zip(starts, ends, stills, strict=True))]
