"""Stage `score_film_demo`, and the flow `emoscore soundtrack --prefect` runs: a film (or a folder of stills) →
one continuous soundtrack, its cue sheet, the scored video and the catalog's `scenes` rows."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow

from emoscore.catalog.store import Catalog
from emoscore.film.scoring import score_film
from emoscore.models_home import resolve_params
from emoscore_flows._stage import publish_table, run_stage

REPORT = Path("reports/score_film_demo.json")


@flow(name="score_film")
def score_film_flow(
    video: str | None = None,
    out: str | None = None,
    catalog: str | None = None,
    timecodes: str | None = None,
    fps: int = 25,
    params_path: str = "params.yaml",
    models: str | None = None,
    progress: bool = False,
) -> dict:
    """Score one film into `out` (defaults: params.yaml's `film` section) and return the run's summary."""
    params = resolve_params(Path(params_path), Path(models) if models else None)
    result = score_film(
        video or params.film.video,
        out or params.film.out,
        params,
        catalog=Catalog(catalog or params.film.catalog, params.score.catalog_storage),
        timecodes=timecodes,
        fps=fps,
        progress=progress,
    )
    cues = [
        {k: row[k] for k in ("scene_index", "start_timecode", "end_timecode", "quadrant", "tempo_bpm", "bars")}
        for row in result.scenes
    ]
    publish_table("film-cues", cues, f"Cue sheet of {video or params.film.video}")
    return result.summary()


def score_film_demo(params_path: str = "params.yaml") -> None:
    """The stage: the sample film scored with params.yaml's `film` section; a report of its cue sheet, set beside
    what the sample film was made with (its sample_film stage writes the cuts and quadrants next to it)."""
    summary = score_film_flow(params_path=params_path)
    cues = json.loads(Path(summary["cue_sheet_json"]).read_text())
    report = {key: summary[key] for key in ("duration_s", "scenes", "quadrants", "added_rows")}
    report["cues"] = [
        {k: cue[k] for k in ("start_timecode", "end_timecode", "quadrant", "tempo_bpm", "bars")}
        for cue in cues["scenes"]
    ]
    truth = Path(cues["film"]).with_suffix(".json")  # the film the cue sheet is of
    if truth.is_file():
        made = json.loads(truth.read_text())
        found = [round(cue["start_s"] * cues["fps"]) for cue in cues["scenes"][1:]]
        report["sample"] = {
            "cut_frames": made["cuts"],
            "cut_frames_found": found,
            "quadrants": made["quadrants"],
            "quadrants_read": summary["quadrants"].split(),
        }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    run_stage(score_film_demo)
