"""EMOTIC's per-person CSV layout (Folder, Filename, Image Size, BBox, Categorical_Labels, Continuous_Labels,
Gender, Age): the preprocessed form many EMOTIC projects use, read and written one person per row."""

from __future__ import annotations

import ast
import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

from emoscore.emotic.annotations import ImageAnnotation, PersonAnnotation
from emoscore.errors import InvalidAnnotation

CSV_COLUMNS = (
    "Index",
    "Folder",
    "Filename",
    "Image Size",
    "BBox",
    "Categorical_Labels",
    "Continuous_Labels",
    "Gender",
    "Age",
)


def _literal(text: str, column: str) -> object:
    try:
        return ast.literal_eval(text.strip()) if text.strip() else []
    except (ValueError, SyntaxError):
        raise ValueError(f"column {column!r} is not a list literal: {text[:60]!r}") from None


def read_csv_split(path: Path | str) -> Iterator[ImageAnnotation | InvalidAnnotation]:
    """Yield one single-person ImageAnnotation per row of a per-person CSV (Folder, Filename, Image Size, …)."""
    path = Path(path)
    try:
        # undecodable bytes become U+FFFD: the row then fails validation on its own instead of ending the file
        handle = path.open(newline="", encoding="utf-8", errors="replace")
    except OSError as error:
        raise InvalidAnnotation(str(path), f"cannot open: {error}", "annotations_missing") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            fieldnames = reader.fieldnames or []
        except csv.Error as error:
            raise InvalidAnnotation(str(path), f"unreadable header: {error}", "split_unreadable") from None
        missing = [name for name in CSV_COLUMNS[1:7] if name not in fieldnames]
        if missing:
            raise InvalidAnnotation(str(path), f"missing columns {missing}", "split_unreadable")
        line_number = 1
        while True:
            line_number += 1
            where = f"{path.name}:{line_number}"
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield InvalidAnnotation(where, f"malformed CSV line: {error}", "record_malformed")
                continue
            yield _csv_record(row, where)


def _csv_record(row: dict, where: str) -> ImageAnnotation | InvalidAnnotation:
    """One per-person CSV row as a single-person image, or why it cannot be used."""
    try:
        size = [int(value) for value in _literal(row["Image Size"], "Image Size")]  # type: ignore[union-attr]
        bbox = [float(value) for value in _literal(row["BBox"], "BBox")]  # type: ignore[union-attr]
        categories = tuple(str(name) for name in _literal(row["Categorical_Labels"], "Categorical_Labels"))  # type: ignore[union-attr]
        vad = [float(value) for value in _literal(row["Continuous_Labels"], "Continuous_Labels")]  # type: ignore[union-attr]
        if len(size) != 2 or len(bbox) != 4 or len(vad) != 3:
            raise ValueError("Image Size needs 2 values, BBox 4 and Continuous_Labels 3")
        person = PersonAnnotation(
            bbox=tuple(bbox),  # type: ignore[arg-type]
            categories=categories,
            vad=tuple(vad),  # type: ignore[arg-type]
            gender=row.get("Gender") or "",
            age=row.get("Age") or "",
        )
        return ImageAnnotation(
            folder=row["Folder"] or "",
            filename=row["Filename"] or "",
            width=size[0],
            height=size[1],
            people=(person,),
            where=where,
        )
    except (TypeError, ValueError, KeyError, AttributeError, MemoryError, RecursionError) as error:
        return InvalidAnnotation(where, f"malformed row: {error}", "record_malformed")


def write_annotations_csv(path: Path | str, images: Sequence[ImageAnnotation]) -> None:
    """Write images as the per-person CSV layout, one row per person (the layout the reference code produces)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        index = 0
        for image in images:
            for person in image.people:
                writer.writerow(
                    [
                        index,
                        image.folder,
                        image.filename,
                        [image.width, image.height],
                        [int(value) for value in person.bbox],
                        list(person.categories),
                        [float(value) for value in person.vad],
                        person.gender,
                        person.age,
                    ]
                )
                index += 1
