"""Judging the music model at what it is for: does a piece asked for in quadrant Q sound like Q?

For N pieces per quadrant: the share the emotion classifier puts in the asked quadrant (controllability, chance
is 25%), and pitch-class entropy, note density, polyphony and grooving similarity next to the real clips; and for
three arousal levels within each quadrant, whether tempo, density and velocity rise with the asked intensity.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from emoscore.config import EvalMusicParams
from emoscore.music.classify import MusicClassifier
from emoscore.music.continuation import compose_long
from emoscore.music.cp import decode_notes
from emoscore.music.generate import Request
from emoscore.music.metrics import MEASURES, grooving_patterns, grooving_similarity, note_density, piece_features
from emoscore.music.model import CPTransformer
from emoscore.music.sampling import Sampling, Steering
from emoscore.music.sections import minor_share
from emoscore.music.vocabulary import QUADRANTS
from emoscore.progress import Progress
from emoscore.scoring.bridge import arousal_intensity

AROUSAL_LEVELS = {1: (6.0, 7.75, 9.5), 2: (6.0, 7.75, 9.5), 3: (1.5, 3.25, 5.0), 4: (1.5, 3.25, 5.0)}


def energy_features(steps: np.ndarray) -> dict[str, float]:
    """Tempo (BPM at each note's onset, averaged), note density (notes per bar) and mean velocity of a piece."""
    notes, tempi, _ = decode_notes(steps)
    if not notes:
        return {"tempo": 0.0, "note_density": 0.0, "velocity": 0.0}
    changes = sorted(tempi) or [(0, 120.0)]
    at = np.array([position for position, _ in changes])
    bpm = np.array([value for _, value in changes])
    onsets = np.array([note.onset for note in notes])
    return {
        "tempo": float(bpm[np.clip(np.searchsorted(at, onsets, side="right") - 1, 0, None)].mean()),
        "note_density": note_density(notes),
        "velocity": float(np.mean([note.velocity for note in notes])),
    }


def intensity_trend(
    model: CPTransformer,
    pieces: int,
    bars: int,
    *,
    seed: int,
    sampling: Sampling | None,
    steering: Steering,
    midpoint: float = 5.5,
) -> dict:
    """Three arousal levels asked within each quadrant: the median over pieces of tempo, density and velocity per
    level, whether each rises monotonically, and by how much (highest level ÷ lowest). Medians, because a few
    pieces at double or half tempo (learned from beat-tracking octave errors) would swing a mean of a few pieces."""
    report: dict = {"pieces_per_level": pieces, "per_quadrant": {}}
    rising_everywhere = True
    for quadrant, levels in AROUSAL_LEVELS.items():
        means = []
        for arousal in levels:
            intensity = arousal_intensity(arousal, midpoint)
            requests = [Request(quadrant, seed + 100 * quadrant + i, intensity) for i in range(pieces)]
            generated = compose_long(model, requests, bars, sampling=sampling, steering=steering)
            features = [energy_features(piece) for piece in generated]
            means.append({key: float(np.median([f[key] for f in features])) for key in features[0]})
        entry: dict = {"arousal": list(levels), "intensity": [arousal_intensity(a, midpoint) for a in levels]}
        for key in ("tempo", "note_density", "velocity"):
            values = [m[key] for m in means]
            rising = all(b > a for a, b in pairwise(values))
            rising_everywhere &= rising
            entry[key] = {
                "medians": values,
                "rises": rising,
                "ratio_high_to_low": values[-1] / values[0] if values[0] else None,
            }
        report["per_quadrant"][QUADRANTS[quadrant - 1]] = entry
    report["all_rise"] = rising_everywhere
    return report


def measure_pieces(pieces: list[np.ndarray]) -> list[dict[str, float]]:
    """The musicality measures of each piece (CP steps)."""
    return [piece_features(decode_notes(piece)[0]) for piece in pieces]


def mean_measures(measured: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each measure over pieces (NaN-free pieces only; {} without pieces)."""
    return {key: float(np.nanmean([m[key] for m in measured])) for key in MEASURES} if measured else {}


def controllability_judge(report: dict) -> dict:
    """Which judge's controllability counts: of the learnt classifier and the labelling rule fitted on the
    fine-tuning clips, the one more accurate on held-out real clips (the classifier when the rule was not tried
    on them), with its accuracy and the controllability it hears."""
    judges = [("classifier", report.get("classifier_test_accuracy_on_real_clips"), report["controllability"])]
    by_rule = report.get("controllability_by_rule") or {}
    if "held_out_clips" in by_rule:
        judges.append(("rule", by_rule["held_out_clips"]["quadrant"], by_rule["generated"]["quadrant"]))
    name, accuracy, heard = max(judges, key=lambda judge: -1.0 if judge[1] is None else judge[1])
    return {"name": name, "accuracy_on_real_clips": accuracy, "controllability": heard}


def check_targets(report: dict, targets: MusicalityTargets) -> dict:
    """Whether the generated pieces meet the musicality targets in every quadrant, and controllability overall (as
    heard by the judge that hears held-out real clips best: `controllability_judge`)."""
    judge = controllability_judge(report)
    met: dict[str, bool] = {"controllability": judge["controllability"] >= targets.controllability}
    if judge["accuracy_on_real_clips"] is not None:  # a controllability figure counts only from a judge that hears
        met["classifier_on_real_clips"] = judge["accuracy_on_real_clips"] >= targets.classifier  # real clips right
    scale, entropy, density = True, True, True
    for entry in report["per_quadrant"].values():
        generated, data = entry["generated"], entry["fine_tuning_data"]
        scale &= generated["scale_consistency"] >= targets.scale_consistency
        entropy &= _within(generated["pitch_class_entropy"], data.get("pitch_class_entropy"), targets.tolerance)
        density &= _within(generated["note_density"], data.get("note_density"), targets.tolerance)
    met.update(scale_consistency=bool(scale), pitch_class_entropy=bool(entropy), note_density=bool(density))
    if "long_form" in report:  # every 8-bar section of a long piece within the tolerance of its first
        met["long_sections"] = bool(report["long_form"]["all_within_tolerance"])
        met["long_form_recurrence"] = bool(report["long_form"].get("recurrence_within_real_range"))
    return {"targets": targets.__dict__, "judge": judge, "met": met, "all_met": all(met.values())}


def mode_report(report: dict, margin: float = 0.1) -> dict:
    """Whether mode follows the quadrant: the share of minor pieces in Q2 and Q3 (of major ones in Q1 and Q4) at
    least the fine-tuning data's minus `margin`, per quadrant."""
    per_quadrant, met = {}, True
    for name, entry in report["per_quadrant"].items():
        generated, data = entry["minor_share"]["generated"], entry["minor_share"]["fine_tuning_data"]
        wanted_minor = name in ("Q2", "Q3")
        if generated is None or data is None:
            ok = False
        else:
            ok = (generated if wanted_minor else 1 - generated) >= (data if wanted_minor else 1 - data) - margin
        per_quadrant[name] = {"minor_share": generated, "fine_tuning_minor_share": data, "met": ok}
        met &= ok
    return {"margin": margin, "per_quadrant": per_quadrant, "met": met}


def _within(value: float, reference: float | None, tolerance: float) -> bool:
    return reference is not None and abs(value - reference) <= tolerance * abs(reference)


@dataclass(frozen=True)
class MusicalityTargets:
    """What generated music must reach on the sample: scale consistency in every quadrant, pitch-class entropy and
    note density within a relative tolerance of the fine-tuning data, and controllability."""

    scale_consistency: float
    tolerance: float
    controllability: float
    classifier: float = 0.8  # the judge's own accuracy on held-out real clips, for controllability to count

    @classmethod
    def from_params(cls, settings: EvalMusicParams) -> MusicalityTargets:
        """The targets of params.yaml's `eval_music` section (their only defaults)."""
        return cls(
            settings.scale_consistency_target,
            settings.tolerance,
            settings.controllability_target,
            settings.classifier_target,
        )


@dataclass
class Evaluation:
    """The report and the generated pieces (per quadrant), for the listening page and the plots."""

    report: dict
    generated: dict[int, list[np.ndarray]]


def evaluate_music(
    model: CPTransformer,
    classifier: MusicClassifier,
    real: dict[int, list[np.ndarray]],
    *,
    pieces_per_quadrant: int,
    bars: int,
    seed: int,
    sampling: Sampling | None = None,
    fine_tuning: dict[int, list[np.ndarray]] | None = None,
    scores: list[np.ndarray] | None = None,
) -> Evaluation:
    """Generate, classify and measure. `real` maps quadrant → held-out clips (grooving is compared with them),
    `fine_tuning` quadrant → the clips the model learned from, `scores` held-out real scores (no quadrant)."""
    report: dict = {"pieces_per_quadrant": pieces_per_quadrant, "bars": bars, "chance": 0.25, "per_quadrant": {}}
    hits = 0
    confusion = np.zeros((4, 4), dtype=int)
    all_generated: dict[int, list[np.ndarray]] = {}
    for quadrant in range(1, 5):
        requests = [Request(quadrant, seed + 1000 * quadrant + i) for i in range(pieces_per_quadrant)]
        chunks = [requests[i : i + 32] for i in range(0, len(requests), 32)]
        name = QUADRANTS[quadrant - 1]
        generated = [
            piece
            for chunk in Progress(chunks, desc=f"generate {name}", unit="batch", leave=False)
            for piece in compose_long(model, chunk, bars, sampling=sampling)
        ]
        all_generated[quadrant] = generated
        predicted = [int(np.argmax(classifier.quadrant_probabilities(piece))) + 1 for piece in generated]
        for p in predicted:
            confusion[quadrant - 1, p - 1] += 1
        share = float(np.mean(np.array(predicted) == quadrant))
        hits += share * pieces_per_quadrant
        real_pieces = real.get(quadrant, [])
        real_grooves = (
            np.concatenate([grooving_patterns(decode_notes(p)[0]) for p in real_pieces])
            if real_pieces
            else np.zeros((0, 16))
        )
        generated_grooves = [grooving_patterns(decode_notes(p)[0]) for p in generated]
        report["per_quadrant"][QUADRANTS[quadrant - 1]] = {
            "controllability": share,
            "generated": mean_measures(measure_pieces(generated)),
            "fine_tuning_data": mean_measures(measure_pieces((fine_tuning or {}).get(quadrant, []))),
            "held_out_clips": mean_measures(measure_pieces(real_pieces)),
            "grooving_similarity_to_real": float(
                np.mean([grooving_similarity(g, real_grooves) for g in generated_grooves])
            ),
            "held_out_clip_count": len(real_pieces),
            "minor_share": {
                "generated": minor_share(generated),
                "fine_tuning_data": minor_share((fine_tuning or {}).get(quadrant, [])),
            },
        }
    report["controllability"] = hits / (4 * pieces_per_quadrant)
    report["confusion"] = {"rows_asked_columns_classified": QUADRANTS, "counts": confusion.tolist()}
    report["real_scores"] = {"pieces": len(scores or []), **mean_measures(measure_pieces(scores or []))}
    return Evaluation(report, all_generated)
