"""The listening page of `eval_music`: per quadrant, a generated piece beside a real clip of that quadrant, each
with its piano roll, its audio (when FluidSynth is installed) and its musicality measures, so that a person can
see and hear what the numbers in reports/eval_music.json say."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from emoscore.config import RenderParams
from emoscore.music.audio import render_audio
from emoscore.music.cp import decode_notes, decode_to_midi
from emoscore.music.render import RenderUnavailable
from emoscore.music.vocabulary import POSITIONS_PER_BAR, POSITIONS_PER_BEAT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    """One piece on the page: which quadrant, where it comes from (generated or real) and its CP steps."""

    quadrant: str
    source: str
    steps: np.ndarray
    measures: dict[str, float]
    sections: tuple[dict[str, float], ...] = ()  # a long piece's 8-bar sections: density and key clarity each

    @property
    def long(self) -> bool:
        """Whether it is shown among the long pieces (it has more than one section)."""
        return len(self.sections) > 1


def piano_roll(steps: np.ndarray, path: Path, title: str) -> Path:
    """A piano-roll PNG: one bar per note (time in beats, pitch up), shade by velocity, bar lines dotted."""
    notes, _, _ = decode_notes(steps)
    figure, axes = plt.subplots(figsize=(7.2, 2.6), dpi=100)
    for note in notes:
        span = (note.onset / POSITIONS_PER_BEAT, note.duration / POSITIONS_PER_BEAT)
        axes.broken_barh([span], (note.pitch - 0.4, 0.8), facecolors=plt.cm.viridis(note.velocity / 127))
    end = max((n.onset + n.duration for n in notes), default=POSITIONS_PER_BAR)
    for bar in range(0, end + 1, POSITIONS_PER_BAR):
        axes.axvline(bar / POSITIONS_PER_BEAT, color="#bbb", linewidth=0.6, linestyle=":")
    pitches = [n.pitch for n in notes] or [60]
    axes.set_ylim(min(pitches) - 2, max(pitches) + 2)
    axes.set_xlim(0, end / POSITIONS_PER_BEAT)
    axes.set_xlabel("beats")
    axes.set_ylabel("MIDI pitch")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def write_page(examples: list[Example], summary: dict, out: Path, render: RenderParams | None = None) -> Path:
    """Write `out/index.html` with a roll, MIDI and audio per example; returns the page's path."""
    if out.exists():
        shutil.rmtree(out)
    (out / "media").mkdir(parents=True)
    cards = []
    audio_problem = None
    for index, example in enumerate(examples):
        stem = f"{example.quadrant}_{example.source}_{index}"
        length = f" · {8 * len(example.sections)} bars" if example.long else ""
        title = f"{example.quadrant} · {example.source}{length}"
        piano_roll(example.steps, out / "media" / f"{stem}.png", title)
        decode_to_midi(example.steps, out / "media" / f"{stem}.mid")
        audio = None
        try:
            render_audio(out / "media" / f"{stem}.mid", out / "media" / f"{stem}.flac", render)
            audio = f"media/{stem}.flac"
        except RenderUnavailable as error:
            audio_problem = str(error)
        cards.append(
            {
                "quadrant": example.quadrant,
                "source": example.source,
                "roll": f"media/{stem}.png",
                "midi": f"media/{stem}.mid",
                "audio": audio,
                "measures": {k: f"{v:.2f}" for k, v in example.measures.items()},
                "long": example.long,
                "sections": [
                    {"density": f"{f['density']:.1f}", "key_clarity": f"{f['key_clarity']:.2f}"}
                    for f in example.sections
                ],
            }
        )
    page = TEMPLATE.render(cards=cards, summary=summary, audio_problem=audio_problem)
    temporary = out / ".index.html.tmp"
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(out / "index.html")
    return out / "index.html"


TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emoscore · how the music sounds</title>
<link rel="icon" href="data:,">
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #f6f5f2; color: #222; }
  header { padding: 12px 20px; background: #2b2d42; color: #fff; }
  header h1 { font-size: 18px; margin: 0 0 4px; }
  header p { margin: 0; font-size: 13px; opacity: .9; }
  table.summary { border-collapse: collapse; margin: 14px 20px; font-size: 13px; background: #fff; }
  table.summary td, table.summary th { border: 1px solid #ddd; padding: 4px 8px; text-align: right; }
  section { padding: 6px 20px 18px; }
  section h2 { font-size: 16px; margin: 10px 0; }
  .pair { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px; }
  article { background: #fff; border-radius: 8px; padding: 10px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  article img { width: 100%; height: auto; display: block; }
  article audio { width: 100%; margin-top: 6px; }
  dl { display: grid; grid-template-columns: repeat(4, auto); gap: 2px 10px; font-size: 12px; margin: 6px 0 0; }
  dt { color: #666; } dd { margin: 0; }
  .note { color: #8a5a00; font-size: 13px; padding: 0 20px; }
  h2.part { font-size: 17px; margin: 18px 20px 0; }
  table.sections { border-collapse: collapse; font-size: 12px; margin-top: 6px; }
  table.sections td, table.sections th { border: 1px solid #e3e3e3; padding: 2px 6px; text-align: right; }
</style>
</head>
<body>
<header>
  <h1>How the music sounds</h1>
  <p>Per quadrant, a generated piece beside a real clip of that quadrant. Controllability
     {{ "%.2f"|format(summary.controllability) }} (chance 0.25); targets met: {{ summary.targets_met }}.</p>
</header>
{% if audio_problem %}<p class="note">No audio: {{ audio_problem }}</p>{% endif %}
<table class="summary">
  <tr><th>quadrant</th>{% for m in summary.measures %}<th>{{ m }} (generated / real)</th>{% endfor %}</tr>
  {% for row in summary.rows %}
  <tr><td>{{ row.quadrant }}</td>{% for cell in row.cells %}<td>{{ cell }}</td>{% endfor %}</tr>
  {% endfor %}
</table>
{% for long in (false, true) %}
{% set shown = cards|selectattr("long", "equalto", long)|list %}
{% if long and shown %}<h2 class="part">Long pieces, beside a real score of the same length: each 8-bar section's
  notes per bar and key clarity</h2>{% endif %}
{% for quadrant in shown|map(attribute="quadrant")|unique %}
<section id="{{ quadrant }}{{ '-long' if long }}">
  <h2>{{ quadrant }}</h2>
  <div class="pair">
  {% for card in shown if card.quadrant == quadrant %}
    <article class="{{ card.source }}{{ ' long' if long }}">
      <img src="{{ card.roll }}" alt="piano roll, {{ quadrant }}, {{ card.source }}">
      {% if card.audio %}<audio controls preload="metadata" src="{{ card.audio }}"></audio>{% endif %}
      <a href="{{ card.midi }}" download>MIDI</a>
      <dl>{% for name, value in card.measures.items() %}<dt>{{ name }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>
      {% if card.sections %}
      <table class="sections">
        <tr><th>section</th>{% for f in card.sections %}<th>{{ loop.index }}</th>{% endfor %}</tr>
        <tr><td>notes per bar</td>{% for f in card.sections %}<td>{{ f.density }}</td>{% endfor %}</tr>
        <tr><td>key clarity</td>{% for f in card.sections %}<td>{{ f.key_clarity }}</td>{% endfor %}</tr>
      </table>
      {% endif %}
    </article>
  {% endfor %}
  </div>
</section>
{% endfor %}
{% endfor %}
</body>
</html>
""")
