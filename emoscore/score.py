"""Scoring photos: people and their VAD (from the worker pool) → quadrant → piece, audio and chart → catalog rows.

`Scorer` loads the models once per process. `score_files` turns a list of image files into catalog rows: every
image gets a row, `status='error'` with the reason when it cannot be scored, so one bad file never stops a batch.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import numpy as np

from emoscore.bridge import arousal_intensity, music_seed, pool_people, vad_to_quadrant
from emoscore.catalog import Identity, ImageFile, base_row, error_row, scoring_params_hash, utf8_text
from emoscore.chart import vad_chart
from emoscore.config import GenerationParams, Params, RenderParams, ScoreParams
from emoscore.device import pick_device
from emoscore.digests import model_digest
from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.model import EmoticNet
from emoscore.emotic.thresholds import Thresholds
from emoscore.people import PreparedImage
from emoscore.workers import VadPool

log = logging.getLogger(__name__)


class Scorer:
    """The loaded models and settings that turn images into catalog rows."""

    def __init__(
        self,
        vad_checkpoint: Path,
        music_checkpoint: Path | None,
        score: ScoreParams,
        generation: GenerationParams,
        render: RenderParams,
        thresholds: Path,
        vocabulary: Path | None = None,
    ) -> None:
        self.score, self.generation, self.render = score, generation, render
        model = EmoticNet.from_checkpoint(vad_checkpoint)  # read once: its config now, its engine on first use
        self.config = model.config
        vad_model = model_digest(vad_checkpoint)
        self.thresholds = Thresholds.load(thresholds, vad_model)
        self.pool = VadPool(model, vad_checkpoint, score)
        self.music = None
        music_model = "none"
        if score.music and music_checkpoint is not None:
            from emoscore.music.cp import Vocabulary
            from emoscore.music.model import CPTransformer

            expected = Vocabulary.load(vocabulary) if vocabulary and Path(vocabulary).exists() else None
            self.music, _ = CPTransformer.from_checkpoint(music_checkpoint, expected)
            self.music.to(pick_device(score.device))  # generation runs where the VAD model does
            music_model = model_digest(music_checkpoint)
        params_hash = scoring_params_hash(score, generation, render, model_digest(thresholds))
        self.identity = Identity(vad_model, music_model, params_hash)

    @classmethod
    def from_params(cls, params: Params) -> Scorer:
        """Models and settings as params.yaml names them."""
        return cls(params.vad.out, params.music.out, params.score, params.generation, params.render,
                   params.eval_vad.thresholds, params.emopia.vocabulary)  # fmt: skip

    def close(self) -> None:
        """Stop the worker processes."""
        self.pool.close()

    def score_files(self, files: list[ImageFile], catalog: Path, flow_run_id: str = "") -> list[dict]:
        """Catalog rows for the files (one each, ok or error), in the order given."""
        rows = []
        for prepared, outputs in self.pool.iter_vad(files):
            if outputs is None:
                rows.append(self.error_row(prepared.file, prepared.error or "unknown error", flow_run_id, prepared))
                continue
            try:
                rows.append(self.ok_row(prepared, *outputs, catalog, flow_run_id))
            except Exception as error:  # one failing piece or chart must not lose the batch
                log.error("%s: %s\n%s", prepared.file.path, error, traceback.format_exc(limit=3))
                rows.append(self.error_row(prepared.file, f"scoring failed: {error}", flow_run_id, prepared))
        return rows

    def ok_row(
        self, prepared: PreparedImage, probabilities: np.ndarray, vad: np.ndarray, catalog: Path, flow_run_id: str
    ) -> dict:
        """The row of a scored image; writes its MIDI, audio and chart under the catalog."""
        file = prepared.file
        pooled = pool_people(vad, self.score.pooling, self.score.quadrant_midpoint)
        quadrant = vad_to_quadrant(pooled[0], pooled[1], self.score.quadrant_midpoint)
        image_scores = probabilities.max(axis=0)
        order = np.argsort(-image_scores)[: self.score.top_categories]
        top = [{"name": CATEGORIES[i], "score": float(image_scores[i])} for i in order]
        chart = Path("charts") / f"{file.image_id}.png"
        if self.score.charts:
            vad_chart(catalog / chart, pooled, [(t["name"], t["score"]) for t in top], utf8_text(Path(file.path).name))
        row = base_row(self.identity, file, "ok", None, flow_run_id, prepared.width, prepared.height)
        row.update(
            people=[
                {
                    "bbox": list(box),
                    "detector_score": score,
                    "categories": [float(p) for p in person_probabilities],
                    "categories_above_threshold": self.thresholds.above(person_probabilities),
                    "valence": float(person_vad[0]),
                    "arousal": float(person_vad[1]),
                    "dominance": float(person_vad[2]),
                }
                for box, score, person_probabilities, person_vad in zip(
                    prepared.boxes, prepared.detector_scores, probabilities, vad, strict=True
                )
            ],
            valence=float(pooled[0]),
            arousal=float(pooled[1]),
            dominance=float(pooled[2]),
            top_categories=top,
            categories_above_threshold=self.thresholds.above(image_scores),
            quadrant=quadrant.name,
            quadrant_confidence=quadrant.confidence,
            chart_path=str(chart) if self.score.charts else None,
            seed=music_seed(file.image_id),
        )
        if self.music is not None:
            intensity = arousal_intensity(pooled[1], self.score.quadrant_midpoint)
            row.update(self._music(file.image_id, quadrant.number, intensity, catalog))
        return row

    def _music(self, image_id: str, quadrant: int, intensity: float, catalog: Path) -> dict:
        from emoscore.music.compose import compose_piece

        midi = Path("midi") / f"{image_id}.mid"
        audio = Path("audio") / f"{image_id}.{self.render.format}"
        piece = compose_piece(
            self.music, quadrant, self.score.bars, music_seed(image_id), self.generation, catalog / midi,
            catalog / audio if self.score.render_audio else None, self.render, intensity,
        )  # fmt: skip
        result = {"midi_path": str(midi), "n_notes": piece.n_notes, "duration_s": piece.duration_s,
                  "music_intensity": intensity}  # fmt: skip
        if piece.audio_path is not None:
            result["audio_path"] = str(audio)
        return result

    def error_row(self, file: ImageFile, reason: str, flow_run_id: str = "",
                  prepared: PreparedImage | None = None) -> dict:  # fmt: skip
        """The row of an image that could not be scored, with the reason."""
        size = (prepared.width, prepared.height) if prepared else (0, 0)
        return error_row(self.identity, file, reason, flow_run_id, *size)
