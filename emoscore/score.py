"""Scoring photos: decode → people → VAD (batched across images) → quadrant → music, audio and chart → rows.

`Scorer` loads the models once per process. `score_chunk` turns a list of image files into catalog rows: every
image gets a row, `status='error'` with the reason when it cannot be scored, so one bad file never stops a
batch. Worker processes (one per core) each decode a batch and run it through their own copy of the model.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from emoscore.bridge import music_seed, pool_people, vad_to_quadrant
from emoscore.chart import vad_chart
from emoscore.config import Engine, GenerationParams, Params, RenderParams, ScoreParams
from emoscore.emotic.annotations import clip_box
from emoscore.emotic.dataset import resize_rgb, to_tensor
from emoscore.emotic.detect import build_detector
from emoscore.emotic.inference import VadEngine, load_vad_engine, vad_engine
from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.model import EmoticNet
from emoscore.errors import CheckpointError, InvalidImage
from emoscore.images import IMAGE_SUFFIXES, decode_image

log = logging.getLogger(__name__)
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class ImageFile:
    """An image to score: its path, content hash (sha256) and size."""

    path: str
    image_id: str
    size_bytes: int


@dataclass(frozen=True)
class Skipped:
    """A file under the library that is not scored, and why (logged, counted, no row)."""

    path: str
    reason: str


def file_sha256(path: Path) -> tuple[str, int]:
    """Content hash and size of a file, read in blocks (memory stays flat for any size)."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def iter_library(root: Path, follow_outside: bool = False) -> Iterator[Path | Skipped]:
    """Image files under `root` (any case of extension, nested folders), streamed in a stable order.

    Broken symlinks and symlinks that leave the library (unless `follow_outside`) come out as Skipped.
    """
    root = Path(root)
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        raise InvalidImage(root, "library folder not found")
    resolved_root = root.resolve()
    for directory, folders, files in os.walk(root):
        folders.sort()
        for name in sorted(files):
            path = Path(directory) / name
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.exists():
                    yield Skipped(str(path), "broken symlink")
                    continue
                if not follow_outside and not target.is_relative_to(resolved_root):
                    yield Skipped(str(path), f"symlink points outside the library ({target})")
                    continue
            yield path


def hash_images(paths: Iterable[Path | Skipped]) -> Iterator[ImageFile | Skipped | tuple[str, str]]:
    """ImageFile per readable file; (path, reason) for a file that cannot even be read (becomes an error row)."""
    for path in paths:
        if isinstance(path, Skipped):
            yield path
            continue
        try:
            image_id, size = file_sha256(path)
        except OSError as error:
            yield (str(path), f"cannot read: {error.strerror or error}")
            continue
        yield ImageFile(str(path), image_id, size)


@dataclass
class PreparedImage:
    """One decoded image's model inputs, or the reason it failed."""

    file: ImageFile
    width: int = 0
    height: int = 0
    context: np.ndarray | None = None
    bodies: list[np.ndarray] = field(default_factory=list)
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    detector_scores: list[float] = field(default_factory=list)
    error: str | None = None


@functools.cache
def _detector(name: str, weights: str | None):
    return build_detector(name, Path(weights) if weights else None)


def prepare_image(
    file: ImageFile, context_size: int, body_size: int, detector: str, detector_weights: str | None, max_pixels: int
) -> PreparedImage:
    """Decode (JPEG decoded at reduced size when large), find people, cut and resize crops. Runs in workers."""
    prepared = PreparedImage(file)
    try:
        # JPEGs decode straight at 1/2…1/8 scale when that still leaves enough pixels for both crops
        target = max(context_size, 2 * body_size)
        image = decode_image(file.path, max_pixels=max_pixels, draft=(target, target))
        prepared.width, prepared.height = image.size
        for detection in _detector(detector, detector_weights)(image):
            box = clip_box(detection.box, image.width, image.height, 2)
            if box is None:
                continue
            prepared.boxes.append(box)
            prepared.detector_scores.append(detection.score)
            prepared.bodies.append(resize_rgb(image.crop(box), body_size))
        if not prepared.bodies:
            raise InvalidImage(file.path, "no usable person box")
        prepared.context = resize_rgb(image, context_size)
    except InvalidImage as error:
        prepared.error = error.reason
    except Exception as error:  # a decoder bug on one hostile file must not end the batch
        prepared.error = f"cannot decode: {type(error).__name__}: {error}"
    return prepared


