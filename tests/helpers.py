"""Helpers shared by the scoring tests: photos written with Pillow and a finished "future" for local runs."""

import dataclasses
import os
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from emoscore.config import Params
from emoscore.emotic.model import EmoticNetConfig
from emoscore.music.classify import ClassifierConfig
from emoscore.music.model import MusicConfig

PROJECT = Path(__file__).resolve().parent.parent
DEFAULTS = Params()
# a CP transformer small enough to build and run in milliseconds
SMALL = dataclasses.replace(
    MusicConfig.from_params(DEFAULTS.music), d_model=32, n_layers=2, n_heads=2,
    embedding_sizes=(8, 8, 8, 4, 8, 8, 8, 4), type_embedding=4,
)  # fmt: skip


def vad_config(**changes):
    """The VAD architecture of params.yaml with `changes` (tests shrink it)."""
    return dataclasses.replace(EmoticNetConfig.from_params(DEFAULTS.emotic, DEFAULTS.vad), **changes)


def classifier_config(**changes):
    """The music classifier of params.yaml with `changes`."""
    return dataclasses.replace(ClassifierConfig.from_params(DEFAULTS.music_classifier), **changes)


class Now:
    """A finished 'future' for running chunks in-process."""

    def __init__(self, rows):
        self.rows = rows

    def result(self):
        return self.rows


def photo(path, size=(96, 72), mode="RGB", **save):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(os.fsencode(path)))  # distinct bytes per file name
    image = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    image.convert(mode).save(path, **save)
    return path


def prepare_or_die(file, **options):
    """A scoring worker's prepare step that kills its worker on files named *crash*: what a decoder segfault or the
    OOM killer does (module-level, so spawned workers can import it)."""
    from emoscore.people import prepare_image

    if "crash" in file.path:
        os._exit(1)
    return prepare_image(file, **options)


def assert_same_catalogs(first: Path, second: Path) -> None:
    """Two catalogs of the same photos hold the same rows: status, path, quadrant, VAD and byte-identical MIDI."""
    from emoscore.catalog import read_catalog

    rows = [{r["image_id"]: r for r in read_catalog(catalog).to_pylist()} for catalog in (first, second)]
    assert rows[0].keys() == rows[1].keys()
    for image_id, here in rows[0].items():
        there = rows[1][image_id]
        for column in ("status", "path", "quadrant", "error"):
            assert here[column] == there[column], column
        if here["status"] == "ok":
            assert abs(here["valence"] - there["valence"]) < 1e-4 and abs(here["arousal"] - there["arousal"]) < 1e-4
            assert (first / here["midi_path"]).read_bytes() == (second / there["midi_path"]).read_bytes()
