"""Safe image decoding: EXIF orientation applied, any mode to RGB, a pixel limit, clear errors naming the file."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image, ImageOps, UnidentifiedImageError

from emoscore.errors import InvalidImage

# 100 megapixels: above any phone or DSLR still, far below what a decompression bomb asks for.
DEFAULT_MAX_PIXELS = 100_000_000
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})


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


def _decode_jpeg_scaled(path: Path, opened: Image.Image, size: tuple[int, int]) -> Image.Image:
    """An RGB/grey JPEG decoded by libjpeg-turbo at the largest 1/2…1/8 scale still at least `size`, upright.

    Strict: a truncated or corrupt stream raises ValueError (Pillow's draft would too) instead of grey filling.
    """
    try:
        pixels = simplejpeg.decode_jpeg(
            path.read_bytes(), colorspace="RGB", min_width=size[0], min_height=size[1], strict=True
        )
    except ValueError as error:
        raise InvalidImage(path, f"truncated or corrupt image data: {error}") from None
    image = Image.fromarray(pixels)
    if "exif" in opened.info:
        image.info["exif"] = opened.info["exif"]
    return ImageOps.exif_transpose(image)


def decode_image(
    path: Path | str, max_pixels: int = DEFAULT_MAX_PIXELS, draft: tuple[int, int] | None = None
) -> Image.Image:
    """Open an image fully (first frame of animations) as upright RGB or raise InvalidImage with the reason.

    `draft` lets JPEG decoding scale down by a power of two while decoding, when the caller only needs that size.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise InvalidImage(path, f"{width}x{height} pixels exceeds the limit of {max_pixels:,}")
                if width == 0 or height == 0:
                    raise InvalidImage(path, "image has zero width or height")
                opened.seek(0)
                if draft is not None and opened.format == "JPEG" and opened.mode in ("RGB", "L"):
                    return _decode_jpeg_scaled(path, opened, draft)
                if draft is not None and opened.format == "JPEG":
                    opened.draft("RGB", draft)
                opened.load()
                upright = ImageOps.exif_transpose(opened)
                return _to_rgb(upright).copy()
    except InvalidImage:
        raise
    except FileNotFoundError:
        raise InvalidImage(path, "file not found") from None
    except PermissionError:
        raise InvalidImage(path, "permission denied") from None
    except IsADirectoryError:
        raise InvalidImage(path, "is a directory") from None
    except UnidentifiedImageError:
        size = path.stat().st_size if path.exists() else 0
        reason = "empty file (0 bytes)" if size == 0 else "not a recognised image format"
        raise InvalidImage(path, reason) from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise InvalidImage(path, f"decompression bomb refused: {error}") from None
    except OSError as error:
        raise InvalidImage(path, f"truncated or corrupt image data: {error}") from None
    except (ValueError, SyntaxError, EOFError) as error:
        raise InvalidImage(path, f"corrupt image: {error}") from None
