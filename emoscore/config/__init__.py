"""params.yaml → typed, validated pydantic models: the one place for defaults and validation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from emoscore.config.datasets import (
    EmopiaParams,
    EmoticParams,
    MidiCorpusParams,
    SampleParams,
    SplitSizes,
)
from emoscore.config.marks import (
    Device,
    Engine,
    Precision,
    Role,
    ScorePrecision,
    Section,
    Timing,
    location,
    result_dump,
    result_keys,
    role,
    runtime,
)
from emoscore.config.scoring import EvalMusicParams, FilmParams, GenerationParams, RenderParams, ScoreParams
from emoscore.config.training import (
    BackboneName,
    EvalVadParams,
    MusicClassifierParams,
    MusicParams,
    PretrainMusicParams,
    VadParams,
)
from emoscore.errors import ConfigError

__all__ = [
    "BackboneName",
    "ConfigError",
    "Device",
    "EmopiaParams",
    "EmoticParams",
    "Engine",
    "EvalMusicParams",
    "EvalVadParams",
    "FilmParams",
    "GenerationParams",
    "MidiCorpusParams",
    "MusicClassifierParams",
    "MusicParams",
    "Params",
    "Precision",
    "PretrainMusicParams",
    "RenderParams",
    "Role",
    "SampleParams",
    "ScoreParams",
    "ScorePrecision",
    "Section",
    "SplitSizes",
    "Timing",
    "VadParams",
    "load_params",
    "location",
    "parse_params",
    "result_dump",
    "result_keys",
    "role",
    "runtime",
    "section_hash",
]

DEFAULT_PARAMS = Path("params.yaml")


class Params(Section):
    """All of params.yaml."""

    sample: SampleParams = SampleParams()
    emotic: EmoticParams = EmoticParams()
    vad: VadParams = VadParams()
    eval_vad: EvalVadParams = EvalVadParams()
    emopia: EmopiaParams = EmopiaParams()
    midi_corpus: MidiCorpusParams = MidiCorpusParams()
    pretrain_music: PretrainMusicParams = PretrainMusicParams()
    music: MusicParams = MusicParams()
    music_classifier: MusicClassifierParams = MusicClassifierParams()
    generation: GenerationParams = GenerationParams()
    eval_music: EvalMusicParams = EvalMusicParams()
    render: RenderParams = RenderParams()
    score: ScoreParams = ScoreParams()
    film: FilmParams = FilmParams()


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid parameters"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "<root>"
        lines.append(f"  {key}: {item['msg']}")
    return "\n".join(lines)


def parse_params(raw: dict, source: str = "params") -> Params:
    """Validate a params mapping; ConfigError names every wrong key and why."""
    try:
        return Params.model_validate(raw or {})
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def load_params(path: Path | str = DEFAULT_PARAMS) -> Params:
    """Read and validate params.yaml."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run from the project root or pass --params)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    return parse_params(raw or {}, str(path))


def section_hash(section: BaseModel) -> str:
    """Stable short hash of a params section, for recording which settings produced an artifact."""
    text = json.dumps(section.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
