"""The demo's EMOPIA-format set from real music: 8-bar clips of public-domain scores in music21's corpus, each given a
quadrant by musical rules, so the model the quickstart trains learns from real melodies and harmony.

Rules (docs/music.md gives the sources): valence from mode — the Krumhansl–Schmuckler margin of the best major key
over the best minor key; arousal from how fast, dense, high and loud the clip is — notes per second (the score's
metronome mark where it has one), mean pitch and the dynamics marks, as z-scores summed and split at the median.
The judge's held-out real scores (the pretraining corpus's validation pieces) are never used; songs are split
train/val/test by piece, never by clip. Clips of the rarer quadrants are also written transposed, so every quadrant
has about as many clips (a transposition keeps mode, tempo and density).
"""

from __future__ import annotations

import csv
import logging
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoscore.config import SampleParams
from emoscore.errors import InvalidMidi
from emoscore.music.corpus import corpus_split
from emoscore.music.cp import Note
from emoscore.music.emopia import song_split
from emoscore.music.emotion_rules import CueFeatures, QuadrantRule, cue_features
from emoscore.music.scores import ScoreSource, corpus_files, read_score, read_scores, transposed
from emoscore.music.vocabulary import POSITIONS_PER_BAR
from emoscore.progress import Progress
from emoscore.samples.music import write_clip_midi, write_layout, write_transcribed_midi

log = logging.getLogger(__name__)

MAX_HANDS = 10  # notes struck at once that two hands can play
MIN_NOTES_PER_BAR = 2.0
SPLIT_FRACTIONS = (0.7, 0.15)  # train, val; the rest test
TRANSPOSITIONS = (0, 5, -3, 2, -5, 3, -2, 4, -4)  # tried in this order when a quadrant needs more clips


@dataclass(frozen=True)
class ScoreClip:
    """An 8-bar (or `bars`) excerpt of a score: its piece, its place in it, notes from onset 0 and tempo."""

    piece: str
    index: int
    notes: tuple[Note, ...]
    bars: int
    bpm: float
    marked: bool


def cut_clips(piece: str, notes: Sequence[Note], bpm: float, marked: bool, bars: int, most: int) -> list[ScoreClip]:
    """Up to `most` non-overlapping `bars`-bar clips from the first full bar on (after a pickup, if any), skipping
    near-empty ones and any with a chord two hands cannot strike."""
    span = bars * POSITIONS_PER_BAR
    clips: list[ScoreClip] = []
    # a pickup fills the end of bar 0 (scores.read_score), so a score that starts on a downbeat has a note at 0
    start = 0 if min(note.onset for note in notes) == 0 else POSITIONS_PER_BAR
    last = max(note.onset for note in notes)
    while start + span <= last + POSITIONS_PER_BAR and len(clips) < most:
        inside = [n for n in notes if start <= n.onset < start + span]
        struck = Counter(n.onset for n in inside)
        if len(inside) >= MIN_NOTES_PER_BAR * bars and max(struck.values()) <= MAX_HANDS:
            moved = tuple(
                Note(n.onset - start, n.pitch, min(n.duration, start + span - n.onset), n.velocity) for n in inside
            )
            clips.append(ScoreClip(piece, len(clips), moved, bars, bpm, marked))
        start += span
    return clips


def clip_features(clip: ScoreClip) -> CueFeatures | None:
    """The rule's inputs for a clip; None when it has no key (a flat pitch-class histogram)."""
    return cue_features(clip.notes, clip.bars, clip.bpm)


@dataclass(frozen=True)
class LabelledClip:
    """A clip, what the rules read from it, its arousal score and the quadrant they give."""

    clip: ScoreClip
    features: CueFeatures
    arousal: float
    quadrant: int


def quadrants(features: Sequence[CueFeatures]) -> list[int]:
    """Each passage's quadrant by the rule fitted on them all (emoscore.music.emotion_rules)."""
    rule = QuadrantRule.fit(features)
    return [rule.quadrant(feature) for feature in features]


def label_clips(described: Sequence[tuple[ScoreClip, CueFeatures]]) -> list[LabelledClip]:
    """Each clip with its arousal score and quadrant by the rule fitted on the whole set."""
    rule = QuadrantRule.fit([feature for _, feature in described])
    return [LabelledClip(clip, feature, rule.arousal(feature), rule.quadrant(feature)) for clip, feature in described]


