"""Per-cue controllability of film music with the context carried across every cut or only within a quadrant
(film.carry_context), on random four-cue films composed with the trained sample models (docs/film.md).

Run from the repository root after `dvc repro`: python scripts/measure_film_context.py [SEED] [FILMS]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from emoscore.config import load_params
from emoscore.film.plan import plan_film
from emoscore.film.soundtrack import compose_segments, segment_seeds
from emoscore.music.classify import MusicClassifier, music_only
from emoscore.music.compose import music_model
from emoscore.music.cp import decode_notes
from emoscore.music.tonality import key_correlations
from emoscore.music.vocabulary import Vocabulary


def main(seed: int, films: int) -> None:
    """Compose `films` random films both ways and print what the classifier and the key profile hear per cue."""
    params = load_params("params.yaml")
    model = music_model(Path(params.music.out).resolve(), "cpu", params.emopia.vocabulary)
    vocabulary = Vocabulary.load(params.emopia.vocabulary)
    classifier, _ = MusicClassifier.from_checkpoint(params.music_classifier.out, vocabulary)
    rng = np.random.default_rng(seed)
    heard: dict[str, list[tuple[int, int, bool | None]]] = {"always": [], "same_quadrant": []}
    for film_seed in range(films):
        ends = np.cumsum(rng.uniform(4, 9, 4))
        spans = [(float(a), float(b)) for a, b in zip([0.0, *ends[:-1]], ends, strict=True)]
        quadrants = [int(q) for q in rng.integers(1, 5, 4)]
        segments = plan_film(spans, quadrants, [0.0] * 4, tempo_bpm=params.film.tempo_bpm, steering=0.5)
        seeds = segment_seeds(segments, film_seed, {})
        for carry, cues in heard.items():
            film = params.film.model_copy(update={"carry_context": carry})
            composed, _ = compose_segments(model, segments, seeds, generation=params.generation, film=film)
            for segment, steps in zip(segments, composed, strict=True):
                probabilities = classifier.quadrant_probabilities(music_only(steps))
                keys = key_correlations(decode_notes(steps)[0])
                major = None if keys is None else bool(keys[:12].max() > keys[12:].max())
                cues.append((segment.quadrant, int(np.argmax(probabilities)) + 1, major))
    for carry, cues in heard.items():
        controllability = np.mean([asked == got for asked, got, _ in cues])
        moded = [(asked, major) for asked, _, major in cues if major is not None]
        mode = np.mean([(asked in (1, 4)) == major for asked, major in moded])
        print(f"{carry}: {len(cues)} cues, controllability {controllability:.3f}, mode follows valence {mode:.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1, int(sys.argv[2]) if len(sys.argv) > 2 else 40)
