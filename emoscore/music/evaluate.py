"""Judging the music model at what it is for: does a piece asked for in quadrant Q sound like Q?

For N pieces per quadrant: the share the emotion classifier puts in the asked quadrant (controllability, chance
is 25%), and pitch-class entropy, note density, polyphony and grooving similarity next to the real clips.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from emoscore.music.classify import MusicClassifier
from emoscore.music.cp import QUADRANTS, decode_notes
from emoscore.music.generate import Sampling, generate
from emoscore.music.metrics import grooving_patterns, grooving_similarity, piece_features
from emoscore.music.model import CPTransformer


def _mean_features(pieces: list[np.ndarray]) -> dict[str, float]:
    features = [piece_features(decode_notes(piece)[0]) for piece in pieces]
    return {key: float(np.mean([f[key] for f in features])) for key in features[0]} if features else {}


def evaluate_music(
    model: CPTransformer,
    classifier: MusicClassifier,
    real: dict[int, list[np.ndarray]],
    pieces_per_quadrant: int,
    bars: int,
    seed: int,
    sampling: Sampling | None = None,
) -> dict:
    """Generate, classify and measure; `real` maps quadrant → real clips (CP steps) to compare with."""
    report: dict = {"pieces_per_quadrant": pieces_per_quadrant, "bars": bars, "chance": 0.25, "per_quadrant": {}}
    hits = 0
    confusion = np.zeros((4, 4), dtype=int)
    for quadrant in range(1, 5):
        generated = [
            generate(model, quadrant, bars=bars, seed=seed + 1000 * quadrant + i, sampling=sampling)
            for i in tqdm(range(pieces_per_quadrant), desc=f"generate {QUADRANTS[quadrant - 1]}", leave=False)
        ]
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
            "generated": _mean_features(generated),
            "real": _mean_features(real_pieces),
            "grooving_similarity_to_real": float(
                np.mean([grooving_similarity(g, real_grooves) for g in generated_grooves])
            ),
            "real_clips": len(real_pieces),
        }
    report["controllability"] = hits / (4 * pieces_per_quadrant)
    report["confusion"] = {"rows_asked_columns_classified": QUADRANTS, "counts": confusion.tolist()}
    return report
