"""A deterministic sample film for the `score_film_demo` stage: scenes drawn like the sample photos (so the trained
model reads them), each with people of one quadrant's emotion, a slow camera pan inside a scene and hard cuts
between scenes of different lengths, encoded as H.264 in MP4 with PyAV."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np

from emoscore.config import SampleParams
from emoscore.samples.datasets import SamplePerson, _person_box, categories_near, paint_person, scene_background

log = logging.getLogger(__name__)

QUADRANT_POINTS = {"Q1": (8.2, 8.2), "Q2": (2.3, 8.2), "Q3": (2.3, 2.3), "Q4": (8.2, 2.3)}  # (valence, arousal)
SCENE_ORDER = ("Q1", "Q3", "Q2", "Q4")  # every change crosses a boundary of the arc
PAN = 2  # pixels the camera moves per frame


def _scene_canvas(quadrant: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    valence, arousal = QUADRANT_POINTS[quadrant]
    people = []
    for _ in range(int(rng.integers(1, 3))):
        vad = np.clip(rng.normal([valence, arousal, 5.5], [0.4, 0.4, 1.0]), 1.0, 10.0).round(1)
        people.append(SamplePerson(tuple(float(v) for v in vad), categories_near(vad, rng)))  # type: ignore[arg-type]
    canvas = scene_background(np.mean([p.vad for p in people], axis=0), width, height, rng)
    for person in people:
        paint_person(canvas, _person_box(width, height, rng), person, rng)
    return canvas


def write_sample_film(params: SampleParams, path: Path | None = None) -> tuple[Path, list[int], list[str]]:
    """Write the sample film (default `<sample.out>/film.mp4`); its path, the first frame of every scene after the
    first (the cuts a detector should find) and each scene's quadrant."""
    path = path or params.out / "film.mp4"
    rng = np.random.default_rng(params.seed + 3)
    width, height, fps = params.film_width, params.film_height, params.film_fps
    quadrants = [SCENE_ORDER[i % len(SCENE_ORDER)] for i in range(params.film_scenes)]
    lengths = [round(params.film_scene_seconds * rng.uniform(0.7, 1.3) * fps) for _ in quadrants]
    cuts = [int(cut) for cut in np.cumsum(lengths)[:-1]]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(temporary), "w") as film:
        stream = film.add_stream("libx264", rate=fps, options={"crf": "20", "g": str(2 * fps)})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1  # one thread: the same parameters always make the same bytes
        shown = 0
        for quadrant, length in zip(quadrants, lengths, strict=True):
            canvas = _scene_canvas(quadrant, width + PAN * length, height, rng)
            for offset in range(length):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(canvas[:, PAN * offset : PAN * offset + width]))
                frame.pts = shown
                shown += 1
                for packet in stream.encode(frame):
                    film.mux(packet)
        for packet in stream.encode(None):
            film.mux(packet)
    temporary.replace(path)
    log.info("sample film: %d scenes, %d frames at %d fps", len(quadrants), shown, fps)
    return path, cuts, quadrants
