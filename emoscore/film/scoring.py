"""Scoring a film end to end: scenes, frames read through the photo scoring path, the emotional arc, the plan,
the music, and the outputs (MIDI, audio, cue sheet, scored video) written all together or not at all."""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emoscore.catalog.store import Catalog
from emoscore.catalog.table import ImageFile
from emoscore.config import Params, section_hash
from emoscore.digests import file_sha256
from emoscore.errors import InvalidVideo
from emoscore.film.arc import SceneMood, emotional_arc, frame_vad
from emoscore.film.cues import (
    CueOverride,
    composition_path,
    load_composition,
    load_overrides,
    overrides_path,
    save_composition,
    save_overrides,
    segment_key,
)
from emoscore.film.deliver import cue_sheet_header, film_events, place_events, write_music, write_sound
from emoscore.film.hits import hit_events, read_hits
from emoscore.film.placement import Event, Placement, sync_rate
from emoscore.film.plan import Segment, TooShort, plan_film
from emoscore.film.scene_table import add_scenes, scene_rows, write_cue_sheet
from emoscore.film.scenes import Scene
from emoscore.film.soundtrack import compose_segments, segment_seeds
from emoscore.film.source import film_id, film_scenes, read_frames
from emoscore.film.video import FilmScan
from emoscore.music.compose import music_model
from emoscore.progress import Progress

if TYPE_CHECKING:
    from emoscore.scoring.scorer import Scorer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FilmResult:
    """What scoring a film wrote: the files (audio ones None where the renderer was missing, with why), its scene
    rows, where the music put its cuts and hits, and the plan and notes of its segments."""

    video_id: str
    duration_s: float
    scenes: list[dict]
    files: dict[str, Path]
    audio_problem: str | None
    added_rows: int
    placements: list[dict]
    sync: dict
    segments: list[Segment]
    composed: list[np.ndarray]

    @property
    def midi(self) -> Path:
        """The whole soundtrack's MIDI file."""
        return self.files["midi"]

    @property
    def cues_json(self) -> Path:
        """The cue sheet as JSON."""
        return self.files["cues_json"]

    @property
    def cues_csv(self) -> Path:
        """The cue sheet as CSV."""
        return self.files["cues_csv"]

    @property
    def stem(self) -> Path | None:
        """The music alone, at the delivery loudness."""
        return self.files.get("stem")

    @property
    def mix(self) -> Path | None:
        """The film's own sound with the music under it, at the delivery loudness."""
        return self.files.get("mix")

    @property
    def scored_video(self) -> Path | None:
        """The picture with the mix (or the music alone, with replace_audio)."""
        return self.files.get("video")

    def summary(self) -> dict:
        """What a person or a script wants to know about the run (the CLI's table and --json)."""
        return {
            "video_id": self.video_id,
            "duration_s": round(self.duration_s, 3),
            "scenes": len(self.scenes),
            "quadrants": " ".join(row["quadrant"] for row in self.scenes),
            "cut_and_hit_rate": self.sync["rate"],
            **{name: str(path) for name, path in self.files.items()},
            "added_rows": self.added_rows,
            "audio_problem": self.audio_problem,
        }


def with_sound(params: Params, replace_audio: bool | None) -> Params:
    """`params` with film.replace_audio set when the command line says so."""
    if replace_audio is None:
        return params
    return params.model_copy(update={"film": params.film.model_copy(update={"replace_audio": replace_audio})})


def score_film(
    source: Path | str,
    out: Path | str,
    params: Params,
    *,
    catalog: Catalog | None = None,
    timeline: Path | str | None = None,
    hits: Sequence[str] = (),
    cue: int | None = None,
    override: CueOverride | None = None,
    fps: int = 25,
    progress: bool = False,
) -> FilmResult:
    """Score a video file, or a folder of stills, into `out` (see docs/film.md for the files); its scenes from the
    editor's `timeline` when given, a downbeat on every hit point (`hits`: timecodes or CSV files, and the
    timeline's markers); with `cue` (from 1) only that cue is recomposed, with `override`. Everything is made in
    a folder beside `out` and moved in at the end: a film that fails leaves nothing there."""
    from emoscore.scoring.scorer import (
        Scorer,  # the scoring path's models and workers, loaded only when a film is scored
    )

    source, out = Path(source), Path(out)
    timeline = Path(timeline) if timeline else None
    if not source.exists():
        raise InvalidVideo(source, "file not found")
    scenes, scan, rate, markers = film_scenes(source, params, timeline, fps=fps, progress=progress)
    duration = scenes[-1].end_s
    wanted = read_hits(hits, rate, source) + [(m.seconds, m.name, timeline, f"marker {m.name!r}") for m in markers]
    events = hit_events(wanted, source, duration, float(1 / rate))
    if cue is not None and not 1 <= cue <= len(scenes):
        raise InvalidVideo(source, f"--cue {cue}: the film has cues 1–{len(scenes)}")
    stills = [ImageFile(str(scene.still), *file_sha256(scene.still)) for scene in scenes if scene.still]
    video_id = film_id(source, stills, timeline)
    out.mkdir(parents=True, exist_ok=True)
    scorer = Scorer.from_params(params)
    try:
        job = FilmJob(source, scenes, stills, scan, video_id, rate, fps, params, out, progress, events, cue, override)
        made = _make(job, scorer)
    finally:
        scorer.close()
    added = add_scenes(catalog, made.rows) if catalog is not None else 0
    log.info("%s: %d scenes scored into %s", source, len(scenes), out)
    return FilmResult(
        video_id,
        duration,
        made.rows,
        made.files,
        made.problem,
        added,
        [p.as_row() for p in made.placements],
        sync_rate(made.placements),
        made.segments,
        made.composed,
    )


