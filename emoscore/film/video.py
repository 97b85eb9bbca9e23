"""Reading a film with PyAV: its frames through FFmpeg's scene-change filter (scdet) in one pass, which finds the
cuts and proves the file decodes to its end; then the frames at chosen times, for people and VAD.

FFmpeg's scdet is used rather than PySceneDetect: the same content-difference score, with no second OpenCV build
(PySceneDetect pulls in opencv-python, which fights the opencv-python-headless the people detector uses).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from emoscore.errors import InvalidVideo
from emoscore.progress import Progress

log = logging.getLogger(__name__)

TRUNCATION_TOLERANCE_S = 0.5  # a container may promise a little more than its last frame; more means a cut file


@dataclass(frozen=True)
class FilmScan:
    """What one pass over a video found: its geometry, the time of every frame (from 0) and the cut frames."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frame_times: tuple[float, ...]
    cuts: tuple[int, ...]  # indices of the first frame of every scene after the first

    @property
    def frames(self) -> int:
        """Number of frames decoded."""
        return len(self.frame_times)

    @property
    def duration_s(self) -> float:
        """From the first frame to the end of the last one."""
        return self.frame_times[-1] + 1 / float(self.fps) if self.frame_times else 0.0


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise InvalidVideo(path, "file not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InvalidVideo(path, f"cannot be opened as a video: truncated, or not a video file ({reason})") from None
    if not container.streams.video:
        container.close()
        raise InvalidVideo(path, "has no video stream")
    return container


def _declared_duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / av.time_base if container.duration else None


def scan_film(path: Path | str, threshold: float = 10.0, progress: bool = False) -> FilmScan:
    """Decode every frame once through scdet (cuts where its score passes `threshold`, 0–100); InvalidVideo
    naming the file when it is not a video, is damaged, or ends before its container says it does."""
    path = Path(path)
    container = _open(path)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    graph = av.filter.Graph()
    source = graph.add_buffer(template=stream)
    detector = graph.add("scdet", f"threshold={threshold}")
    sink = graph.add("buffersink")
    source.link_to(detector)
    detector.link_to(sink)
    graph.configure()
    times: list[float] = []
    cuts: list[int] = []
    start: float | None = None
    bar = Progress(total=stream.frames or None, desc="reading film", unit="frame", disable=not progress)

    def drain() -> None:
        while True:
            try:
                frame = graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            if "lavfi.scd.time" in frame.metadata and times:
                cuts.append(len(times))
            times.append(float(frame.time) - start)
            bar.update()

    try:
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            start = float(frame.time) if start is None else start
            graph.push(frame)
            drain()
        graph.push(None)
        drain()
        declared = _declared_duration(container, stream)
    except av.error.FFmpegError as error:
        raise InvalidVideo(path, f"damaged after {len(times)} frames ({error})") from None
    finally:
        bar.close()
        container.close()
    if not times:
        raise InvalidVideo(path, "no frame could be decoded")
    fps = stream.average_rate or stream.guessed_rate or Fraction(25)
    scan = FilmScan(path, stream.width, stream.height, Fraction(fps), tuple(times), tuple(cuts))
    if declared is not None and scan.duration_s < declared - TRUNCATION_TOLERANCE_S:
        raise InvalidVideo(
            path, f"truncated: frames decode for {scan.duration_s:.2f} s of the {declared:.2f} s its container declares"
        )
    log.info("%s: %d frames, %d cuts", path, scan.frames, len(cuts))
    return scan


def frames_at(path: Path | str, times: list[float], short_side: int = 800) -> Iterator[tuple[float, Image.Image]]:
    """(time, RGB image) of the frame on screen at each time (seconds from the first frame), in time order, scaled
    down to `short_side` when larger: what the people detector and VAD model read."""
    path = Path(path)
    container = _open(path)
    wanted = iter(sorted(times))
    target = next(wanted, None)
    start, previous, image = None, None, None
    try:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is None:
                continue
            start = float(frame.time) if start is None else start
            while target is not None and previous is not None and float(frame.time) - start > target + 1e-6:
                image = image or _scaled(previous.to_image(), short_side)  # the frame before this one shows then
                yield target, image
                target = next(wanted, None)
            if target is None:
                return
            previous, image = frame, None
        while target is not None and previous is not None:
            image = image or _scaled(previous.to_image(), short_side)
            yield target, image
            target = next(wanted, None)
    except av.error.FFmpegError as error:
        raise InvalidVideo(path, f"damaged ({error})") from None
    finally:
        container.close()


def _scaled(image: Image.Image, short_side: int) -> Image.Image:
    if min(image.size) > short_side:
        scale = short_side / min(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    return image
