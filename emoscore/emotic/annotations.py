"""EMOTIC's `Annotations.mat` (MATLAB v5): the annotation records, reading and writing the file, and finding the
annotations of a dataset in either real format (the per-person CSV layout is in `emotic/csv_layout.py`).

Readers yield one `ImageAnnotation` per image, or an `InvalidAnnotation` for a record that cannot be parsed, so a
caller can count bad records and go on. Writers produce the same formats (for the sample dataset and for tests).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from emoscore.emotic.labels import CATEGORY_INDEX, VAD_MAX, VAD_MIN
from emoscore.errors import InvalidAnnotation

SPLITS: tuple[str, ...] = ("train", "val", "test")
# The MAT v5 header's descriptive text (scipy writes the creation time there): fixed, so the file is byte-identical
# on every run and DVC sees the same dataset.
MAT_HEADER_TEXT_BYTES = 116
MAT_HEADER_TEXT = "MATLAB 5.0 MAT-file, written by emoscore"


@dataclass(frozen=True)
class PersonAnnotation:
    """One annotated person: body box [x1, y1, x2, y2], consensus categories and VAD (1–10, may be NaN)."""

    bbox: tuple[float, float, float, float]
    categories: tuple[str, ...]
    vad: tuple[float, float, float]
    gender: str = ""
    age: str = ""
    annotator_categories: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class ImageAnnotation:
    """One image of a split with its people; `where` says which record of which file it came from."""

    folder: str
    filename: str
    width: int
    height: int
    people: tuple[PersonAnnotation, ...]
    where: str
    original_database: str = ""

    @property
    def relative_path(self) -> str:
        """Path of the image below the images root (`<root>/emotic`)."""
        return f"{self.folder}/{self.filename}"


# --- validation shared by both formats -------------------------------------------------------------------------


def person_problem(person: PersonAnnotation) -> tuple[str, str] | None:
    """Why a person cannot be used for training (kind, detail), or None when it can."""
    unknown = [name for name in person.categories if name not in CATEGORY_INDEX]
    if unknown:
        return "unknown_category", f"unknown category {unknown[0]!r}"
    if not person.categories:
        return "no_categories", "no emotion category annotated"
    if any(math.isnan(value) for value in person.vad):
        return "vad_missing", "valence/arousal/dominance missing (NaN)"
    if any(not VAD_MIN <= value <= VAD_MAX for value in person.vad):
        return "vad_out_of_range", f"VAD {person.vad} outside [{VAD_MIN:g}, {VAD_MAX:g}]"
    if any(math.isnan(value) for value in person.bbox):
        return "bbox_invalid", "body box has NaN coordinates"
    return None


def clip_box(bbox: Sequence[float], width: int, height: int, min_side: int = 1) -> tuple[int, int, int, int] | None:
    """Clip [x1, y1, x2, y2] to the image; None when fewer than `min_side` pixels remain on a side."""
    x1, y1, x2, y2 = (float(value) for value in bbox)
    x1, x2 = sorted((x1, x2)) if x2 < x1 else (x1, x2)
    y1, y2 = sorted((y1, y2)) if y2 < y1 else (y1, y2)
    left, top = max(0, math.floor(x1)), max(0, math.floor(y1))
    right, bottom = min(width, math.ceil(x2)), min(height, math.ceil(y2))
    if right - left < min_side or bottom - top < min_side:
        return None
    return left, top, right, bottom


# --- Annotations.mat ------------------------------------------------------------------------------------------


def _items(value: object) -> list:
    """MATLAB arrays squeezed by scipy come back as scalars, 1-D arrays or empty arrays; make them a list."""
    if isinstance(value, np.ndarray):
        return list(value.flat)
    if value is None:
        return []
    return [value]


def _text(value: object) -> str:
    items = _items(value)
    if not items:
        return ""
    return str(items[0]) if not isinstance(items[0], str) else items[0]


def _number(value: object) -> float:
    items = _items(value)
    if not items:
        return math.nan
    try:
        return float(items[0])
    except (TypeError, ValueError):
        return math.nan


def _field(struct: object, name: str, default: object = None) -> object:
    return getattr(struct, name, default) if struct is not None else default


def _categories(struct: object) -> tuple[str, ...]:
    """Categories from a struct with a `categories` cell (train/annotator) or from a bare cell (combined)."""
    cell = _field(struct, "categories", struct) if hasattr(struct, "_fieldnames") else struct
    return tuple(_text(item) for item in _items(cell) if _text(item))


def _vad(struct: object) -> tuple[float, float, float]:
    first = _items(struct)[0] if _items(struct) else None
    return (
        _number(_field(first, "valence")),
        _number(_field(first, "arousal")),
        _number(_field(first, "dominance")),
    )


def _person_from_mat(person: object, split: str) -> PersonAnnotation:
    bbox_values = [float(value) for value in _items(_field(person, "body_bbox"))]
    if len(bbox_values) != 4:
        raise ValueError(f"body_bbox has {len(bbox_values)} values, expected 4")
    gender = _text(_field(person, "gender")) or _text(_field(_field(person, "annotations_gender"), "gender"))
    age = _text(_field(person, "age")) or _text(_field(_field(person, "annotations_age"), "age"))
    annotators = tuple(_categories(item) for item in _items(_field(person, "annotations_categories")))
    if split == "train" or not hasattr(person, "combined_categories"):
        categories = annotators[0] if annotators else ()
        vad = _vad(_field(person, "annotations_continuous"))
    else:
        categories = _categories(_field(person, "combined_categories"))
        vad = _vad(_field(person, "combined_continuous"))
    return PersonAnnotation(
        bbox=tuple(bbox_values),  # type: ignore[arg-type]
        categories=categories,
        vad=vad,
        gender=gender,
        age=age,
        annotator_categories=annotators,
    )


def read_mat_split(path: Path | str, split: str) -> Iterator[ImageAnnotation | InvalidAnnotation]:
    """Yield the images of one split of `Annotations.mat`; a record that cannot be parsed becomes an error item.

    Each split is loaded on its own, so a file truncated inside `test` still yields `train` and `val`.
    Raises InvalidAnnotation when the split itself cannot be read.
    """
    path = Path(path)
    try:
        contents = scipy.io.loadmat(path, variable_names=[split], squeeze_me=True, struct_as_record=False)
    except FileNotFoundError:
        raise InvalidAnnotation(str(path), "file not found", "annotations_missing") from None
    except Exception as error:  # scipy raises ValueError, TypeError, OSError, MatReadError… on damaged files
        raise InvalidAnnotation(str(path), f"cannot read split {split!r}: {error}", "split_unreadable") from None
    if split not in contents:
        raise InvalidAnnotation(str(path), f"has no {split!r} struct", "split_missing")
    for index, image in enumerate(_items(contents[split])):
        where = f"{path.name}:{split}[{index}]"
        try:
            size = _field(image, "image_size")
            people = tuple(_person_from_mat(person, split) for person in _items(_field(image, "person")))
            yield ImageAnnotation(
                folder=_text(_field(image, "folder")),
                filename=_text(_field(image, "filename")),
                width=int(_number(_field(size, "n_col"))),
                height=int(_number(_field(size, "n_row"))),
                people=people,
                where=where,
                original_database=_text(_field(_field(image, "original_database"), "name")),
            )
        except (AttributeError, TypeError, ValueError, IndexError) as error:
            yield InvalidAnnotation(where, f"malformed record: {error}", "record_malformed")


def _cell(values: Sequence[str]) -> np.ndarray:
    cell = np.empty((1, len(values)), dtype=object)
    for i, value in enumerate(values):
        cell[0, i] = value
    return cell


def _struct_array(records: Sequence[dict]) -> np.ndarray:
    """A 1×N MATLAB struct array from dicts that share their keys (savemat writes dict values as structs)."""
    names = list(records[0]) if records else ["empty"]
    array = np.empty((1, len(records)), dtype=[(name, object) for name in names])
    for i, record in enumerate(records):
        for name in names:
            array[0, i][name] = record[name]
    return array


def _vad_struct(vad: Sequence[float]) -> dict:
    return {"valence": float(vad[0]), "arousal": float(vad[1]), "dominance": float(vad[2])}


def _person_to_mat(person: PersonAnnotation, split: str) -> dict:
    annotators = person.annotator_categories or (person.categories,)
    record: dict = {"body_bbox": np.array(person.bbox, dtype=np.float64)}
    if split == "train":
        record["annotations_categories"] = {"categories": _cell(annotators[0])}
        record["annotations_continuous"] = _vad_struct(person.vad)
    else:
        record["annotations_categories"] = _struct_array([{"categories": _cell(cats)} for cats in annotators])
        record["combined_categories"] = _cell(person.categories)
        record["annotations_continuous"] = _struct_array([_vad_struct(person.vad) for _ in annotators])
        record["combined_continuous"] = _vad_struct(person.vad)
    record["gender"] = person.gender
    record["age"] = person.age
    return record


def write_annotations_mat(path: Path | str, splits: dict[str, Sequence[ImageAnnotation]]) -> None:
    """Write images per split as `Annotations.mat` in EMOTIC's nested-struct layout (MATLAB v5)."""
    contents = {}
    for split, images in splits.items():
        contents[split] = _struct_array(
            [
                {
                    "filename": image.filename,
                    "folder": image.folder,
                    "image_size": {"n_col": image.width, "n_row": image.height},
                    "original_database": {"name": image.original_database or "emoscore_sample"},
                    "person": _struct_array([_person_to_mat(person, split) for person in image.people]),
                }
                for image in images
            ]
        )
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, contents, format="5", do_compression=True)
    data = bytearray(buffer.getvalue())
    data[:MAT_HEADER_TEXT_BYTES] = MAT_HEADER_TEXT.ljust(MAT_HEADER_TEXT_BYTES).encode("ascii")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(bytes(data))
