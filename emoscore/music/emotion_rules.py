"""The quadrant of a passage by musical rule, as the demo's real-score set is labelled (docs/music.md): valence from
mode — the Krumhansl–Schmuckler margin of the best major key over the best minor key; arousal from how fast, loud
and high it is — log onsets per second, mean velocity and (half-weighted) mean pitch as z-scores against a
reference set, summed and split at that set's median.

`eval_music` also judges generated pieces with the rule fitted on the fine-tuning clips: on a rule-labelled set the
rule is the labels' own definition, where a learnt classifier only approximates it; its accuracy on held-out clips
says whether it may judge (`evaluate.check_targets`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emoscore.music.cp import Note, bar_starts, decode_notes
from emoscore.music.tonality import key_correlations
from emoscore.music.vocabulary import POSITIONS_PER_BAR, POSITIONS_PER_BEAT, QUADRANTS

DEFAULT_BPM = 120.0  # a piece with no Tempo word plays at the CP decoder's default
REGISTER_WEIGHT = 0.5  # pitch height predicts arousal less than tempo and loudness do (docs/music.md)


@dataclass(frozen=True)
class CueFeatures:
    """What the rule reads: the major-over-minor key margin and the arousal cues."""

    mode_margin: float
    onsets_per_second: float
    mean_pitch: float
    mean_velocity: float

    def arousal_cues(self) -> tuple[float, float, float]:
        """log onsets per second, mean velocity, mean pitch."""
        return float(np.log(self.onsets_per_second)), self.mean_velocity, self.mean_pitch


def cue_features(notes: Sequence[Note], bars: int, bpm: float) -> CueFeatures | None:
    """The rule's inputs for a `bars`-bar passage played at `bpm`; None without notes or key (a flat histogram)."""
    correlations = key_correlations(notes)
    if correlations is None or not notes:
        return None
    seconds = bars * POSITIONS_PER_BAR / POSITIONS_PER_BEAT * 60.0 / bpm
    return CueFeatures(
        mode_margin=float(correlations[:12].max() - correlations[12:].max()),
        onsets_per_second=len({n.onset for n in notes}) / seconds,
        mean_pitch=float(np.mean([n.pitch for n in notes])),
        mean_velocity=float(np.mean([n.velocity for n in notes])),
    )


@dataclass(frozen=True)
class QuadrantRule:
    """The rule fitted on a reference set: its arousal cues' means and spreads and its arousal median."""

    means: tuple[float, float, float]
    spreads: tuple[float, float, float]
    median: float

    @classmethod
    def fit(cls, features: Sequence[CueFeatures]) -> QuadrantRule:
        """The rule whose arousal is measured against these passages and split at their median."""
        cues = np.array([f.arousal_cues() for f in features], dtype=float)
        means, spreads = cues.mean(axis=0), cues.std(axis=0)
        spreads = np.where(spreads > 0, spreads, 1.0)
        unfitted = cls(tuple(means.tolist()), tuple(spreads.tolist()), 0.0)
        median = float(np.median([unfitted.arousal(f) for f in features]))
        return cls(unfitted.means, unfitted.spreads, median)

    def arousal(self, feature: CueFeatures) -> float:
        """The summed z-scores (register at half weight)."""
        tempo, loudness, register = (
            (value - mean) / spread
            for value, mean, spread in zip(feature.arousal_cues(), self.means, self.spreads, strict=True)
        )
        return float(tempo + loudness + REGISTER_WEIGHT * register)

    def quadrant(self, feature: CueFeatures) -> int:
        """Q1 major and aroused, Q2 minor and aroused, Q3 minor and calm, Q4 major and calm."""
        major, high = feature.mode_margin > 0, self.arousal(feature) > self.median
        return (1 if high else 4) if major else (2 if high else 3)


def _features(steps: np.ndarray, bars: int | None = None) -> CueFeatures | None:
    """The rule's inputs for a piece of `bars` bars (counted from its Bar words when None)."""
    notes, tempi, _ = decode_notes(steps)
    return cue_features(notes, bars or max(1, len(bar_starts(steps))), tempi[0][1] if tempi else DEFAULT_BPM)


def rule_agreement(
    generated: dict[int, list[np.ndarray]],
    fine_tuning: dict[int, list[np.ndarray]],
    *,
    bars: int,
    held_out: dict[int, list[np.ndarray]] | None = None,
) -> dict:
    """How often the rule, fitted on the fine-tuning clips, hears the quadrant each piece was asked for: in all,
    per quadrant, and for valence (mode) and arousal apart; how often it gives the fine-tuning clips their own
    labels (near 1 when the rule made them; on human labels, how far the cues explain them), and the `held_out`
    clips theirs (its accuracy as a judge, on clips it was not fitted on)."""
    reference = [(q, f) for q, pieces in fine_tuning.items() for p in pieces if (f := _features(p))]
    if not reference:
        return {}
    rule = QuadrantRule.fit([f for _, f in reference])

    def agreement(pairs: list[tuple[int, CueFeatures]]) -> dict[str, float]:
        heard = [(asked, rule.quadrant(f)) for asked, f in pairs]
        return {
            "quadrant": float(np.mean([a == h for a, h in heard])) if heard else 0.0,
            "valence": float(np.mean([(a in (1, 4)) == (h in (1, 4)) for a, h in heard])) if heard else 0.0,
            "arousal": float(np.mean([(a in (1, 2)) == (h in (1, 2)) for a, h in heard])) if heard else 0.0,
        }

    asked = {q: [(q, f) for p in pieces if (f := _features(p, bars))] for q, pieces in sorted(generated.items())}
    report = {
        "generated": agreement([pair for pairs in asked.values() for pair in pairs]),
        "generated_per_quadrant": {QUADRANTS[q - 1]: agreement(pairs)["quadrant"] for q, pairs in asked.items()},
        "fine_tuning_clips": agreement(reference),
        "chance": 0.25,
    }
    if held_out:
        report["held_out_clips"] = agreement(
            [(q, f) for q, pieces in held_out.items() for p in pieces if (f := _features(p))]
        )
    return report
