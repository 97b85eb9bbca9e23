"""Stage `prepare_emotic`: EMOTIC annotations + images → person arrays per split, with a report of what was skipped."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.emotic.prepare import SPLITS, check_prepared, prepare_emotic_split
from emoscore.reports import write_json
from emoscore_flows._stage import publish_table, run_stage

REPORT = Path("reports/prepare_emotic.json")


@flow(name="prepare_emotic")
def prepare_emotic(params_path: str = "params.yaml") -> dict:
    """Prepare train, val and test; write reports/prepare_emotic.json."""
    params = load_params(params_path)
    reports = {split: prepare_emotic_split(params.emotic, split) for split in SPLITS}
    write_json(REPORT, {"root": str(params.emotic.root), "splits": reports})
    publish_table(
        "prepare-emotic",
        [
            {
                "split": s,
                "images": r["images"],
                "kept": r["people_kept"],
                "skipped": r["people_skipped"],
                "reasons": str(r["skipped_by_reason"]),
            }
            for s, r in reports.items()
        ],
        "People kept and skipped per split",
    )
    check_prepared(reports)
    return reports


if __name__ == "__main__":
    run_stage(prepare_emotic)
