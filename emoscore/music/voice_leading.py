"""Fewer repeated notes, at decoding time: the pitches struck at the onset before are lowered in the pitch logits.

Measured (docs/music.md, "How the voices move"): the demo's model strikes the same pitch again at the next onset far
more often than real music does (a fifth of its top-line steps are unisons against a tenth in held-out scores, and
a third of all its voices' steps against an eighth), which is most of what keeps its interval distributions from
real music's. A repetition penalty (Keskar et al., 2019, CTRL) on those pitches alone: `repeat_penalty` is
subtracted from their logits, so the model's own order of the other pitches stands. 0 is off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def repeat_offsets(struck_before: Sequence[Sequence[int]], size: int, strength: float) -> np.ndarray:
    """Offsets [rows, size] for pitch logits: −`strength` at each row's pitch values struck at the onset before."""
    offsets = np.zeros((len(struck_before), size), dtype=np.float32)
    for row, pitches in enumerate(struck_before):
        values = [pitch for pitch in pitches if 0 < pitch < size]
        offsets[row, values] = -strength
    return offsets
