"""One cue at a time: a scene's music recomposed with another quadrant, VAD, intensity or seed while every other
scene keeps its notes. The overrides and the composed steps of every segment are stored beside the outputs
(`NAME.overrides.json`, `NAME.composition.npz`), so a rerun without options keeps what was chosen."""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from emoscore.errors import InvalidVideo
from emoscore.film.arc import SceneMood
from emoscore.film.plan import Segment
from emoscore.scoring.bridge import Quadrant, arousal_intensity, vad_to_quadrant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CueOverride:
    """What a person chose for one cue instead of what the picture says (None: the picture's)."""

    quadrant: int | None = None
    valence: float | None = None
    arousal: float | None = None
    intensity: float | None = None
    seed: int | None = None

    def as_dict(self) -> dict:
        """What is set, by name (JSON and Prefect parameters)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def describe(self) -> str:
        """A short line for the cue sheet: 'quadrant=Q2 seed=7'."""
        parts = [f"{k}=Q{v}" if k == "quadrant" else f"{k}={v}" for k, v in asdict(self).items() if v is not None]
        return " ".join(parts)

    def merged(self, newer: CueOverride) -> CueOverride:
        """This override with what `newer` sets replacing it (a new VAD drops an old quadrant, and back)."""
        base = self
        if newer.valence is not None or newer.arousal is not None:
            base = replace(base, quadrant=None)
        if newer.quadrant is not None:
            base = replace(base, valence=None, arousal=None)
        return replace(base, **{k: v for k, v in asdict(newer).items() if v is not None})

    def applied(self, mood: SceneMood, midpoint: float) -> SceneMood:
        """The scene's mood with this override: a VAD gives its quadrant and intensity as the arc would."""
        valence, arousal, dominance = mood.vad
        if self.valence is not None or self.arousal is not None:
            valence = self.valence if self.valence is not None else valence
            arousal = self.arousal if self.arousal is not None else arousal
            mood = replace(
                mood,
                vad=(valence, arousal, dominance),
                quadrant=vad_to_quadrant(valence, arousal, midpoint),
                intensity=arousal_intensity(arousal, midpoint),
            )
        if self.quadrant is not None:
            mood = replace(mood, quadrant=Quadrant(self.quadrant, mood.quadrant.confidence))
        if self.intensity is not None:
            mood = replace(mood, intensity=self.intensity)
        return mood


def overrides_path(out: Path, name: str) -> Path:
    """Where a film's cue overrides are kept: beside its outputs."""
    return out / f"{name}.overrides.json"


def composition_path(out: Path, name: str) -> Path:
    """Where the composed steps of every segment are kept: beside the outputs."""
    return out / f"{name}.composition.npz"


def load_overrides(path: Path, video_id: str, spans: Sequence[tuple[float, float]]) -> dict[int, CueOverride]:
    """The overrides stored for this film whose cue still spans the same time (`spans`: every scene's start and end;
    a re-conformed timeline renumbers cues, and an override must not move to another scene); none for another
    film's file, or when there is no file."""
    if not path.is_file():
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("video_id") != video_id:
            log.warning("%s is of another film; its overrides are not used", path)
            return {}
        kept = {}
        for cue, values in stored["cues"].items():
            scene = values.pop("scene_s", None)
            here = spans[int(cue) - 1] if 1 <= int(cue) <= len(spans) else None
            if scene is not None and (here is None or max(abs(a - b) for a, b in zip(scene, here, strict=True)) > 1e-3):
                log.warning(
                    "%s: cue %s spanned %s s and the film's cue %s now %s: its override is dropped",
                    path,
                    cue,
                    scene,
                    cue,
                    here,
                )
                continue
            kept[int(cue)] = CueOverride(**values)
        return kept
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidVideo(path, f"cannot read the cue overrides: {error}") from None


def save_overrides(
    path: Path, video_id: str, overrides: dict[int, CueOverride], spans: Sequence[tuple[float, float]]
) -> Path:
    """Write the overrides (cue numbers from 1, as the cue sheet counts them) with the time each cue spans."""
    cues = {
        str(cue): {**override.as_dict(), "scene_s": [round(t, 6) for t in spans[cue - 1]]}
        for cue, override in sorted(overrides.items())
    }
    path.write_text(json.dumps({"video_id": video_id, "cues": cues}, indent=1) + "\n", encoding="utf-8")
    return path


def segment_key(segment: Segment, seed: int, settings: str) -> str:
    """What a segment's notes are a function of, but for the music before it: scenes, mood, bars, seed, settings."""
    return json.dumps(
        [settings, segment.scenes, segment.quadrant, round(segment.intensity, 6), segment.bars, seed], sort_keys=True
    )


def key_scenes(key: str) -> tuple[int, ...]:
    """The scenes (0-based) a `segment_key` is of."""
    return tuple(json.loads(key)[1])


def load_composition(path: Path) -> dict[str, np.ndarray]:
    """Stored steps by segment key (empty when there are none or the file is damaged: the film is composed anew)."""
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as stored:
            keys = json.loads(str(stored["keys"]))
            return {key: stored[f"segment_{i}"] for i, key in enumerate(keys)}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        log.warning("%s cannot be read (%s); the film is composed anew", path, error)
        return {}


def save_composition(path: Path, keys: Sequence[str], steps: Sequence[np.ndarray]) -> Path:
    """Store every segment's steps under its key."""
    arrays = {f"segment_{i}": np.asarray(s) for i, s in enumerate(steps)}
    with path.open("wb") as handle:
        np.savez_compressed(handle, keys=np.array(json.dumps(list(keys))), **arrays)
    return path