def infer_people(model: VadEngine, batch: list[PreparedImage]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Category probabilities and VAD for every person of every decoded image in `batch`, in one forward pass."""
    contexts, bodies, owners = [], [], []
    for index, prepared in enumerate(batch):
        context = to_tensor(prepared.context)
        for body in prepared.bodies:
            contexts.append(context)
            bodies.append(to_tensor(body))
            owners.append(index)
    probabilities, vad = model.predict(torch.stack(contexts), torch.stack(bodies))
    owners_array = np.array(owners)
    return [(probabilities[owners_array == i], vad[owners_array == i]) for i in range(len(batch))]


def score_prepared(
    model: VadEngine, pending: list[PreparedImage]
) -> list[tuple[PreparedImage, tuple[np.ndarray, np.ndarray] | None]]:
    """(image, outputs) for decoded images in order; None for those that failed to decode."""
    good = [prepared for prepared in pending if not prepared.error]
    results = iter(infer_people(model, good)) if good else iter(())
    return [(prepared, None if prepared.error else next(results)) for prepared in pending]


def even_batches(files: list[ImageFile], batch_size: int, workers: int) -> list[list[ImageFile]]:
    """At most `batch_size` files per batch, as many batches as a multiple of `workers`, sizes within one.

    So the last round keeps every worker busy instead of leaving one idle behind a short tail batch.
    """
    if not files:
        return []
    count = -(-len(files) // batch_size)
    count = min(len(files), -(-count // workers) * workers)
    return [list(batch) for batch in np.array_split(np.array(files, dtype=object), count)]


_WORKER_MODEL: VadEngine | None = None
SPAWN = multiprocessing.get_context("spawn")


def _exit_with_parent(parent: int) -> None:
    """Watchdog of a worker: leave when the scoring process is gone (a SIGKILLed run must not leave its workers,
    each holding a model, blocked forever on the task queue)."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _start_worker(checkpoint: str, engine: Engine, threads: int, parent: int) -> None:
    """Process-pool initializer: the worker's own VAD model and thread count, set up once."""
    global _WORKER_MODEL
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="exit-with-parent").start()
    torch.set_num_threads(threads)
    _WORKER_MODEL = load_vad_engine(Path(checkpoint), engine, threads)


def _score_batch(
    files: list[ImageFile], prepare: functools.partial
) -> list[tuple[PreparedImage, tuple[np.ndarray, np.ndarray] | None]]:
    """One batch in a worker: decode, infer, and send back only what the rows need (no pixel arrays)."""
    if _WORKER_MODEL is None:
        raise RuntimeError("a scoring worker must be started by _start_worker")
    results = score_prepared(_WORKER_MODEL, [prepare(file) for file in files])
    for prepared, _ in results:
        prepared.context, prepared.bodies = None, []
    return results


def model_digest(path: Path) -> str:
    """Short sha256 of a weights file: which model produced a row."""
    try:
        return file_sha256(Path(path))[0][:16]
    except OSError as error:
        reason = f"{error.strerror or error} (train it with `dvc repro`, or point params.yaml at your checkpoint)"
        raise CheckpointError(path, reason) from None


