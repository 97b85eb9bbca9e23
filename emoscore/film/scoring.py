"""Scoring a film end to end: scenes, frames read through the photo scoring path, the emotional arc, the plan,
the music, and the outputs (MIDI, audio, cue sheet, scored video) written all together or not at all."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from emoscore.catalog.store import Catalog
from emoscore.catalog.table import ImageFile
from emoscore.config import Params, result_dump, section_hash
from emoscore.digests import file_sha256
from emoscore.errors import InvalidVideo
from emoscore.film.arc import SceneMood, emotional_arc, frame_vad
from emoscore.film.mux import mux_soundtrack, scored_video_name, slideshow
from emoscore.film.plan import Segment, plan_segments
from emoscore.film.scene_table import add_scenes, write_cue_sheet
from emoscore.film.scenes import Scene, read_timecodes, scenes_from_scan, still_scenes, timecode
from emoscore.film.soundtrack import assemble, compose_segments, fit_length, write_midi
from emoscore.film.video import FilmScan, frames_at, scan_film
from emoscore.music.audio import piece_frames
from emoscore.music.compose import music_model
from emoscore.music.render import OPUS_RATE, RenderUnavailable, write_audio
from emoscore.progress import Progress

if TYPE_CHECKING:
    from emoscore.scoring.scorer import Scorer

log = logging.getLogger(__name__)

SAMPLE_RATE = OPUS_RATE  # film sound runs at 48 kHz, and both AAC and Opus take it as it is


@dataclass(frozen=True)
class FilmResult:
    """What scoring a film wrote: the files (None where the renderer was missing, with why) and its scene rows."""

    video_id: str
    duration_s: float
    scenes: list[dict]
    midi: Path
    cues_csv: Path
    cues_json: Path
    audio: Path | None
    scored_video: Path | None
    audio_problem: str | None
    added_rows: int

    def summary(self) -> dict:
        """What a person or a script wants to know about the run (the CLI's table and --json)."""
        return {
            "video_id": self.video_id,
            "duration_s": round(self.duration_s, 3),
            "scenes": len(self.scenes),
            "quadrants": " ".join(row["quadrant"] for row in self.scenes),
            "midi": str(self.midi),
            "audio": str(self.audio) if self.audio else None,
            "scored_video": str(self.scored_video) if self.scored_video else None,
            "cue_sheet": str(self.cues_csv),
            "cue_sheet_json": str(self.cues_json),
            "added_rows": self.added_rows,
            "audio_problem": self.audio_problem,
        }


def frame_times(scene: Scene, count: int) -> list[float]:
    """`count` moments spread through a scene, away from its cuts (the middles of equal parts)."""
    return [scene.start_s + scene.duration_s * (k + 0.5) / count for k in range(count)]


def film_scenes(
    source: Path, params: Params, timecodes: Path | None, *, fps: int, progress: bool
) -> tuple[list[Scene], FilmScan | None, float]:
    """The scenes of a video (cuts found, or the timecodes given) or of a folder of stills, the scan of a video,
    and the frame rate the cue sheet counts frames in."""
    film = params.film
    if source.is_dir():
        return still_scenes(source, timecodes, film.still_seconds, fps), None, float(fps)
    scan = scan_film(source, film.cut_threshold, progress)
    if timecodes is None:
        return scenes_from_scan(scan, film.min_scene_s), scan, float(scan.fps)
    spans = read_timecodes(timecodes, float(scan.fps))
    covered = spans[-1][1] - spans[0][0]
    if covered < scan.duration_s - 1 / float(scan.fps):
        raise InvalidVideo(
            timecodes,
            f"its scenes cover {covered:.2f} s of the {scan.duration_s:.2f} s of "
            f"{source.name}: the music would stop before the picture; add the remaining "
            f"scenes",
        )
    origin = spans[0][0]
    bounds = [start - origin for start, _ in spans] + [min(spans[-1][1] - origin, scan.duration_s)]
    if bounds[-1] <= bounds[-2] or any(b <= a for a, b in itertools.pairwise(bounds)):
        raise InvalidVideo(timecodes, f"scenes do not fit the {scan.duration_s:.2f} s of {source.name}")
    scenes = [Scene(i, start, end) for i, (start, end) in enumerate(itertools.pairwise(bounds))]
    return scenes, scan, float(scan.fps)


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


def score_film(
    source: Path | str,
    out: Path | str,
    params: Params,
    *,
    catalog: Catalog | None = None,
    timecodes: Path | str | None = None,
    fps: int = 25,
    progress: bool = False,
) -> FilmResult:
    """Score a video file, or a folder of stills, into `out`: `<name>.mid`, `<name>.<render.format>`,
    `<name>.cues.csv`/`.json` and `<name>.scored.<ext>`; add its scenes to `catalog` when given. Everything is
    made in a temporary folder beside `out` and moved in at the end: a film that fails leaves nothing there."""
    from emoscore.scoring.scorer import (
        Scorer,  # the scoring path's models and workers, loaded only when a film is scored
    )

    source, out = Path(source), Path(out)
    timecodes = Path(timecodes) if timecodes else None
    if not source.exists():
        raise InvalidVideo(source, "file not found")
    scenes, scan, rate = film_scenes(source, params, timecodes, fps=fps, progress=progress)
    duration = scenes[-1].end_s
    stills = [ImageFile(str(scene.still), *file_sha256(scene.still)) for scene in scenes if scene.still]
    video_id = film_id(source, stills, timecodes)
    out.mkdir(parents=True, exist_ok=True)
    scorer = Scorer.from_params(params)
    try:
        job = FilmJob(source, scenes, stills, scan, video_id, rate, fps, params, out, progress)
        made, rows, problem = _make(job, scorer)
    finally:
        scorer.close()
    added = add_scenes(catalog, rows) if catalog is not None else 0
    log.info("%s: %d scenes scored into %s", source, len(scenes), out)
    return FilmResult(
        video_id,
        duration,
        rows,
        made["midi"],
        made["cues_csv"],
        made["cues_json"],
        made.get("audio"),
        made.get("video"),
        problem,
        added,
    )


@dataclass(frozen=True)
class FilmJob:
    """One film being scored: what was read from it and where its files go."""

    source: Path
    scenes: list[Scene]
    stills: list[ImageFile]  # a folder of stills, one per scene; empty for a video file
    scan: FilmScan | None  # the video file's one pass (None for stills)
    video_id: str
    rate: float  # frames per second of its timecodes
    fps: int  # of a stills slideshow
    params: Params
    out: Path
    progress: bool


def _make(job: FilmJob, scorer: Scorer) -> tuple[dict[str, Path], list[dict], str | None]:
    """Make every file in a work folder inside `out`, then move them in; (files, scene rows, audio problem)."""
    source, scenes, params, out, progress = job.source, job.scenes, job.params, job.out, job.progress
    duration = scenes[-1].end_s
    remove_abandoned(out)
    with tempfile.TemporaryDirectory(dir=out, prefix=f".partial-{os.getpid()}-") as work_dir:
        work = Path(work_dir)
        files = [[still] for still in job.stills] or read_frames(
            source, scenes, params.film.frames_per_scene, work / "frames"
        )
        moods = _moods(scorer, files, params, progress)
        segments = plan_segments(
            [s.duration_s for s in scenes],
            [m.quadrant.number for m in moods],
            [m.intensity for m in moods],
            tempo_bpm=params.film.tempo_bpm,
            steering=params.generation.intensity.get("tempo", 0.0),
        )
        model = music_model(Path(params.music.out).resolve(), params.score.device, params.emopia.vocabulary)
        composed = compose_segments(
            model,
            segments,
            int(job.video_id[:15], 16),
            generation=params.generation,
            film=params.film,
            progress=progress,
        )
        name = source.stem if not source.is_dir() else source.name
        midi = write_midi(segments, assemble(segments, composed), work / f"{name}.mid")
        made = {"midi": midi}
        problem = None
        try:
            frames = piece_frames([midi], params.render, SAMPLE_RATE, params.score.device)[0]
            if isinstance(frames, RenderUnavailable):
                raise frames
            samples = fit_length(frames, duration, SAMPLE_RATE)
            made["audio"] = write_audio(samples, SAMPLE_RATE, work / f"{name}.{params.render.format}")
            picture = source if job.scan is not None else slideshow(scenes, work / "slides.mp4", job.fps)
            video_name = scored_video_name(source if job.scan is not None else Path(f"{name}.mp4"))
            made["video"] = mux_soundtrack(picture, samples, SAMPLE_RATE, work / video_name)
        except RenderUnavailable as error:
            problem = str(error)
            log.warning("no audio or scored video for %s: %s", source, error)
        rows = _rows(job, scorer, moods, segments, made)
        made["cues_csv"], made["cues_json"] = work / f"{name}.cues.csv", work / f"{name}.cues.json"
        header = {
            "film": str(source),
            "video_id": job.video_id,
            "duration_s": duration,
            "fps": job.rate,
            "soundtrack": {k: v.name for k, v in made.items() if k in ("midi", "audio", "video")},
        }
        write_cue_sheet(rows, header, made["cues_csv"], made["cues_json"])
        final = {key: out / path.name for key, path in made.items()}
        for key, path in made.items():
            os.replace(path, final[key])
    return final, rows, problem


def remove_abandoned(out: Path) -> None:
    """Remove the work folders that killed runs left in `out` (their process is gone); a live run's stay."""
    for leftover in out.glob(".partial-*"):
        owner = leftover.name.split("-")[1]
        try:
            os.kill(int(owner), 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(leftover, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            continue


def _moods(scorer: Scorer, files: list[list[ImageFile]], params: Params, progress: bool) -> list[SceneMood]:
    """Each scene's mood from the VAD of the people in its frames."""
    flat = [file for scene in files for file in scene]
    vads, people = {}, {}
    scored = Progress(scorer.iter_vad(flat), total=len(flat), desc="reading people", unit="frame", disable=not progress)
    for prepared, outputs in scored:
        if outputs is None:
            log.debug("%s: %s", prepared.file.path, prepared.error)
        found = None if outputs is None else outputs[1]
        vads[prepared.file.path] = frame_vad(found, params.score.pooling, params.score.quadrant_midpoint)
        people[prepared.file.path] = 0 if found is None else len(found)
    try:
        return emotional_arc(
            [[vads[f.path] for f in scene] for scene in files],
            [sum(people[f.path] for f in scene) for scene in files],
            params.film.smoothing,
            params.score.quadrant_midpoint,
        )
    except ValueError as error:
        raise InvalidVideo(files[0][0].path if files and files[0] else "film", str(error)) from None


def _rows(
    job: FilmJob, scorer: Scorer, moods: list[SceneMood], segments: list[Segment], made: dict[str, Path]
) -> list[dict]:
    """The scene rows (catalog and cue sheet), with paths to where the files will be once moved in."""
    params, source, rate, video_id = job.params, job.source, job.rate, job.video_id
    film = result_dump(params.film)
    params_hash = hashlib.sha256(
        json.dumps([scorer.identity.params_hash, film, section_hash(params.render)], sort_keys=True).encode()
    ).hexdigest()[:16]
    now = datetime.now(UTC)
    where = {key: str((job.out / path.name).resolve()) for key, path in made.items()}
    rows = []
    for scene, mood, segment in zip(job.scenes, moods, segments, strict=True):
        own = [round(value, 4) for value in mood.own] if mood.own else [None, None, None]
        rows.append(
            {
                "video_id": video_id,
                "scene_index": scene.index,
                "path": str(source.resolve()),
                "still": str(scene.still) if scene.still else None,
                "start_s": round(scene.start_s, 6),
                "end_s": round(scene.end_s, 6),
                "start_timecode": timecode(scene.start_s, rate),
                "end_timecode": timecode(scene.end_s, rate),
                "frames_read": mood.frames,
                "people": mood.people,
                "own_valence": own[0],
                "own_arousal": own[1],
                "own_dominance": own[2],
                "valence": round(mood.vad[0], 4),
                "arousal": round(mood.vad[1], 4),
                "dominance": round(mood.vad[2], 4),
                "quadrant": mood.quadrant.name,
                "quadrant_confidence": mood.quadrant.confidence,
                "intensity": round(mood.intensity, 4),
                "tempo_bpm": round(segment.tempo_bpm, 3),
                "bars": segment.bars,
                "first_bar": segment.first_bar,
                "soundtrack_midi": where["midi"],
                "soundtrack_audio": where.get("audio"),
                "scored_video": where.get("video"),
                "vad_model": scorer.identity.vad_model,
                "music_model": scorer.identity.music_model,
                "params_hash": params_hash,
                "scored_at": now,
            }
        )
    return rows
