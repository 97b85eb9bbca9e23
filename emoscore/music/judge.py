"""What the `eval_music` stage reports, made in the library: the generated pieces judged for emotion, intensity
and musicality against the clips they learned from, held-out clips and held-out real scores, the sampling
comparison, the per-piece tables for DVC's plots and the listening page's examples."""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from emoscore.config import Params
from emoscore.device import pick_device
from emoscore.music.classify import MusicClassifier, clip_accuracy_report
from emoscore.music.cp import Note, decode_notes, encode_notes
from emoscore.music.emopia import load_split
from emoscore.music.emotion_rules import rule_agreement
from emoscore.music.evaluate import (
    MusicalityTargets,
    check_targets,
    evaluate_music,
    intensity_trend,
    measure_pieces,
    mode_report,
)
from emoscore.music.listening import Example
from emoscore.music.metrics import MEASURES
from emoscore.music.model import CPTransformer
from emoscore.music.realism import excerpts, realism_report
from emoscore.music.sampling import EMOPIA_RELEASED, Sampling, Steering
from emoscore.music.sections import long_form, section_figures, whole_excerpts
from emoscore.music.tonality import find_key
from emoscore.music.vocabulary import QUADRANTS, Vocabulary

LONG_EXAMPLE_BARS = 32  # the listening page's long pieces


@dataclass
class Judged:
    """The report and what it was made from (the pieces behind the tables and the page)."""

    report: dict
    generated: dict[int, list[np.ndarray]]
    fine_tuning: dict[int, list[np.ndarray]]
    test: dict[int, list[np.ndarray]]
    scores: list[np.ndarray]
    long_pieces: dict[int, list[np.ndarray]] = field(default_factory=dict)  # bars → continued pieces, by quadrant

    def musicality_tables(self) -> dict[str, list[dict]]:
        """One row per piece and measure set, by source: generated, the fine-tuning data, real scores."""
        tables = {}
        for source, grouped in (("generated", self.generated), ("fine_tuning_data", self.fine_tuning)):
            tables[source] = [
                {"quadrant": QUADRANTS[q - 1], **m}
                for q, group in sorted(grouped.items())
                for m in measure_pieces(group)
            ]
        tables["real_scores"] = [{"quadrant": "-", **m} for m in measure_pieces(self.scores)]
        return tables

    def examples(self) -> list[Example]:
        """A generated piece and a real clip per quadrant, for the listening page."""
        examples = []
        for quadrant in range(1, 5):
            name = QUADRANTS[quadrant - 1]
            real = self.test.get(quadrant) or self.fine_tuning.get(quadrant) or []  # a small set may lack a quadrant
            for source, pieces in (("generated", self.generated[quadrant]), ("real", real)):
                if pieces:
                    examples.append(Example(name, source, pieces[0], measure_pieces(pieces[:1])[0]))
        return examples + self.long_examples()

    def long_examples(self, bars: int = LONG_EXAMPLE_BARS) -> list[Example]:
        """Per quadrant a long piece beside a held-out real score's excerpt of its length in the quadrant's mode
        (major for Q1 and Q4, minor for Q2 and Q3; any where none is) — the one with the most notes for Q1 and Q2,
        the fewest for Q3 and Q4 — each with its sections' figures."""
        if bars not in self.long_pieces:
            return []
        real = [
            (excerpt, tempi)
            for piece in self.scores
            for notes, tempi, _ in [decode_notes(piece)]
            for excerpt in whole_excerpts([notes], bars)
        ]
        modes = [getattr(find_key(notes), "mode", None) for notes, _ in real]
        pieces = self.long_pieces[bars]
        per_quadrant = len(pieces) // 4
        examples = []
        for quadrant in range(1, 5):
            name, mode = QUADRANTS[quadrant - 1], "major" if quadrant in (1, 4) else "minor"
            if per_quadrant:
                piece = pieces[(quadrant - 1) * per_quadrant]
                examples.append(self._long(name, "generated", piece, bars))
            matching = [i for i, found in enumerate(modes) if found == mode] or list(range(len(real)))
            busiest = sorted(matching, key=lambda i: (len(real[i][0]), i), reverse=quadrant in (1, 2))
            chosen = busiest[0] if busiest else None  # the busiest for an aroused quadrant, the calmest otherwise
            if chosen is not None:
                notes, tempi = real[chosen]
                examples.append(self._long(name, "real", encode_notes(notes, tempi, quadrant), bars))
        return examples

    @staticmethod
    def _long(quadrant: str, source: str, steps: np.ndarray, bars: int) -> Example:
        sections = tuple(section_figures(decode_notes(steps)[0], bars))
        return Example(quadrant, source, steps, measure_pieces([steps])[0], sections)

    def page_summary(self) -> dict:
        """The listening page's table: controllability, and each measure generated / fine-tuning data."""
        rows = [
            {"quadrant": q, "cells": [f"{r['generated'][m]:.2f} / {r['fine_tuning_data'][m]:.2f}" for m in MEASURES]}
            for q, r in self.report["per_quadrant"].items()
        ]
        return {
            "controllability": self.report["controllability"],
            "measures": MEASURES,
            "rows": rows,
            "targets_met": self.report["musicality_targets"]["all_met"],
        }


