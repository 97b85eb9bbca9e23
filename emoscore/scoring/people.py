"""An image → its people: decode, detect, cut and resize the crops the VAD model reads, then run them batched."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from emoscore.catalog.location import StorageError, is_remote
from emoscore.catalog.table import ImageFile
from emoscore.device import pick_device
from emoscore.emotic.annotations import clip_box
from emoscore.emotic.dataset import resize_rgb, to_tensor
from emoscore.emotic.detect import Detection, build_detector
from emoscore.emotic.inference import VadEngine
from emoscore.errors import InvalidImage
from emoscore.images import DISPLAYED_SIZE, decode_image
from emoscore.scoring.object_library import OBJECT_READERS, read_object

PeopleScores = tuple[np.ndarray, np.ndarray]  # category probabilities [people, 26], VAD [people, 3]
DETECTOR_SIDE = 800  # pixels on the short side a people detector sees at least (smaller people are missed)


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
def _detector(name: str, weights: str | None) -> Callable[[Image.Image], list[Detection]]:
    return build_detector(name, Path(weights) if weights else None)


def least_side(context_size: int, body_size: int, detector: str) -> int:
    """Pixels an image needs on its short side: enough for both crops and, with a people detector, DETECTOR_SIDE.
    JPEGs are decoded straight at the 1/2…1/8 scale that still leaves this many."""
    return max(context_size, 2 * body_size, DETECTOR_SIDE if detector != "none" else 0)


def prepare_image(
    file: ImageFile,
    context_size: int,
    body_size: int,
    *,
    detector: str,
    detector_weights: str | None,
    max_pixels: int,
    decoded: Image.Image | None = None,
    storage: Mapping[str, str] | None = None,
    data: bytes | None = None,
) -> PreparedImage:
    """Decode (JPEG decoded at reduced size when large) unless `decoded` already holds the image, find people, cut
    and resize crops. Runs in workers; rows record the full displayed size whatever scale was decoded. An object
    of an s3:// library is `data` when already fetched, else read through `storage` over this process's AWS
    environment; a store that is down raises StorageError (the chunk fails, no row), one object refused is a row."""
    prepared = PreparedImage(file)
    try:
        if decoded is None:
            target = least_side(context_size, body_size, detector)
            data = data if data is not None else read_object(file.path, storage)
            decoded = decode_image(file.path, max_pixels=max_pixels, draft=(target, target), data=data)
        image = decoded
        prepared.width, prepared.height = image.info.get(DISPLAYED_SIZE, image.size)
        scale_x, scale_y = prepared.width / image.width, prepared.height / image.height
        for detection in _detector(detector, detector_weights)(image):
            box = clip_box(detection.box, image.width, image.height, 2)
            if box is None:
                continue
            left, top, right, bottom = box
            prepared.boxes.append(
                (round(left * scale_x), round(top * scale_y), round(right * scale_x), round(bottom * scale_y))
            )
            prepared.detector_scores.append(detection.score)
            prepared.bodies.append(resize_rgb(image.crop(box), body_size))
        if not prepared.bodies:
            raise InvalidImage(file.path, "no usable person box")
        prepared.context = resize_rgb(image, context_size)
    except StorageError:
        raise
    except InvalidImage as error:
        prepared.error = error.reason
    except Exception as error:  # a decoder bug on one hostile file must not end the batch
        prepared.error = f"cannot decode: {type(error).__name__}: {error}"
    return prepared


def prepare_images(files: list[ImageFile], prepare: functools.partial, jpeg_device: str | None) -> list[PreparedImage]:
    """`prepare` (a prepare_image partial) of each file; with `jpeg_device`, the batch's JPEGs are first decoded
    together on that device (jpeg_device.decode_jpegs), the rest as usual. Objects of an s3:// library are
    fetched together first (each read waits on the network)."""
    data = fetch_objects(files, prepare.keywords.get("storage"))
    if jpeg_device is None:
        return [prepare(file, data=stream) for file, stream in zip(files, data, strict=True)]
    from emoscore.scoring.jpeg_device import decode_jpegs  # torch work on the device: only when asked for

    options = prepare.keywords
    side = least_side(options["context_size"], options["body_size"], options["detector"])
    paths = [Path(file.path) for file in files]
    images = decode_jpegs(paths, pick_device(jpeg_device), side, options["max_pixels"], data)
    return [prepare(file, decoded=image, data=stream) for file, image, stream in zip(files, images, data, strict=True)]


def fetch_objects(files: list[ImageFile], storage: Mapping[str, str] | None) -> list[bytes | None]:
    """The bytes of each file that is an s3:// object, read OBJECT_READERS at a time; None for files on disk and
    for objects the store refuses (prepare_image then reads them again and names the reason)."""
    if not any(is_remote(file.path) for file in files):
        return [None] * len(files)

    def fetch(file: ImageFile) -> bytes | None:
        try:
            return read_object(file.path, storage)
        except InvalidImage:
            return None

    with ThreadPoolExecutor(OBJECT_READERS, thread_name_prefix="fetch") as pool:
        return list(pool.map(fetch, files))


def infer_people(model: VadEngine, batch: list[PreparedImage]) -> list[PeopleScores]:
    """Category scores and VAD for every person of every decoded image in `batch`, in one forward pass. Scores are
    clipped to 0–1: the reference objective regresses raw outputs onto 0/1 and they overshoot a little either way."""
    contexts, bodies, owners = [], [], []
    for index, prepared in enumerate(batch):
        context = to_tensor(prepared.context)
        for body in prepared.bodies:
            contexts.append(context)
            bodies.append(to_tensor(body))
            owners.append(index)
    probabilities, vad = model.predict(torch.stack(contexts), torch.stack(bodies))
    probabilities = np.clip(probabilities, 0.0, 1.0)
    owners_array = np.array(owners)
    return [(probabilities[owners_array == i], vad[owners_array == i]) for i in range(len(batch))]


def score_prepared(model: VadEngine, pending: list[PreparedImage]) -> list[tuple[PreparedImage, PeopleScores | None]]:
    """(image, outputs) for decoded images in order; None for those that failed to decode."""
    good = [prepared for prepared in pending if not prepared.error]
    results = iter(infer_people(model, good)) if good else iter(())
    return [(prepared, None if prepared.error else next(results)) for prepared in pending]
