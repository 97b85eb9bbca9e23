"""Scaled JPEG decoding (the scoring fast path) against Pillow's own decode of the same files."""

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
