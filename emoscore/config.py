"""params.yaml → typed, validated pydantic models: the one place for defaults and validation."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from emoscore.errors import ConfigError
from emoscore.music.families import SAMPLED_FAMILIES

DEFAULT_PARAMS = Path("params.yaml")

Role = Literal["result", "runtime", "location"]


def runtime(default: Any = ..., **kwargs: Any) -> Any:
    """A field that changes how fast (or how loudly) a job runs, never what it makes: left out of DVC's params,
    the catalog identity and resume fingerprints."""
    return Field(default, json_schema_extra={"role": "runtime"}, **kwargs)


def location(default: Any = ..., **kwargs: Any) -> Any:
    """A field that says where an input or output lives: DVC tracks it as a dep or an out, not as a param."""
    return Field(default, json_schema_extra={"role": "location"}, **kwargs)


def role(section: type[BaseModel], name: str) -> Role:
    """The mark of one field (unmarked fields change results)."""
    extra = section.model_fields[name].json_schema_extra
    return extra.get("role", "result") if isinstance(extra, dict) else "result"


def result_keys(section: type[BaseModel]) -> list[str]:
    """The fields of a section that change what its job makes, in declaration order."""
    return [name for name in section.model_fields if role(section, name) == "result"]


def result_dump(section: BaseModel) -> dict:
    """A section's result-changing values as JSON types: what a fingerprint or an identity hashes."""
    return section.model_dump(mode="json", include=set(result_keys(type(section))))


