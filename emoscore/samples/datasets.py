"""A deterministic sample dataset in the real EMOTIC format, with a signal a model can learn.

Each person gets a VAD state; categories are drawn near VAD prototypes of the categories, so labels agree with
each other as they do in EMOTIC. The picture carries the labels: the scene's hue, brightness and stripe frequency
follow valence, arousal and dominance, and the person's clothing shows one colour band per category. Noise,
varied sizes and a few boxes past the image edge keep it from being trivial; `inject_faults` adds the record
faults real annotation files have (missing image, NaN VAD, empty box) so `prepare_emotic` shows its counting.
"""

from __future__ import annotations

import colorsys
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from emoscore.config import SampleParams
from emoscore.emotic.annotations import ImageAnnotation, PersonAnnotation, write_annotations_mat
from emoscore.emotic.labels import CATEGORIES, NUM_CATEGORIES

log = logging.getLogger(__name__)

SAMPLE_FOLDERS = ("mscoco/images", "framesdb/images", "emodb_small/images", "ade20k/images")

# Where each category sits in (valence, arousal, dominance) on the 1–10 scale, roughly as in the affect literature.
CATEGORY_VAD_PROTOTYPES: dict[str, tuple[float, float, float]] = {
    "Affection": (8.0, 5.0, 6.0),
    "Anger": (2.5, 8.0, 7.0),
    "Annoyance": (3.0, 6.5, 6.0),
    "Anticipation": (6.5, 6.5, 6.0),
    "Aversion": (3.0, 5.5, 5.5),
    "Confidence": (7.5, 6.5, 8.5),
    "Disapproval": (3.0, 5.0, 6.5),
    "Disconnection": (4.5, 3.0, 5.0),
    "Disquietment": (3.5, 6.0, 4.0),
    "Doubt/Confusion": (4.0, 5.0, 3.5),
    "Embarrassment": (3.5, 6.0, 2.5),
    "Engagement": (6.5, 6.0, 6.5),
    "Esteem": (7.0, 5.0, 7.0),
    "Excitement": (8.0, 8.5, 7.0),
    "Fatigue": (4.0, 1.8, 3.5),
    "Fear": (2.0, 8.0, 2.0),
    "Happiness": (8.5, 7.0, 7.0),
    "Pain": (1.8, 6.5, 3.0),
    "Peace": (7.5, 2.5, 6.0),
    "Pleasure": (8.5, 5.5, 6.5),
    "Sadness": (2.0, 3.0, 3.0),
    "Sensitivity": (5.0, 4.0, 4.0),
    "Suffering": (1.5, 5.0, 2.5),
    "Surprise": (6.0, 8.5, 5.0),
    "Sympathy": (6.0, 4.0, 5.0),
    "Yearning": (4.5, 4.5, 4.0),
}
PROTOTYPES = np.array([CATEGORY_VAD_PROTOTYPES[name] for name in CATEGORIES])


def category_colours() -> np.ndarray:
    """One distinct RGB colour per category (13 hues × 2 brightness levels), as uint8 (26, 3)."""
    colours = []
    for index in range(NUM_CATEGORIES):
        hue = (index % 13) / 13.0
        value = 1.0 if index < 13 else 0.55
        colours.append([round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.9, value)])
    return np.array(colours, dtype=np.uint8)


@dataclass(frozen=True)
class SamplePerson:
    """What one generated person feels: the ground truth the picture is drawn from."""

    vad: tuple[float, float, float]
    categories: tuple[str, ...]


def draw_person_state(rng: np.random.Generator) -> SamplePerson:
    """A VAD state and the categories near it (at least one, usually two or three)."""
    vad = np.clip(rng.normal([5.5, 5.5, 5.5], [2.2, 2.0, 1.8]), 1.0, 10.0).round(1)
    return SamplePerson(vad=tuple(float(v) for v in vad), categories=categories_near(vad, rng))  # type: ignore[arg-type]


def categories_near(vad: np.ndarray, rng: np.random.Generator) -> tuple[str, ...]:
    """Categories drawn by closeness of their prototypes to a VAD state (the nearest always)."""
    distance = np.linalg.norm(PROTOTYPES - vad, axis=1)
    probability = 0.8 / (1.0 + np.exp(2.5 * (distance - 1.8)))
    chosen = rng.random(NUM_CATEGORIES) < probability
    chosen[int(np.argmin(distance))] = True
    return tuple(name for name, keep in zip(CATEGORIES, chosen, strict=True) if keep)


