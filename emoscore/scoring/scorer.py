"""Scoring photos: people and their VAD (from the worker pool) → quadrant → piece, audio and chart → catalog rows.

`Scorer` loads the models once per process. `score_files` turns a list of image files into catalog rows: every
image gets a row, `status='error'` with the reason when it cannot be scored, so one bad file never stops a batch.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscore.catalog.table import Identity, ImageFile, base_row, error_row, scoring_params_hash, utf8_text
from emoscore.config import GenerationParams, Params, RenderParams, ScoreParams
from emoscore.digests import model_digest
from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.model import EmoticNet
from emoscore.emotic.thresholds import Thresholds
from emoscore.music.audio import render_many
from emoscore.music.compose import compose_pieces, music_model, write_piece
from emoscore.music.generate import Request
from emoscore.scoring.bridge import arousal_intensity, music_seed, pool_people, vad_to_quadrant
from emoscore.scoring.chart import vad_chart
from emoscore.scoring.people import PreparedImage
from emoscore.scoring.workers import Scored, VadPool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowMaker:
    """What turns a batch of scored images into catalog rows, with their pieces, audio and charts written.

    Small and picklable: it travels to the worker processes, which make the rows where they decoded and scored
    the images (the music model, synthesizer and chart figure are loaded once per process, on first use).
    """

    identity: Identity
    thresholds: Thresholds
    score: ScoreParams
    generation: GenerationParams
    render: RenderParams
    music_checkpoint: Path | None = None
    vocabulary: Path | None = None

    def rows(self, scored: list[Scored], catalog: Path, flow_run_id: str = "") -> list[dict]:
        """One row per image (ok or error, in order): a failing piece or chart costs only its own row."""
        rows: list[dict] = []
        wanted: list[tuple[int, Request]] = []
        for prepared, outputs in scored:
            if outputs is None:
                rows.append(self.error_row(prepared.file, prepared.error or "unknown error", flow_run_id, prepared))
                continue
            try:
                rows.append(self.ok_row(prepared, *outputs, catalog=catalog, flow_run_id=flow_run_id))
            except Exception as error:  # one failing chart must not lose the batch
                log.error("%s: %s", prepared.file.path, error)
                log.debug("%s", traceback.format_exc(limit=3))
                rows.append(self.error_row(prepared.file, f"scoring failed: {error}", flow_run_id, prepared))
                continue
            if self.music_checkpoint is not None:
                row = rows[-1]
                wanted.append((len(rows) - 1, Request(row["quadrant"], row["seed"], row["music_intensity"])))
        if wanted:
            self._add_music(rows, wanted, scored, catalog=catalog, flow_run_id=flow_run_id)
        return rows

    def _add_music(
        self,
        rows: list[dict],
        wanted: list[tuple[int, Request]],
        scored: list[Scored],
        *,
        catalog: Path,
        flow_run_id: str,
    ) -> None:
        """Compose the pieces of the batch together, then write each one's MIDI and audio."""
        try:
            model = music_model(self.music_checkpoint, self.score.device, self.vocabulary)
            pieces = compose_pieces(model, [request for _, request in wanted], self.score.bars, self.generation)
        except Exception as error:
            log.error("composing %d pieces failed: %s", len(wanted), error)
            log.debug("%s", traceback.format_exc(limit=3))
            pieces = [error] * len(wanted)
        extension = {"preview": "opus", "lossless": "flac"}.get(self.score.audio)
        written: list[tuple[int, Path, Path]] = []
        for (index, _), steps in zip(wanted, pieces, strict=True):
            image_id = rows[index]["image_id"]
            midi = Path("midi") / f"{image_id}.mid"
            try:
                if isinstance(steps, Exception):
                    raise steps
                piece = write_piece(steps, catalog / midi)
            except Exception as error:
                prepared = scored[index][0]
                log.error("%s: %s", prepared.file.path, error)
                rows[index] = self.error_row(prepared.file, f"composing failed: {error}", flow_run_id, prepared)
                continue
            rows[index].update(midi_path=str(midi), n_notes=piece.n_notes, duration_s=piece.duration_s)
            if extension:
                written.append((index, midi, Path("audio") / f"{image_id}.{extension}"))
        if written:  # the chunk's pieces rendered together (one batch on a GPU)
            made = render_many(
                [catalog / midi for _, midi, _ in written],
                [catalog / audio for *_, audio in written],
                self.render,
                self.score.device,
            )
            for (index, _, audio), result in zip(written, made, strict=True):
                if isinstance(result, Exception):
                    log.debug("no audio for %s: %s", rows[index]["image_id"], result)
                else:
                    rows[index]["audio_path"] = str(audio)

    def ok_row(
        self, prepared: PreparedImage, probabilities: np.ndarray, vad: np.ndarray, *, catalog: Path, flow_run_id: str
    ) -> dict:
        """The row of a scored image without its music; writes its chart under the catalog."""
        file = prepared.file
        pooled = pool_people(vad, self.score.pooling, self.score.quadrant_midpoint)
        quadrant = vad_to_quadrant(pooled[0], pooled[1], self.score.quadrant_midpoint)
        image_scores = probabilities.max(axis=0)
        order = np.argsort(-image_scores)[: self.score.top_categories]
        top = [{"name": CATEGORIES[i], "score": float(image_scores[i])} for i in order]
        chart = Path("charts") / f"{file.image_id}.png"
        if self.score.charts:
            vad_chart(catalog / chart, pooled, [(t["name"], t["score"]) for t in top], utf8_text(Path(file.path).name))
        row = base_row(
            self.identity, file, "ok", error=None, flow_run_id=flow_run_id, width=prepared.width, height=prepared.height
        )
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
        if self.music_checkpoint is not None:
            row["music_intensity"] = arousal_intensity(pooled[1], self.score.quadrant_midpoint)
        return row

    def error_row(
        self, file: ImageFile, reason: str, flow_run_id: str = "", prepared: PreparedImage | None = None
    ) -> dict:
        """The row of an image that could not be scored, with the reason."""
        size = (prepared.width, prepared.height) if prepared else (0, 0)
        return error_row(self.identity, file, reason, flow_run_id=flow_run_id, width=size[0], height=size[1])


