"""What a film's scoring hands on: the soundtrack's MIDI (tempo map, metres, a marker per cut and hit) and one MIDI
file per cue for a DAW; the music stem and the mix with the film's own sound at the delivery loudness; the scored
video; and the cue sheet's facts (tempi and metres, where the cuts and hits landed, loudness)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import miditoolkit
import numpy as np

from emoscore.film.arc import SceneMood
from emoscore.film.mix import film_audio, mix_soundtrack, write_deliverable
from emoscore.film.mux import mux_soundtrack, scored_video_name, slideshow
from emoscore.film.placement import Event, Placement, downbeats, nearest_index, place, sync_rate
from emoscore.film.plan import Segment
from emoscore.film.soundtrack import assemble, excerpt, fit_length, mark, soundtrack_midi
from emoscore.music.audio import piece_frames
from emoscore.music.render import OPUS_RATE, RenderUnavailable
from emoscore.music.timing import seconds_at
from emoscore.music.vocabulary import POSITIONS_PER_BEAT

if TYPE_CHECKING:
    from emoscore.film.scoring import FilmJob

log = logging.getLogger(__name__)

SAMPLE_RATE = OPUS_RATE  # film sound runs at 48 kHz, and AAC, Opus and every dubbing stage take it as it is


def film_events(job: FilmJob, segments: Sequence[Segment], moods: Sequence[SceneMood]) -> list[Event]:
    """Every cut (required where the plan put a bar line on it: film.sync and short shots let some pass inside a
    bar) and every hit, in time order."""
    on_bar_lines = {segment.scene for segment in segments if "cut" in segment.starts_on}
    cuts = [
        Event(
            "cut",
            scene.start_s,
            f"cut {scene.index}: scene {scene.index + 1} ({moods[scene.index].quadrant.name})",
            scene.index in on_bar_lines,
        )
        for scene in job.scenes[1:]
    ]
    return sorted([*cuts, *job.hits], key=lambda event: event.seconds)


def nearest_positions(midi: miditoolkit.MidiFile, end: int, times: Sequence[float]) -> list[int]:
    """The 16th of the file's grid nearest each time (seconds), under its tempo map."""
    ticks = midi.ticks_per_beat // POSITIONS_PER_BEAT
    grid = seconds_at(midi, np.arange(end + 1, dtype=float) * ticks)
    return nearest_index(grid, times).tolist()


def write_music(
    job: FilmJob, segments: Sequence[Segment], composed: Sequence[np.ndarray], events: Sequence[Event], work: Path
) -> dict[str, Path]:
    """The soundtrack's MIDI with a marker per cut and hit (`film_events`), and a folder with one MIDI file per cue."""
    notes = assemble(segments, composed, job.params.film.hit_accent)
    midi = soundtrack_midi(segments, notes)  # the markers are placed on its tempo map below
    end = segments[-1].end
    at = nearest_positions(midi, end, [e.seconds for e in events])
    mark(midi, [(p, e.name) for p, e in zip(at, events, strict=True)])
    path = work / f"{job.name}.mid"
    midi.dump(str(path))
    folder = work / f"{job.name}.cue-midi"
    folder.mkdir()
    starts = [*nearest_positions(midi, end, [scene.start_s for scene in job.scenes]), end]
    ticks = midi.ticks_per_beat // POSITIONS_PER_BEAT
    for scene, (a, b) in zip(job.scenes, itertools.pairwise(starts), strict=True):
        excerpt(midi, a * ticks, b * ticks).dump(str(folder / f"{job.name}.cue{scene.index + 1:02d}.mid"))
    return {"midi": path, "cue_midi": folder}


def place_events(
    job: FilmJob, segments: Sequence[Segment], events: Sequence[Event], midi_path: Path
) -> list[Placement]:
    """Where the written MIDI file's bar lines put every cut and hit (read back from the file)."""
    midi = miditoolkit.MidiFile(str(midi_path))
    lines = downbeats(midi, segments[-1].end * midi.ticks_per_beat // POSITIONS_PER_BEAT)
    return place(events, lines, float(1 / job.rate))


def write_sound(job: FilmJob, made: dict[str, Path], work: Path) -> tuple[str | None, dict]:
    """Render the MIDI, mix it under the film's own sound, bring both to the delivery loudness and write the stem,
    the mix and the scored video into `made`; (why there is no audio, or None; the loudness facts)."""
    film, duration = job.params.film, job.scenes[-1].end_s
    try:
        frames = piece_frames([made["midi"]], job.params.render, SAMPLE_RATE, job.params.score.device, full_scale=True)
        if isinstance(frames[0], RenderUnavailable):
            raise frames[0]
    except RenderUnavailable as error:
        log.warning("no audio or scored video for %s: %s", job.source, error)
        return str(error), {}
    music = fit_length(frames[0], duration, SAMPLE_RATE)
    own = film_audio(job.source, SAMPLE_RATE, len(music)) if job.scan is not None else None
    stem, mixed, facts = mix_soundtrack(music, own, SAMPLE_RATE, film)
    kind = film.deliverable_format
    made["stem"] = write_deliverable(stem, SAMPLE_RATE, work / f"{job.name}.music.{kind}", kind)
    made["mix"] = write_deliverable(mixed, SAMPLE_RATE, work / f"{job.name}.mix.{kind}", kind)
    picture = job.source if job.scan is not None else slideshow(job.scenes, work / "slides.mp4", job.fps)
    name = scored_video_name(job.source if job.scan is not None else Path(f"{job.name}.mp4"))
    sound = stem if film.replace_audio else mixed
    made["video"] = mux_soundtrack(picture, sound, SAMPLE_RATE, work / name)
    return None, {"standard": film.loudness, "video_sound": "music" if film.replace_audio else "mix", **facts}


def tempo_facts(segments: Sequence[Segment]) -> dict:
    """Each segment's tempo, aim and metres, and the largest tempo step between neighbours (BPM and ratio)."""
    steps = [abs(b.tempo_bpm - a.beat_tempi[-1]) for a, b in itertools.pairwise(segments)]
    ratios = [
        max(b.tempo_bpm / a.beat_tempi[-1], a.beat_tempi[-1] / b.tempo_bpm) for a, b in itertools.pairwise(segments)
    ]
    return {
        "largest_tempo_step_bpm": round(max(steps, default=0.0), 3),
        "largest_tempo_step_ratio": round(max(ratios, default=1.0), 4),
        "segments": [
            {
                "scenes": [index + 1 for index in segment.scenes],
                "starts_on": segment.starts_on,
                "tempo_bpm": round(segment.tempo_bpm, 3),
                "aim_bpm": round(segment.aim, 3),
                "metres": list(segment.metres),
            }
            for segment in segments
        ],
    }


def cue_sheet_header(
    job: FilmJob, segments: Sequence[Segment], placements: Sequence[Placement], loudness: dict, made: dict[str, Path]
) -> dict:
    """The cue sheet JSON's facts about the whole film."""
    return {
        "film": str(job.source),
        "video_id": job.video_id,
        "duration_s": job.scenes[-1].end_s,
        "fps": float(job.rate),
        "frame_rate": f"{job.rate.numerator}/{job.rate.denominator}",
        "sync": job.params.film.sync,
        "soundtrack": {k: v.name for k, v in made.items()},
        "cut_and_hit_rate": sync_rate(placements),
        "cuts": [p.as_row() for p in placements if p.event.kind == "cut"],
        "hits": [p.as_row() for p in placements if p.event.kind == "hit"],
        "tempo": tempo_facts(segments),
        "loudness": loudness,
    }
