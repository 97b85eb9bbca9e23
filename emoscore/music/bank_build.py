"""Building a note bank with FluidSynth: each key held and released at the velocities and hold times the SoundFont
needs, the velocity layers found by measurement, and the reverb's response fitted (see `bank` for what it keeps)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from emoscore.music.bank import KEYS, NoteBank
from emoscore.music.playback import BLOCK
from emoscore.music.render import GAIN, RenderUnavailable, _fluidsynth
from emoscore.progress import Progress

log = logging.getLogger(__name__)

HOLD_MAX_S = 8.0  # a bar at the slowest tempo the vocabulary has (32 BPM is 7.5 s); a longer note is released here
SILENCE_DB = -60.0  # a held note is kept until it stays this far below its key's loudest note
RELEASE_HOLDS_S = (0.0015, 0.03, 0.06, 0.12, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
RELEASE_MAX_S = 1.5  # a release longer than this is cut here (FluidR3's piano: ~0.4 s)
VELOCITY_PROBE_S = 0.35  # how much of a note decides its velocity's anchor and gain
ANCHOR_TARGET_DB = 40.0  # a velocity's residual, below its key's loudest note, that needs no further anchor
MAX_ANCHORS = 4
VOICE_VELOCITIES = (8, 24, 48, 72, 100, 127)  # how long a voice outlasts its note-off depends on its level …
LAYER_PROBE_KEYS = (33, 60, 84)  # … and its velocity layer: the keys whose releases at every velocity find the layers
LAYER_STEP = 0.02  # a change of release rate (log) between neighbouring velocities that marks a layer's edge
MAX_VOICE_VELOCITIES = 32
LAYER_LOWEST = 16  # below this a release is too quiet for its rate to be measured (it reads as noise)
VOICE_STEP = 8  # blocks between looks at FluidSynth's voice count after a note-off
DITHER = 2  # FluidSynth's 16-bit output dithers by a level or two: a block no louder than this is silence
REVERB_S = 2.0  # the impulse response's length (the player's own grace for the reverb tail)


class _Dry:
    """One FluidSynth synthesizer without reverb or chorus, playing one note at a time from silence."""

    def __init__(self, soundfont: Path, sample_rate: int, reverb: bool = False) -> None:
        fluidsynth = _fluidsynth()
        self.rate = sample_rate
        self.synth = fluidsynth.Synth(gain=GAIN, samplerate=sample_rate)
        self.synth.setting("synth.reverb.active", int(reverb))
        self.synth.setting("synth.chorus.active", 0)
        font = self.synth.sfload(str(soundfont))
        if font == -1:
            self.synth.delete()
            raise RenderUnavailable(f"{soundfont}: FluidSynth cannot load this SoundFont")
        self.synth.program_select(0, font, 0, 0)

    def blocks(self, seconds: float) -> int:
        return max(1, round(seconds * self.rate / BLOCK))

    def note(self, key: int, velocity: int, hold_blocks: int, *, tail_blocks: int, lead_blocks: int = 0) -> np.ndarray:
        """float32 [n, 2]: `lead_blocks` of silence, the note on for `hold_blocks`, then off for `tail_blocks` (then
        every voice killed)."""
        lead = self.synth.get_samples(int(lead_blocks) * BLOCK) if lead_blocks else None
        self.synth.noteon(0, int(key), int(velocity))
        held = self.synth.get_samples(int(hold_blocks) * BLOCK)
        self.synth.noteoff(0, int(key))
        self.voice_end = -1  # blocks after the note-off until FluidSynth had no voice left (to VOICE_STEP)
        tail = []
        for done in range(0, int(tail_blocks), VOICE_STEP):
            tail.append(self.synth.get_samples(min(VOICE_STEP, int(tail_blocks) - done) * BLOCK))
            if self.voice_end < 0 and self.synth.get_active_voice_count() == 0:
                self.voice_end = done + VOICE_STEP
        self.synth.all_sounds_off(0)
        self.synth.get_samples(BLOCK * 64)  # let the killed voices and any effect state empty out
        return np.concatenate([held, *tail] if lead is None else [lead, held, *tail]).reshape(-1, 2).astype(np.float32)

    def close(self) -> None:
        self.synth.delete()


def _block_gains(released: np.ndarray, held: np.ndarray, blocks: int) -> np.ndarray:
    """Least-squares gain, block by block, that turns `held` into `released` (the same voice, enveloped)."""
    n = min(len(released), len(held)) // BLOCK * BLOCK
    r = released[:n].reshape(-1, BLOCK * 2).astype(np.float64)
    h = held[:n].reshape(-1, BLOCK * 2).astype(np.float64)
    gains = (r * h).sum(axis=1) / np.maximum((h * h).sum(axis=1), 1e-12)
    ended = np.flatnonzero(np.abs(r).max(axis=1) <= DITHER)
    if len(ended):  # the voice has ended: only FluidSynth's dither is left
        gains[ended[0] :] = 0.0
    gains = np.clip(gains, 0.0, 1.0)
    out = np.zeros(blocks, dtype=np.float32)
    out[: min(blocks, len(gains))] = gains[:blocks]
    return out


def _rate(gains: np.ndarray, reference: np.ndarray) -> float:
    """How many times faster (in dB) one release falls than a reference, over where both are above -40 dB."""
    both = (gains > 0.01) & (reference > 0.01)
    a, b = np.log(gains[both]), np.log(reference[both])
    return float((a @ b) / (b @ b)) if both.sum() > 4 and (b @ b) > 0 else 1.0


def _velocity_map(dry: _Dry, key: int, anchors: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per velocity 1–127 of a key: the best anchor, its gain, and the residual (dB below the key's loudest)."""
    blocks = dry.blocks(VELOCITY_PROBE_S)
    truth = np.stack([dry.note(key, v, blocks, tail_blocks=0).ravel() for v in range(1, 128)]).astype(np.float64)
    truth = np.concatenate([np.zeros((1, truth.shape[1])), truth])  # row = velocity
    references = truth[anchors]  # [A, n]
    gains = truth @ references.T / np.maximum((references * references).sum(axis=1), 1e-12)  # [128, A]
    errors = (
        (truth**2).sum(axis=1)[:, None] - 2 * gains * (truth @ references.T) + gains**2 * (references**2).sum(axis=1)
    )
    loudest = max(float((truth * truth).sum(axis=1).max()), 1e-12)
    best = np.argmin(errors, axis=1)
    below = 10 * np.log10(loudest / np.maximum(errors[np.arange(128), best], 1e-12))
    below[0] = np.inf
    return best.astype(np.int8), gains[np.arange(128), best].astype(np.float32), below