def by_quadrant(path: Path) -> dict[int, list[np.ndarray]]:
    """The clips of a prepared split, grouped by quadrant."""
    pieces, quadrants, _ = load_split(path)
    grouped: dict[int, list[np.ndarray]] = defaultdict(list)
    for piece, quadrant in zip(pieces, quadrants, strict=True):
        grouped[int(quadrant)].append(piece)
    return dict(grouped)


def held_out_scores(corpus: Path, split: str = "val") -> list[np.ndarray]:
    """The real scores of a split of the pretraining corpus (validation by default), untransposed."""
    pieces, _, names = load_split(corpus / f"{split}.npz")
    return [p for p, name in zip(pieces, names, strict=True) if name.startswith("music21/") and name.endswith("@+0")]


def realism(judged: dict[str, list[np.ndarray]], corpus: Path, *, bars: int, seed: int) -> dict:
    """The realism report (see `realism`): each set against the held-out real scores cut into `bars`-bar excerpts,
    the training split's real scores as the ceiling."""

    def cut(pieces: list[np.ndarray]) -> list[list[Note]]:
        return [excerpt for piece in pieces for excerpt in excerpts(decode_notes(piece)[0], bars)]

    sets = {name: [decode_notes(piece)[0] for piece in pieces] for name, pieces in judged.items()}
    reference, other = cut(held_out_scores(corpus)), cut(held_out_scores(corpus, "train"))
    return realism_report(sets, reference, other, bars=bars, seed=seed)


def judge_music(params: Params) -> Judged:
    """Generate `eval_music.pieces_per_quadrant` pieces per quadrant, classify and measure them; the intensity
    trend; the same judged with EMOPIA's released sampling settings; which musicality targets are met."""
    settings = params.eval_music
    vocabulary = Vocabulary.load(params.emopia.vocabulary)
    model, _ = CPTransformer.from_checkpoint(params.music.out, vocabulary)
    model.to(pick_device(params.music.device))
    classifier, _ = MusicClassifier.from_checkpoint(params.music_classifier.out, vocabulary)
    test, train = by_quadrant(params.emopia.out / "test.npz"), by_quadrant(params.emopia.out / "train.npz")
    scores = held_out_scores(params.midi_corpus.out)
    sampling = Sampling.from_params(params.generation)
    judge = functools.partial(
        evaluate_music,
        model,
        classifier,
        test,
        pieces_per_quadrant=settings.pieces_per_quadrant,
        bars=settings.bars,
        seed=settings.seed,
        fine_tuning=train,
    )
    evaluation = judge(sampling=sampling, scores=scores)
    report = evaluation.report
    pieces, quadrants, _ = load_split(params.emopia.out / "test.npz")
    report["classifier_test_accuracy_on_real_clips"] = clip_accuracy_report(classifier, pieces, quadrants)
    report["intensity"] = intensity_trend(
        model,
        settings.intensity_pieces,
        settings.bars,
        seed=settings.seed,
        sampling=sampling,
        steering=Steering.from_params(params.generation),
        midpoint=params.score.quadrant_midpoint,
    )
    released = judge(sampling=replace(sampling, temperature=EMOPIA_RELEASED.temperature, top_p=EMOPIA_RELEASED.top_p))
    unsteered = judge(sampling=replace(sampling, key_prior=0.0, major_key_prior=0.0, chord_bias=0.0, openings=1))
    report["sampling_comparison"] = {
        name: {
            "controllability": r["controllability"],
            **{
                f"{m}_per_quadrant": {q: e["generated"][m] for q, e in r["per_quadrant"].items()}
                for m in ("scale_consistency", "note_density")
            },
            "minor_share_per_quadrant": {q: e["minor_share"]["generated"] for q, e in r["per_quadrant"].items()},
        }
        for name, r in (
            ("params_yaml", report),
            ("emopia_released", released.report),
            ("mode_steering_off", unsteered.report),
        )
    }
    long_pieces: dict[int, list[np.ndarray]] = {}
    report["long_form"] = long_form(
        model,
        settings.long_bars,
        settings.long_pieces_per_quadrant,
        seed=settings.seed,
        tolerance=settings.tolerance,
        sampling=sampling,
        steering=Steering.from_params(params.generation),
        real_scores=[decode_notes(piece)[0] for piece in scores + held_out_scores(params.midi_corpus.out, "train")],
        keep=long_pieces,
    )
    report["mode"] = mode_report(report)
    report["controllability_by_rule"] = rule_agreement(evaluation.generated, train, bars=settings.bars, held_out=test)
    report["realism"] = realism(
        {
            "generated": [piece for pieces in evaluation.generated.values() for piece in pieces],
            "fine_tuning_data": [piece for pieces in train.values() for piece in pieces],
        },
        params.midi_corpus.out,
        bars=settings.bars,
        seed=settings.seed,
    )
    report["musicality_targets"] = check_targets(report, MusicalityTargets.from_params(settings))
    return Judged(report, evaluation.generated, train, test, scores, long_pieces)
