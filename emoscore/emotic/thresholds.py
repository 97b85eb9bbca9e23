"""Per-category decision thresholds: chosen on a validation split by `eval_vad`, applied when scoring, so the
catalog names the categories a person shows, not only 26 scores.

The file names the VAD model it was computed for: thresholds of another model would silently mean nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscore.emotic.labels import CATEGORIES
from emoscore.errors import CheckpointError
from emoscore.reports import write_json

THRESHOLDS_FORMAT = "emoscore.thresholds/1"


@dataclass(frozen=True)
class Thresholds:
    """One threshold per EMOTIC category (canonical order), for the VAD model with digest `vad_model`."""

    vad_model: str
    values: tuple[float, ...]

    @classmethod
    def from_mapping(cls, vad_model: str, by_name: dict[str, float]) -> Thresholds:
        """From {category: threshold} in any order; every category must be there."""
        return cls(vad_model, tuple(float(by_name[name]) for name in CATEGORIES))

    def save(self, path: Path | str) -> None:
        """JSON with the format tag, the model digest and {category: threshold}, written atomically."""
        by_name = dict(zip(CATEGORIES, self.values, strict=True))
        write_json(Path(path), {"format": THRESHOLDS_FORMAT, "vad_model": self.vad_model, "thresholds": by_name})

    @classmethod
    def load(cls, path: Path | str, vad_model: str) -> Thresholds:
        """Read and check a thresholds file against the VAD model in use; CheckpointError says what is wrong."""
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(path, "thresholds file not found (run `dvc repro eval_vad`)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointError(path, f"not a readable thresholds file: {error}") from None
        if not isinstance(document, dict) or document.get("format") != THRESHOLDS_FORMAT:
            raise CheckpointError(path, f"not an emoscore thresholds file (expected format {THRESHOLDS_FORMAT!r})")
        by_name = document.get("thresholds")
        if not isinstance(by_name, dict) or sorted(by_name) != sorted(CATEGORIES):
            names = sorted(by_name) if isinstance(by_name, dict) else by_name
            raise CheckpointError(path, f"thresholds must name the 26 EMOTIC categories, found {names}")
        if document.get("vad_model") != vad_model:
            raise CheckpointError(
                path,
                f"computed for VAD model {document.get('vad_model')}, but scoring uses {vad_model} "
                "(rerun `dvc repro eval_vad`, or point eval_vad.thresholds at this model's file)",
            )
        try:
            return cls.from_mapping(vad_model, by_name)
        except (TypeError, ValueError) as error:
            raise CheckpointError(path, f"a threshold is not a number: {error}") from None

    def above(self, scores: np.ndarray) -> list[str]:
        """Names of the categories whose score reaches its threshold, highest score first."""
        scores = np.asarray(scores, dtype=np.float64)
        hits = np.flatnonzero(scores >= np.asarray(self.values))
        return [CATEGORIES[i] for i in hits[np.argsort(-scores[hits], kind="stable")]]