def scoring_params_hash(score: ScoreParams, generation: GenerationParams) -> str:
    """Hash of every setting that changes a row's content (not where files live or how fast it runs)."""
    speed_only = {"batch_size", "chunk_size", "workers", "engine"}  # the same rows, only faster or slower
    relevant = score.model_dump(mode="json", exclude={"library", "catalog", *speed_only})
    text = json.dumps({"score": relevant, "generation": generation.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Identity:
    """Which models and settings produce a row: with the image id, the catalog key."""

    vad_model: str
    music_model: str
    params_hash: str

    @classmethod
    def from_params(cls, params: Params) -> Identity:
        """Digests of the weights and settings named in params.yaml (no model is loaded)."""
        music = model_digest(params.music.out) if params.score.music else "none"
        return cls(model_digest(params.vad.out), music, scoring_params_hash(params.score, params.generation))

    def key(self, image_id: str) -> tuple[str, str, str, str]:
        """The catalog key of an image scored with these models and settings."""
        return (image_id, self.vad_model, self.music_model, self.params_hash)


def utf8_text(text: str | None) -> str | None:
    """A string Parquet can hold: file names that are not UTF-8 (kept by Python as surrogates) become \\xNN."""
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def base_row(
    identity: Identity, file: ImageFile, status: str, error: str | None, flow_run_id: str, width: int = 0,
    height: int = 0,
) -> dict:  # fmt: skip
    """The columns every row has."""
    return {
        "image_id": file.image_id,
        "path": utf8_text(file.path),
        "size_bytes": file.size_bytes,
        "width": width,
        "height": height,
        "status": status,
        "error": utf8_text(error),
        "people": [],
        "vad_model": identity.vad_model,
        "music_model": identity.music_model,
        "params_hash": identity.params_hash,
        "scored_at": datetime.now(UTC),
        "flow_run_id": flow_run_id,
    }


def error_row(identity: Identity, file: ImageFile, reason: str, flow_run_id: str = "", width: int = 0,
              height: int = 0) -> dict:  # fmt: skip
    """The row of an image that could not be scored, with the reason."""
    log.warning("%s: %s", file.path, reason)
    return base_row(identity, file, "error", reason, flow_run_id, width, height)


class Scorer:
    """The loaded models and settings that turn images into catalog rows."""

    def __init__(
        self,
        vad_checkpoint: Path,
        music_checkpoint: Path | None,
        score: ScoreParams,
        generation: GenerationParams,
        render: RenderParams,
        vocabulary: Path | None = None,
    ) -> None:
        self.score, self.generation, self.render = score, generation, render
        self._model = EmoticNet.from_checkpoint(vad_checkpoint)  # read once: its config now, its engine on first use
        self.config = self._model.config
        self._vad: VadEngine | None = None
        self.vad_model = model_digest(vad_checkpoint)
        self.music = None
        self.music_model = "none"
        if score.music and music_checkpoint is not None:
            from emoscore.music.cp import Vocabulary
            from emoscore.music.model import CPTransformer

            expected = Vocabulary.load(vocabulary) if vocabulary and Path(vocabulary).exists() else None
            self.music, _ = CPTransformer.from_checkpoint(music_checkpoint, expected)
            self.music_model = model_digest(music_checkpoint)
        self.identity = Identity(self.vad_model, self.music_model, scoring_params_hash(score, generation))
        self.vad_checkpoint = Path(vad_checkpoint)
        self._executor: Executor | None = None

    @classmethod
    def from_params(cls, params: Params) -> Scorer:
        """Models and settings as params.yaml names them."""
        return cls(params.vad.out, params.music.out, params.score, params.generation, params.render,
                   params.emopia.vocabulary)  # fmt: skip

    def _prepare_job(self) -> functools.partial:
        config = self.config
        return functools.partial(
            prepare_image,
            context_size=config.context_size,
            body_size=config.body_size,
            detector=self.score.detector,
            detector_weights=str(self.score.detector_weights) if self.score.detector_weights else None,
            max_pixels=self.score.max_pixels,
        )

    def _worker_count(self) -> int:
        return self.score.workers if self.score.workers is not None else (os.cpu_count() or 1)

    def _pool(self) -> Executor:
        """Worker processes that each hold the model, or (inside a daemonic Dask worker) decode threads."""
        if self._executor is None:
            workers = self._worker_count()
            if multiprocessing.current_process().daemon:
                # a daemonic process may not start children: decode in threads, infer here
                self._executor = ThreadPoolExecutor(max_workers=workers)
            else:
                threads = max(1, (os.cpu_count() or 1) // workers)
                setup = (str(self.vad_checkpoint), self.score.engine, threads, os.getpid())
                # spawned, not forked: a fork inherits torch's OpenMP state (a child using >1 thread hangs) and
                # whatever locks other threads of this process (Prefect's) hold at that moment
                self._executor = ProcessPoolExecutor(
                    max_workers=workers, mp_context=SPAWN, initializer=_start_worker, initargs=setup
                )
        return self._executor

    @property
    def vad(self) -> VadEngine:
        """The VAD model in this process (built on first use: with worker processes only they need one)."""
        if self._vad is None:
            self._vad = vad_engine(self._model, self.score.engine, torch.get_num_threads())
        return self._vad

    def close(self) -> None:
        """Stop the worker processes."""
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None

    def iter_vad(self, files: list[ImageFile]) -> Iterator[tuple[PreparedImage, tuple[np.ndarray, np.ndarray] | None]]:
        """(prepared image, (category probabilities, VAD) per person) in the order given; None for failures.

        With `workers` > 0 each worker process decodes a batch of `batch_size` images and runs its people through
        its own single-threaded copy of the model: one process per core keeps every core busy with no thread
        contention and no image arrays crossing processes. With 0 everything runs here, one image at a time.
        """
        prepare = self._prepare_job()
        if self._worker_count() == 0:
            yield from self._batched(prepare(file) for file in files)
            return
        pool = self._pool()
        if isinstance(pool, ThreadPoolExecutor):
            yield from self._batched(pool.map(prepare, files))
            return
        batches = even_batches(files, self.score.batch_size, self._worker_count())
        futures = [pool.submit(_score_batch, batch, prepare) for batch in batches]
        for batch, future in zip(batches, futures, strict=True):
            try:
                results = future.result()
            except BrokenProcessPool:
                results = self._isolate(batch, prepare)
            yield from results

    def _isolate(
        self, batch: list[ImageFile], prepare: functools.partial
    ) -> list[tuple[PreparedImage, tuple[np.ndarray, np.ndarray] | None]]:
        """A worker died (a decoder crash or the OOM killer): score the batch one file at a time in fresh workers,
        so only a file that kills its worker again is lost, as an error row naming why."""
        self.close()
        results = []
        for file in batch:
            try:
                results.extend(self._pool().submit(_score_batch, [file], prepare).result())
            except BrokenProcessPool:
                self.close()
                log.error("%s: the worker scoring it died", file.path)
                failed = PreparedImage(file, error="the worker process died while decoding or scoring this file")
                results.append((failed, None))
        return results

    def _batched(
        self, prepared_images: Iterable[PreparedImage]
    ) -> Iterator[tuple[PreparedImage, tuple[np.ndarray, np.ndarray] | None]]:
        pending: list[PreparedImage] = []
        good = 0
        for prepared in prepared_images:
            pending.append(prepared)
            good += prepared.error is None
            if good >= self.score.batch_size:
                yield from score_prepared(self.vad, pending)
                pending, good = [], 0
        yield from score_prepared(self.vad, pending)

    def score_files(self, files: list[ImageFile], catalog: Path, flow_run_id: str = "") -> list[dict]:
        """Catalog rows for the files (one each, ok or error), in the order given."""
        rows = []
        for prepared, outputs in self.iter_vad(files):
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
            quadrant=quadrant.name,
            quadrant_confidence=quadrant.confidence,
            chart_path=str(chart) if self.score.charts else None,
            seed=music_seed(file.image_id),
        )
        if self.music is not None:
            row.update(self._music(file.image_id, quadrant.number, catalog))
        return row

    def _music(self, image_id: str, quadrant: int, catalog: Path) -> dict:
        from emoscore.music.cp import decode_notes, decode_to_midi, duration_seconds
        from emoscore.music.generate import Sampling, generate
        from emoscore.music.render import RenderUnavailable, render_wav

        steps = generate(
            self.music, quadrant, bars=self.score.bars, seed=music_seed(image_id),
            sampling=Sampling(self.generation.temperature, self.generation.top_p),
            max_steps=self.generation.max_steps,
        )  # fmt: skip
        midi_path = Path("midi") / f"{image_id}.mid"
        temporary = catalog / midi_path.with_name(f".{midi_path.name}.tmp")
        decode_to_midi(steps, temporary)
        temporary.replace(catalog / midi_path)
        notes, tempi, _ = decode_notes(steps)
        result = {"midi_path": str(midi_path), "n_notes": len(notes), "duration_s": duration_seconds(notes, tempi)}
        if self.score.render_audio:
            audio = Path("audio") / f"{image_id}.wav"
            try:
                render_wav(catalog / midi_path, catalog / audio, self.render.soundfont, self.render.sample_rate)
                result["audio_path"] = str(audio)
            except RenderUnavailable as error:
                log.debug("no audio for %s: %s", image_id, error)
        return result

    def error_row(self, file: ImageFile, reason: str, flow_run_id: str = "",
                  prepared: PreparedImage | None = None) -> dict:  # fmt: skip
        """The row of an image that could not be scored, with the reason."""
        size = (prepared.width, prepared.height) if prepared else (0, 0)
        return error_row(self.identity, file, reason, flow_run_id, *size)


def unreadable_file(path: str) -> ImageFile:
    """An ImageFile for a file that cannot be read at all: keyed by its path, so it gets an error row once."""
    return ImageFile(path, "unreadable:" + hashlib.sha256(path.encode()).hexdigest()[:40], 0)
