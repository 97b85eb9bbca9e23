"""What may come next in a CP piece as it is decoded: the grammar of Metrical and Note steps, a bar count, and
what two hands can strike at once."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emoscore.music.cp import BAR_BEAT, DURATION, PITCH, TEMPO, TYPE, VELOCITY
from emoscore.music.vocabulary import BAR, CONTI, IGNORE, TYPE_EOS, TYPE_METRICAL, TYPE_NOTE

MAX_STRUCK = 10  # notes struck at one position: what two hands can play (the demo set's clips keep to it too)


@dataclass
class Grammar:
    """What may come next. State: the current bar (1-based), the last beat position in it (-1 before any), the
    last step's type, whether tempo and chord have been set, and the pitches struck at this position (each once,
    at most MAX_STRUCK: a sampler that repeats a note forever is stopped). Exactly `bars` bars are produced.

    In the last bar a drawn Bar ends the piece (`ends`): the model asking for the next bar there is asking to end
    this one, and every draw is made as if more bars could follow (but the last bar is never left empty), so a
    piece asked for fewer bars is the opening of the longer one unless that one's bar there is empty. Masking
    the Bar out instead moved its chance onto later beats, so every piece's last bar, and every chunk's of a
    long piece, was crammed (docs/music.md, "The last bar")."""

    bars: int
    bar: int = 1
    position: int = -1
    last_type: int = TYPE_METRICAL
    tempo_set: bool = False
    chord_set: bool = False
    struck: set[int] = field(default_factory=set)  # pitches struck at the current position

    @property
    def can_beat(self) -> bool:
        """A later position is left in this bar."""
        return self.position < 15

    @property
    def can_bar(self) -> bool:
        """Another bar may start."""
        return self.bar < self.bars

    def allowed_types(self, size: int) -> np.ndarray:
        """A Beat is followed by a Note, a Note by a Note or a Metrical step; EOS only in the last bar after a note."""
        allowed = np.zeros(size, dtype=bool)
        if self.last_type == TYPE_METRICAL and self.position >= 0:
            allowed[TYPE_NOTE] = True
            return allowed
        allowed[TYPE_NOTE] = self.last_type == TYPE_NOTE and len(self.struck) < MAX_STRUCK
        allowed[TYPE_METRICAL] = True  # at the last bar's last position only a Bar is left, which ends it
        allowed[TYPE_EOS] = not self.can_bar and self.last_type == TYPE_NOTE
        return allowed

    def allowed_values(self, family: int, word_type: int, size: int) -> np.ndarray:
        """Values of a family allowed in a step of the given type (tempo/chord of Beats: see beat_values)."""
        allowed = np.zeros(size, dtype=bool)
        if word_type == TYPE_NOTE and family in (PITCH, DURATION, VELOCITY):
            allowed[1:] = True
            if family == PITCH and self.struck:
                allowed[list(self.struck)] = False  # a key is struck once at a time
        elif word_type == TYPE_METRICAL and family == BAR_BEAT:
            allowed[2 + self.position + 1 :] = True
            allowed[BAR] = True  # past the last bar it ends the piece (`ends`): drawn as if more bars could follow
        else:
            allowed[IGNORE] = True
        return allowed

    def beat_values(self, family: int, size: int) -> np.ndarray:
        """Tempo/chord of a Beat word: a real value the first time, then CONTI or a change."""
        allowed = np.zeros(size, dtype=bool)
        allowed[2:] = True
        allowed[CONTI] = self.tempo_set if family == TEMPO else self.chord_set
        return allowed

    def empties(self, word: list[int]) -> bool:
        """Whether a drawn step is a Bar right after the last bar's own: it would leave that bar empty, so it is
        drawn again without the Bar (where a longer piece has an empty bar, the two part there)."""
        return self.ends(word) and self.position < 0

    def ends(self, word: list[int]) -> bool:
        """Whether a drawn step is a Bar past the last bar, which ends the piece instead of opening one."""
        return word[TYPE] == TYPE_METRICAL and word[BAR_BEAT] == BAR and not self.can_bar

    def advance(self, word: list[int]) -> None:
        """Update the state after a step."""
        self.last_type = word[TYPE]
        if word[TYPE] == TYPE_NOTE:
            self.struck.add(word[PITCH])
        else:
            self.struck.clear()
        if word[TYPE] == TYPE_METRICAL and word[BAR_BEAT] == BAR:
            self.bar, self.position = self.bar + 1, -1
        elif word[TYPE] == TYPE_METRICAL:
            self.position = word[BAR_BEAT] - 2
            self.tempo_set = self.chord_set = True
