"""The per-image VAD chart: the three VAD bars on the 1–10 scale and the top categories with their scores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from emoscore.emotic.labels import VAD_MAX, VAD_MIN

VAD_COLOURS = ("#e07a5f", "#3d85c6", "#81b29a")


def vad_chart(path: Path, vad: Sequence[float], top_categories: Sequence[tuple[str, float]], title: str = "") -> Path:
    """Write a small PNG: VAD bars (left) and top categories (right)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(6.4, 2.6), gridspec_kw={"width_ratios": [1, 1.4]})
    names = ("Valence", "Arousal", "Dominance")
    left.barh(names[::-1], [float(v) for v in vad][::-1], color=VAD_COLOURS[::-1])
    left.set_xlim(VAD_MIN, VAD_MAX)
    left.set_title("VAD scores (1–10)", fontsize=9)
    for index, value in enumerate(list(vad)[::-1]):
        left.text(min(float(value) + 0.1, VAD_MAX - 1.2), index, f"{float(value):.1f}", va="center", fontsize=8)
    labels = [name for name, _ in top_categories][::-1]
    scores = [float(score) for _, score in top_categories][::-1]
    right.barh(labels, scores, color="#6d597a")
    right.set_xlim(0, 1)
    right.set_title("Top categories", fontsize=9)
    for axis in (left, right):
        axis.tick_params(labelsize=8)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary, dpi=80)
    plt.close(figure)
    temporary.replace(path)
    return path
