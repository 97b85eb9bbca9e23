"""The EMOPIA dataset in its real layout: `midis/Q{1..4}_<song>_<clip>.mid`, `label.csv`, `split/*_clip.csv`.

`prepare_emopia` tokenises every clip into CP steps (emotion word first), splits by song when no split files
exist, and windows long pieces into training sequences. Bad files are skipped and counted by reason.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from emoscore.errors import InvalidMidi
from emoscore.music.cp import bar_starts, encode_notes, load_notes
from emoscore.music.timing import Timing
from emoscore.music.vocabulary import QUADRANTS
from emoscore.progress import Progress
from emoscore.reports import SkipCounter

log = logging.getLogger(__name__)

CLIP_NAME = re.compile(r"^(Q[1-4])_(.+)_(\d+)$")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Clip:
    """One EMOPIA clip: id (file stem), song id, quadrant 1–4 and its file."""

    clip_id: str
    song: str
    quadrant: int
    path: Path


@dataclass
class EmopiaReport(SkipCounter):
    """Clips kept per split and skipped by reason, with the first few examples."""

    kept: Counter = field(default_factory=Counter)
    label_conflicts: int = 0
    beat_tracked: int = 0

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "clips_kept": dict(self.kept),
            "clips_skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "label_conflicts": self.label_conflicts,
            "beat_tracked": self.beat_tracked,
            "examples": self.examples,
        }


def _quadrant(value: str) -> int | None:
    text = value.strip().upper().removeprefix("Q")
    return int(text) if text in {"1", "2", "3", "4"} else None


def read_labels(path: Path) -> dict[str, int]:
    """label.csv: clip id → quadrant (columns `ID`, `4Q`; other columns ignored)."""
    labels: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().lower(): name for name in reader.fieldnames or []}
        id_column = columns.get("id") or columns.get("clip_name") or (reader.fieldnames or [""])[0]
        quadrant_column = columns.get("4q") or columns.get("label") or columns.get("quadrant")
        if quadrant_column is None:
            raise InvalidMidi(path, "label.csv has no 4Q column", "labels_unreadable")
        for row in reader:
            quadrant = _quadrant(row.get(quadrant_column) or "")
            if row.get(id_column) and quadrant:
                labels[row[id_column].strip()] = quadrant
    return labels


def read_split_file(path: Path) -> list[str]:
    """split/<name>_clip.csv: the clip ids it lists (column `clip_name`, or the last column)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return []
    header = [name.strip().lower() for name in rows[0]]
    column = header.index("clip_name") if "clip_name" in header else len(header) - 1
    return [Path(row[column].strip()).stem for row in rows[1:] if len(row) > column and row[column].strip()]


