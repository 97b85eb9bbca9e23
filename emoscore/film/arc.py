"""A film's emotional arc: each scene's VAD from its frames' people, smoothed along the film, as a quadrant and an
intensity per scene. The median over a scene's frames keeps one odd frame from flipping its music; the smoothing
keeps one odd scene from jolting the score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from emoscore.scoring.bridge import Quadrant, arousal_intensity, pool_people, vad_to_quadrant


@dataclass(frozen=True)
class SceneMood:
    """What a scene feels like: its own VAD (None when no frame showed a person), the VAD after smoothing along
    the film, and the quadrant and intensity its music is written for."""

    frames: int
    people: int
    own: tuple[float, float, float] | None
    vad: tuple[float, float, float]
    quadrant: Quadrant
    intensity: float


def frame_vad(people: np.ndarray | None, pooling: str, midpoint: float) -> np.ndarray | None:
    """One VAD for a frame from its people ([n, 3]), as scoring pools a photo's; None for a frame without any."""
    if people is None or len(people) == 0:
        return None
    return pool_people(people, pooling, midpoint)


def scene_vad(frames: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """The median of a scene's frame VADs (per dimension), None when no frame had a person."""
    seen = [vad for vad in frames if vad is not None]
    return np.median(np.stack(seen), axis=0) if seen else None


def fill_gaps(own: Sequence[np.ndarray | None]) -> np.ndarray:
    """[scenes, 3]: a scene without people takes the VAD interpolated between the nearest scenes with people
    (the nearest one's at the ends); ValueError when no scene had one."""
    known = [index for index, vad in enumerate(own) if vad is not None]
    if not known:
        raise ValueError("no person was found in any frame read, so there is no emotion to score")
    values = np.stack([own[index] for index in known])
    positions = np.arange(len(own))
    return np.stack([np.interp(positions, known, values[:, d]) for d in range(3)], axis=1)


def smooth(points: np.ndarray, weight: float) -> np.ndarray:
    """Each scene's VAD blended with its neighbours' (`weight` each; at the ends the missing one's weight stays)."""
    if weight <= 0 or len(points) < 2:
        return points.copy()
    before = np.vstack([points[:1], points[:-1]])
    after = np.vstack([points[1:], points[-1:]])
    return (1 - 2 * weight) * points + weight * before + weight * after


def emotional_arc(
    frames: Sequence[Sequence[np.ndarray | None]], people: Sequence[int], weight: float, midpoint: float
) -> list[SceneMood]:
    """A mood per scene from the VAD of each of its frames (None for a frame without people)."""
    own = [scene_vad(scene) for scene in frames]
    arc = smooth(fill_gaps(own), weight)
    moods = []
    for scene, point, count, vad in zip(frames, arc, people, own, strict=True):
        valence, arousal, dominance = (float(value) for value in point)
        moods.append(
            SceneMood(
                frames=len(scene),
                people=count,
                own=None if vad is None else (float(vad[0]), float(vad[1]), float(vad[2])),
                vad=(valence, arousal, dominance),
                quadrant=vad_to_quadrant(valence, arousal, midpoint),
                intensity=arousal_intensity(arousal, midpoint),
            )
        )
    return moods
