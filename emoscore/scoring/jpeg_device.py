"""JPEG decoding on the scoring device: a batch of files decoded together by torchvision (nvjpeg on a GPU), turned
upright and scaled down there, so only the small image the crops need comes back to the host.

The CPU path (images.decode_image) lets libjpeg-turbo decode at 1/2…1/8 scale, which is hard to beat on a core;
on a GPU host with few cores per GPU the decoder is what keeps the model fed. Files this path cannot take (not a
JPEG, CMYK, over the pixel limit, a stream nvjpeg refuses) come back as None and go the CPU way, where a bad file
gets its reason.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from emoscore.images import DISPLAYED_SIZE, displayed_size

log = logging.getLogger(__name__)


def scaled_size(width: int, height: int, least: int) -> tuple[int, int]:
    """The size libjpeg-turbo's scaled decode gives (what the CPU path gets): the smallest of 1/8, 2/8 … 8/8 of the
    image that leaves both sides at least `least` pixels, each side rounded up."""
    for eighths in range(1, 9):
        size = (math.ceil(width * eighths / 8), math.ceil(height * eighths / 8))
        if min(size) >= least:
            return size
    return width, height


def upright(pixels: torch.Tensor, orientation: int) -> torch.Tensor:
    """A [C, H, W] image turned as its EXIF orientation (1–8) says, as Pillow's exif_transpose does."""
    flipped = pixels.flip(-1) if orientation in (2, 4, 5, 7) else pixels  # mirrored left-right first
    turns = {3: 2, 4: 2, 5: 1, 6: 3, 7: 3, 8: 1}.get(orientation, 0)  # then quarter turns anticlockwise
    return torch.rot90(flipped, turns, dims=(-2, -1)) if turns else flipped


def _header(path: Path, max_pixels: int, data: bytes | None = None) -> tuple[tuple[int, int], int] | None:
    """(displayed size, EXIF orientation) of a JPEG this path can decode; None sends it the CPU way."""
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as opened:
            width, height = opened.size
            if opened.format != "JPEG" or opened.mode not in ("RGB", "L") or not 0 < width * height <= max_pixels:
                return None
            return displayed_size(opened), int(opened.getexif().get(0x0112, 1))
    except Exception:  # unreadable here: the CPU path names the reason
        return None


def _read(path: Path, data: bytes | None = None) -> torch.Tensor | None:
    """The file's bytes (or `data`, already read) as a uint8 tensor; None if it went away since its header was read,
    or if it does not end in the end-of-image marker: decoders fill a cut-off stream with grey, where the CPU path
    refuses it by name."""
    try:
        data = data if data is not None else path.read_bytes()
    except OSError:
        return None
    return torch.frombuffer(bytearray(data), dtype=torch.uint8) if data.rstrip(b"\0").endswith(b"\xff\xd9") else None


def decode_jpegs(
    paths: list[Path],
    device: torch.device,
    least: int,
    max_pixels: int,
    data: list[bytes | None] | None = None,
) -> list[Image.Image | None]:
    """Each path's image, upright RGB, scaled down on `device` to the size the CPU path's scaled decode gives
    (scaled_size) (info[DISPLAYED_SIZE] holds the full displayed size); None for files left to the CPU. `data`
    holds bytes already read (a store's objects), None where the file is read here."""
    import torchvision.io  # torchvision's ops cost ~1.5 s to import: only when this path is used

    data = data if data is not None else [None] * len(paths)
    headers = [_header(Path(path), max_pixels, data[index]) for index, path in enumerate(paths)]
    streams = {index: _read(Path(paths[index]), data[index]) for index, header in enumerate(headers) if header}
    chosen = [index for index, stream in streams.items() if stream is not None]
    encoded = [streams[index] for index in chosen]
    decoded = _decode(encoded, device, torchvision.io)
    images: list[Image.Image | None] = [None] * len(paths)
    for index, pixels in zip(chosen, decoded, strict=True):
        if pixels is None:
            continue
        (shown, orientation) = headers[index]  # type: ignore[misc]
        width, height = scaled_size(pixels.shape[2], pixels.shape[1], least)
        if (width, height) != (pixels.shape[2], pixels.shape[1]):
            scaled = F.interpolate(pixels[None].float(), size=(height, width), mode="bilinear", antialias=True)
            pixels = scaled[0].round().clamp(0, 255).to(torch.uint8)
        image = Image.fromarray(upright(pixels, orientation).permute(1, 2, 0).contiguous().cpu().numpy())
        image.info[DISPLAYED_SIZE] = shown
        images[index] = image
    return images


def _decode(encoded: list[torch.Tensor], device: torch.device, io) -> list[torch.Tensor | None]:  # noqa: ANN001
    """Decode all streams in one call (nvjpeg batches them); if the batch fails, one by one, so one stream nvjpeg
    refuses costs only itself (None)."""
    if not encoded:
        return []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TorchCodec.*")  # torchvision 0.29 points to its successor
        try:
            return list(io.decode_jpeg(encoded, mode=io.ImageReadMode.RGB, device=device))
        except RuntimeError as error:
            log.debug("batched JPEG decoding failed (%s); decoding one by one", error)
        results: list[torch.Tensor | None] = []
        for stream in encoded:
            try:
                results.append(io.decode_jpeg(stream, mode=io.ImageReadMode.RGB, device=device))
            except RuntimeError:
                results.append(None)
        return results
