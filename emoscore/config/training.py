"""The params sections of the models: the VAD model and its evaluation, the music transformer, its classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from emoscore.config.marks import Device, Precision, Section, location, runtime

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
    epochs: int = Field(12, ge=1)
    batch_size: int = Field(4, ge=1)
    accumulate: int = Field(1, ge=1, description="Batches whose gradients add up to one optimizer step.")
    learning_rate: float = Field(1e-3, gt=0)
    seed: int = 0
    device: Device = runtime("auto")
    precision: Precision = "fp32"
    resume: Path = location(Path(".resume/train_music.pt"), description="Per-epoch state; removed on success.")
    pretrained: bool = Field(True, description="Fine-tune the `pretrain_music` checkpoint; false: from scratch.")
    unconditional_share: float = Field(
        0.1, ge=0, lt=1, description="Training windows shown with Emotion 0, so guidance has an unconditioned model."
    )
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
    any_key: bool = Field(
        True, description="Each training window moved to a random key, so mode and character, not key, tell quadrants."
    )
    out: Path = location(Path("models/music_classifier.pt"))