class Section(BaseModel):
    """Base for every params section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Engine = Literal["torch", "onnxruntime"]  # what runs the VAD model when scoring (emoscore.emotic.inference)
# auto = fp32: on a GPU torch runs fp32 convolutions as TF32 on tensor cores, which measured faster than bf16
# autocast for the VAD model (an H200, batch 256: docs/performance.md); bf16 stays selectable
ScorePrecision = Literal["auto", "fp32", "bf16"]
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto | cpu | cuda | cuda:N")]
Precision = Literal["fp32", "bf16"]
Timing = Literal["auto", "file", "beat_track"]  # emoscore.music.timing


class SplitSizes(Section):
    """Number of images per split."""

    train: int = Field(240, ge=1)
    val: int = Field(60, ge=1)
    test: int = Field(100, ge=1)


class SampleParams(Section):
    """The deterministic sample dataset written by the `sample_data` stage."""

    seed: int = 7
    out: Path = location(Path("data/sample"))
    emotic_images: SplitSizes = SplitSizes()
    max_people_per_image: int = Field(2, ge=1, le=6)
    image_width: int = Field(320, ge=64, le=4096)
    image_height: int = Field(240, ge=64, le=4096)
    emopia_songs_per_quadrant: int = Field(30, ge=1)
    emopia_clips_per_song: int = Field(3, ge=1)
    emopia_bars: int = Field(8, ge=1, le=64)
    photos: int = Field(12, ge=0, description="Sample photos for the score_demo stage.")
    transcribed_share: float = Field(
        0.34, ge=0, le=1, description="EMOPIA clips written as real transcriptions are: nominal 120 BPM, in seconds."
    )
    unlabeled_pieces: int = Field(60, ge=0, description="Pieces of the unlabeled MIDI corpus for pretraining.")
    film_scenes: int = Field(4, ge=2, le=16, description="Scenes of the sample film (sample_film stage).")
    film_scene_seconds: float = Field(6.0, ge=2, le=60)
    film_fps: int = Field(25, ge=10, le=60)
    film_width: int = Field(480, ge=64, le=1920)
    film_height: int = Field(270, ge=64, le=1080)


class EmoticParams(Section):
    """Where EMOTIC lives and how person records become model inputs (`prepare_emotic`)."""

    root: Path = location(
        Path("data/sample/emotic"), description="Unpacked EMOTIC; a DVC dependency of prepare_emotic."
    )
    annotations: Path = Field(
        Path("Annotations"), description="Under root: Annotations.mat, or a folder of {train,val,test}.csv."
    )
    images_dir: Path = Field(Path("emotic"), description="Under root: the folder holding <folder>/<filename>.")
    out: Path = location(Path("data/processed/emotic"))
    context_size: int = Field(112, ge=32, le=512)
    body_size: int = Field(64, ge=32, le=512)
    min_box_side: int = Field(2, ge=1, description="Boxes thinner than this many pixels after clipping are skipped.")
    max_logged_errors: int = runtime(10, ge=0)
    num_workers: int = runtime(2, ge=0, description="Processes decoding images while preparing.")


BackboneName = Literal["resnet18", "resnet50", "swin_b", "omnivore_swin_b"]


class VadParams(Section):
    """The two-branch VAD/category model and its training (`train_vad`)."""

    context_backbone: BackboneName = "resnet18"
    body_backbone: BackboneName = "resnet18"
    context_weights: Path | None = Field(None, description="Places365 .pth.tar, torchvision .pth or emoscore .pt")
    body_weights: Path | None = None
    fusion_hidden: int = Field(256, ge=8)
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(5e-4, ge=0)
    loss: Literal["reference", "normalized"] = Field(
        "reference", description="The EMOTIC reference objective, or emoscore's earlier batch-averaged variant."
    )
    discrete_weight: float = Field(0.5, ge=0)
    continuous_weight: float = Field(0.5, ge=0)
    continuous_loss: Literal["l2", "smooth_l1"] = "l2"
    continuous_margin: float = Field(1.0, ge=0, description="In VAD points (1–10 scale); smaller errors cost 0.")
    hflip: bool = True
    num_workers: int = runtime(1, ge=0, description="Loader processes; on a GPU, enough to keep it fed (4–8).")
    seed: int = 0
    device: Device = runtime("auto")
    precision: Precision = Field("fp32", description="bf16 = autocast matmuls and convolutions (GPUs from Ampere).")
    resume: Path = location(
        Path(".resume/train_vad.pt"), description="Per-epoch state to resume a killed run from; removed on success."
    )
    out: Path = location(Path("models/vad.pt"))

    @model_validator(mode="after")
    def _some_loss(self) -> VadParams:
        if self.discrete_weight == 0 and self.continuous_weight == 0:
            raise ValueError("discrete_weight and continuous_weight cannot both be 0")
        return self


class EvalVadParams(Section):
    """Evaluation of the VAD model (`eval_vad`)."""

    split: Literal["val", "test"] = "test"
    threshold_split: Literal["train", "val"] = "val"
    batch_size: int = runtime(64, ge=1)
    thresholds: Path = location(Path("models/thresholds.json"), description="Per-category thresholds scoring applies.")


class EmopiaParams(Section):
    """Where EMOPIA lives (`prepare_emopia`)."""

    root: Path = location(Path("data/sample/emopia"), description="Unpacked EMOPIA (midis/, label.csv, split/).")
    out: Path = location(Path("data/processed/emopia"))
    vocabulary: Path = location(Path("models/cp_vocab.json"))
    timing: Timing = Field("auto", description="auto: track beats where the tempo map is nominal | file | beat_track.")


class MidiCorpusParams(Section):
    """An unlabeled MIDI corpus for pretraining (`prepare_midi_corpus`)."""

    root: Path = location(Path("data/sample/unlabeled"), description="Any folder of MIDI files, searched recursively.")
    timing: Timing = "auto"
    music21: list[str] = Field(
        default_factory=lambda: ["bach", "joplin", "mozart", "haydn", "beethoven", "schumann_robert",
                                 "schumann_clara", "ryansMammoth"],
        description="Collections of music21's bundled corpus to add (composer folders); [] for none.",
    )  # fmt: skip
    music21_files: int = Field(60, ge=0, description="At most this many corpus files (the whole corpus: 3194).")
    transpositions: list[int] = Field(default_factory=lambda: [0, 5], description="Semitones, per score.")
    out: Path = location(Path("data/processed/midi_corpus"))


class PretrainMusicParams(Section):
    """Pretraining the CP transformer on the unlabeled corpus (`pretrain_music`); its size is `music`'s."""

    epochs: int = Field(6, ge=1)
    batch_size: int = Field(4, ge=1)
    accumulate: int = Field(1, ge=1, description="Batches whose gradients add up to one optimizer step.")
    learning_rate: float = Field(1e-3, gt=0)
    seed: int = 0
    precision: Precision = "fp32"
    resume: Path = location(Path(".resume/pretrain_music.pt"), description="Per-epoch state; removed on success.")
    out: Path = location(Path("models/music_pretrained.pt"))


