"""Two fresh clones give the same bytes: the sample data and the trained models depend on params.yaml alone
(not on the clock, the run, or how many loader workers there are), so their dvc.lock hashes agree."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from emoscore.config import parse_params
from emoscore.emotic.annotations import MAT_HEADER_TEXT
from emoscore.emotic.prepare import SPLITS, prepare_emotic_split
from emoscore.emotic.train import train_vad_model
from emoscore.music.emopia import prepare_emopia
from emoscore.music.train import Schedule, train_music_model
from emoscore.music.vocabulary import VOCABULARY
from emoscore.samples.datasets import write_emotic_sample, write_sample_photos
from emoscore.samples.music import write_emopia_sample, write_unlabeled_sample
from emoscore.samples.score_clips import write_emopia_scores


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): (
            f"link to {os.readlink(path)}" if path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
        )
        for path in sorted(root.rglob("*"))
        if path.is_symlink() or path.is_file()
    }


def tiny(root: Path, **sections: dict):
    base = {
        "sample": {
            "out": str(root / "sample"),
            "emotic_images": {"train": 12, "val": 6, "test": 4},
            "image_width": 96,
            "image_height": 80,
            "emopia_music21": ["bach"],
            "emopia_music21_files": 6,
            "emopia_songs_per_quadrant": 2,
            "emopia_clips_per_song": 2,
            "photos": 2,
            "unlabeled_pieces": 4,
        },
        "emotic": {
            "root": str(root / "sample" / "emotic"),
            "out": str(root / "emotic"),
            "context_size": 32,
            "body_size": 32,
            "num_workers": 0,
        },
        "emopia": {"root": str(root / "sample" / "emopia")},
        "vad": {"epochs": 2, "batch_size": 4, "fusion_hidden": 16, "num_workers": 0},
        "music": {
            "d_model": 32,
            "n_layers": 1,
            "n_heads": 2,
            "seq_len": 64,
            "epochs": 1,
            "batch_size": 4,
            "embedding_sizes": [8, 8, 8, 4, 8, 8, 8, 4],
            "type_embedding": 4,
        },
    }
    for name, values in sections.items():
        base[name] = {**base[name], **values}
    return parse_params(base)


def test_sample_data_is_byte_identical(tmp_path):
    written = []
    for run in ("a", "b"):
        params = tiny(tmp_path / run)
        write_emotic_sample(params.sample)
        write_emopia_sample(params.sample)
        write_unlabeled_sample(params.sample)
        write_sample_photos(params.sample)
        write_emopia_scores(params.sample.model_copy(update={"out": tmp_path / run / "sample" / "scores"}))
        written.append(digests(tmp_path / run / "sample"))
    assert written[0] == written[1] and len(written[0]) > 20
    mat = (tmp_path / "a" / "sample" / "emotic" / "Annotations" / "Annotations.mat").read_bytes()
    assert mat.startswith(MAT_HEADER_TEXT.encode()) and b"Created on" not in mat[:116]


def test_trained_models_are_byte_identical_whatever_the_loader_workers(tmp_path):
    saved = []
    for run, workers in (("a", 0), ("b", 1)):
        params = tiny(tmp_path / run, vad={"num_workers": workers})
        write_emotic_sample(params.sample)
        write_emopia_sample(params.sample)
        for split in SPLITS:
            prepare_emotic_split(params.emotic, split)
        vad, history = train_vad_model(params.emotic.out, params.emotic, params.vad)
        vad.save(tmp_path / run / "models" / "vad.pt", extra={"history": history})
        prepare_emopia(params.emopia.root, tmp_path / run / "emopia")
        schedule = Schedule.of(params.music.model_copy(update={"resume": tmp_path / run / "resume.pt"}), "cpu")
        music, history = train_music_model(tmp_path / run / "emopia", params.music, schedule)
        music.save(tmp_path / run / "models" / "music.pt", VOCABULARY, extra={"history": history})
        saved.append(digests(tmp_path / run / "models"))
    assert saved[0] == saved[1]
