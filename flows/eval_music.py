"""Stage `eval_music`: does generated music carry the asked emotion and intensity, and is it musical — measured
against the clips it learned from, held-out clips and held-out real scores; plus a page to look and listen."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from prefect import flow

from emoscore.config import load_params
from emoscore.device import pick_device
from emoscore.music.classify import MusicClassifier, clip_accuracy_report
from emoscore.music.cp import QUADRANTS, Vocabulary
from emoscore.music.emopia import load_split
from emoscore.music.evaluate import MusicalityTargets, check_targets, evaluate_music, intensity_trend, measure_pieces
from emoscore.music.listening import Example, write_page
from emoscore.music.metrics import MEASURES
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import EMOPIA_RELEASED, Sampling, Steering
from emoscore.reports import write_csv, write_json
from emoscore_flows._stage import publish_table, run_stage

REPORT = Path("reports/eval_music.json")
PLOTS = Path("reports/plots")
PAGE = Path("reports/listening")


def by_quadrant(path: Path) -> dict[int, list[np.ndarray]]:
    """The clips of a prepared split, grouped by quadrant."""
    pieces, quadrants, _ = load_split(path)
    grouped: dict[int, list[np.ndarray]] = defaultdict(list)
    for piece, quadrant in zip(pieces, quadrants, strict=True):
        grouped[int(quadrant)].append(piece)
    return dict(grouped)


def held_out_scores(corpus: Path) -> list[np.ndarray]:
    """The real scores of the pretraining corpus's validation split, untransposed."""
    pieces, _, names = load_split(corpus / "val.npz")
    return [p for p, name in zip(pieces, names, strict=True) if name.startswith("music21/") and name.endswith("@+0")]


@flow(name="eval_music")
def eval_music(params_path: str = "params.yaml") -> dict:
    """Generate N pieces per quadrant, classify and measure them; the intensity trend; the listening page."""
    params = load_params(params_path)
    settings = params.eval_music
    vocabulary = Vocabulary.load(params.emopia.vocabulary)
    model, _ = CPTransformer.from_checkpoint(params.music.out, vocabulary)
    model.to(pick_device(params.music.device))
    classifier, _ = MusicClassifier.from_checkpoint(params.music_classifier.out, vocabulary)
    test, train = by_quadrant(params.emopia.out / "test.npz"), by_quadrant(params.emopia.out / "train.npz")
    scores = held_out_scores(params.midi_corpus.out)
    sampling = Sampling.from_params(params.generation)
    evaluation = evaluate_music(model, classifier, test, settings.pieces_per_quadrant, settings.bars, settings.seed,
                                sampling, fine_tuning=train, scores=scores)  # fmt: skip
    report = evaluation.report
    pieces, quadrants, _ = load_split(params.emopia.out / "test.npz")
    report["classifier_test_accuracy_on_real_clips"] = clip_accuracy_report(classifier, pieces, quadrants)
    report["intensity"] = intensity_trend(
        model, settings.intensity_pieces, settings.bars, settings.seed, sampling,
        Steering.from_params(params.generation), params.score.quadrant_midpoint,
    )  # fmt: skip
    released = evaluate_music(model, classifier, test, settings.pieces_per_quadrant, settings.bars, settings.seed,
                              EMOPIA_RELEASED, fine_tuning=train).report  # fmt: skip
    report["sampling_comparison"] = {
        name: {"controllability": r["controllability"],
               **{f"{m}_per_quadrant": {q: e["generated"][m] for q, e in r["per_quadrant"].items()}
                  for m in ("scale_consistency", "note_density")}}
        for name, r in (("params_yaml", report), ("emopia_released", released))
    }  # fmt: skip
    targets = MusicalityTargets.from_params(settings)
    report["musicality_targets"] = check_targets(report, targets)
    write_json(REPORT, report)
    for source, grouped in (("generated", evaluation.generated), ("fine_tuning_data", train)):
        rows = [{"quadrant": QUADRANTS[q - 1], **m} for q, group in sorted(grouped.items())
                for m in measure_pieces(group)]  # fmt: skip
        write_csv(PLOTS / f"musicality_{source}.csv", rows)
    write_csv(PLOTS / "musicality_real_scores.csv", [{"quadrant": "-", **m} for m in measure_pieces(scores)])
    examples = []
    for quadrant in range(1, 5):
        name = QUADRANTS[quadrant - 1]
        real = test.get(quadrant) or train.get(quadrant) or []  # a small dataset may hold no test clip of a quadrant
        for source, pieces in (("generated", evaluation.generated[quadrant]), ("real", real)):
            if pieces:
                examples.append(Example(name, source, pieces[0], measure_pieces(pieces[:1])[0]))
    rows = [{"quadrant": q, "cells": [f"{r['generated'][m]:.2f} / {r['fine_tuning_data'][m]:.2f}" for m in MEASURES]}
            for q, r in report["per_quadrant"].items()]  # fmt: skip
    summary = {"controllability": report["controllability"], "measures": MEASURES, "rows": rows,
               "targets_met": report["musicality_targets"]["all_met"]}  # fmt: skip
    write_page(examples, summary, PAGE, params.render)
    publish_table(
        "eval-music",
        [{"quadrant": q, "controllability": r["controllability"], "grooving": r["grooving_similarity_to_real"],
          "scale_consistency": r["generated"]["scale_consistency"]} for q, r in report["per_quadrant"].items()],
        f"Controllability {report['controllability']:.2f} (chance 0.25); intensity rises everywhere: "
        f"{report['intensity']['all_rise']}; musicality targets met: {report['musicality_targets']['all_met']}",
    )  # fmt: skip
    return report


if __name__ == "__main__":
    run_stage(eval_music)
