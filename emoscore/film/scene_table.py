"""The catalog's `scenes` table and a film's cue sheet: one row per scene (built here from its mood, its segments and
its files), keyed by the film's content hash, the scene's index and the models and settings that scored it."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from emoscore.catalog.store import SCENES, Catalog
from emoscore.config import result_dump, section_hash
from emoscore.film.arc import SceneMood
from emoscore.film.cues import CueOverride
from emoscore.film.plan import Segment
from emoscore.film.scenes import timecode

if TYPE_CHECKING:
    from emoscore.catalog.table import Identity
    from emoscore.film.scoring import FilmJob

SCENE_KEY = ("video_id", "scene_index", "vad_model", "music_model", "params_hash")
SCENE_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("scene_index", pa.int32()),
        ("path", pa.string()),
        ("still", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("start_timecode", pa.string()),
        ("end_timecode", pa.string()),
        ("frames_read", pa.int32()),
        ("people", pa.int32()),
        ("own_valence", pa.float64()),
        ("own_arousal", pa.float64()),
        ("own_dominance", pa.float64()),
        ("valence", pa.float64()),
        ("arousal", pa.float64()),
        ("dominance", pa.float64()),
        ("quadrant", pa.string()),
        ("quadrant_confidence", pa.float64()),
        ("intensity", pa.float64()),
        ("tempo_bpm", pa.float64()),
        ("bars", pa.int32()),
        ("first_bar", pa.int32()),
        ("soundtrack_midi", pa.string()),
        ("soundtrack_audio", pa.string()),
        ("scored_video", pa.string()),
        ("vad_model", pa.string()),
        ("music_model", pa.string()),
        ("params_hash", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ]
)
CUE_COLUMNS = (
    "cue",
    "scene_index",
    "start_timecode",
    "end_timecode",
    "start_s",
    "end_s",
    "valence",
    "arousal",
    "dominance",
    "quadrant",
    "intensity",
    "tempo_bpm",
    "metres",
    "bars",
    "override",
    "frames_read",
    "people",
    "still",
)


def add_scenes(catalog: Catalog, rows: Sequence[dict]) -> int:
    """Commit the rows whose key the catalog lacks, in one commit; how many were new."""
    return catalog.write(rows, schema=SCENE_SCHEMA, name=SCENES, key=SCENE_KEY, replace=None)


def read_scenes(catalog: Catalog, columns: Sequence[str] | None = None) -> pa.Table:
    """The scene rows of a catalog (only `columns` when given); empty, with the schema, when there are none."""
    return catalog.read_table(SCENES, SCENE_SCHEMA, columns)


def write_cue_sheet(rows: Sequence[dict], header: dict, csv_path: Path, json_path: Path) -> None:
    """The cue sheet as CSV (one line per scene) and JSON (the film's facts and its scenes)."""
    cues = [{name: row[name] for name in CUE_COLUMNS} for row in rows]
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CUE_COLUMNS)
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in cue.items()} for cue in cues)
    json_path.write_text(json.dumps({**header, "scenes": cues}, indent=1, default=str), encoding="utf-8")


def scene_rows(
    job: FilmJob,
    identity: Identity,
    moods: list[SceneMood],
    segments: list[Segment],
    made: dict[str, Path],
    overrides: dict[int, CueOverride],
) -> list[dict]:
    """The scene rows (catalog and cue sheet), with paths to where the files will be once moved in."""
    params, source, rate, video_id = job.params, job.source, job.rate, job.video_id
    film = result_dump(params.film)
    params_hash = hashlib.sha256(
        json.dumps(
            [
                identity.params_hash,
                film,
                section_hash(params.render),
                {k: o.describe() for k, o in overrides.items()},
            ],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    now = datetime.now(UTC)
    where = {key: str((job.out / path.name).resolve()) for key, path in made.items()}
    rows = []
    by_scene: dict[int, list[Segment]] = {}  # a scene's segments, and the bars before each: one walk, not one a scene
    bars_before: dict[int, int] = {}
    total = 0
    for segment in sorted(segments, key=lambda segment: segment.start):
        bars_before[segment.start], total = total, total + len(segment.bars)
    for segment in segments:
        for index in segment.scenes:
            by_scene.setdefault(index, []).append(segment)
    for scene, mood in zip(job.scenes, moods, strict=True):
        own = [round(value, 4) for value in mood.own] if mood.own else [None, None, None]
        mine = by_scene[scene.index]
        first = next((s for s in mine if s.scenes[0] == scene.index), mine[0])  # a minor cut: the segment it is in
        rows.append(
            {
                "video_id": video_id,
                "scene_index": scene.index,
                "cue": scene.index + 1,
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
                "tempo_bpm": round(first.tempo_bpm, 3),
                "metres": " ".join(m for s in mine for m in s.metres),
                "bars": sum(len(s.bars) for s in mine if s.scenes[0] == scene.index),
                "first_bar": bars_before[first.start],
                "override": overrides[scene.index + 1].describe() if scene.index + 1 in overrides else "",
                "soundtrack_midi": where["midi"],
                "soundtrack_audio": where.get("stem"),
                "scored_video": where.get("video"),
                "vad_model": identity.vad_model,
                "music_model": identity.music_model,
                "params_hash": params_hash,
                "scored_at": now,
            }
        )
    return rows