@dataclass(frozen=True)
class FilmJob:
    """One film being scored: what was read from it, what a person asked for, and where its files go."""

    source: Path
    scenes: list[Scene]
    stills: list[ImageFile]  # a folder of stills, one per scene; empty for a video file
    scan: FilmScan | None  # the video file's one pass (None for stills)
    video_id: str
    rate: Fraction  # frames per second of its timecodes
    fps: int  # of a stills slideshow
    params: Params
    out: Path
    progress: bool
    hits: list[Event]
    cue: int | None = None  # the one cue recomposed (from 1)
    override: CueOverride | None = None

    @property
    def name(self) -> str:
        """The stem of every file written for the film."""
        return self.source.stem if not self.source.is_dir() else self.source.name


@dataclass(frozen=True)
class Made:
    """What `_make` wrote and found."""

    files: dict[str, Path]
    rows: list[dict]
    problem: str | None
    placements: list[Placement]
    segments: list[Segment]
    composed: list[np.ndarray]


def _make(job: FilmJob, scorer: Scorer) -> Made:
    """Make every file in a work folder inside `out`, then move them in."""
    source, scenes, params, out, progress = job.source, job.scenes, job.params, job.out, job.progress
    remove_abandoned(out)
    with tempfile.TemporaryDirectory(dir=out, prefix=f".partial-{os.getpid()}-") as work_dir:
        work = Path(work_dir)
        files = [[still] for still in job.stills] or read_frames(
            source, scenes, params.film.frames_per_scene, work / "frames"
        )
        moods = _moods(scorer, files, params, progress)
        spans = [(s.start_s, s.end_s) for s in scenes]
        overrides = load_overrides(overrides_path(out, job.name), job.video_id, spans)
        if job.cue is not None and job.override is not None:
            overrides[job.cue] = overrides.get(job.cue, CueOverride()).merged(job.override)
        moods = [
            overrides[i + 1].applied(mood, params.score.quadrant_midpoint) if i + 1 in overrides else mood
            for i, mood in enumerate(moods)
        ]
        try:
            segments = plan_film(
                spans,
                [m.quadrant.number for m in moods],
                [m.intensity for m in moods],
                hits=[event.seconds for event in job.hits],
                tempo_bpm=params.film.tempo_bpm,
                steering=params.generation.intensity.get("tempo", 0.0),
                tempo_range=params.film.tempo_range,
                sync=params.film.sync,
                frame_s=float(1 / job.rate),
                forced=[cue - 1 for cue in overrides],  # a cue of its own: its neighbours keep their notes
            )
        except TooShort as error:
            raise InvalidVideo(source, str(error)) from None
        film_seed = int(job.video_id[:15], 16)
        chosen = {cue - 1: o.seed for cue, o in overrides.items() if o.seed is not None}
        seeds = segment_seeds(segments, film_seed, chosen)
        film = params.film  # of the film section, only what changes the notes of a segment whose plan is the same
        stored_as = "as composed"  # steps before their intensity (older files held them played: not reused)
        settings = json.dumps(
            [
                section_hash(params.generation),
                film.context_bars,
                film.chunk_bars,
                scorer.identity.music_model,
                stored_as,
            ]
        )
        keys = [segment_key(segment, seed, settings) for segment, seed in zip(segments, seeds, strict=True)]
        stored = load_composition(composition_path(out, job.name))
        recompose = None if job.cue is None else job.cue - 1
        kept = [None if recompose in seg.scenes else stored.get(key) for seg, key in zip(segments, keys, strict=True)]
        model = music_model(Path(params.music.out).resolve(), params.score.device, params.emopia.vocabulary)
        played, composed = compose_segments(
            model, segments, seeds, generation=params.generation, film=params.film, kept=kept, progress=progress
        )
        events = film_events(job, segments, moods)
        made = write_music(job, segments, played, events, work)
        made["composition"] = save_composition(work / composition_path(out, job.name).name, keys, composed)
        if overrides:
            made["overrides"] = save_overrides(
                work / overrides_path(out, job.name).name, job.video_id, overrides, spans
            )
        placements = place_events(job, segments, events, made["midi"])
        problem, loudness = write_sound(job, made, work)
        rows = scene_rows(job, scorer.identity, moods, segments, made, overrides)
        made["cues_csv"], made["cues_json"] = work / f"{job.name}.cues.csv", work / f"{job.name}.cues.json"
        header = cue_sheet_header(job, segments, placements, loudness, made)
        write_cue_sheet(rows, header, made["cues_csv"], made["cues_json"])
        final = {key: out / path.name for key, path in made.items()}
        for key, path in made.items():
            if path.is_dir() and final[key].is_dir():
                shutil.rmtree(final[key])
            os.replace(path, final[key])
        stale = [out.glob(f"{job.name}.{kind}.*") for kind in ("music", "mix", "scored")]
        for old in itertools.chain(*stale):  # an earlier run's sound in another format, or none made this time
            if old not in final.values():
                old.unlink()
    return Made(final, rows, problem, placements, segments, composed)


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
