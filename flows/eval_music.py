"""Stage `eval_music`: how often generated music carries the asked emotion, and how it compares with real clips."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from prefect import flow

from emoscore.config import load_params
from emoscore.music.classify import MusicClassifier, clip_accuracy_report
from emoscore.music.cp import Vocabulary
from emoscore.music.emopia import load_split
from emoscore.music.evaluate import evaluate_music, intensity_trend
from emoscore.music.generate import Sampling, Steering
from emoscore.music.model import CPTransformer
from emoscore.reports import write_json
from flows._stage import publish_table, run_stage

REPORT = Path("reports/eval_music.json")


@flow(name="eval_music")
def eval_music(params_path: str = "params.yaml") -> dict:
    """Generate N pieces per quadrant, classify them, and measure them against the test clips."""
    params = load_params(params_path)
    vocabulary = Vocabulary.load(params.emopia.vocabulary)
    model, _ = CPTransformer.from_checkpoint(params.music.out, vocabulary)
    classifier, _ = MusicClassifier.from_checkpoint(params.music_classifier.out, vocabulary)
    pieces, quadrants, _ = load_split(params.emopia.out / "test.npz")
    real: dict[int, list] = defaultdict(list)
    for piece, quadrant in zip(pieces, quadrants, strict=True):
        real[int(quadrant)].append(piece)
    settings = params.eval_music
    report = evaluate_music(model, classifier, dict(real), settings.pieces_per_quadrant, settings.bars, settings.seed,
                            Sampling.from_params(params.generation))  # fmt: skip
    report["classifier_test_accuracy_on_real_clips"] = clip_accuracy_report(classifier, pieces, quadrants)
    report["intensity"] = intensity_trend(
        model,
        settings.intensity_pieces,
        settings.bars,
        settings.seed,
        Sampling.from_params(params.generation),
        Steering.from_params(params.generation),
        params.score.quadrant_midpoint,
    )
    write_json(REPORT, report)
    publish_table(
        "eval-music",
        [{"quadrant": q, "controllability": r["controllability"], "grooving": r["grooving_similarity_to_real"]}
         for q, r in report["per_quadrant"].items()],
        f"Controllability {report['controllability']:.2f} (chance 0.25); intensity rises everywhere: "
        f"{report['intensity']['all_rise']}",
    )  # fmt: skip
    return report


if __name__ == "__main__":
    run_stage(eval_music)