def _choose_anchors(dry: _Dry) -> list[int]:
    """Anchor velocities, added where the worst velocity on a spread of keys is further from its anchor than
    ANCHOR_TARGET_DB (velocity layers or a velocity-driven filter need them; a gain-only piano needs one)."""
    anchors = [100]
    probes = KEYS[::11]
    while len(anchors) < MAX_ANCHORS:
        worst = np.full(128, np.inf)
        for key in probes:
            worst = np.minimum(worst, _velocity_map(dry, int(key), anchors)[2])
        worst[0] = np.inf
        velocity = int(np.argmin(worst))
        if worst[velocity] >= ANCHOR_TARGET_DB or velocity in anchors:
            break
        anchors.append(velocity)
    return sorted(anchors)


def _voice_velocities(dry: _Dry, hold_blocks: int, release_blocks: int) -> list[int]:
    """The velocities to measure each key's release at: VOICE_VELOCITIES and both sides of every edge where the
    release's rate steps between neighbouring velocities on the probe keys (FluidR3's piano changes its release with
    its velocity layer: a rate interpolated across an edge missed soft short notes by 10 dB of SRR, measured), so
    that between two measured velocities the rate is one layer's."""
    edges: set[int] = set()
    for key in LAYER_PROBE_KEYS:
        reference = None
        rates = []
        for velocity in range(127, 0, -1):
            held = dry.note(key, velocity, hold_blocks + release_blocks, tail_blocks=0)
            released = dry.note(key, velocity, hold_blocks, tail_blocks=release_blocks)
            gains = _block_gains(released[hold_blocks * BLOCK :], held[hold_blocks * BLOCK :], release_blocks)
            reference = gains if reference is None else reference
            rates.append(_rate(gains, reference))
        rate = np.log(np.maximum(np.array(rates[::-1]), 1e-6))  # velocity 1 … 127
        steps = np.flatnonzero(np.abs(np.diff(rate)) > LAYER_STEP) + 1  # velocity v … v + 1 crosses an edge
        edges.update(int(v) for step in steps if step >= LAYER_LOWEST for v in (step, step + 1))
    chosen = sorted(set(VOICE_VELOCITIES) | edges)
    if len(chosen) > MAX_VOICE_VELOCITIES:  # a release that changes with every velocity: no layers to find
        log.warning("the release changes at %d velocities: measuring it at %s only", len(edges), VOICE_VELOCITIES)
        return list(VOICE_VELOCITIES)
    return chosen