def song_split(song: str, fractions: tuple[float, float] = (0.8, 0.1)) -> str:
    """Deterministic split of a song by its hash, so clips of one song never straddle splits."""
    value = int(hashlib.sha256(song.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if value < fractions[0]:
        return "train"
    return "val" if value < fractions[0] + fractions[1] else "test"


def list_clips(root: Path, report: EmopiaReport) -> dict[str, list[Clip]]:
    """Clips per split: quadrant from label.csv (wins over the file prefix), split from split files or by song."""
    midis = root / "midis"
    if not midis.is_dir():
        raise InvalidMidi(midis, "EMOPIA midis/ folder not found", "dataset_missing")
    labels = read_labels(root / "label.csv") if (root / "label.csv").exists() else {}
    files = {path.stem: path for path in sorted(midis.iterdir()) if path.suffix.lower() in (".mid", ".midi")}
    for clip_id in sorted(set(labels) - set(files)):
        report.skip("listed_but_missing", f"label.csv names {clip_id}, which is not in {midis}")
    split_files = {split: root / "split" / f"{split}_clip.csv" for split in SPLITS}
    listed = {split: set(read_split_file(p)) for split, p in split_files.items() if p.exists()}
    clips: dict[str, list[Clip]] = {split: [] for split in SPLITS}
    for clip_id, path in files.items():
        match = CLIP_NAME.match(clip_id)
        prefix = int(match.group(1)[1]) if match else None
        quadrant = labels.get(clip_id, prefix)
        if quadrant is None:
            report.skip("no_label", f"{path}: no label in label.csv and no Q1–Q4 prefix")
            continue
        if prefix is not None and clip_id in labels and labels[clip_id] != prefix:
            report.label_conflicts += 1
            log.warning("%s: label.csv says Q%d, file name says Q%d; using label.csv", path, quadrant, prefix)
        song = match.group(2) if match else clip_id
        if listed:
            split = next((name for name, ids in listed.items() if clip_id in ids), None)
            if split is None:
                report.skip("not_in_split", f"{path}: not listed in any split file")
                continue
        else:
            split = song_split(song)
        clips[split].append(Clip(clip_id, song, quadrant, path))
    return clips


def windows(words: np.ndarray, length: int) -> list[np.ndarray]:
    """Cut a piece (emotion word first) into windows of at most `length` steps, each starting with the emotion
    word and a Bar; consecutive windows overlap by half so nothing is lost at the seams."""
    emotion, body = words[:1], words[1:]
    if len(words) <= length:
        return [words]
    starts = bar_starts(body)
    pieces, start, room = [], 0, length - 1
    while True:
        window = body[start : start + room]
        pieces.append(np.concatenate([emotion, window]))
        if start + room >= len(body):
            return pieces
        later = starts[(starts > start) & (starts <= start + room // 2)]
        start = int(later[-1]) if len(later) else start + room // 2


def tokenize_clips(
    clips: list[Clip], report: EmopiaReport, split: str, timing: Timing = "auto"
) -> list[tuple[Clip, np.ndarray]]:
    """(clip, CP steps) for each usable clip of a split (emotion word first)."""
    pieces = []
    for clip in Progress(clips, desc=f"tokenize {split}", unit="clip"):
        try:
            notes, tempi, tracked = load_notes(clip.path, timing)
        except InvalidMidi as error:
            report.skip(error.kind, str(error))
            continue
        pieces.append((clip, encode_notes(notes, tempi, emotion=clip.quadrant)))
        report.kept[split] += 1
        report.beat_tracked += tracked
    return pieces


def save_split(path: Path, pieces: list[np.ndarray], clips: list[str], quadrants: list[int]) -> None:
    """One .npz per split: the concatenated steps, offsets per clip, clip ids and quadrants."""
    offsets = np.cumsum([0, *[len(p) for p in pieces]])
    steps = np.concatenate(pieces) if pieces else np.zeros((0, 8), dtype=np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, steps=steps, offsets=offsets, clips=np.array(clips), quadrants=np.array(quadrants))


def load_split(path: Path) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Inverse of save_split: (pieces, quadrants, clip ids)."""
    with np.load(path) as data:
        # each data[...] decompresses the whole array again: read once, not once per clip (that held a copy of
        # every step per clip, ~40 GB for music21's corpus)
        offsets, steps = data["offsets"], data["steps"]
        pieces = [steps[a:b] for a, b in pairwise(offsets)]
        return pieces, data["quadrants"], [str(c) for c in data["clips"]]


__all__ = ["QUADRANTS", "Clip", "EmopiaReport", "list_clips", "load_split", "prepare_emopia", "save_split", "windows"]


def prepare_emopia(root: Path, out: Path, timing: Timing = "auto") -> dict:
    """Tokenise every clip of every split into `<out>/{split}.npz`; return the report (kept/skipped by reason,
    and how many clips had their beats tracked because their tempo map was nominal)."""
    report = EmopiaReport()
    clips = list_clips(root, report)
    for split in SPLITS:
        tokenized = tokenize_clips(clips[split], report, split, timing)
        save_split(
            out / f"{split}.npz",
            [words for _, words in tokenized],
            [clip.clip_id for clip, _ in tokenized],
            [clip.quadrant for clip, _ in tokenized],
        )
    summary = report.as_dict()
    summary["root"] = str(root)
    per_quadrant = Counter(clip.quadrant for split in SPLITS for clip in clips[split])
    summary["clips_listed_per_quadrant"] = {f"Q{q}": per_quadrant[q] for q in (1, 2, 3, 4)}
    return summary
