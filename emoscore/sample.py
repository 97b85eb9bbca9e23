"""A deterministic sample dataset in the real EMOTIC format, with a signal a model can learn.

Each person gets a VAD state; categories are drawn near VAD prototypes of the categories, so labels agree with
each other as they do in EMOTIC. The picture carries the labels: the scene's hue, brightness and stripe frequency
follow valence, arousal and dominance, and the person's clothing shows one colour band per category. Noise,
varied sizes and a few boxes past the image edge keep it from being trivial; `inject_faults` adds the record
faults real annotation files have (missing image, NaN VAD, empty box) so `prepare_emotic` shows its counting.
"""

from __future__ import annotations

import colorsys
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from emoscore.config import SampleParams
from emoscore.emotic.annotations import ImageAnnotation, PersonAnnotation, write_annotations_mat
from emoscore.emotic.labels import CATEGORIES, NUM_CATEGORIES

log = logging.getLogger(__name__)

SAMPLE_FOLDERS = ("mscoco/images", "framesdb/images", "emodb_small/images", "ade20k/images")

# Where each category sits in (valence, arousal, dominance) on the 1–10 scale, roughly as in the affect literature.
CATEGORY_VAD_PROTOTYPES: dict[str, tuple[float, float, float]] = {
    "Affection": (8.0, 5.0, 6.0),
    "Anger": (2.5, 8.0, 7.0),
    "Annoyance": (3.0, 6.5, 6.0),
    "Anticipation": (6.5, 6.5, 6.0),
    "Aversion": (3.0, 5.5, 5.5),
    "Confidence": (7.5, 6.5, 8.5),
    "Disapproval": (3.0, 5.0, 6.5),
    "Disconnection": (4.5, 3.0, 5.0),
    "Disquietment": (3.5, 6.0, 4.0),
    "Doubt/Confusion": (4.0, 5.0, 3.5),
    "Embarrassment": (3.5, 6.0, 2.5),
    "Engagement": (6.5, 6.0, 6.5),
    "Esteem": (7.0, 5.0, 7.0),
    "Excitement": (8.0, 8.5, 7.0),
    "Fatigue": (4.0, 1.8, 3.5),
    "Fear": (2.0, 8.0, 2.0),
    "Happiness": (8.5, 7.0, 7.0),
    "Pain": (1.8, 6.5, 3.0),
    "Peace": (7.5, 2.5, 6.0),
    "Pleasure": (8.5, 5.5, 6.5),
    "Sadness": (2.0, 3.0, 3.0),
    "Sensitivity": (5.0, 4.0, 4.0),
    "Suffering": (1.5, 5.0, 2.5),
    "Surprise": (6.0, 8.5, 5.0),
    "Sympathy": (6.0, 4.0, 5.0),
    "Yearning": (4.5, 4.5, 4.0),
}
PROTOTYPES = np.array([CATEGORY_VAD_PROTOTYPES[name] for name in CATEGORIES])


def category_colours() -> np.ndarray:
    """One distinct RGB colour per category (13 hues × 2 brightness levels), as uint8 (26, 3)."""
    colours = []
    for index in range(NUM_CATEGORIES):
        hue = (index % 13) / 13.0
        value = 1.0 if index < 13 else 0.55
        colours.append([round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.9, value)])
    return np.array(colours, dtype=np.uint8)


@dataclass(frozen=True)
class SamplePerson:
    """What one generated person feels: the ground truth the picture is drawn from."""

    vad: tuple[float, float, float]
    categories: tuple[str, ...]


def draw_person_state(rng: np.random.Generator) -> SamplePerson:
    """A VAD state and the categories near it (at least one, usually two or three)."""
    vad = np.clip(rng.normal([5.5, 5.5, 5.5], [2.2, 2.0, 1.8]), 1.0, 10.0).round(1)
    distance = np.linalg.norm(PROTOTYPES - vad, axis=1)
    probability = 0.8 / (1.0 + np.exp(2.5 * (distance - 1.8)))
    chosen = rng.random(NUM_CATEGORIES) < probability
    chosen[int(np.argmin(distance))] = True
    names = tuple(name for name, keep in zip(CATEGORIES, chosen, strict=True) if keep)
    return SamplePerson(vad=tuple(float(v) for v in vad), categories=names)  # type: ignore[arg-type]


