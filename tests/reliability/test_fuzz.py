"""Bounded fuzzing of the decoders that read untrusted files: images, MIDI, Annotations.mat and the CSV layout.

Whatever the bytes, the only outcomes allowed are a valid result or the project's own error naming the file.
"""

import io
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from emoscore.config import EmoticParams
from emoscore.emotic.annotations import ImageAnnotation, PersonAnnotation, write_annotations_mat
from emoscore.emotic.csv_layout import write_annotations_csv
from emoscore.emotic.prepare import prepare_emotic_split
from emoscore.errors import InvalidImage, InvalidMidi
from emoscore.images import decode_image
from emoscore.music.cp import encode_midi
from emoscore.music.vocabulary import VOCABULARY
from tests.music.test_cp import write_midi

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _seed_images() -> list[bytes]:
    rng = np.random.default_rng(0)
    pixels = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    seeds = []
    for kind, options in (("JPEG", {"quality": 80}), ("PNG", {}), ("GIF", {}), ("WEBP", {}), ("TIFF", {}), ("BMP", {})):
        buffer = io.BytesIO()
        pixels.save(buffer, kind, **options)
        seeds.append(buffer.getvalue())
    return seeds


SEED_IMAGES = _seed_images()


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """A seed file with bytes flipped, cut, or garbage spliced in."""
    flips = st.lists(st.tuples(st.integers(0, max(0, len(seed) - 1)), st.integers(0, 255)), max_size=12)
    return st.tuples(flips, st.integers(0, len(seed)), st.binary(max_size=64)).map(lambda t: _apply(seed, *t))


def _apply(seed: bytes, flips: list, cut: int, garbage: bytes) -> bytes:
    data = bytearray(seed)
    for position, value in flips:
        data[position] = value
    return bytes(data[:cut]) + garbage if garbage else bytes(data[: max(cut, 1)])


@FUZZ
@given(st.one_of(*[mutated(seed) for seed in SEED_IMAGES], st.binary(max_size=300)), st.sampled_from([None, (8, 8)]))
def test_image_decoder_never_escapes(tmp_path_factory, data, draft):
    path = tmp_path_factory.mktemp("img") / "fuzz.jpg"
    path.write_bytes(data)
    try:
        image = decode_image(path, max_pixels=4_000_000, draft=draft)
    except InvalidImage as error:
        assert "fuzz.jpg" in str(error)
    else:
        assert image.mode == "RGB" and image.width > 0 and image.height > 0


def _seed_midi(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("seed") / "seed.mid"
    write_midi(path, [(i * 120, i * 120 + 200, 40 + (i * 5) % 50, 30 + i % 90) for i in range(40)])
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_midi_reader_never_escapes(tmp_path_factory, data):
    seed = _seed_midi(tmp_path_factory)
    content = data.draw(st.one_of(mutated(seed), st.binary(max_size=200)))
    path = tmp_path_factory.mktemp("midi") / "fuzz.mid"
    path.write_bytes(content)
    timing = data.draw(st.sampled_from(["file", "auto", "beat_track"]))  # beat tracking must survive junk too
    try:
        steps = encode_midi(path, timing=timing)
    except InvalidMidi as error:
        assert "fuzz.mid" in str(error)
    else:
        assert ((steps >= 0) & (steps < np.array(VOCABULARY.sizes))).all()


def _annotations(tmp_path):
    images_dir = tmp_path / "emotic"
    (images_dir / "f").mkdir(parents=True)
    Image.new("RGB", (40, 30), "red").save(images_dir / "f" / "a.jpg")
    person = PersonAnnotation((1, 1, 30, 25), ("Peace", "Happiness"), (6.0, 4.0, 5.0))
    images = [ImageAnnotation("f", "a.jpg", 40, 30, (person, person), where="")] * 3
    write_annotations_mat(tmp_path / "Annotations" / "Annotations.mat", {s: images for s in ("train", "val", "test")})
    write_annotations_csv(tmp_path / "csv" / "train.csv", images)
    return images_dir


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_prepare_survives_mutated_annotations(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("emotic")
    _annotations(root)
    for source in (root / "Annotations" / "Annotations.mat", root / "csv" / "train.csv"):
        source.write_bytes(data.draw(mutated(source.read_bytes())))
    for annotations in (Path("Annotations"), root / "csv"):
        params = EmoticParams(
            root=root,
            annotations=annotations,
            out=root / "out",
            context_size=32,
            body_size=32,
            num_workers=0,
            max_logged_errors=0,
        )
        for split in ("train", "val", "test"):
            report = prepare_emotic_split(params, split)
            assert report["people_kept"] + report["people_skipped"] >= 0
            assert all(isinstance(count, int) for count in report["skipped_by_reason"].values())
