"""The two-branch EMOTIC network: a body branch on the person crop, a context branch on the whole image.

Features of both are concatenated and fused (FC → BN → ReLU → dropout) into 26 category logits and 3 VAD
outputs (VAD / 10). Backbones come from a registry of torchvision builders; weights are loaded by path, never
downloaded, and the architecture never depends on whether weights were given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from emoscore.checkpoints import Checkpointed, extract_state_dict, load_weights_only
from emoscore.config import EmoticParams, VadParams
from emoscore.emotic.labels import NUM_CATEGORIES, VAD_SCALE
from emoscore.emotic.losses import category_scores
from emoscore.errors import CheckpointError

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "emoscore.vad/2"  # /2: the config names the training objective (what an output means)


def _resnet(builder: Callable[..., nn.Module]) -> Callable[[], tuple[nn.Module, int]]:
    def build() -> tuple[nn.Module, int]:
        network = builder(weights=None)
        features = network.fc.in_features
        network.fc = nn.Identity()
        return network, features

    return build


def _swin_b() -> tuple[nn.Module, int]:
    network = torchvision.models.swin_b(weights=None)
    features = network.head.in_features
    network.head = nn.Identity()
    return network, features


BACKBONES: dict[str, Callable[[], tuple[nn.Module, int]]] = {
    "resnet18": _resnet(torchvision.models.resnet18),
    "resnet50": _resnet(torchvision.models.resnet50),
    "swin_b": _swin_b,
}
# Classifier heads that pretrained checkpoints carry (ImageNet 1000, Places365 365 classes); we replace them.
HEAD_PREFIXES = ("fc.", "head.")


def load_backbone_weights(backbone: nn.Module, path: Path | str, prefix: str = "") -> None:
    """Load a Places365 `.pth.tar` (the released Python 2 files too), a torchvision `.pth` or an emoscore
    checkpoint (its `prefix` branch).

    The classifier head is dropped; every other key must match the backbone exactly, so weights of another
    architecture are refused with the keys that differ.
    """
    payload = load_weights_only(path)
    state = extract_state_dict(payload, path)
    if prefix and any(key.startswith(prefix) for key in state):
        state = {key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)}
    state = {key: value for key, value in state.items() if not key.startswith(HEAD_PREFIXES)}
    expected = backbone.state_dict()
    # batch norm's step counter arrived in PyTorch 0.4.1: older files (Places365) lack it, and it is not a weight
    missing = sorted(key for key in set(expected) - set(state) if not key.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        details = []
        if missing:
            details.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            details.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong_shape:
            details.append(f"{len(wrong_shape)} keys of another shape (e.g. {wrong_shape[0]})")
        raise CheckpointError(path, "weights do not fit this backbone: " + "; ".join(details))
    backbone.load_state_dict(state, strict=False)  # every weight is checked above; only step counters may lack


def build_backbone(name: str, weights: Path | str | None = None, prefix: str = "") -> tuple[nn.Module, int]:
    """A feature extractor (classifier removed) and its feature width; weights from `weights` when given."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    backbone, features = BACKBONES[name]()
    if weights is None:
        log.warning("backbone %s starts from RANDOM weights (no weights path given)", name)
    else:
        load_backbone_weights(backbone, weights, prefix)
        log.info("backbone %s loaded from %s", name, weights)
    return backbone, features


@dataclass(frozen=True)
class EmoticNetConfig:
    """Everything needed to rebuild the network; saved inside every checkpoint."""

    context_backbone: str
    body_backbone: str
    fusion_hidden: int
    dropout: float
    context_size: int
    body_size: int
    objective: str  # the loss it was trained with: decides whether a category output is a logit or a score

    @classmethod
    def from_params(cls, emotic: EmoticParams, vad: VadParams) -> EmoticNetConfig:
        """The architecture params.yaml asks for."""
        return cls(vad.context_backbone, vad.body_backbone, vad.fusion_hidden, vad.dropout, emotic.context_size,
                   emotic.body_size, vad.loss)  # fmt: skip


class EmoticNet(Checkpointed, nn.Module):
    """Body + context branches → fused features → category logits (26) and VAD / VAD_SCALE (3)."""

    checkpoint_format = CHECKPOINT_FORMAT
    config_type = EmoticNetConfig

    def __init__(
        self,
        config: EmoticNetConfig,
        context_weights: Path | str | None = None,
        body_weights: Path | str | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.context, context_features = build_backbone(config.context_backbone, context_weights, "context.")
        self.body, body_features = build_backbone(config.body_backbone, body_weights, "body.")
        self.fusion = nn.Sequential(
            nn.Linear(context_features + body_features, config.fusion_hidden),
            nn.BatchNorm1d(config.fusion_hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
        )
        self.category_head = nn.Linear(config.fusion_hidden, NUM_CATEGORIES)
        self.vad_head = nn.Linear(config.fusion_hidden, 3)

    def forward(self, context: torch.Tensor, body: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(category logits [B, 26], VAD / VAD_SCALE [B, 3])."""
        fused = self.fusion(torch.cat([self.context(context), self.body(body)], dim=1))
        return self.category_head(fused), self.vad_head(fused)

    @torch.no_grad()
    def predict(self, context: torch.Tensor, body: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Category scores (about 0–1) and VAD on the 1–10 scale (eval mode is the caller's job)."""
        outputs, vad = self(context, body)
        return category_scores(outputs, self.config.objective), vad * VAD_SCALE

    @classmethod
    def from_checkpoint(cls, path: Path | str) -> EmoticNet:
        """Rebuild from an emoscore VAD checkpoint; other files are refused with the reason."""
        return cls.load(path)[0]