def scene_background(vad: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Scene whose hue follows valence, brightness arousal, and stripe frequency dominance."""
    valence, arousal, dominance = (float(v) for v in vad)
    hue = 0.62 - 0.5 * (valence - 1) / 9  # blue (sad) → yellow (happy)
    value = 0.3 + 0.65 * (arousal - 1) / 9
    base = np.array(colorsys.hsv_to_rgb(hue, 0.75, value)) * 255
    frequency = 1.0 + 7.0 * (dominance - 1) / 9
    xs = np.linspace(0, 2 * np.pi * frequency, width)
    stripes = 0.25 * np.sin(xs)[None, :, None] * base
    noise = rng.normal(0, 14, (height, width, 3))
    return np.clip(base + stripes + noise, 0, 255).astype(np.uint8)


def paint_person(
    canvas: np.ndarray, box: tuple[int, int, int, int], person: SamplePerson, rng: np.random.Generator
) -> None:
    """A figure in the box: a head, and a torso in one colour band per category."""
    x1, y1, x2, y2 = box
    height, width = canvas.shape[:2]
    cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(width, x2), min(height, y2)
    head_bottom = y1 + (y2 - y1) // 4
    yy, xx = np.mgrid[cy1:cy2, cx1:cx2]
    centre_x, centre_y, radius = (x1 + x2) / 2, (y1 + head_bottom) / 2, max(2.0, (head_bottom - y1) / 2)
    head = (xx - centre_x) ** 2 + (yy - centre_y) ** 2 <= radius**2
    canvas[cy1:cy2, cx1:cx2][head] = (224, 188, 160)
    colours = category_colours()
    indices = [CATEGORIES.index(name) for name in person.categories]
    torso_top = max(cy1, head_bottom)
    if cy2 <= torso_top:
        return
    band_edges = np.linspace(torso_top, cy2, len(indices) + 1).astype(int)
    for band, category in enumerate(indices):
        top, bottom = band_edges[band], band_edges[band + 1]
        patch = colours[category].astype(np.float64) + rng.normal(0, 10, (bottom - top, cx2 - cx1, 3))
        canvas[top:bottom, cx1:cx2] = np.clip(patch, 0, 255).astype(np.uint8)


def _person_box(width: int, height: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    box_w = int(rng.uniform(0.22, 0.45) * width)
    box_h = int(rng.uniform(0.5, 0.9) * height)
    x1 = int(rng.uniform(-0.05 * width, width - 0.9 * box_w))
    y1 = int(rng.uniform(0, height - 0.9 * box_h))
    return x1, y1, x1 + box_w, y1 + box_h


def _sample_image(
    index: int, split: str, params: SampleParams, rng: np.random.Generator, images_root: Path
) -> ImageAnnotation:
    width = int(params.image_width * rng.uniform(0.85, 1.15))
    height = int(params.image_height * rng.uniform(0.85, 1.15))
    people = [draw_person_state(rng) for _ in range(int(rng.integers(1, params.max_people_per_image + 1)))]
    scene_vad = np.mean([person.vad for person in people], axis=0)
    canvas = scene_background(scene_vad, width, height, rng)
    boxes = [_person_box(width, height, rng) for _ in people]
    for box, person in zip(boxes, people, strict=True):
        paint_person(canvas, box, person, rng)
    folder = SAMPLE_FOLDERS[index % len(SAMPLE_FOLDERS)]
    filename = f"{split}_{index:05d}.jpg"
    target = images_root / folder / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(target, quality=90)
    annotated = tuple(
        PersonAnnotation(bbox=tuple(float(v) for v in box), categories=person.categories, vad=person.vad)  # type: ignore[arg-type]
        for box, person in zip(boxes, people, strict=True)
    )
    return ImageAnnotation(folder, filename, width, height, annotated, where=f"sample:{split}[{index}]")


def _with_faults(images: list[ImageAnnotation], split: str) -> list[ImageAnnotation]:
    """Add the record faults real files have: a missing image, a NaN VAD and an empty box."""
    if not images:
        return images
    template = images[0]
    person = template.people[0]
    missing = ImageAnnotation(template.folder, f"{split}_missing.jpg", template.width, template.height, (person,), "")
    nan_vad = PersonAnnotation(person.bbox, person.categories, (float("nan"), 5.0, 5.0))
    empty_box = PersonAnnotation((50.0, 60.0, 50.0, 90.0), person.categories, person.vad)
    faulty = ImageAnnotation(
        template.folder, template.filename, template.width, template.height, (nan_vad, empty_box), ""
    )
    return [*images, missing, faulty]


def write_emotic_sample(params: SampleParams, inject_faults: bool = True) -> Path:
    """Write `<out>/emotic/Annotations/Annotations.mat` and `<out>/emotic/emotic/<folder>/*.jpg`; return the root."""
    root = params.out / "emotic"
    rng = np.random.default_rng(params.seed)
    splits: dict[str, list[ImageAnnotation]] = {}
    for split, count in params.emotic_images.model_dump().items():
        images = [_sample_image(i, split, params, rng, root / "emotic") for i in range(count)]
        splits[split] = _with_faults(images, split) if inject_faults else images
        log.info("sample EMOTIC %s: %d images", split, count)
    write_annotations_mat(root / "Annotations" / "Annotations.mat", splits)
    return root


# --- EMOPIA ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuadrantStyle:
    """How a quadrant sounds: mode, tempo range, register, notes per beat and loudness (as real pop piano does)."""

    major: bool
    tempo: tuple[int, int]
    melody_octave: int
    bass_octave: int
    subdivisions: tuple[int, ...]
    velocity: tuple[int, int]


QUADRANT_STYLES: dict[int, QuadrantStyle] = {
    1: QuadrantStyle(True, (128, 160), 5, 3, (2, 4), (85, 112)),  # happy, excited
    2: QuadrantStyle(False, (132, 172), 4, 2, (2, 4), (90, 120)),  # tense, angry
    3: QuadrantStyle(False, (56, 76), 4, 2, (1,), (30, 55)),  # sad, tired
    4: QuadrantStyle(True, (64, 88), 5, 3, (1, 2), (40, 65)),  # calm, content
}
MAJOR_SCALE, MINOR_SCALE = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
MAJOR_PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 0), (0, 5, 3, 4))  # I–V–vi–IV, I–IV–V–I, I–vi–IV–V (scale degrees)
MINOR_PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4))  # i–VI–III–VII, i–iv–v–i, i–VII–VI–v


def compose_clip(quadrant: int, bars: int, rng: np.random.Generator) -> tuple[list[tuple[int, int, int, int]], float]:
    """Notes (start 16th, pitch, length in 16ths, velocity) and tempo of a short piano piece in a quadrant's style."""
    style = QUADRANT_STYLES[quadrant]
    scale = MAJOR_SCALE if style.major else MINOR_SCALE
    progression = (MAJOR_PROGRESSIONS if style.major else MINOR_PROGRESSIONS)[int(rng.integers(3))]
    key = int(rng.integers(12))
    tempo = float(rng.integers(*style.tempo))
    notes = []
    melody_degree = int(rng.integers(7))
    for bar in range(bars):
        degree = progression[bar % len(progression)]
        chord = [scale[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in (0, 2, 4)]
        bar_start = bar * 16
        for beat in range(4):
            start = bar_start + beat * 4
            velocity = int(rng.integers(*style.velocity))
            bass = 12 * style.bass_octave + key + chord[0]
            if style.subdivisions[-1] >= 2:  # driving left hand: broken chord in eighths
                for half, tone in enumerate((chord[0], chord[2 - beat % 2])):
                    notes.append((start + 2 * half, 12 * style.bass_octave + key + tone, 2, velocity - 8))
            elif beat % 2 == 0:  # slow left hand: sustained bass and chord every two beats
                notes.append((start, bass, 8, velocity - 5))
                notes.extend((start, 12 * (style.bass_octave + 1) + key + t, 8, velocity - 12) for t in chord[1:])
            subdivision = int(rng.choice(style.subdivisions))
            step = 4 // subdivision
            for sub in range(subdivision):
                melody_degree = int(np.clip(melody_degree + rng.integers(-2, 3), 0, 13))
                if sub == 0 and rng.random() < 0.5:  # lean on chord tones on the beat
                    melody_degree = chord[int(rng.integers(3))] // 2 + 7 * (melody_degree // 7)
                octave, index = divmod(melody_degree, 7)
                pitch = 12 * (style.melody_octave + octave) + key + scale[index]
                if quadrant == 2 and rng.random() < 0.2:
                    pitch += 1  # chromatic tension
                notes.append((start + sub * step, min(pitch, 100), step, velocity))
    return notes, tempo


def write_clip_midi(path: Path, notes: list[tuple[int, int, int, int]], tempo: float, ticks_per_beat: int) -> None:
    """A piano MIDI file (melody and accompaniment on separate tracks, as transcriptions often are)."""
    import miditoolkit

    midi = miditoolkit.MidiFile(ticks_per_beat=ticks_per_beat)
    sixteenth = ticks_per_beat // 4
    right = miditoolkit.Instrument(program=0, name="Right hand")
    left = miditoolkit.Instrument(program=0, name="Left hand")
    for start, pitch, length, velocity in notes:
        hand = right if pitch >= 60 else left
        hand.notes.append(
            miditoolkit.Note(velocity=int(np.clip(velocity, 1, 127)), pitch=int(pitch), start=start * sixteenth,
                             end=(start + length) * sixteenth - 1)
        )  # fmt: skip
    midi.instruments.extend([right, left])
    midi.tempo_changes = [miditoolkit.TempoChange(tempo, 0)]
    midi.time_signature_changes = [miditoolkit.TimeSignature(4, 4, 0)]
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.dump(str(path))


def write_transcribed_midi(
    path: Path, notes: list[tuple[int, int, int, int]], tempo: float, rng: np.random.Generator
) -> None:
    """A MIDI file as EMOPIA's transcriptions are: one piano track at a nominal 120 BPM (384 ticks per beat) with
    onsets in seconds, a few milliseconds of timing jitter, played-length notes and the sustain pedal per bar."""
    import miditoolkit

    ticks_per_second = 384 * 2  # 120 BPM
    sixteenth = 60.0 / tempo / 4
    piano = miditoolkit.Instrument(program=0, name="Piano")
    for start, pitch, length, velocity in notes:
        onset = max(0.0, start * sixteenth + rng.normal(0, 0.008))
        end = onset + length * sixteenth * rng.uniform(0.8, 0.95)
        played = int(np.clip(velocity + rng.integers(-4, 5), 1, 127))
        piano.notes.append(
            miditoolkit.Note(played, int(pitch), round(onset * ticks_per_second), round(end * ticks_per_second))
        )
    bars = max(start for start, *_ in notes) // 16 + 1
    for bar in range(bars):
        down, up = bar * 16 * sixteenth + 0.02, (bar + 1) * 16 * sixteenth - 0.03
        piano.control_changes += [miditoolkit.ControlChange(64, 100, round(down * ticks_per_second)),
                                  miditoolkit.ControlChange(64, 0, round(up * ticks_per_second))]  # fmt: skip
    midi = miditoolkit.MidiFile(ticks_per_beat=384)
    midi.instruments.append(piano)
    midi.tempo_changes = [miditoolkit.TempoChange(120.0, 0)]
    midi.time_signature_changes = [miditoolkit.TimeSignature(4, 4, 0)]
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.dump(str(path))


def write_piece(path: Path, quadrant: int, bars: int, transcribed: bool, rng: np.random.Generator) -> None:
    """One sample piece in a quadrant's style: quantised with its true tempo, or as a transcription would be."""
    notes, tempo = compose_clip(quadrant, bars, rng)
    if transcribed:
        write_transcribed_midi(path, notes, tempo, rng)
    else:
        write_clip_midi(path, notes, tempo, int(rng.choice([384, 480, 960])))


def write_emopia_sample(params: SampleParams) -> Path:
    """Write `<out>/emopia/{midis/Q*_*.mid, label.csv, split/*_clip.csv}`; return the root. A share of the clips
    are written as EMOPIA's real files are (transcriptions with a nominal tempo), the rest with a true tempo map."""
    import csv

    root = params.out / "emopia"
    rng = np.random.default_rng(params.seed + 1)
    labels, splits = [], {"train": [], "val": [], "test": []}
    for quadrant in (1, 2, 3, 4):
        for song_index in range(params.emopia_songs_per_quadrant):
            song = f"sample{quadrant}{song_index:03d}"
            split = ("train", "val", "test")[0 if song_index % 5 < 3 else (1 if song_index % 5 == 3 else 2)]
            for clip in range(params.emopia_clips_per_song):
                clip_id = f"Q{quadrant}_{song}_{clip}"
                transcribed = rng.random() < params.transcribed_share
                write_piece(root / "midis" / f"{clip_id}.mid", quadrant, params.emopia_bars, transcribed, rng)
                labels.append((clip_id, quadrant))
                splits[split].append(clip_id)
    with (root / "label.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "4Q", "annotator"])
        writer.writerows((clip_id, quadrant, "sample") for clip_id, quadrant in labels)
    (root / "split").mkdir(parents=True, exist_ok=True)
    for split, clip_ids in splits.items():
        with (root / "split" / f"{split}_clip.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["clip_name"])
            writer.writerows([clip_id] for clip_id in clip_ids)
    log.info("sample EMOPIA: %d clips", len(labels))
    return root


def write_unlabeled_sample(params: SampleParams) -> Path:
    """Write `<out>/unlabeled/<style>/piece_NNN.mid`: music with no emotion label, for pretraining."""
    root = params.out / "unlabeled"
    rng = np.random.default_rng(params.seed + 2)
    for index in range(params.unlabeled_pieces):
        quadrant = int(rng.integers(1, 5))
        bars = int(rng.integers(8, 17))
        transcribed = rng.random() < params.transcribed_share
        folder = "transcribed" if transcribed else "scores"
        write_piece(root / folder / f"piece_{index:03d}.mid", quadrant, bars, transcribed, rng)
    log.info("sample unlabeled corpus: %d pieces", params.unlabeled_pieces)
    return root


# --- photos to score -----------------------------------------------------------------------------------------------


def write_sample_photos(params: SampleParams) -> Path:
    """Photos for the `score_demo` stage, drawn like the EMOTIC sample (so the trained model reads them), in the
    formats and folder shapes real libraries have: nested albums, JPEG/PNG/WebP, an upper-case extension, and one
    truncated JPEG that must become an error row, not a crash."""
    root = params.out / "photos"
    rng = np.random.default_rng(params.seed + 2)
    formats = (("act1", "jpg", "JPEG"), ("act1", "png", "PNG"), ("act2/night", "webp", "WEBP"), ("act2", "JPG", "JPEG"))
    for index in range(params.photos):
        folder, suffix, kind = formats[index % len(formats)]
        width, height = int(params.image_width * 2.5), int(params.image_height * 2.5)
        people = [draw_person_state(rng) for _ in range(int(rng.integers(1, params.max_people_per_image + 1)))]
        canvas = scene_background(np.mean([p.vad for p in people], axis=0), width, height, rng)
        for person in people:
            paint_person(canvas, _person_box(width, height, rng), person, rng)
        path = root / folder / f"still_{index:03d}.{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(canvas).save(path, kind, **({"quality": 90} if kind in ("JPEG", "WEBP") else {}))
    if params.photos:
        whole = (root / "act1" / "still_000.jpg").read_bytes()
        (root / "act2").mkdir(parents=True, exist_ok=True)  # with fewer than 4 photos nothing else is there
        (root / "act2" / "damaged_upload.jpg").write_bytes(whole[: len(whole) // 3])
    log.info("sample photos: %d (+1 truncated on purpose)", params.photos)
    return root
