"""The EMOTIC label space: the 26 categories in canonical order and the VAD scale."""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "Affection",
    "Anger",
    "Annoyance",
    "Anticipation",
    "Aversion",
    "Confidence",
    "Disapproval",
    "Disconnection",
    "Disquietment",
    "Doubt/Confusion",
    "Embarrassment",
    "Engagement",
    "Esteem",
    "Excitement",
    "Fatigue",
    "Fear",
    "Happiness",
    "Pain",
    "Peace",
    "Pleasure",
    "Sadness",
    "Sensitivity",
    "Suffering",
    "Surprise",
    "Sympathy",
    "Yearning",
)
CATEGORY_INDEX: dict[str, int] = {name: i for i, name in enumerate(CATEGORIES)}
NUM_CATEGORIES = len(CATEGORIES)

VAD_DIMENSIONS: tuple[str, ...] = ("valence", "arousal", "dominance")
VAD_MIN, VAD_MAX = 1.0, 10.0
# The network regresses VAD divided by this (as the reference implementation does), so targets sit near [0, 1].
VAD_SCALE = 10.0


def category_vector(names: list[str]) -> list[float]:
    """Multi-hot vector over CATEGORIES; raises KeyError naming the unknown category."""
    vector = [0.0] * NUM_CATEGORIES
    for name in names:
        if name not in CATEGORY_INDEX:
            raise KeyError(f"unknown EMOTIC category {name!r}")
        vector[CATEGORY_INDEX[name]] = 1.0
    return vector
