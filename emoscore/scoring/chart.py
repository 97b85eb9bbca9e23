"""The per-image VAD chart: the three VAD bars on the 1–10 scale and the top categories with their scores.

Drawn with Pillow on a fixed 512×208 layout (the size the matplotlib figure had), in ~5 ms where the repainted
matplotlib figure took ~65 ms: a chart per photo was a third of scoring's CPU time per photo with music
(docs/performance.md). Text is set in DejaVu Sans, the font matplotlib ships, so any file name's characters show.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont

from emoscore.emotic.labels import VAD_MAX, VAD_MIN
from emoscore.text import shown

VAD_COLOURS = ("#e07a5f", "#3d85c6", "#81b29a")
VAD_NAMES = ("Valence", "Arousal", "Dominance")
CATEGORY_COLOUR = "#6d597a"
SIZE = (512, 208)
LEFT, RIGHT = (78, 236), (336, 500)  # the two panels' x extents
TOP, BOTTOM = 44, 192  # their y extent, under the title and the panel titles


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)


class ChartPainter:
    """Draws charts of up to `categories` top categories; every chart has the same geometry."""

    def __init__(self, categories: int) -> None:
        self.categories = categories

    def _panel(
        self,
        draw: ImageDraw.ImageDraw,
        x: tuple[int, int],
        title: str,
        *,
        rows: Sequence[tuple[str, float, str, str]],
        scale: tuple[float, float],
    ) -> None:
        """A titled, framed panel of horizontal bars: (label, value, colour, value text) per row, top to bottom."""
        small, label_font = _font(10), _font(10)
        draw.text(((x[0] + x[1]) / 2, TOP - 8), title, fill="black", font=_font(11), anchor="md")
        draw.rectangle((x[0], TOP, x[1], BOTTOM), outline="black")
        step = (BOTTOM - TOP) / max(len(rows), 1)
        for index, (label, value, colour, text) in enumerate(rows):
            middle = TOP + step * (index + 0.5)
            width = (min(max(value, scale[0]), scale[1]) - scale[0]) / (scale[1] - scale[0]) * (x[1] - x[0])
            if width > 0:
                draw.rectangle((x[0], middle - step * 0.35, x[0] + width, middle + step * 0.35), fill=colour)
            draw.text((x[0] - 4, middle), label, fill="black", font=label_font, anchor="rm")
            if text:
                draw.text((min(x[0] + width + 3, x[1] - 24), middle), text, fill="black", font=small, anchor="lm")

    def paint(self, path: Path, vad: Sequence[float], top: Sequence[tuple[str, float]], title: str = "") -> Path:
        """Write a small PNG of this image's VAD and top categories, atomically."""
        image = Image.new("RGB", SIZE, "white")
        draw = ImageDraw.Draw(image)
        if title:
            draw.text((SIZE[0] / 2, 4), title, fill="black", font=_font(11), anchor="ma")
        values = [float(v) for v in vad]
        bars = [(name, v, colour, f"{v:.1f}") for name, v, colour in zip(VAD_NAMES, values, VAD_COLOURS, strict=True)]
        self._panel(draw, LEFT, "VAD scores (1–10)", rows=bars, scale=(VAD_MIN, VAD_MAX))
        shown = list(top)[: self.categories]
        rows = [(name, float(score), CATEGORY_COLOUR, "") for name, score in shown]
        rows += [("", 0.0, CATEGORY_COLOUR, "")] * (self.categories - len(shown))
        self._panel(draw, RIGHT, "Top categories", rows=rows, scale=(0.0, 1.0))
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp.png")
        image.save(temporary, format="PNG", compress_level=1)
        temporary.replace(path)
        return path


@functools.cache
def painter(categories: int) -> ChartPainter:
    """This process's painter for charts of `categories` top categories."""
    return ChartPainter(categories)


def vad_chart(path: Path, vad: Sequence[float], top_categories: Sequence[tuple[str, float]], title: str = "") -> Path:
    """Write a small PNG: VAD bars (left) and top categories (right); the title as `shown` writes it (a control
    character in a file name made the text layout fail, and the photo with it)."""
    return painter(max(1, len(top_categories))).paint(path, vad, top_categories, shown(title))
