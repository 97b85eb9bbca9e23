"""A film's source: its scenes (the cuts a scan found, the editor's timeline, or a folder of stills), its identity,
and the frames of each scene the scoring path reads."""

from __future__ import annotations

import hashlib
import itertools
from fractions import Fraction
from pathlib import Path

from emoscore.catalog.table import ImageFile
from emoscore.config import Params
from emoscore.digests import file_sha256
from emoscore.errors import InvalidVideo
from emoscore.film.scenes import Scene, scenes_from_scan, still_scenes
from emoscore.film.timeline import Marker, read_timeline
from emoscore.film.video import FilmScan, frames_at, scan_film


def frame_times(scene: Scene, count: int) -> list[float]:
    """`count` moments spread through a scene, away from its cuts (the middles of equal parts)."""
    return [scene.start_s + scene.duration_s * (k + 0.5) / count for k in range(count)]


def film_scenes(
    source: Path, params: Params, timeline: Path | None, *, fps: int, progress: bool
) -> tuple[list[Scene], FilmScan | None, Fraction, list[Marker]]:
    """The scenes of a video (cuts found, or the editor's timeline) or of a folder of stills, the scan of a video,
    the frame rate the cue sheet counts frames in, and the timeline's markers (hit points)."""
    film = params.film
    if source.is_dir():
        markers = list(read_timeline(timeline, fps=fps).markers) if timeline else []
        return still_scenes(source, timeline, film.still_seconds, fps), None, Fraction(fps), markers
    scan = scan_film(source, film.cut_threshold, progress)
    if timeline is None:
        return scenes_from_scan(scan, film.min_scene_s), scan, scan.fps, []
    edit = read_timeline(timeline, fps=scan.fps, film_rate=scan.fps, film_duration_s=scan.duration_s)
    spans = list(edit.spans)
    covered = spans[-1][1] - spans[0][0]
    if covered < scan.duration_s - 1 / float(scan.fps):
        raise InvalidVideo(
            timeline,
            f"its scenes cover {covered:.2f} s of the {scan.duration_s:.2f} s of "
            f"{source.name}: the music would stop before the picture; add the remaining "
            f"scenes",
        )
    origin = spans[0][0]
    bounds = [start - origin for start, _ in spans] + [min(spans[-1][1] - origin, scan.duration_s)]
    if bounds[-1] <= bounds[-2] or any(b <= a for a, b in itertools.pairwise(bounds)):
        raise InvalidVideo(timeline, f"scenes do not fit the {scan.duration_s:.2f} s of {source.name}")
    scenes = [Scene(i, start, end) for i, (start, end) in enumerate(itertools.pairwise(bounds))]
    return scenes, scan, scan.fps, list(edit.markers)


def film_id(source: Path, stills: list[ImageFile], timecodes: Path | None) -> str:
    """Content hash of a video file; of a folder of stills, the hash of its stills' hashes and its timecodes."""
    if not stills:
        return file_sha256(source)[0]
    digest = hashlib.sha256()
    for still in stills:
        digest.update(still.image_id.encode())
    if timecodes is not None:
        digest.update(timecodes.read_bytes())
    return digest.hexdigest()


def read_frames(source: Path, scenes: list[Scene], count: int, folder: Path) -> list[list[ImageFile]]:
    """The image files the scoring path reads for each scene: `count` frames of the film, saved as JPEG."""
    wanted = {time: scene.index for scene in scenes for time in frame_times(scene, count)}
    files: list[list[ImageFile]] = [[] for _ in scenes]
    folder.mkdir(parents=True, exist_ok=True)
    for number, (time, image) in enumerate(frames_at(source, list(wanted))):
        path = folder / f"frame_{number:06d}.jpg"
        image.save(path, quality=95)
        files[wanted[time]].append(ImageFile(str(path), *file_sha256(path)))
    return files
