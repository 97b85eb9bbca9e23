"""Safe image decoding: EXIF orientation applied, any mode to RGB, a pixel limit, clear errors naming the file."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pillow_heif
import simplejpeg
from PIL import Image, ImageOps, UnidentifiedImageError

from emoscore.errors import InvalidImage

pillow_heif.register_heif_opener()  # HEIC/HEIF, what iPhones store; Pillow reads AVIF itself

# 100 megapixels: above any phone or DSLR still, far below what a decompression bomb asks for.
DEFAULT_MAX_PIXELS = 100_000_000
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif", ".avif"}
)
# camera RAW: a demosaicing decoder is its own project; such files are skipped with this reason
RAW_SUFFIXES = frozenset(
    {
        ".cr2",
        ".cr3",
        ".nef",
        ".nrw",
        ".arw",
        ".srf",
        ".dng",
        ".raf",
        ".orf",
        ".rw2",
        ".pef",
        ".srw",
        ".x3f",
        ".3fr",
        ".iiq",
        ".rwl",
    }
)
RAW_REASON = "camera RAW file (not decoded: export a JPEG or HEIC of it)"
TRANSPOSING = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height
DISPLAYED_SIZE = "emoscore.displayed_size"  # info key: (width, height) of the full image as displayed


def displayed_size(opened: Image.Image) -> tuple[int, int]:
    """Width and height of an opened image as it is displayed: after its EXIF orientation, at full resolution."""
    width, height = opened.size
    orientation = opened.getexif().get(0x0112, 1)
    return (height, width) if orientation in TRANSPOSING else (width, height)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode (P, LA, CMYK, I;16, F, …) to 8-bit RGB; alpha is composited on white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = values.max() if values.size else 1.0
        scaled = (values * (255.0 / top) if top > 0 else values).clip(0, 255).astype(np.uint8)
        return Image.fromarray(scaled, mode="L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _decode_jpeg_scaled(
    path: Path | str, opened: Image.Image, size: tuple[int, int], data: bytes | None = None
) -> Image.Image:
    """An RGB/grey JPEG decoded by libjpeg-turbo at the largest 1/2…1/8 scale still at least `size`, upright.

    Strict: a truncated or corrupt stream raises ValueError (Pillow's draft would too) instead of grey filling.
    """
    try:
        stream = data if data is not None else Path(path).read_bytes()
        pixels = simplejpeg.decode_jpeg(stream, colorspace="RGB", min_width=size[0], min_height=size[1], strict=True)
    except ValueError as error:
        raise InvalidImage(path, f"truncated or corrupt image data: {error}") from None
    image = Image.fromarray(pixels)
    if "exif" in opened.info:
        image.info["exif"] = opened.info["exif"]
    return ImageOps.exif_transpose(image)


def decode_image(
    path: Path | str,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft: tuple[int, int] | None = None,
    data: bytes | None = None,
) -> Image.Image:
    """Open an image fully (first frame of animations) as upright RGB or raise InvalidImage with the reason.

    `draft` lets JPEG decoding scale down by a power of two while decoding, when the caller only needs that size;
    the full displayed size stays in `image.info[DISPLAYED_SIZE]` (what the catalog records, boxes are scaled to).
    `data` holds the file's bytes when they were read elsewhere (an object of a store: `path` is then its URI).
    """
    path = str(path) if data is not None else Path(path)  # a URI keeps its `//` in every message
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data) if data is not None else path) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise InvalidImage(path, f"{width}x{height} pixels exceeds the limit of {max_pixels:,}")
                if width == 0 or height == 0:
                    raise InvalidImage(path, "image has zero width or height")
                opened.seek(0)
                shown = displayed_size(opened)
                if draft is not None and opened.format == "JPEG" and opened.mode in ("RGB", "L"):
                    image = _decode_jpeg_scaled(path, opened, draft, data)
                else:
                    if draft is not None and opened.format == "JPEG":
                        opened.draft("RGB", draft)
                    opened.load()
                    image = _to_rgb(ImageOps.exif_transpose(opened)).copy()
                image.info[DISPLAYED_SIZE] = shown
                return image
    except InvalidImage:
        raise
    except FileNotFoundError:
        raise InvalidImage(path, "file not found") from None
    except PermissionError:
        raise InvalidImage(path, "permission denied") from None
    except IsADirectoryError:
        raise InvalidImage(path, "is a directory") from None
    except UnidentifiedImageError:
        size = len(data) if data is not None else path.stat().st_size if path.exists() else 0
        reason = "empty file (0 bytes)" if size == 0 else "not a recognised image format"
        raise InvalidImage(path, reason) from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise InvalidImage(path, f"decompression bomb refused: {error}") from None
    except OSError as error:
        raise InvalidImage(path, f"truncated or corrupt image data: {error}") from None
    except (ValueError, SyntaxError, EOFError) as error:
        raise InvalidImage(path, f"corrupt image: {error}") from None
