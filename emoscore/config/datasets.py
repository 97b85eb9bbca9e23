"""The params sections of the datasets: the generated sample, EMOTIC, EMOPIA and an unlabeled MIDI corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from emoscore.config.marks import Section, Timing, location, runtime


class SplitSizes(Section):
    """Number of images per split."""

    train: int = Field(240, ge=1)
    val: int = Field(60, ge=1)
    test: int = Field(100, ge=1)


class SampleParams(Section):
    """The deterministic sample dataset written by the `sample_data` stage."""

    seed: int = 7
    out: Path = location(Path("data/sample"))
    emotic_images: SplitSizes = SplitSizes()
    max_people_per_image: int = Field(2, ge=1, le=6)
    image_width: int = Field(320, ge=64, le=4096)
    image_height: int = Field(240, ge=64, le=4096)
    emopia_source: Literal["music21", "synthetic"] = Field(
        "music21", description="Clips of real scores labelled by rule, or the synthetic pieces tests rely on."
    )
    emopia_music21: list[str] = Field(
        default_factory=lambda: ["bach", "ryansMammoth", "mozart", "haydn", "monteverdi", "schumann_robert"],
        description="music21 corpus collections the real-score EMOPIA set is cut from (duple metres only).",
    )
    emopia_music21_files: int = Field(240, ge=1, description="Corpus files read, interleaved across collections.")
    emopia_songs_per_quadrant: int = Field(30, ge=1)
    emopia_clips_per_song: int = Field(3, ge=1)
    emopia_bars: int = Field(8, ge=1, le=64)
    photos: int = Field(12, ge=0, description="Sample photos for the score_demo stage.")
    transcribed_share: float = Field(
        0.34, ge=0, le=1, description="EMOPIA clips written as real transcriptions are: nominal 120 BPM, in seconds."
    )
    unlabeled_pieces: int = Field(60, ge=0, description="Pieces of the unlabeled MIDI corpus for pretraining.")
    film_scenes: int = Field(4, ge=2, le=16, description="Scenes of the sample film (sample_film stage).")
    film_scene_seconds: float = Field(6.0, ge=2, le=60)
    film_fps: int = Field(25, ge=10, le=60)
    film_width: int = Field(480, ge=64, le=1920)
    film_height: int = Field(270, ge=64, le=1080)


class EmoticParams(Section):
    """Where EMOTIC lives and how person records become model inputs (`prepare_emotic`)."""

    root: Path = location(
        Path("data/sample/emotic"), description="Unpacked EMOTIC; a DVC dependency of prepare_emotic."
    )
    annotations: Path = Field(
        Path("Annotations"), description="Under root: Annotations.mat, or a folder of {train,val,test}.csv."
    )
    images_dir: Path = Field(Path("emotic"), description="Under root: the folder holding <folder>/<filename>.")
    out: Path = location(Path("data/processed/emotic"))
    context_size: int = Field(112, ge=32, le=512)
    body_size: int = Field(64, ge=32, le=512)
    min_box_side: int = Field(2, ge=1, description="Boxes thinner than this many pixels after clipping are skipped.")
    max_logged_errors: int = runtime(10, ge=0)
    num_workers: int = runtime(2, ge=0, description="Processes decoding images while preparing.")


class EmopiaParams(Section):
    """Where EMOPIA lives (`prepare_emopia`)."""

    root: Path = location(Path("data/sample/emopia"), description="Unpacked EMOPIA (midis/, label.csv, split/).")
    out: Path = location(Path("data/processed/emopia"))
    vocabulary: Path = location(Path("models/cp_vocab.json"))
    timing: Timing = Field("auto", description="auto: track beats where the tempo map is nominal | file | beat_track.")


class MidiCorpusParams(Section):
    """An unlabeled MIDI corpus for pretraining (`prepare_midi_corpus`)."""

    root: Path = location(Path("data/sample/unlabeled"), description="Any folder of MIDI files, searched recursively.")
    timing: Timing = "auto"
    music21: list[str] = Field(
        default_factory=lambda: [
            "bach",
            "joplin",
            "mozart",
            "haydn",
            "beethoven",
            "schumann_robert",
            "schumann_clara",
            "ryansMammoth",
        ],
        description="Collections of music21's bundled corpus to add (composer folders); [] for none.",
    )
    music21_files: int = Field(60, ge=0, description="At most this many corpus files (the whole corpus: 3194).")
    transpositions: list[int] = Field(default_factory=lambda: [0, 5], description="Semitones, per score.")
    out: Path = location(Path("data/processed/midi_corpus"))
