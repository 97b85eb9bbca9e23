"""Stage `score_film_demo`, and the flow `emoscore soundtrack --prefect` runs: a film (or a folder of stills) →
one continuous soundtrack, its cue sheet, the scored video and the catalog's `scenes` rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from prefect import flow

from emoscore.catalog.store import Catalog
from emoscore.config import Params
from emoscore.film.cues import CueOverride, key_scenes, load_composition
from emoscore.film.scoring import score_film, with_sound
from emoscore.models_home import resolve_params
from emoscore.music.classify import MusicClassifier, music_only
from emoscore.music.cp import decode_notes
from emoscore.music.tonality import key_correlations
from emoscore.music.vocabulary import Vocabulary
from emoscore_flows._stage import publish_table, run_stage

REPORT = Path("reports/score_film_demo.json")


@flow(name="score_film")
def score_film_flow(
    video: str | None = None,
    out: str | None = None,
    catalog: str | None = None,
    timeline: str | None = None,
    hits: list[str] | None = None,
    cue: int | None = None,
    override: dict | None = None,
    replace_audio: bool | None = None,
    fps: int = 25,
    params_path: str = "params.yaml",
    models: str | None = None,
    progress: bool = False,
) -> dict:
    """Score one film into `out` (defaults: params.yaml's `film` section) and return the run's summary."""
    params = with_sound(resolve_params(Path(params_path), Path(models) if models else None), replace_audio)
    result = score_film(
        video or params.film.video,
        out or params.film.out,
        params,
        catalog=Catalog(catalog or params.film.catalog, params.score.catalog_storage),
        timeline=timeline,
        hits=hits or [],
        cue=cue,
        override=CueOverride(**override) if override else None,
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
    """The stage: the sample film scored with params.yaml's `film` section; a report of its cue sheet (tempi,
    metres, the cut-and-hit rate, loudness), what the music classifier hears in each cue against the scene's
    quadrant, and what the sample film was made with (its sample_film stage writes the cuts and quadrants)."""
    summary = score_film_flow(params_path=params_path)
    cues = json.loads(Path(summary["cues_json"]).read_text())
    report = {key: summary[key] for key in ("duration_s", "scenes", "quadrants", "added_rows")}
    report["cut_and_hit_rate"] = cues["cut_and_hit_rate"]
    report["largest_tempo_step_ratio"] = cues["tempo"]["largest_tempo_step_ratio"]
    report["loudness"] = cues["loudness"]
    heard = heard_per_cue(resolve_params(Path(params_path), None), Path(summary["composition"]))
    report["cues"] = [
        {
            **{k: cue[k] for k in ("cue", "start_timecode", "end_timecode", "quadrant", "tempo_bpm", "metres", "bars")},
            "heard": heard.get(cue["cue"], {}).get("quadrant"),
            "mode": heard.get(cue["cue"], {}).get("mode"),
        }
        for cue in cues["scenes"]
    ]
    judged = [cue for cue in report["cues"] if cue["heard"] is not None]
    report["controllability_per_cue"] = (
        round(sum(cue["heard"] == cue["quadrant"] for cue in judged) / len(judged), 4) if judged else None
    )
    moded = [cue for cue in report["cues"] if cue["mode"] is not None]
    report["mode_follows_valence_per_cue"] = (
        round(sum((cue["mode"] == "major") == (cue["quadrant"] in ("Q1", "Q4")) for cue in moded) / len(moded), 4)
        if moded
        else None
    )
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


def heard_per_cue(params: Params, composition: Path) -> dict[int, dict]:
    """What each cue's composed steps (its segments' together) sound like: the quadrant the music classifier hears,
    and the mode a Krumhansl–Schmuckler key profile finds (major for Q1/Q4, minor for Q2/Q3 in the rule)."""
    vocabulary = params.emopia.vocabulary
    expected = Vocabulary.load(vocabulary) if Path(vocabulary).exists() else None  # as the music model is loaded
    classifier, _ = MusicClassifier.from_checkpoint(params.music_classifier.out, expected)
    steps: dict[int, list[np.ndarray]] = {}
    for key, piece in load_composition(composition).items():
        first_scene = key_scenes(key)[0]
        steps.setdefault(first_scene + 1, []).append(piece)
    heard = {}
    for cue, pieces in steps.items():
        probabilities = classifier.quadrant_probabilities(np.concatenate([music_only(p) for p in pieces]))
        correlations = key_correlations([n for p in pieces for n in decode_notes(p)[0]])
        mode = (
            None
            if correlations is None
            else ("major" if correlations[:12].max() > correlations[12:].max() else "minor")
        )
        heard[cue] = {"quadrant": f"Q{int(np.argmax(probabilities)) + 1}", "mode": mode}
    return heard


if __name__ == "__main__":
    run_stage(score_film_demo)
