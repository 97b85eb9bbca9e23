"""The CP vocabulary: every value of every token family, named, and the quantisation constants that define it
(a 16th-note grid in 4/4, the 88 piano keys, 65 velocity and tempo bins, chord symbols, the four quadrants)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emoscore.errors import ConfigError
from emoscore.music.families import FAMILIES

TYPE_EOS, TYPE_METRICAL, TYPE_NOTE, TYPE_EMOTION = 0, 1, 2, 3
TYPE_NAMES = ("EOS", "Metrical", "Note", "Emotion")
IGNORE, CONTI = 0, 1  # shared meaning of the first two values of tempo and chord
BAR = 1  # bar-beat value of a Bar word; Beat_k is k + 2

POSITIONS_PER_BAR = 16
POSITIONS_PER_BEAT = 4
LOWEST_PITCH, HIGHEST_PITCH = 21, 108
MAX_DURATION = 16
TEMPO_MIN, TEMPO_MAX, TEMPO_STEP = 32, 224, 3
VELOCITY_STEP = 2
MAX_VELOCITY_BIN = 128 // VELOCITY_STEP
QUADRANTS: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "M": (0, 4, 7),
    "m": (0, 3, 7),
    "o": (0, 3, 6),
    "+": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "M7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "7": (0, 4, 7, 10),
    "o7": (0, 3, 6, 9),
    "/o7": (0, 3, 6, 10),
}
CHORD_SYMBOLS: tuple[str, ...] = tuple(f"{root}_{quality}" for root in PITCH_NAMES for quality in CHORD_QUALITIES)
NO_CHORD = 2  # chord value of "N_N"; symbols start at 3


@dataclass(frozen=True)
class Vocabulary:
    """Names of every value of every family; index = token value. Saved beside each music checkpoint."""

    families: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls) -> Vocabulary:
        """The fixed vocabulary defined by the quantisation constants of this module."""
        tempi = tuple(f"Tempo_{bpm}" for bpm in range(TEMPO_MIN, TEMPO_MAX + 1, TEMPO_STEP))
        return cls(
            {
                "tempo": ("<ignore>", "CONTI", *tempi),
                "chord": ("<ignore>", "CONTI", "N_N", *CHORD_SYMBOLS),
                "bar-beat": ("<ignore>", "Bar", *(f"Beat_{p}" for p in range(POSITIONS_PER_BAR))),
                "type": TYPE_NAMES,
                "pitch": ("<ignore>", *(f"Note_Pitch_{p}" for p in range(LOWEST_PITCH, HIGHEST_PITCH + 1))),
                "duration": ("<ignore>", *(f"Note_Duration_{d}" for d in range(1, MAX_DURATION + 1))),
                "velocity": ("<ignore>", *(f"Note_Velocity_{v}" for v in range(0, 129, VELOCITY_STEP))),
                "emotion": ("<ignore>", *QUADRANTS),
            }
        )

    @property
    def sizes(self) -> list[int]:
        """Number of values per family, in FAMILIES order."""
        return [len(self.families[name]) for name in FAMILIES]

    def to_json(self) -> dict:
        """JSON-able form (lists of names per family)."""
        return {"families": list(FAMILIES), "values": {name: list(self.families[name]) for name in FAMILIES}}

    @classmethod
    def from_json(cls, data: dict) -> Vocabulary:
        """Inverse of to_json."""
        return cls({name: tuple(data["values"][name]) for name in data["families"]})

    def save(self, path: Path | str) -> None:
        """Write as JSON (models/cp_vocab.json)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | str) -> Vocabulary:
        """Read a vocabulary JSON; a ConfigError naming the file when it is not one."""
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
            raise ConfigError(f"{path}: not a CP vocabulary file ({detail})") from None

    def describe(self, word: Sequence[int]) -> dict[str, str]:
        """Readable names of the used families of one step."""
        return {
            name: self.families[name][int(value)]
            for name, value in zip(FAMILIES, word, strict=True)
            if name == "type" or int(value) != IGNORE
        }


VOCABULARY = Vocabulary.build()