class Scorer:
    """The loaded models and settings that turn images into catalog rows."""

    def __init__(
        self,
        vad_checkpoint: Path,
        music_checkpoint: Path | None,
        score: ScoreParams,
        *,
        generation: GenerationParams,
        render: RenderParams,
        thresholds: Path,
        vocabulary: Path | None = None,
        workers: ProcessPoolExecutor | None = None,
    ) -> None:
        """`workers`: a pool `spawning.spawn_workers` already started for `score`, used and closed here."""
        self.config = EmoticNet.read_config(vad_checkpoint)  # its config now; its engine where it runs
        vad_model = model_digest(vad_checkpoint)
        self.pool = VadPool(self.config, vad_checkpoint, score, workers)
        music, music_model_digest = None, "none"
        if score.music and music_checkpoint is not None:
            music = Path(music_checkpoint).resolve()
            music_model(music, score.device, vocabulary)  # refuse a wrong checkpoint now, not in every worker
            music_model_digest = model_digest(music)
        params_hash = scoring_params_hash(score, generation, render, model_digest(thresholds))
        self.identity = Identity(vad_model, music_model_digest, params_hash)
        self.maker = RowMaker(
            self.identity,
            Thresholds.load(thresholds, vad_model),
            score,
            generation,
            render,
            music,
            Path(vocabulary) if vocabulary else None,
        )

    @classmethod
    def from_params(cls, params: Params, workers: ProcessPoolExecutor | None = None) -> Scorer:
        """Models and settings as params.yaml names them (`workers`: see `__init__`)."""
        return cls(
            params.vad.out,
            params.music.out,
            params.score,
            generation=params.generation,
            render=params.render,
            thresholds=params.eval_vad.thresholds,
            vocabulary=params.emopia.vocabulary,
            workers=workers,
        )

    def start(self) -> None:
        """Start the worker processes now (they load their models), rather than on the first chunk."""
        if self.pool.workers:
            self.pool.start()

    def close(self) -> None:
        """Stop the worker processes."""
        self.pool.close()

    def abandon(self) -> None:
        """End the worker processes without waiting for their work (this process is about to end)."""
        self.pool.shut_down()

    def iter_vad(self, files: list[ImageFile]) -> Iterator[Scored]:
        """Each file's prepared image and the VAD model's outputs for its people (None when it failed), in order."""
        return self.pool.iter_vad(files)

    def score_files(self, files: list[ImageFile], catalog: Path, flow_run_id: str = "") -> list[dict]:
        """Catalog rows for the files (one each, ok or error), in the order given: each batch's rows, music and
        charts are made in the worker that scored it."""
        make_rows = functools.partial(self.maker.rows, catalog=catalog, flow_run_id=flow_run_id)
        return list(self.pool.iter_vad(files, make_rows))