def read_all(sources: Sequence[ScoreSource], workers: int | None) -> list[tuple[str, list[Note], float, bool]]:
    """Parse the scores (in `workers` processes: `scores.read_scores`); unusable ones are logged and left out."""
    read: list[tuple[str, list[Note], float, bool]] = []
    skipped: Counter[str] = Counter()
    for source, result in Progress(read_scores(sources, read_score, workers), total=len(sources), desc="read scores"):
        if isinstance(result, InvalidMidi):
            skipped[result.kind] += 1
            log.debug("%s", result)
        else:
            read.append((source.name, *result))
    log.info("real-score EMOPIA: %d scores read, skipped %s", len(read), dict(skipped))
    return read


def balance(labelled: Sequence[LabelledClip]) -> list[tuple[LabelledClip, int]]:
    """(clip, semitones): every clip as written, and clips of the rarer quadrants again transposed until each
    quadrant has about as many as the largest (at most len(TRANSPOSITIONS) versions of a clip)."""
    counts = Counter(item.quadrant for item in labelled)
    target = max(counts.values())
    chosen: list[tuple[LabelledClip, int]] = []
    for quadrant in sorted(counts):
        mine = [item for item in labelled if item.quadrant == quadrant]
        versions = min(len(TRANSPOSITIONS), round(target / len(mine)))
        chosen.extend((item, semitones) for semitones in TRANSPOSITIONS[:versions] for item in mine)
    return chosen


RULE_COLUMNS = (
    "clip_id", "piece", "split", "quadrant", "semitones", "bpm", "tempo_marked",
    "mode_margin", "onsets_per_second", "mean_pitch", "mean_velocity", "arousal",
)  # fmt: skip


def write_emopia_scores(params: SampleParams, workers: int | None = None) -> Path:
    """Write `<out>/emopia/{midis/Q*_*.mid, label.csv, split/*_clip.csv}` from music21's corpus, and beside them
    `labels_by_rule.csv` (each clip's piece, split and what its quadrant was read from); return the root."""
    root = params.out / "emopia"
    shutil.rmtree(root / "midis", ignore_errors=True)  # no clip of an earlier set stays behind
    rng = np.random.default_rng(params.seed + 1)
    chosen = corpus_files(params.emopia_music21, params.emopia_music21_files)
    sources = [source for source in chosen if corpus_split(source.name) == "train"]  # never the judge's reference
    clips = [
        clip
        for name, notes, bpm, marked in read_all(sources, workers)
        for clip in cut_clips(name, notes, bpm, marked, params.emopia_bars, params.emopia_clips_per_song)
    ]
    described = [(clip, feature) for clip in clips if (feature := clip_features(clip)) is not None]
    if not described:
        raise InvalidMidi(root, "no usable clip in the chosen music21 scores", "no_notes")
    labelled = label_clips(described)
    pieces = sorted({item.clip.piece for item in labelled})
    songs = {piece: f"{Path(piece).parts[1]}-{index:03d}" for index, piece in enumerate(pieces)}
    labels, splits, rules = [], {"train": [], "val": [], "test": []}, []
    for item, semitones in balance(labelled):
        clip, quadrant = item.clip, item.quadrant
        clip_id = f"Q{quadrant}_{songs[clip.piece]}{'' if semitones == 0 else f't{semitones:+d}'}_{clip.index}"
        notes = [(n.onset, n.pitch, n.duration, n.velocity) for n in transposed(list(clip.notes), semitones)]
        path = root / "midis" / f"{clip_id}.mid"
        if rng.random() < params.transcribed_share:
            write_transcribed_midi(path, notes, clip.bpm, rng)
        else:
            write_clip_midi(path, notes, clip.bpm, int(rng.choice([384, 480, 960])))
        split = song_split(clip.piece, SPLIT_FRACTIONS)
        labels.append((clip_id, quadrant))
        splits[split].append(clip_id)
        features = item.features
        rules.append(
            (clip_id, clip.piece, split, quadrant, semitones, clip.bpm, clip.marked, round(features.mode_margin, 4),
             round(features.onsets_per_second, 3), round(features.mean_pitch + semitones, 2),
             round(features.mean_velocity, 1), round(item.arousal, 4))
        )  # fmt: skip
    write_layout(root, labels, splits)
    with (root / "labels_by_rule.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(RULE_COLUMNS)
        writer.writerows(rules)
    log.info("real-score EMOPIA: clips per quadrant %s", dict(sorted(Counter(q for _, q in labels).items())))
    return root
