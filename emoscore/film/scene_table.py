"""The catalog's `scenes` table and a film's cue sheet: one row per scene, keyed by the film's content hash, the
scene's index and the models and settings that scored it, so scoring a film again adds nothing."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from emoscore.catalog.store import SCENES, Catalog

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