class MusicParams(Section):
    """The CP transformer and its training (`train_music`)."""

    d_model: int = Field(128, ge=16)
    n_layers: int = Field(3, ge=1)
    n_heads: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    embedding_sizes: tuple[int, int, int, int, int, int, int, int] = Field(
        (64, 128, 32, 16, 128, 64, 64, 16), description="One embedding width per token family, in family order."
    )
    type_embedding: int = Field(32, ge=1, description="Width of the sampled type fed to the other families' heads.")
    seq_len: int = Field(256, ge=16, description="Training window in CP steps; longer pieces are windowed.")
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(4, ge=1)
    accumulate: int = Field(1, ge=1, description="Batches whose gradients add up to one optimizer step.")
    learning_rate: float = Field(1e-3, gt=0)
    seed: int = 0
    device: Device = runtime("auto")
    precision: Precision = "fp32"
    resume: Path = location(Path(".resume/train_music.pt"), description="Per-epoch state; removed on success.")
    pretrained: bool = Field(True, description="Fine-tune the `pretrain_music` checkpoint; false: from scratch.")
    out: Path = location(Path("models/music.pt"))

    @model_validator(mode="after")
    def _heads_divide_width(self) -> MusicParams:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by n_heads {self.n_heads}")
        return self


class MusicClassifierParams(Section):
    """The music emotion classifier (`train_music_classifier`)."""

    d_model: int = Field(64, ge=16)
    n_layers: int = Field(2, ge=1)
    n_heads: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    window: int = Field(256, ge=16)
    epochs: int = Field(15, ge=1)
    batch_size: int = Field(16, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    seed: int = 0
    out: Path = location(Path("models/music_classifier.pt"))


class GenerationParams(Section):
    """Sampling defaults for generation (CLI, eval_music, scoring)."""

    bars: int = Field(16, ge=1, le=256)
    max_steps: int = Field(2048, ge=16)
    temperature: dict[str, float] = Field(
        default_factory=lambda: {**dict.fromkeys(SAMPLED_FAMILIES, 1.0), "pitch": 0.9}, description="Per family."
    )
    top_p: dict[str, float] = Field(
        default_factory=lambda: {"type": 0.95, "tempo": 0.9, "chord": 0.9, "bar-beat": 0.95, "pitch": 0.9,
                                 "duration": 0.9, "velocity": 0.9},
        description="Nucleus mass per token family.",
    )  # fmt: skip
    intensity: dict[str, float] = Field(
        default_factory=lambda: {"tempo": 0.5, "velocity": 40.0, "density": 1.5},
        description="Intensity within a quadrant: tempo in octaves, velocity in MIDI steps, density as the chance "
        "per unit intensity of doubling a bass (above 0) or leaving out a chord note (below 0).",
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
        return self


class EvalMusicParams(Section):
    """Judging generated music (`eval_music`)."""

    pieces_per_quadrant: int = Field(16, ge=1)
    intensity_pieces: int = Field(8, ge=1, description="Pieces per arousal level in the intensity trend.")
    bars: int = Field(8, ge=1)
    seed: int = 1000
    scale_consistency_target: float = Field(0.90, ge=0, le=1, description="Every quadrant's generated pieces.")
    tolerance: float = Field(0.15, ge=0, description="Entropy and density within this share of the fine-tuning data.")
    controllability_target: float = Field(0.85, ge=0, le=1)


class RenderParams(Section):
    """MIDI → audio: FluidSynth's sound of a General MIDI SoundFont, played from its note bank or by FluidSynth."""

    soundfont: Path | None = Field(None, description="A General MIDI .sf2; null = look in the usual system places.")
    sample_rate: int = Field(44100, ge=8000)
    format: Literal["flac", "wav", "ogg", "opus", "mp3"] = Field(
        "flac", description="Deliverable audio (a film's soundtrack, `score.audio: lossless`) by its extension."
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

    library: Path = location(Path("data/sample/photos"))
    catalog: Path = location(Path("data/catalog"))
    detector: Literal["none", "hog", "torchvision"] = "none"
    detector_weights: Path | None = None
    pooling: Literal["mean", "most_confident"] = "mean"
    quadrant_midpoint: float = Field(5.5, ge=1, le=10)
    top_categories: int = Field(5, ge=1, le=26)
    bars: int = Field(8, ge=1, le=128)
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


class FilmParams(Section):
    """A film → scenes → one continuous soundtrack (`emoscore soundtrack`, the score_film_demo stage)."""

    video: Path = location(Path("data/sample/film.mp4"), description="What score_film_demo scores.")
    out: Path = location(Path("data/film"))
    catalog: Path = location(Path("data/film/catalog"))
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

    @field_validator("tempo_bpm")
    @classmethod
    def _every_quadrant(cls, value: dict[str, float]) -> dict[str, float]:
        if sorted(value) != ["Q1", "Q2", "Q3", "Q4"] or not all(40 <= bpm <= 200 for bpm in value.values()):
            raise ValueError("needs Q1, Q2, Q3 and Q4, each 40–200 BPM")
        return value


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
