"""An unlabeled corpus for pretraining: any folder of MIDI files and/or scores from music21's bundled corpus,
tokenised like EMOPIA but with no emotion.

Each piece starts with an Emotion step of value 0 ("unlabeled"), so the pretrained model reads the same grammar
as the fine-tuned one and learns the quadrants only from EMOPIA. Pieces are split train/val by a hash of their
name (stable as the corpus grows; all transpositions of a score stay in one split); bad files are skipped and
counted by reason.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np

from emoscore.errors import InvalidMidi
from emoscore.music.cp import Note, emotion_word, encode_notes, load_notes
from emoscore.music.emopia import EmopiaReport, save_split, song_split
from emoscore.music.scores import ScoreSource, corpus_files, read_scores, score_notes, transposed
from emoscore.music.timing import Timing
from emoscore.progress import Progress

log = logging.getLogger(__name__)
MIDI_SUFFIXES = (".mid", ".midi")


def list_midi(root: Path) -> list[Path]:
    """Every MIDI file under `root`, sorted; a missing root is an InvalidMidi naming it."""
    if not root.is_dir():
        raise InvalidMidi(root, "MIDI corpus folder not found", "dataset_missing")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def corpus_split(name: str) -> str:
    """A piece's split, train or val (90/10 by a hash of its name without the transposition)."""
    return "train" if song_split(name.split("@")[0], (0.9, 0.1)) == "train" else "val"


def tokenised(notes: list[Note], tempi: list[tuple[int, float]]) -> np.ndarray:
    """A piece's CP steps, opened by the Emotion step of value 0 (unlabeled)."""
    return np.concatenate([[emotion_word(0)], encode_notes(notes, tempi)])


def score_steps(source: ScoreSource, transpositions: list[int]) -> list[tuple[str, np.ndarray]]:
    """(name@key, steps) of a music21 score in each transposition; run in the reading processes, since tokenising
    (chord recognition) costs as much as parsing."""
    notes, tempi = score_notes(source)
    return [(f"{source.name}@{k:+d}", tokenised(transposed(notes, k), tempi)) for k in transpositions]


def prepare_corpus(
    root: Path | None,
    out: Path,
    timing: Timing = "auto",
    *,
    music21: list[str] | None = None,
    music21_files: int = 0,
    transpositions: list[int] | None = None,
) -> dict:
    """Tokenise every MIDI file under `root` and up to `music21_files` scores of the named music21 collections
    (each in every transposition) into `<out>/{train,val}.npz` (90/10 by name); return the report."""
    report = EmopiaReport()
    pieces: dict[str, list[tuple[str, np.ndarray]]] = {"train": [], "val": []}

    def keep(name: str, steps: np.ndarray) -> None:
        split = corpus_split(name)
        pieces[split].append((name, steps))
        report.kept[split] += 1

    for path in Progress(list_midi(root) if root is not None else [], desc="tokenize MIDI folder", unit="file"):
        try:
            notes, tempi, tracked = load_notes(path, timing)
        except InvalidMidi as error:
            report.skip(error.kind, str(error))
            continue
        keep(path.relative_to(root).as_posix(), tokenised(notes, tempi))
        report.beat_tracked += tracked
    if music21 and music21_files:
        sources = corpus_files(music21, music21_files)
        tokenise = functools.partial(score_steps, transpositions=transpositions or [0])
        for _, made in Progress(read_scores(sources, tokenise), total=len(sources), desc="music21 scores"):
            if isinstance(made, InvalidMidi):
                report.skip(made.kind, str(made))
                continue
            for name, steps in made:
                keep(name, steps)
    if not pieces["val"] and len(pieces["train"]) > 1:
        pieces["val"].append(pieces["train"].pop())  # a tiny corpus still gets a validation piece
        report.kept.update({"train": -1, "val": 1})
    for split, items in pieces.items():
        save_split(out / f"{split}.npz", [w for _, w in items], [n for n, _ in items], [0] * len(items))
    summary = report.as_dict()
    summary["root"] = str(root) if root is not None else None
    summary["music21"] = {"collections": music21 or [], "files": music21_files, "transpositions": transpositions}
    summary["steps"] = {split: int(sum(len(w) for _, w in items)) for split, items in pieces.items()}
    return summary
