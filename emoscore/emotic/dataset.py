"""From EMOTIC annotations and images to model-ready arrays, and the torch Dataset that reads them.

`prepare_split` decodes each image once (in worker processes), cuts every valid person's body crop, resizes crop
and scene, and appends them to memory-mapped `.npy` arrays next to a Parquet table of labels — so training reads
fixed-size arrays and never decodes a JPEG. Bad records are skipped and counted by reason, never fatal.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from emoscore.emotic.annotations import ImageAnnotation, clip_box, person_problem
from emoscore.emotic.labels import VAD_SCALE, category_vector
from emoscore.errors import InvalidAnnotation, InvalidImage
from emoscore.images import decode_image
from emoscore.progress import Progress
from emoscore.reports import SkipCounter

log = logging.getLogger(__name__)

# ImageNet statistics: what torchvision and Places365 backbones were trained with.
IMAGE_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
IMAGE_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


@dataclass
class PrepareReport(SkipCounter):
    """What happened to the records of one split: kept, and skipped by reason (with the first few examples)."""

    images: int = 0
    people_kept: int = 0

    def as_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "images": self.images,
            "people_kept": self.people_kept,
            "people_skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "examples": self.examples,
        }


@dataclass(frozen=True)
class CropJob:
    """Everything a worker needs to cut the people of one image."""

    image: ImageAnnotation
    path: Path
    context_size: int
    body_size: int
    min_box_side: int


@dataclass
class CropResult:
    """One image's arrays, or why it failed; `dropped` lists (person index, kind, reason) skipped inside it."""

    image: ImageAnnotation
    context: np.ndarray | None = None
    bodies: list[tuple[int, tuple[int, int, int, int], np.ndarray]] = field(default_factory=list)
    dropped: list[tuple[int, str, str]] = field(default_factory=list)
    error: str | None = None
    error_kind: str = ""


def resize_rgb(image: Image.Image, size: int) -> np.ndarray:
    """Square resize (as the reference preprocessing does) to uint8 (size, size, 3)."""
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def crop_people(job: CropJob) -> CropResult:
    """Decode one image and cut the body crop of each valid person (runs in a worker process)."""
    result = CropResult(job.image)
    wanted = []
    for index, person in enumerate(job.image.people):
        problem = person_problem(person)
        if problem:
            result.dropped.append((index, *problem))
        else:
            wanted.append((index, person))
    if not wanted:
        return result
    try:
        picture = decode_image(job.path)
    except InvalidImage as error:
        reason = error.reason
        result.error, result.error_kind = (
            reason,
            "image_missing" if "not found" in reason else "image_unreadable",
        )
        return result
    width, height = picture.size
    if (width, height) != (job.image.width, job.image.height):
        log.debug(
            "%s: annotated size %dx%d, file is %dx%d; using the file",
            job.path,
            job.image.width,
            job.image.height,
            width,
            height,
        )
    for index, person in wanted:
        box = clip_box(person.bbox, width, height, job.min_box_side)
        if box is None:
            result.dropped.append((index, "bbox_empty", f"body box {person.bbox} is empty inside {width}x{height}"))
            continue
        result.bodies.append((index, box, resize_rgb(picture.crop(box), job.body_size)))
    if result.bodies:
        result.context = resize_rgb(picture, job.context_size)
    return result