def _fit_reverb(soundfont: Path, sample_rate: int, dry: _Dry) -> np.ndarray:
    """The reverb's response [M, 2] to the dry left + right, by least squares over notes across the keyboard."""
    wet = _Dry(soundfont, sample_rate, reverb=True)
    try:
        length = round(REVERB_S * sample_rate)
        hold, tail, most_lead = dry.blocks(0.3), dry.blocks(REVERB_S + 0.5), dry.blocks(3.0)
        size = 1 << int(np.ceil(np.log2((most_lead + hold + tail) * BLOCK + length)))
        cross, power = np.zeros((size // 2 + 1, 2), np.complex128), np.zeros(size // 2 + 1)
        # notes started at many moments of the synthesizer's life: FluidSynth's reverb modulates its delay lines,
        # so its response drifts with time; the fit is the response averaged over those moments
        for i, key in enumerate(KEYS[::2]):
            lead = (i * 97) % most_lead
            x = dry.note(int(key), 100, hold, tail_blocks=tail, lead_blocks=lead).astype(np.float64)
            d = wet.note(int(key), 100, hold, tail_blocks=tail, lead_blocks=lead).astype(np.float64) - x
            spectrum = np.fft.rfft(x.sum(axis=1), size)
            cross += np.conj(spectrum)[:, None] * np.fft.rfft(d, size, axis=0)
            power += np.abs(spectrum) ** 2
        response = np.fft.irfft(cross / (power + 1e-6 * power.max())[:, None], size, axis=0)[:length]
        fade = np.ones(length)
        fade[-length // 10 :] = np.linspace(1, 0, length // 10)
        return (response * fade[:, None]).astype(np.float32)
    finally:
        wet.close()


def build_bank(soundfont: Path, sample_rate: int, *, progress: bool = True) -> NoteBank:
    """Render the bank with FluidSynth: anchors, velocity map, held notes, release gains, reverb."""
    dry = _Dry(soundfont, sample_rate)
    try:
        anchors = _choose_anchors(dry)
        holds = np.array([dry.blocks(h) for h in RELEASE_HOLDS_S]) * BLOCK
        max_hold, release_blocks = dry.blocks(HOLD_MAX_S), dry.blocks(RELEASE_MAX_S)
        pieces: list[np.ndarray] = []
        starts = np.zeros((len(KEYS), len(anchors)), np.int64)
        lengths = np.zeros_like(starts)
        anchor_of, gain_of = np.zeros((len(KEYS), 128), np.int8), np.zeros((len(KEYS), 128), np.float32)
        release = np.zeros((len(KEYS), len(holds), release_blocks), np.float32)
        voice_end = np.full((len(KEYS), len(holds)), release_blocks, np.int64)
        probe = int(np.searchsorted(holds, dry.blocks(0.25) * BLOCK))  # the hold the release is compared after
        velocities = _voice_velocities(dry, int(holds[probe]) // BLOCK, release_blocks)
        voice_shift = np.zeros((len(KEYS), len(velocities)), np.int64)
        release_rate = np.ones((len(KEYS), len(velocities)), np.float32)
        offset = 0
        for k, key in enumerate(Progress(KEYS, desc="note bank", unit="key", disable=not progress)):
            anchor_of[k], gain_of[k], _ = _velocity_map(dry, int(key), anchors)
            held = {a: dry.note(int(key), v, max_hold + release_blocks, tail_blocks=0) for a, v in enumerate(anchors)}
            levels = {
                a: np.sqrt((x.reshape(-1, BLOCK * 2).astype(np.float64) ** 2).mean(axis=1)) for a, x in held.items()
            }
            loudest = max(float(level.max()) for level in levels.values())
            for a, x in held.items():
                level = levels[a]
                audible = np.flatnonzero(level > loudest * 10 ** (SILENCE_DB / 20))
                length = ((int(audible[-1]) + 1) if len(audible) else 1) * BLOCK
                pieces.append(x[:length])
                starts[k, a], lengths[k, a] = offset, length
                offset += length
            reference = held[len(anchors) - 1]
            for h, hold in enumerate(holds):
                released = dry.note(int(key), anchors[-1], hold // BLOCK, tail_blocks=release_blocks)
                release[k, h] = _block_gains(released[hold:], reference[hold:], release_blocks)
                voice_end[k, h] = dry.voice_end if dry.voice_end >= 0 else release_blocks
            # a SoundFont may make a louder note's release longer (FluidR3's piano does): measured per velocity
            hold = int(holds[probe])
            for j, velocity in enumerate(velocities):
                held_v = dry.note(int(key), velocity, hold // BLOCK + release_blocks, tail_blocks=0)
                released = dry.note(int(key), velocity, hold // BLOCK, tail_blocks=release_blocks)
                voice_shift[k, j] = (dry.voice_end if dry.voice_end >= 0 else release_blocks) - voice_end[k, probe]
                release_rate[k, j] = _rate(
                    _block_gains(released[hold:], held_v[hold:], release_blocks), release[k, probe]
                )
        reverb = _fit_reverb(soundfont, sample_rate, dry)
    finally:
        dry.close()
    return NoteBank(
        sample_rate,
        np.array(anchors),
        starts,
        lengths,
        np.concatenate(pieces),
        anchor_of,
        gain_of,
        holds,
        release,
        voice_end,
        np.array(velocities),
        voice_shift,
        release_rate,
        reverb,
    )
