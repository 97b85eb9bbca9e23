"""The two-branch EMOTIC network: a body branch on the person crop, a context branch on the whole image.

Features of both are concatenated and fused (FC → BN → ReLU → dropout) into 26 category logits and 3 VAD
outputs (VAD / 10). Backbones come from a registry of torchvision builders; weights are loaded by path, never
downloaded, and the architecture never depends on whether weights were given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from emoscore.checkpoints import Checkpointed
from emoscore.config import EmoticParams, VadParams
from emoscore.emotic.backbones import build_backbone, load_backbone_weights
from emoscore.emotic.labels import NUM_CATEGORIES, VAD_SCALE
from emoscore.emotic.losses import category_scores

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "emoscore.vad/2"  # /2: the config names the training objective (what an output means)


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
        return cls(
            vad.context_backbone,
            vad.body_backbone,
            vad.fusion_hidden,
            vad.dropout,
            emotic.context_size,
            emotic.body_size,
            vad.loss,
        )


class EmoticNet(Checkpointed, nn.Module):
    """Body + context branches → fused features → category logits (26) and VAD / VAD_SCALE (3)."""

    checkpoint_format = CHECKPOINT_FORMAT
    config_type = EmoticNetConfig

    def __init__(self, config: EmoticNetConfig) -> None:
        super().__init__()
        self.config = config
        self.context, context_features = build_backbone(config.context_backbone)
        self.body, body_features = build_backbone(config.body_backbone)
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
    def for_training(
        cls,
        config: EmoticNetConfig,
        *,
        context_weights: Path | str | None = None,
        body_weights: Path | str | None = None,
    ) -> EmoticNet:
        """The architecture built, then each branch loaded from its released weights (Places365, torchvision,
        Omnivore or an emoscore checkpoint); a branch given none starts from random weights, and says so."""
        model = cls(config)
        for branch, name, weights, prefix in (
            (model.context, config.context_backbone, context_weights, "context."),
            (model.body, config.body_backbone, body_weights, "body."),
        ):
            if weights is None:
                log.warning("backbone %s starts from RANDOM weights (no weights path given)", name)
            else:
                load_backbone_weights(branch, name, weights, prefix)
                log.info("backbone %s loaded from %s", name, weights)
        return model

    @classmethod
    def from_checkpoint(cls, path: Path | str) -> EmoticNet:
        """Rebuild from an emoscore VAD checkpoint; other files are refused with the reason."""
        return cls.load(path)[0]