def scene_background(vad: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Scene whose hue follows valence, brightness arousal, and stripe frequency dominance."""
    valence, arousal, dominance = (float(v) for v in vad)
    hue = 0.62 - 0.5 * (valence - 1) / 9  # blue (sad) → yellow (happy)
    value = 0.3 + 0.65 * (arousal - 1) / 9
    base = np.array(colorsys.hsv_to_rgb(hue, 0.75, value)) * 255
    frequency = 1.0 + 7.0 * (dominance - 1) / 9
    xs = np.linspace(0, 2 * np.pi * frequency, width)
    stripes = 0.25 * np.sin(xs)[None, :, None] * base
    noise = rng.normal(0, 14, (height, width, 3))
    return np.clip(base + stripes + noise, 0, 255).astype(np.uint8)


def paint_person(
    canvas: np.ndarray, box: tuple[int, int, int, int], person: SamplePerson, rng: np.random.Generator
) -> None:
    """A figure in the box: a head, and a torso in one colour band per category."""
    x1, y1, x2, y2 = box
    height, width = canvas.shape[:2]
    cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
    head_bottom = y1 + (y2 - y1) // 4
    yy, xx = np.mgrid[cy1:cy2, cx1:cx2]
    centre_x, centre_y, radius = (x1 + x2) / 2, (y1 + head_bottom) / 2, max(2.0, (head_bottom - y1) / 2)
    head = (xx - centre_x) ** 2 + (yy - centre_y) ** 2 <= radius**2
    canvas[cy1:cy2, cx1:cx2][head] = (224, 188, 160)
    colours = category_colours()
    indices = [CATEGORIES.index(name) for name in person.categories]
    torso_top = max(cy1, head_bottom)
    if cy2 <= torso_top:
        return
    band_edges = np.linspace(torso_top, cy2, len(indices) + 1).astype(int)
    for band, category in enumerate(indices):
        top, bottom = band_edges[band], band_edges[band + 1]
        patch = colours[category].astype(np.float64) + rng.normal(0, 10, (bottom - top, cx2 - cx1, 3))
        canvas[top:bottom, cx1:cx2] = np.clip(patch, 0, 255).astype(np.uint8)


def _person_box(width: int, height: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    box_w = int(rng.uniform(0.22, 0.45) * width)
    box_h = int(rng.uniform(0.5, 0.9) * height)
    x1 = int(rng.uniform(-0.05 * width, width - 0.9 * box_w))
    y1 = int(rng.uniform(0, height - 0.9 * box_h))
    return x1, y1, x1 + box_w, y1 + box_h


def _sample_image(
    index: int, split: str, params: SampleParams, *, rng: np.random.Generator, images_root: Path
) -> ImageAnnotation:
    width = int(params.image_width * rng.uniform(0.85, 1.15))
    height = int(params.image_height * rng.uniform(0.85, 1.15))
    people = [draw_person_state(rng) for _ in range(int(rng.integers(1, params.max_people_per_image + 1)))]
    scene_vad = np.mean([person.vad for person in people], axis=0)
    canvas = scene_background(scene_vad, width, height, rng)
    boxes = [_person_box(width, height, rng) for _ in people]
    for box, person in zip(boxes, people, strict=True):
        paint_person(canvas, box, person, rng)
    folder = SAMPLE_FOLDERS[index % len(SAMPLE_FOLDERS)]
    filename = f"{split}_{index:05d}.jpg"
    target = images_root / folder / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(target, quality=90)
    annotated = tuple(
        PersonAnnotation(bbox=tuple(float(v) for v in box), categories=person.categories, vad=person.vad)  # type: ignore[arg-type]
        for box, person in zip(boxes, people, strict=True)
    )
    return ImageAnnotation(folder, filename, width, height, annotated, where=f"sample:{split}[{index}]")


def _with_faults(images: list[ImageAnnotation], split: str) -> list[ImageAnnotation]:
    """Add the record faults real files have: a missing image, a NaN VAD and an empty box."""
    if not images:
        return images
    template = images[0]
    person = template.people[0]
    missing = ImageAnnotation(template.folder, f"{split}_missing.jpg", template.width, template.height, (person,), "")
    nan_vad = PersonAnnotation(person.bbox, person.categories, (float("nan"), 5.0, 5.0))
    empty_box = PersonAnnotation((50.0, 60.0, 50.0, 90.0), person.categories, person.vad)
    faulty = ImageAnnotation(
        template.folder, template.filename, template.width, template.height, (nan_vad, empty_box), ""
    )
    return [*images, missing, faulty]


def write_emotic_sample(params: SampleParams, inject_faults: bool = True) -> Path:
    """Write `<out>/emotic/Annotations/Annotations.mat` and `<out>/emotic/emotic/<folder>/*.jpg`; return the root."""
    root = params.out / "emotic"
    rng = np.random.default_rng(params.seed)
    splits: dict[str, list[ImageAnnotation]] = {}
    for split, count in params.emotic_images.model_dump().items():
        images = [_sample_image(i, split, params, rng=rng, images_root=root / "emotic") for i in range(count)]
        splits[split] = _with_faults(images, split) if inject_faults else images
        log.info("sample EMOTIC %s: %d images", split, count)
    write_annotations_mat(root / "Annotations" / "Annotations.mat", splits)
    return root


# --- photos to score -----------------------------------------------------------------------------------------------


def write_sample_photos(params: SampleParams) -> Path:
    """Photos for the `score_demo` stage, drawn like the EMOTIC sample (so the trained model reads them), in the
    formats and folder shapes real libraries have: nested albums, JPEG/PNG/WebP, an upper-case extension, and one
    truncated JPEG that must become an error row, not a crash."""
    root = params.out / "photos"
    rng = np.random.default_rng(params.seed + 2)
    formats = (("act1", "jpg", "JPEG"), ("act1", "png", "PNG"), ("act2/night", "webp", "WEBP"), ("act2", "JPG", "JPEG"))
    for index in range(params.photos):
        folder, suffix, kind = formats[index % len(formats)]
        width, height = int(params.image_width * 2.5), int(params.image_height * 2.5)
        people = [draw_person_state(rng) for _ in range(int(rng.integers(1, params.max_people_per_image + 1)))]
        canvas = scene_background(np.mean([p.vad for p in people], axis=0), width, height, rng)
        for person in people:
            paint_person(canvas, _person_box(width, height, rng), person, rng)
        path = root / folder / f"still_{index:03d}.{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(canvas).save(path, kind, **({"quality": 90} if kind in ("JPEG", "WEBP") else {}))
    if params.photos:
        whole = (root / "act1" / "still_000.jpg").read_bytes()
        (root / "act2").mkdir(parents=True, exist_ok=True)  # with fewer than 4 photos nothing else is there
        (root / "act2" / "damaged_upload.jpg").write_bytes(whole[: len(whole) // 3])
    log.info("sample photos: %d (+1 truncated on purpose)", params.photos)
    return root
