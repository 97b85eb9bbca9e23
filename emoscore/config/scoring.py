"""The params sections of making music for pictures: generation, rendering, scoring photos and films."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from emoscore.catalog.uri import canonical, is_remote
from emoscore.config.marks import Device, Engine, ScorePrecision, Section, location, runtime
from emoscore.music.families import SAMPLED_FAMILIES


class GenerationParams(Section):
    """Sampling defaults for generation (CLI, eval_music, scoring)."""

    bars: int = Field(16, ge=1, le=64)
    max_steps: int = Field(2048, ge=16)
    temperature: dict[str, float] = Field(
        default_factory=lambda: {**dict.fromkeys(SAMPLED_FAMILIES, 1.0), "pitch": 0.95}, description="Per family."
    )
    top_p: dict[str, float] = Field(
        default_factory=lambda: {
            "type": 0.95,
            "tempo": 0.9,
            "chord": 0.9,
            "bar-beat": 0.95,
            "pitch": 1.0,
            "duration": 0.9,
            "velocity": 0.9,
        },
        description="Nucleus mass per token family.",
    )
    guidance: float = Field(
        4.0, ge=1.0, le=10.0, description="Classifier-free guidance on the quadrant: 1 = none, higher follows it more."
    )
    mode_steering: dict[str, float] = Field(
        default_factory=lambda: {"key_prior": 0.5, "major_key_prior": 0.25, "chord_bias": 8.0},
        description="Mode that follows the quadrant (minor for Q2/Q3, major for Q1/Q4): chord_bias raises chords of"
        " that mode; key_prior (minor pieces) and major_key_prior (major ones) scale a key profile of that mode added"
        " to the pitch logits; 0 turns any off.",
    )
    repeat_penalty: float = Field(
        1.0,
        ge=0.0,
        le=20.0,
        description="Subtracted from the pitch logits of the pitches struck at the onset before: fewer repeated notes"
        " (the demo model repeats twice as often as real music); 0 = off.",
    )
    openings: dict[str, int] = Field(
        default_factory=lambda: {"draws": 2, "bars": 2},
        description="A piece's first `bars` bars drawn `draws` times in one batch; the first draw in the quadrant's"
        " mode goes on, else the nearest (1 draw = off; an opening no shorter than the piece is the whole piece).",
    )
    intensity: dict[str, float] = Field(
        default_factory=lambda: {"tempo": 0.5, "velocity": 40.0, "density": 1.5},
        description="Intensity within a quadrant: tempo in octaves, velocity in MIDI steps, density as the chance "
        "per unit intensity of doubling a bass (above 0) or leaving out a chord note or a note off the beat (below 0).",
    )

    @model_validator(mode="after")
    def _known_families(self) -> GenerationParams:
        for name in [*self.temperature, *self.top_p]:
            if name not in SAMPLED_FAMILIES:
                raise ValueError(f"unknown token family {name!r}; choose from {list(SAMPLED_FAMILIES)}")
        if any(not 0 < value <= 1 for value in self.top_p.values()):  # also refuses NaN
            raise ValueError("top_p values must be in (0, 1]")
        if any(not 0 <= value < float("inf") for value in self.temperature.values()):
            raise ValueError("temperatures must be finite numbers >= 0")
        if unknown := set(self.intensity) - {"tempo", "velocity", "density"}:
            raise ValueError(f"unknown intensity features {sorted(unknown)}; choose tempo, velocity, density")
        self.mode_steering.setdefault("major_key_prior", 0.0)  # a params file from before it: no major prior, as then
        if set(self.mode_steering) != {"key_prior", "major_key_prior", "chord_bias"}:
            raise ValueError("mode_steering needs key_prior and chord_bias, and may have major_key_prior")
        if any(not 0 <= value <= 20 for value in self.mode_steering.values()):  # also refuses NaN
            raise ValueError("mode_steering values must be between 0 and 20")
        if set(self.openings) != {"draws", "bars"} or not (
            1 <= self.openings["draws"] <= 8 and self.openings["bars"] >= 1
        ):
            raise ValueError("openings needs draws (1–8) and bars (at least 1)")
        return self


class EvalMusicParams(Section):
    """Judging generated music (`eval_music`)."""

    pieces_per_quadrant: int = Field(16, ge=1)
    intensity_pieces: int = Field(8, ge=1, description="Pieces per arousal level in the intensity trend.")
    bars: int = Field(8, ge=1)
    seed: int = 1000
    scale_consistency_target: float = Field(0.90, ge=0, le=1, description="Every quadrant's generated pieces.")
    tolerance: float = Field(0.15, ge=0, description="Entropy and density within this share of the fine-tuning data.")
    controllability_target: float = Field(0.7, ge=0, le=1)
    classifier_target: float = Field(0.8, ge=0, le=1, description="The judge's accuracy on held-out real clips.")
    long_bars: list[int] = Field(
        default_factory=lambda: [16, 32, 64], description="Lengths whose 8-bar sections are judged against the first."
    )
    long_pieces_per_quadrant: int = Field(2, ge=1)


class RenderParams(Section):
    """MIDI → audio: FluidSynth's sound of a General MIDI SoundFont, played from its note bank or by FluidSynth."""

    soundfont: Path | None = Field(None, description="A General MIDI .sf2; null = look in the usual system places.")
    sample_rate: int = Field(44100, ge=8000)
    format: Literal["flac", "wav", "ogg", "opus", "mp3"] = Field(
        "flac",
        description="Lossless audio (`score.audio: lossless`, `emoscore render`) by its extension; a film's"
        " stem and mix follow film.deliverable_format.",
    )
    engine: Literal["bank", "fluidsynth"] = Field(
        "bank",
        description="bank: the SoundFont's notes rendered once by FluidSynth, pieces overlap-added from them (NumPy,"
        " or torch on a GPU); fluidsynth: every piece synthesized by FluidSynth.",
    )
    bank: Path | None = Field(
        None, description="A note-bank folder to use as it is (no SoundFont or FluidSynth needed); null = cached."
    )
    bank_cache: Path | None = location(
        None, description="Where banks are built and kept; null = $EMOSCORE_CACHE or ~/.cache/emoscore."
    )
    preview_bitrate: int = Field(64000, ge=6000, le=510000, description="Ogg Opus previews, bits per second.")
    preview_complexity: int = Field(0, ge=0, le=10, description="libopus's effort: 0 is fastest (measured).")


