"""The per-image VAD chart: the three VAD bars on the 1–10 scale and the top categories with their scores."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from emoscore.emotic.labels import CATEGORIES, VAD_MAX, VAD_MIN

VAD_COLOURS = ("#e07a5f", "#3d85c6", "#81b29a")
VAD_NAMES = ("Valence", "Arousal", "Dominance")


class ChartPainter:
    """One figure per process, laid out once and repainted per image (new bar lengths, labels and title).

    Building a figure and laying it out costs several times what drawing it does; the layout is fixed for the
    longest category name, so every chart has the same geometry.
    """

    def __init__(self, categories: int) -> None:
        self.categories = categories
        self.figure, (left, right) = plt.subplots(1, 2, figsize=(6.4, 2.6), gridspec_kw={"width_ratios": [1, 1.4]})
        self.vad_bars = left.barh(VAD_NAMES[::-1], [0.0] * 3, color=VAD_COLOURS[::-1]).patches
        left.set_xlim(VAD_MIN, VAD_MAX)
        left.set_title("VAD scores (1–10)", fontsize=9)
        self.vad_labels = [left.text(VAD_MIN, index, "", va="center", fontsize=8) for index in range(3)]
        longest = max(CATEGORIES, key=len)
        self.right = right
        self.category_bars = right.barh([f"{longest}{i}" for i in range(categories)], [0.0] * categories,
                                        color="#6d597a").patches  # fmt: skip
        right.set_xlim(0, 1)
        right.set_title("Top categories", fontsize=9)
        for axis in (left, right):
            axis.tick_params(labelsize=8)
        self.title = self.figure.suptitle("Mp", fontsize=9)
        self.figure.tight_layout()  # once, for the widest labels and a title line
        self.lock = threading.Lock()  # a figure is not for concurrent use

    def paint(self, path: Path, vad: Sequence[float], top: Sequence[tuple[str, float]], title: str = "") -> Path:
        """Write a small PNG of this image's VAD and top categories, atomically."""
        values = [float(v) for v in vad][::-1]
        padded = list(top)[: self.categories][::-1]
        padded = [("", 0.0)] * (self.categories - len(padded)) + padded
        with self.lock:
            for bar, label, value in zip(self.vad_bars, self.vad_labels, values, strict=True):
                bar.set_width(value)
                label.set_x(min(value + 0.1, VAD_MAX - 1.2))
                label.set_text(f"{value:.1f}")
            for bar, (_, score) in zip(self.category_bars, padded, strict=True):
                bar.set_width(float(score))
            self.right.set_yticks(range(self.categories), [name for name, _ in padded])
            self.title.set_text(title)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.tmp.png")
            self.figure.savefig(temporary, dpi=80)
        temporary.replace(path)
        return path


@functools.cache
def painter(categories: int) -> ChartPainter:
    """This process's painter for charts of `categories` top categories."""
    return ChartPainter(categories)


def vad_chart(path: Path, vad: Sequence[float], top_categories: Sequence[tuple[str, float]], title: str = "") -> Path:
    """Write a small PNG: VAD bars (left) and top categories (right)."""
    return painter(max(1, len(top_categories))).paint(path, vad, top_categories, title)
