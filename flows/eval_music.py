"""Stage `eval_music`: does generated music carry the asked emotion and intensity, and is it musical — measured
against the clips it learned from, held-out clips and held-out real scores; plus a page to look and listen."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.music.judge import judge_music
from emoscore.music.listening import write_page
from emoscore.reports import write_csv, write_json
from emoscore_flows._stage import publish_table, run_stage

REPORT = Path("reports/eval_music.json")
PLOTS = Path("reports/plots")
PAGE = Path("reports/listening")


@flow(name="eval_music")
def eval_music(params_path: str = "params.yaml") -> dict:
    """Judge the music model (emoscore.music.judge), write its report, plot tables and listening page."""
    params = load_params(params_path)
    judged = judge_music(params)
    report = judged.report
    write_json(REPORT, report)
    for source, rows in judged.musicality_tables().items():
        write_csv(PLOTS / f"musicality_{source}.csv", rows)
    write_page(judged.examples(), judged.page_summary(), PAGE, params.render)
    publish_table(
        "eval-music",
        [
            {
                "quadrant": q,
                "controllability": r["controllability"],
                "grooving": r["grooving_similarity_to_real"],
                "scale_consistency": r["generated"]["scale_consistency"],
            }
            for q, r in report["per_quadrant"].items()
        ],
        f"Controllability {report['controllability']:.2f} (chance 0.25); intensity rises everywhere: "
        f"{report['intensity']['all_rise']}; musicality targets met: {report['musicality_targets']['all_met']}",
    )
    return report


if __name__ == "__main__":
    run_stage(eval_music)