class ScoreParams(Section):
    """Scoring photos into the catalog (`emoscore score`, `serve`, and the `score_demo` stage)."""

    library: Path | str = location(
        Path("data/sample/photos"),
        description="A folder, a photo, or s3://bucket/prefix on an S3-compatible store (read with catalog_storage).",
    )
    catalog: str = location(
        "data/catalog", description="A local folder or s3://bucket/prefix on any S3-compatible store."
    )
    catalog_storage: dict[str, str] = runtime(
        {},
        description="Options for an s3:// catalog (AWS_ENDPOINT_URL, AWS_REGION, …) over the AWS environment"
        " variables; never logged. Keep credentials in the environment, not in a committed params.yaml.",
        repr=False,
    )
    detector: Literal["none", "hog", "torchvision"] = "none"
    detector_weights: Path | None = None
    pooling: Literal["mean", "most_confident"] = "mean"
    quadrant_midpoint: float = Field(5.5, ge=1, le=10)
    top_categories: int = Field(5, ge=1, le=26)
    bars: int = Field(8, ge=1, le=64)
    batch_size: int = runtime(16, ge=1, description="Images whose people go through the VAD model together.")
    chunk_size: int = runtime(64, ge=1, description="Images per Prefect task (and per catalog part file).")
    workers: int | None = runtime(
        None, ge=0, description="Processes that decode and run the VAD model (None: one per core, 0: in-process)."
    )
    engine: Engine = runtime(
        "onnxruntime", description="What runs the VAD model: ONNX Runtime on an export of the weights, or torch."
    )
    device: Device = runtime("cpu", description="Where the VAD model runs; on cuda torch runs it, in each worker.")
    precision: ScorePrecision = runtime("auto", description="VAD arithmetic: auto = fp32 (TF32 on a GPU), or bf16.")
    jpeg_decoder: Literal["auto", "cpu", "device"] = runtime(
        "auto",
        description="cpu: libjpeg-turbo decodes each JPEG at 1/8…8/8 scale in the workers; device: a batch's JPEGs"
        " are decoded together on `device` (nvjpeg on a GPU) and scaled there; auto: device on a GPU, else cpu.",
    )
    max_pixels: int = Field(100_000_000, ge=1)
    follow_symlinks_outside: bool = False
    audio: Literal["preview", "lossless", "none"] = Field(
        "preview",
        description="Audio per photo: preview = Ogg Opus (render.preview_*), lossless = FLAC; none = MIDI only.",
    )
    music: bool = True
    charts: bool = True

    @model_validator(mode="before")
    @classmethod
    def _render_audio_was_renamed(cls, data: object) -> object:
        """`render_audio: true|false` (before #29) reads as `audio: preview|none`, with a warning to rename it."""
        if isinstance(data, dict) and "render_audio" in data:
            data = dict(data)
            old = data.pop("render_audio")
            data.setdefault("audio", "preview" if old else "none")
            logging.getLogger(__name__).warning(
                "score.render_audio is now score.audio (preview | lossless | none); read %r as %r", old, data["audio"]
            )
        return data

    @field_validator("library", mode="before")
    @classmethod
    def _library_place(cls, value: object) -> Path | str:
        """An s3:// library (its scheme in any case: S3:// too) stays a URI (a Path would fold its `//`); anything
        else is a path."""
        text = str(canonical(str(value)))
        return text.rstrip("/") if is_remote(text) else Path(text)


