"""An unlabeled MIDI corpus for pretraining: any folder of MIDI files, tokenised like EMOPIA but with no emotion.

Each piece starts with an Emotion step of value 0 ("unlabeled"), so the pretrained model reads the same grammar
as the fine-tuned one and learns the quadrants only from EMOPIA. Files are split train/val by a hash of their
path under the root (stable as the corpus grows); bad files are skipped and counted by reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from emoscore.errors import InvalidMidi
from emoscore.music.cp import emotion_word, encode_notes, load_notes
from emoscore.music.emopia import EmopiaReport, save_split, song_split
from emoscore.music.timing import Timing

log = logging.getLogger(__name__)
MIDI_SUFFIXES = (".mid", ".midi")


def list_midi(root: Path) -> list[Path]:
    """Every MIDI file under `root`, sorted; a missing root is an InvalidMidi naming it."""
    if not root.is_dir():
        raise InvalidMidi(root, "MIDI corpus folder not found", "dataset_missing")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def prepare_corpus(root: Path, out: Path, timing: Timing = "auto") -> dict:
    """Tokenise every file into `<out>/{train,val}.npz` (a 90/10 split by path); return the report."""
    report = EmopiaReport()
    pieces: dict[str, list[tuple[str, np.ndarray]]] = {"train": [], "val": []}
    for path in tqdm(list_midi(root), desc="tokenize corpus", unit="file"):
        name = path.relative_to(root).as_posix()
        try:
            notes, tempi, tracked = load_notes(path, timing)
        except InvalidMidi as error:
            report.skip(error.kind, str(error))
            continue
        split = "train" if song_split(name, (0.9, 0.1)) == "train" else "val"
        pieces[split].append((name, np.concatenate([[emotion_word(0)], encode_notes(notes, tempi)])))
        report.kept[split] += 1
        report.beat_tracked += tracked
    if not pieces["val"] and len(pieces["train"]) > 1:
        pieces["val"].append(pieces["train"].pop())  # a tiny corpus still gets a validation piece
        report.kept.update({"train": -1, "val": 1})
    for split, items in pieces.items():
        save_split(out / f"{split}.npz", [w for _, w in items], [n for n, _ in items], [0] * len(items))
    summary = report.as_dict()
    summary["root"] = str(root)
    summary["steps"] = {split: int(sum(len(w) for _, w in items)) for split, items in pieces.items()}
    return summary
