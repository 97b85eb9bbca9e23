"""The bridge from pictures to music: image VAD → EMOPIA quadrant with a confidence, and a seed from the image.

Quadrants (EMOPIA): Q1 high valence/high arousal, Q2 low V/high A, Q3 low V/low A, Q4 high V/low A. Valence and
arousal are split at a midpoint of the 1–10 scale (configurable); the confidence is the distance to the nearer
boundary, scaled to 0–1, so a face right on a boundary gets a confidence near 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emoscore.emotic.labels import VAD_MAX, VAD_MIN

DEFAULT_MIDPOINT = (VAD_MIN + VAD_MAX) / 2


@dataclass(frozen=True)
class Quadrant:
    """An EMOPIA quadrant (1–4) and how far the VAD point sits from the nearest boundary (0–1)."""

    number: int
    confidence: float

    @property
    def name(self) -> str:
        """'Q1' … 'Q4'."""
        return f"Q{self.number}"


def vad_to_quadrant(valence: float, arousal: float, midpoint: float = DEFAULT_MIDPOINT) -> Quadrant:
    """Quadrant of a (valence, arousal) point on the 1–10 scale."""
    high_valence, high_arousal = valence >= midpoint, arousal >= midpoint
    number = {(True, True): 1, (False, True): 2, (False, False): 3, (True, False): 4}[(high_valence, high_arousal)]
    reach = max(midpoint - VAD_MIN, VAD_MAX - midpoint)
    confidence = min(abs(valence - midpoint), abs(arousal - midpoint)) / reach
    return Quadrant(number, float(np.clip(confidence, 0.0, 1.0)))


def arousal_intensity(arousal: float, midpoint: float = DEFAULT_MIDPOINT) -> float:
    """How energetic within its quadrant a point is, −0.5 … 0.5: 0 at the middle of its arousal half, +0.5 at the
    high edge (10 or just under the midpoint), −0.5 at the low edge; generation steers tempo, velocity and density
    by it (emoscore.music.sampling.Steering)."""
    if arousal >= midpoint:
        return float(np.clip((arousal - midpoint) / (VAD_MAX - midpoint), 0.0, 1.0) - 0.5)
    return float(np.clip((arousal - VAD_MIN) / (midpoint - VAD_MIN), 0.0, 1.0) - 0.5)


def pool_people(vads: Sequence[Sequence[float]], how: str = "mean", midpoint: float = DEFAULT_MIDPOINT) -> np.ndarray:
    """One VAD for the image from its people: their mean, or the person whose quadrant is most certain."""
    points = np.asarray(vads, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        raise ValueError("no people to pool")
    if how == "mean":
        return points.mean(axis=0)
    if how == "most_confident":
        confidences = [vad_to_quadrant(v, a, midpoint).confidence for v, a, _ in points]
        return points[int(np.argmax(confidences))]
    raise ValueError(f"unknown pooling {how!r}; choose 'mean' or 'most_confident'")


def music_seed(image_id: str) -> int:
    """Generation seed from the image's content hash: the same photo always gets the same music."""
    return int(image_id[:15], 16)