def _results(jobs: Iterable[CropJob], workers: int) -> Iterator[CropResult]:
    if workers <= 0:
        yield from map(crop_people, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(crop_people, jobs, chunksize=8)


def prepare_split(
    records: Iterable[ImageAnnotation | InvalidAnnotation],
    images_dir: Path,
    out_dir: Path,
    *,
    split: str,
    context_size: int = 224,
    body_size: int = 128,
    min_box_side: int = 2,
    workers: int = 0,
    max_logged: int = 10,
) -> PrepareReport:
    """Write `<split>.parquet` + `<split>_context.npy` + `<split>_body.npy` for the valid people of a split."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = PrepareReport()
    images: list[ImageAnnotation] = []
    for record in records:
        if isinstance(record, InvalidAnnotation):
            report.skip(record.kind, str(record), max_logged)
        else:
            images.append(record)
    report.images = len(images)
    capacity = sum(len(image.people) for image in images)
    context_path, body_path = out_dir / f"{split}_context.npy", out_dir / f"{split}_body.npy"
    contexts = np.lib.format.open_memmap(
        f"{context_path}.tmp",
        mode="w+",
        dtype=np.uint8,
        shape=(max(capacity, 1), context_size, context_size, 3),
    )
    bodies = np.lib.format.open_memmap(
        f"{body_path}.tmp", mode="w+", dtype=np.uint8, shape=(max(capacity, 1), body_size, body_size, 3)
    )
    rows: list[dict] = []
    jobs = (CropJob(image, images_dir / image.relative_path, context_size, body_size, min_box_side) for image in images)
    for result in Progress(_results(jobs, workers), total=len(images), desc=f"prepare {split}", unit="img"):
        image = result.image
        if result.error:
            for _ in image.people:
                report.skip(result.error_kind, f"{image.where} {image.relative_path}: {result.error}", max_logged)
            continue
        for index, kind, reason in result.dropped:
            report.skip(kind, f"{image.where} {image.relative_path} person {index}: {reason}", max_logged)
        for index, box, body in result.bodies:
            person = image.people[index]
            row = len(rows)
            contexts[row], bodies[row] = result.context, body
            rows.append(
                {
                    "folder": image.folder,
                    "filename": image.filename,
                    "person": index,
                    "width": image.width,
                    "height": image.height,
                    "bbox": list(box),
                    "categories": category_vector(list(person.categories)),
                    "valence": person.vad[0],
                    "arousal": person.vad[1],
                    "dominance": person.vad[2],
                    "gender": person.gender,
                    "age": person.age,
                }
            )
    report.people_kept = len(rows)
    _finish_array(contexts, context_path, len(rows))
    _finish_array(bodies, body_path, len(rows))
    table = pd.DataFrame(
        rows,
        columns=[
            "folder",
            "filename",
            "person",
            "width",
            "height",
            "bbox",
            "categories",
            "valence",
            "arousal",
            "dominance",
            "gender",
            "age",
        ],
    )
    table.to_parquet(out_dir / f"{split}.parquet", index=False)
    return report


def _finish_array(array: np.memmap, final: Path, rows: int) -> None:
    """Flush a memmap filled up to `rows` and move it into place, copying only when rows were skipped."""
    array.flush()
    temporary = Path(array.filename)
    if rows == array.shape[0]:
        del array
        os.replace(temporary, final)
        return
    compact = np.lib.format.open_memmap(
        final.with_suffix(".npy.part"), mode="w+", dtype=array.dtype, shape=(rows, *array.shape[1:])
    )
    for start in range(0, rows, 256):
        end = min(start + 256, rows)
        compact[start:end] = array[start:end]
    compact.flush()
    del compact, array
    os.replace(final.with_suffix(".npy.part"), final)
    temporary.unlink()


class EmoticArrays(Dataset):
    """Prepared people of one split: (context, body, categories, vad/VAD_SCALE) tensors, optionally h-flipped."""

    def __init__(self, directory: Path, split: str, hflip: bool = False) -> None:
        self.table = pd.read_parquet(directory / f"{split}.parquet")
        self.context_path = directory / f"{split}_context.npy"
        self.body_path = directory / f"{split}_body.npy"
        self.categories = np.array(self.table["categories"].tolist(), dtype=np.float32).reshape(len(self.table), -1)
        self.vad = self.table[["valence", "arousal", "dominance"]].to_numpy(dtype=np.float32)
        self.hflip = hflip
        self._contexts: np.ndarray | None = None
        self._bodies: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.table)

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        # Opened lazily so every DataLoader worker maps the files itself instead of pickling them.
        if self._contexts is None or self._bodies is None:
            self._contexts = np.load(self.context_path, mmap_mode="r")
            self._bodies = np.load(self.body_path, mmap_mode="r")
        return self._contexts, self._bodies

    def __getitem__(self, item: int | tuple[int, bool]) -> dict[str, torch.Tensor]:
        """One person; `(index, flip)` from `FlipSampler` mirrors both crops when flip is set (and `hflip` is on)."""
        index, flip = item if isinstance(item, tuple) else (item, False)
        contexts, bodies = self._arrays()
        context, body = to_tensor(contexts[index]), to_tensor(bodies[index])
        if self.hflip and flip:
            context, body = context.flip(-1), body.flip(-1)
        return {
            "context": context,
            "body": body,
            "categories": torch.from_numpy(self.categories[index]),
            "vad": torch.from_numpy(self.vad[index] / VAD_SCALE),
        }


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 HWC → normalised float CHW."""
    tensor = torch.from_numpy(np.array(pixels, copy=True)).permute(2, 0, 1).float().div_(255.0)
    return (tensor - IMAGE_MEAN) / IMAGE_STD


class FlipSampler(Sampler):
    """Shuffled indices, each with a coin flip for mirroring, drawn here in the loading process from one seeded
    generator: the same epochs whatever the number of loader workers (a draw inside a worker would depend on it)."""

    def __init__(self, size: int, generator: torch.Generator) -> None:
        self.size, self.generator = size, generator

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, bool]]:
        order = torch.randperm(self.size, generator=self.generator).tolist()
        flips = (torch.rand(self.size, generator=self.generator) < 0.5).tolist()
        return iter(zip(order, flips, strict=True))


def make_loader(
    dataset: EmoticArrays, batch_size: int, workers: int, *, shuffle: bool, seed: int = 0, pin_memory: bool = False
) -> DataLoader:
    """A DataLoader with workers that keep their memory maps open between epochs; shuffled epochs (and flips) come
    from `seed` alone, so `workers` changes only the speed."""
    sampler = FlipSampler(len(dataset), torch.Generator().manual_seed(seed)) if shuffle else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        generator=torch.Generator().manual_seed(seed),  # the loader's own seeds, not the global RNG dropout uses
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=pin_memory,
        prefetch_factor=4 if workers > 0 else None,
        drop_last=shuffle and len(dataset) > batch_size,
    )
