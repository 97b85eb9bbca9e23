"""Whether a long piece holds together: each 8-bar section's note density and key clarity against the first's,
for pieces continued chunk by chunk (how every caller composes) beside the same pieces asked of the model in one
go (what it did before), how often their bars recur beside real scores of their length, and how often each
quadrant's pieces are in minor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emoscore.music.continuation import Continuation, compose_long
from emoscore.music.cp import Note, decode_notes
from emoscore.music.generate import Request, generate_batch
from emoscore.music.realism import excerpts, recurring_bars
from emoscore.music.sampling import Sampling, Steering
from emoscore.music.tonality import find_key
from emoscore.music.vocabulary import POSITIONS_PER_BAR, QUADRANTS

SECTION_BARS = 8


def section_figures(notes: Sequence[Note], bars: int) -> list[dict[str, float]]:
    """Notes per bar and key clarity (0 without a key) of each whole 8-bar section of a `bars`-bar piece."""
    span = SECTION_BARS * POSITIONS_PER_BAR
    figures = []
    for section in range(bars // SECTION_BARS):
        inside = [n for n in notes if section * span <= n.onset < (section + 1) * span]
        key = find_key(inside)
        figures.append({"density": len(inside) / SECTION_BARS, "key_clarity": key.clarity if key else 0.0})
    return figures


def minor_share(pieces: Sequence[np.ndarray]) -> float | None:
    """The share of pieces whose Krumhansl–Schmuckler key is minor (None without pieces that have a key)."""
    keys = [find_key(decode_notes(piece)[0]) for piece in pieces]
    modes = [key.mode for key in keys if key is not None]
    return float(np.mean([mode == "minor" for mode in modes])) if modes else None


def sections_report(pieces: Sequence[np.ndarray], bars: int, tolerance: float) -> dict:
    """Mean density and key clarity per section over pieces, each section's ratio to the first, and whether every
    section is within `tolerance` of the first."""
    figures = np.array(
        [[[f["density"], f["key_clarity"]] for f in section_figures(decode_notes(p)[0], bars)] for p in pieces]
    )
    means = figures.mean(axis=0)  # [sections, 2]
    ratios = means / np.where(means[:1] > 0, means[:1], np.nan)
    return {
        "density_per_section": np.round(means[:, 0], 3).tolist(),
        "key_clarity_per_section": np.round(means[:, 1], 3).tolist(),
        "density_ratio_to_first": np.round(ratios[:, 0], 3).tolist(),
        "key_clarity_ratio_to_first": np.round(ratios[:, 1], 3).tolist(),
        "within_tolerance": bool(np.all(np.abs(ratios - 1) <= tolerance)),
    }


def recurrence(pieces: Sequence[Sequence[Note]]) -> dict:
    """Mean shares of bars that recur exactly and only transposed, and the 10th, 50th and 90th percentiles of
    their sum over the pieces."""
    shares = np.array([recurring_bars(notes) for notes in pieces]) if pieces else np.zeros((1, 2))
    low, middle, high = np.percentile(shares.sum(axis=1), [10, 50, 90])
    return {
        "exact": round(float(shares[:, 0].mean()), 4),
        "transposed": round(float(shares[:, 1].mean()), 4),
        "total_p10_p50_p90": [round(float(v), 4) for v in (low, middle, high)],
        "pieces": len(pieces),
    }


def whole_excerpts(scores: Sequence[Sequence[Note]], bars: int) -> list[list[Note]]:
    """Real scores cut into `bars`-bar excerpts, keeping only those that reach their last bar."""
    cut = [excerpt for notes in scores for excerpt in excerpts(notes, bars)]
    return [e for e in cut if max(n.onset for n in e) >= (bars - 1) * POSITIONS_PER_BAR]


RECURRENCE_RANGE = (0.5, 2.0)  # generated pieces' recurring bars, as a multiple of real excerpts' of their length


def form_report(
    generated: Sequence[Sequence[Note]], real: Sequence[Sequence[Note]], without_form: Sequence[Sequence[Note]] = ()
) -> dict:
    """Recurring bars of generated pieces beside real excerpts of their length (and, for comparison, the same
    pieces asked of the model with no form); `within_real_range` when the generated mean share of recurring bars
    (exact + transposed) is 0.5–2 times the real excerpts' (most real excerpts repeat no bar: their 10th
    percentile is 0, so that range would not separate anything)."""
    ours, theirs = recurrence(generated), recurrence(real)
    total, real_total = ours["exact"] + ours["transposed"], theirs["exact"] + theirs["transposed"]
    low, high = RECURRENCE_RANGE
    report = {
        "generated": ours,
        "real_scores": theirs,
        "ratio_to_real": round(total / real_total, 3) if real_total else None,
        "within_real_range": bool(real_total) and low * real_total <= total <= high * real_total,
    }
    if without_form:
        report["without_form"] = recurrence(without_form)
    return report


def long_form(
    model: object,
    lengths: Sequence[int],
    pieces_per_quadrant: int,
    *,
    seed: int,
    tolerance: float,
    sampling: Sampling | None = None,
    steering: Steering | None = None,
    real_scores: Sequence[Sequence[Note]] = (),
    keep: dict[int, list[np.ndarray]] | None = None,
) -> dict:
    """For each length, `pieces_per_quadrant` pieces per quadrant composed as every caller composes them, and the
    same requests in one go for comparison: their sections against the first, and their recurring bars against
    `real_scores` cut to that length. The continued pieces of each length go into `keep` (bars → pieces, in
    quadrant order) when given."""
    report: dict = {"pieces_per_quadrant": pieces_per_quadrant, "tolerance": tolerance, "lengths": {}}
    for bars in lengths:
        requests = [Request(q, seed + 100 * q + i) for q in range(1, 5) for i in range(pieces_per_quadrant)]
        continued = compose_long(model, requests, bars, sampling=sampling, steering=steering)
        if keep is not None:
            keep[bars] = continued
        plain = compose_long(
            model, requests, bars, continuation=Continuation(return_every=0), sampling=sampling, steering=steering
        )
        in_one_go = generate_batch(model, requests, bars, sampling=sampling, steering=steering, max_steps=64 * bars)
        report["lengths"][str(bars)] = {
            "form": form_report(
                [decode_notes(p)[0] for p in continued],
                whole_excerpts(real_scores, bars),
                [decode_notes(p)[0] for p in plain],
            ),
            "continued": sections_report(continued, bars, tolerance),
            "in_one_go": sections_report(in_one_go, bars, tolerance),
            "minor_share": {
                QUADRANTS[q - 1]: minor_share(continued[(q - 1) * pieces_per_quadrant : q * pieces_per_quadrant])
                for q in range(1, 5)
            },
        }
    entries = report["lengths"].values()
    report["all_within_tolerance"] = all(entry["continued"]["within_tolerance"] for entry in entries)
    report["recurrence_within_real_range"] = all(entry["form"]["within_real_range"] for entry in entries)
    return report
