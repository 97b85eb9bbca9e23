"""Scenes of a film: from the cuts a scan found, or from an ordered folder of stills with optional in/out
timecodes (a CSV, or the editor's timeline: EDL, FCP7/FCPX XML, OTIO, AAF, read in `timeline`)."""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from emoscore.errors import InvalidVideo
from emoscore.film.timecode import parse_timecode as parse_timecode  # re-exported: other modules import it here
from emoscore.film.timecode import timecode as timecode
from emoscore.film.timeline import read_timeline
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


def read_timecodes(path: Path, fps: float | Fraction) -> list[tuple[float, float]]:
    """(in, out) seconds per scene on the film's clock (0 at the first in) from the editor's timeline or a CSV
    (columns in,out or start,end) at `fps`; InvalidVideo naming the file and event (or line) when it cannot be used."""
    return list(read_timeline(path, fps=fps).spans)


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
