"""Scaled JPEG decoding (the scoring fast path) against Pillow's own decode of the same files."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emoscore.errors import InvalidImage
from emoscore.images import decode_image


def smooth_photo(width: int, height: int) -> Image.Image:
    """A photo-like image (smooth gradients and a block), so downscaled decodes are comparable pixel by pixel."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], axis=-1)
    pixels[height // 4 : height // 2, width // 4 : width // 2] = (200, 30, 90)
    return Image.fromarray(pixels.astype(np.uint8))


def test_scaled_decode_matches_a_full_decode_resized(tmp_path):
    path = tmp_path / "photo.jpg"
    smooth_photo(1600, 1200).save(path, quality=92)
    scaled = decode_image(path, draft=(256, 256))
    assert scaled.size == (400, 300)  # 1/4 is the smallest scale still ≥ 256 on both sides
    reference = np.asarray(Image.open(path).convert("RGB").resize(scaled.size, Image.Resampling.BOX), dtype=float)
    assert np.abs(np.asarray(scaled, dtype=float) - reference).mean() < 3


def test_scaled_decode_applies_exif_orientation(tmp_path):
    path = tmp_path / "portrait.jpg"
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90°
    smooth_photo(1600, 1200).save(path, quality=90, exif=exif)
    assert decode_image(path, draft=(256, 256)).size == (300, 400)
    assert decode_image(path).size == (1200, 1600)


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_grey_and_cmyk_jpegs_decode_to_rgb(tmp_path, mode):
    path = tmp_path / f"{mode}.jpg"
    smooth_photo(800, 600).convert(mode).save(path, quality=90)
    image = decode_image(path, draft=(128, 128))
    assert image.mode == "RGB" and image.size == (200, 150)


def test_truncated_jpeg_is_refused_with_its_name(tmp_path):
    path = tmp_path / "cut.jpg"
    smooth_photo(800, 600).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(InvalidImage, match=r"cut\.jpg.*truncated or corrupt"):
        decode_image(path, draft=(128, 128))


def _prepared(path, detector="none"):
    from emoscore.catalog.table import ImageFile
    from emoscore.scoring.people import prepare_image

    return prepare_image(
        ImageFile(str(path), "id", 0),
        context_size=224,
        body_size=128,
        detector=detector,
        detector_weights=None,
        max_pixels=200_000_000,
    )


def test_rows_record_the_displayed_size_and_boxes_in_its_pixels(tmp_path):
    """A 12-MP JPEG decoded at 1/8 scale, and a phone photo stored 4032×3024 that displays upright as 3024×4032:
    width, height and the person box are those of the image as displayed, not of the reduced decode."""
    smooth_photo(4000, 3000).save(tmp_path / "camera.jpg", quality=85)
    phone = smooth_photo(4032, 3024)
    exif = phone.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    phone.save(tmp_path / "phone.jpg", exif=exif, quality=85)
    for name, size in (("camera.jpg", (4000, 3000)), ("phone.jpg", (3024, 4032))):
        prepared = _prepared(tmp_path / name)
        assert prepared.error is None and (prepared.width, prepared.height) == size
        assert prepared.boxes == [(0, 0, *size)]  # the whole image, in full-resolution pixels
        assert decode_image(tmp_path / name, draft=(256, 256)).width < size[0] // 4  # still decoded small


def test_a_people_detector_sees_enough_pixels_and_its_boxes_come_back_in_full_pixels(tmp_path, monkeypatch):
    from emoscore.emotic.detect import Detection
    from emoscore.scoring import people

    seen = []

    def detector(image):
        seen.append(image.size)
        return [Detection((image.width / 4, image.height / 4, image.width / 2, image.height), 0.9)]

    monkeypatch.setattr(people, "_detector", lambda name, weights: detector)
    smooth_photo(4000, 3000).save(tmp_path / "big.jpg", quality=85)
    prepared = _prepared(tmp_path / "big.jpg", detector="hog")
    assert min(seen[0]) >= people.DETECTOR_SIDE
    assert np.abs(np.subtract(prepared.boxes[0], (1000, 750, 2000, 3000))).max() <= 2  # clip_box rounds outwards


def test_heic_and_avif_decode_and_raw_files_are_skipped_with_a_reason(tmp_path):
    from emoscore.images import RAW_REASON
    from emoscore.scoring.listing import Skipped, iter_library

    picture = smooth_photo(160, 120)
    picture.save(tmp_path / "iphone.HEIC")
    picture.save(tmp_path / "web.avif")
    (tmp_path / "camera.CR2").write_bytes(b"II*\x00raw sensor data")
    for name in ("iphone.HEIC", "web.avif"):
        decoded = np.asarray(decode_image(tmp_path / name), dtype=float)
        assert decoded.shape == (120, 160, 3) and np.abs(decoded - np.asarray(picture)).mean() < 6  # lossy codecs
    found = list(iter_library(tmp_path))
    assert sorted(p.name for p in found if not isinstance(p, Skipped)) == ["iphone.HEIC", "web.avif"]
    assert [(Path(s.path).name, s.reason) for s in found if isinstance(s, Skipped)] == [("camera.CR2", RAW_REASON)]
