"""The `prepare_emotic` stage's work: find the annotations (either real format), prepare each split, and count
what was skipped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from emoscore.config import EmoticParams
from emoscore.emotic.annotations import SPLITS, ImageAnnotation, read_mat_split
from emoscore.emotic.csv_layout import read_csv_split
from emoscore.emotic.dataset import PrepareReport, prepare_split
from emoscore.errors import InvalidAnnotation

log = logging.getLogger(__name__)


def find_annotations(annotations: Path) -> dict[str, Path]:
    """Map split → file: `Annotations.mat` (all splits) or a folder of `{train,val,test}.csv`."""
    if annotations.is_dir():
        mat = annotations / "Annotations.mat"
        if mat.exists():
            return dict.fromkeys(SPLITS, mat)
        csvs = {split: annotations / f"{split}.csv" for split in SPLITS if (annotations / f"{split}.csv").exists()}
        if csvs:
            return csvs
        raise InvalidAnnotation(
            str(annotations), "holds neither Annotations.mat nor train/val/test .csv", "annotations_missing"
        )
    if not annotations.exists():
        raise InvalidAnnotation(str(annotations), "file not found", "annotations_missing")
    if annotations.suffix.lower() == ".mat":
        return dict.fromkeys(SPLITS, annotations)
    raise InvalidAnnotation(str(annotations), "expected a .mat file or a folder of split CSVs", "annotations_missing")


def read_split(source: Path, split: str) -> Iterator[ImageAnnotation | InvalidAnnotation]:
    """Images of one split from whichever format `source` is."""
    if source.suffix.lower() == ".mat":
        return read_mat_split(source, split)
    return read_csv_split(source)


def annotation_sources(params: EmoticParams) -> dict[str, Path]:
    """Split → annotation file, from `emotic.annotations` under the root (`Annotations` in the released layout)."""
    return find_annotations(params.root / params.annotations)


def prepare_emotic_split(params: EmoticParams, split: str) -> dict:
    """Prepare one split into `params.out`; an unreadable split gives an empty split and a counted reason."""
    images_dir = params.root / params.images_dir
    sources = annotation_sources(params)
    report = PrepareReport()
    if split not in sources:
        report.skip("split_missing", f"no annotations for split {split!r} in {sorted(set(sources.values()))}", 1)
        records = iter(())
    else:
        records = read_split(sources[split], split)
    try:
        prepared = prepare_split(
            records,
            images_dir,
            params.out,
            split=split,
            context_size=params.context_size,
            body_size=params.body_size,
            min_box_side=params.min_box_side,
            workers=params.num_workers,
            max_logged=params.max_logged_errors,
        )
    except InvalidAnnotation as error:
        log.error("%s", error)
        report.skip(error.kind, str(error), params.max_logged_errors)
        prepared = prepare_split(
            iter(()), images_dir, params.out, split=split, context_size=params.context_size, body_size=params.body_size
        )
    prepared.skipped.update(report.skipped)
    prepared.examples = report.examples + prepared.examples
    summary = prepared.as_dict()
    summary["source"] = str(sources.get(split, ""))
    log.info(
        "%s: %d images, %d people kept, %d skipped %s",
        split,
        summary["images"],
        summary["people_kept"],
        summary["people_skipped"],
        summary["skipped_by_reason"],
    )
    return summary


def check_prepared(reports: dict[str, dict]) -> None:
    """Fail with the reasons when no person survived in a split training needs."""
    for split in ("train", "val"):
        if reports[split]["people_kept"] == 0:
            raise InvalidAnnotation(
                split,
                f"no usable person left after preparing (skipped: {reports[split]['skipped_by_reason']})",
                "split_empty",
            )


__all__ = ["SPLITS", "check_prepared", "prepare_emotic_split"]
