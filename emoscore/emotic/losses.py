"""EMOTIC losses: the discrete loss with dynamic per-batch category weights and the continuous VAD loss."""

from __future__ import annotations

import math

import torch
from torch import nn

# Weight of a category with no positive in the batch (the reference uses the same small constant).
ABSENT_CATEGORY_WEIGHT = 1e-4


def dynamic_category_weights(targets: torch.Tensor) -> torch.Tensor:
    """w_i = 1 / ln(c_i + 1.2), c_i = positives of category i in the batch; tiny weight where c_i = 0."""
    positives = targets.sum(dim=0)
    weights = 1.0 / torch.log(positives + 1.2)
    return torch.where(positives > 0, weights, torch.full_like(weights, ABSENT_CATEGORY_WEIGHT))


class DiscreteLoss(nn.Module):
    """Weighted squared error between sigmoid(logits) and the multi-hot targets, summed over categories,
    averaged over the batch. Rare categories in a batch weigh more, so frequent ones don't drown them."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Scalar loss for [B, 26] logits and targets."""
        weights = dynamic_category_weights(targets)
        return ((torch.sigmoid(logits) - targets) ** 2 * weights).sum(dim=1).mean()


class ContinuousLoss(nn.Module):
    """VAD regression loss with a margin (errors below it cost nothing): 'l2' or 'smooth_l1'.

    Predictions and targets are VAD / VAD_SCALE; `margin` is in the same units. Summed over V, A, D and averaged
    over the batch.
    """

    def __init__(self, kind: str = "l2", margin: float = 0.01) -> None:
        super().__init__()
        if kind not in ("l2", "smooth_l1"):
            raise ValueError(f"unknown continuous loss {kind!r}")
        self.kind, self.margin = kind, margin

    def forward(self, predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Scalar loss for [B, 3] predictions and targets."""
        error = (predicted - targets).abs()
        if self.kind == "l2":
            loss = torch.where(error < self.margin, torch.zeros_like(error), error**2)
        else:
            beta = self.margin if self.margin > 0 else math.ulp(1.0)
            loss = torch.where(error < beta, 0.5 * error**2 / beta, error - 0.5 * beta)
        return loss.sum(dim=1).mean()


class EmoticLoss(nn.Module):
    """discrete_weight × DiscreteLoss + continuous_weight × ContinuousLoss; returns (total, discrete, continuous)."""

    def __init__(self, discrete_weight: float, continuous_weight: float, kind: str, margin: float) -> None:
        super().__init__()
        self.discrete, self.continuous = DiscreteLoss(), ContinuousLoss(kind, margin)
        self.discrete_weight, self.continuous_weight = discrete_weight, continuous_weight

    def forward(
        self, logits: torch.Tensor, vad: torch.Tensor, categories: torch.Tensor, vad_targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Total, discrete and continuous losses of one batch."""
        discrete = self.discrete(logits, categories)
        continuous = self.continuous(vad, vad_targets)
        return self.discrete_weight * discrete + self.continuous_weight * continuous, discrete, continuous