class FilmParams(Section):
    """A film → scenes → one continuous soundtrack (`emoscore soundtrack`, the score_film_demo stage)."""

    video: Path = location(Path("data/sample/film.mp4"), description="What score_film_demo scores.")
    out: Path = location(Path("data/film"))
    catalog: str = location("data/film/catalog", description="A local folder or s3://bucket/prefix.")
    cut_threshold: float = Field(10.0, gt=0, le=100, description="FFmpeg scdet score (0–100) that starts a scene.")
    min_scene_s: float = Field(2.0, gt=0, description="Shorter scenes join a neighbour (a flash is not a scene).")
    frames_per_scene: int = Field(5, ge=1, le=64)
    smoothing: float = Field(0.1, ge=0, lt=0.5, description="Weight of each neighbouring scene in the arc.")
    tempo_bpm: dict[str, float] = Field(
        default_factory=lambda: {"Q1": 120.0, "Q2": 116.0, "Q3": 72.0, "Q4": 84.0},
        description="Tempo a scene of each quadrant aims for before it is fitted to the scene's length.",
    )
    context_bars: int = Field(2, ge=0, le=8, description="Bars of the music before that each segment goes on from.")
    chunk_bars: int = Field(6, ge=1, le=32, description="Bars generated at a time within a long scene.")
    still_seconds: float = Field(6.0, gt=0, description="Length of a still's scene when no timecodes are given.")
    tempo_range: float = Field(
        0.15, ge=0.0, le=0.5, description="Share a scene's tempo may move from its aim to bring a bar line onto a cut."
    )
    sync: Literal["all", "quadrant"] = Field(
        "all", description="Cuts that must land on a bar line: all, or only where the quadrant changes (and hits)."
    )
    carry_context: Literal["same_quadrant", "always"] = Field(
        "same_quadrant",
        description="Where a segment goes on from the bars before it: within one quadrant (a new quadrant starts"
        " afresh, so it does not inherit the key before it: measured), or always.",
    )
    hit_accent: int = Field(24, ge=0, le=64, description="Velocity added to the downbeat placed on a hit point.")
    replace_audio: bool = Field(False, description="The scored video's sound is the music alone, not the film's mix.")
    music_under_db: float = Field(
        -8.0, ge=-40, le=20, description="The music's loudness against the film's own sound in the mix (LU)."
    )
    duck_threshold_db: float = Field(
        -35.0, ge=-80, le=0, description="Short-term level (dBFS) of the film's sound above which the music ducks."
    )
    duck_depth_db: float = Field(10.0, ge=0, le=40, description="How far the music ducks under the film's sound (dB).")
    duck_attack_s: float = Field(0.08, gt=0, le=5, description="Time for the music to duck once the film is loud.")
    duck_release_s: float = Field(0.6, gt=0, le=10, description="Time for the music to come back after.")
    loudness: Literal["ebu_r128", "atsc_a85", "none"] = Field(
        "ebu_r128", description="Delivery loudness of the mix and the stem: -23 LUFS/-1 dBTP, -24 LKFS/-2 dBTP, none."
    )
    deliverable_format: Literal["wav", "flac"] = Field(
        "wav", description="The stem and the mix: 48 kHz 24-bit WAV (what DAWs and dubbing stages take) or FLAC."
    )

    @field_validator("tempo_bpm")
    @classmethod
    def _every_quadrant(cls, value: dict[str, float]) -> dict[str, float]:
        if sorted(value) != ["Q1", "Q2", "Q3", "Q4"] or not all(40 <= bpm <= 200 for bpm in value.values()):
            raise ValueError("needs Q1, Q2, Q3 and Q4, each 40–200 BPM")
        return value
