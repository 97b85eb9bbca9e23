"""The `prepare_emotic` stage's work: find the annotations, prepare each split, and count what was skipped."""

from __future__ import annotations

import logging
from pathlib import Path

from emoscore.config import EmoticParams
from emoscore.emotic.annotations import SPLITS, find_annotations, read_split
from emoscore.emotic.dataset import PrepareReport, prepare_split
from emoscore.errors import InvalidAnnotation

log = logging.getLogger(__name__)


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
            split,
            params.context_size,
            params.body_size,
            params.min_box_side,
            params.num_workers,
            params.max_logged_errors,
        )
    except InvalidAnnotation as error:
        log.error("%s", error)
        report.skip(error.kind, str(error), params.max_logged_errors)
        prepared = prepare_split(iter(()), images_dir, params.out, split, params.context_size, params.body_size)
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
