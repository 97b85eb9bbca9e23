"""Putting the soundtrack under the picture with PyAV: the film's video packets copied as they are (no
re-encoding, no quality lost) and interleaved with the soundtrack encoded for the container (AAC in MP4/MOV/MKV,
Opus in WebM); and, for a folder of stills, the slideshow video they become."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from emoscore.errors import InvalidVideo
from emoscore.film.scenes import Scene
from emoscore.images import decode_image

KEEPS_CONTAINER = {".mp4": "aac", ".mov": "aac", ".m4v": "aac", ".mkv": "aac", ".webm": "libopus"}
AUDIO_BLOCK = 4800  # samples handed to the encoder at a time (0.1 s at 48 kHz)


def scored_video_name(video: Path) -> str:
    """File name of the scored copy: the film's own container where it can hold the soundtrack, else Matroska."""
    suffix = video.suffix.lower() if video.suffix.lower() in KEEPS_CONTAINER else ".mkv"
    return f"{video.stem}.scored{suffix}"


def mux_soundtrack(video: Path, samples: np.ndarray, sample_rate: int, out: Path) -> Path:
    """Write `out`: the video stream of `video` copied, with `samples` (int16, or float in [-1, 1], [n, 2]) as its
    only audio track; floats go to the encoder as they are (clipped), without a round trip through 16 bits."""
    if np.issubdtype(samples.dtype, np.floating):
        samples, sample_format = np.clip(samples, -1.0, 1.0).astype(np.float32), "flt"
    elif samples.dtype == np.int16:
        sample_format = "s16"
    else:
        raise ValueError(f"soundtrack samples must be int16 or float, not {samples.dtype}")
    codec = KEEPS_CONTAINER.get(out.suffix.lower(), "aac")
    source = av.open(str(video))
    try:
        with av.open(str(out), "w") as target:
            picture = source.streams.video[0]
            copied = target.add_stream_from_template(picture)
            sound = target.add_stream(codec, rate=sample_rate, layout="stereo")
            written = 0
            for packet in source.demux(picture):
                if packet.dts is None:
                    continue
                due = int(float(packet.dts * picture.time_base) * sample_rate) + AUDIO_BLOCK
                written = _encode_audio(
                    target,
                    sound,
                    samples,
                    start=written,
                    stop=min(due, len(samples)),
                    sample_rate=sample_rate,
                    sample_format=sample_format,
                )
                packet.stream = copied
                target.mux(packet)
            _encode_audio(
                target,
                sound,
                samples,
                start=written,
                stop=len(samples),
                sample_rate=sample_rate,
                sample_format=sample_format,
            )
            for packet in sound.encode(None):
                target.mux(packet)
    except av.error.FFmpegError as error:
        raise InvalidVideo(video, f"cannot write the scored video {out.name}: {error}") from None
    finally:
        source.close()
    return out


def _encode_audio(
    target: av.container.OutputContainer,
    sound: av.audio.stream.AudioStream,
    samples: np.ndarray,
    *,
    start: int,
    stop: int,
    sample_rate: int,
    sample_format: str = "s16",
) -> int:
    """Encode and mux samples[start:stop] (packed `sample_format`: s16 or flt) in blocks; returns where it stopped."""
    for begin in range(start, stop, AUDIO_BLOCK):
        block = np.ascontiguousarray(samples[begin : min(begin + AUDIO_BLOCK, stop)])
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format=sample_format, layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, begin, Fraction(1, sample_rate)
        for packet in sound.encode(frame):
            target.mux(packet)
    return max(start, stop)


def slideshow(scenes: Sequence[Scene], out: Path, fps: int, size: tuple[int, int] = (1280, 720)) -> Path:
    """An H.264 video showing each scene's still (letterboxed to `size`) from its start to its end."""
    width, height = size
    with av.open(str(out), "w") as target:
        stream = target.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1  # one thread: the same stills always make the same bytes
        shown = 0
        for scene in scenes:
            picture = _letterboxed(scene.still, size)
            frame = av.VideoFrame.from_image(picture)
            for _ in range(shown, round(scene.end_s * fps)):
                frame.pts = shown
                for packet in stream.encode(frame):
                    target.mux(packet)
                shown += 1
        for packet in stream.encode(None):
            target.mux(packet)
    return out


def _letterboxed(still: Path | None, size: tuple[int, int]) -> Image.Image:
    if still is None:
        raise ValueError("a slideshow scene needs its still")
    image = decode_image(still)
    image.thumbnail(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size)
    canvas.paste(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return canvas
