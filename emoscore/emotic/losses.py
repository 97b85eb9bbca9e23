"""EMOTIC losses: the discrete loss with dynamic per-batch category weights and the continuous VAD loss.

Two objectives. `reference` is the one the EMOTIC reference code trains with (Tandon-A/emotic `loss.py` and
`train.py`), and the published figures come from it: the discrete term is Σ wᵢ (output − target)² over the raw
category outputs, summed over the batch; the continuous term compares VAD on the 1–10 scale with a margin of
1 point, summed over the batch. `normalized` is emoscore's earlier variant: sigmoid outputs, both terms
averaged over the batch, VAD compared on the 0–1 scale — the VAD term then weighs ~100× less.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from emoscore.emotic.labels import VAD_SCALE

Objective = Literal["reference", "normalized"]
ContinuousKind = Literal["l2", "smooth_l1"]

# Weight of a category with no positive in the batch (the reference uses the same small constant).
ABSENT_CATEGORY_WEIGHT = 1e-4


def dynamic_category_weights(targets: torch.Tensor) -> torch.Tensor:
    """w_i = 1 / ln(c_i + 1.2), c_i = positives of category i in the batch; tiny weight where c_i = 0."""
    positives = targets.sum(dim=0)
    weights = 1.0 / torch.log(positives + 1.2)
    return torch.where(positives > 0, weights, torch.full_like(weights, ABSENT_CATEGORY_WEIGHT))


def category_scores(outputs: torch.Tensor, objective: Objective) -> torch.Tensor:
    """What a category output means as a score: the raw output under `reference` (it was regressed onto 0/1),
    the sigmoid of the logit under `normalized`."""
    return outputs if objective == "reference" else torch.sigmoid(outputs)


class DiscreteLoss(nn.Module):
    """Weighted squared error between category scores and the multi-hot targets. Rare categories in a batch weigh
    more, so frequent ones don't drown them."""

    def __init__(self, objective: Objective = "reference") -> None:
        super().__init__()
        self.objective = objective

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Scalar loss for [B, 26] outputs and targets."""
        per_person = (
            (category_scores(outputs, self.objective) - targets) ** 2 * dynamic_category_weights(targets)
        ).sum(dim=1)
        return per_person.sum() if self.objective == "reference" else per_person.mean()


class ContinuousLoss(nn.Module):
    """VAD regression loss with a margin in VAD points: 'l2' (errors below the margin cost nothing) or
    'smooth_l1' (½e² up to the margin, e − ½ beyond it, as the reference writes it).

    Predictions and targets arrive as VAD / VAD_SCALE. Under `reference` both are compared on the 1–10 scale and
    summed over the batch; under `normalized` on the 0–1 scale (margin scaled alike) and averaged.
    """

    def __init__(self, kind: ContinuousKind = "l2", margin: float = 1.0, objective: Objective = "reference") -> None:
        super().__init__()
        if kind not in ("l2", "smooth_l1"):
            raise ValueError(f"unknown continuous loss {kind!r}")
        self.kind, self.objective = kind, objective
        self.scale = VAD_SCALE if objective == "reference" else 1.0
        self.margin = margin if objective == "reference" else margin / VAD_SCALE

    def forward(self, predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Scalar loss for [B, 3] predictions and targets."""
        error = ((predicted - targets) * self.scale).abs()
        if self.kind == "l2":
            loss = torch.where(error < self.margin, torch.zeros_like(error), error**2)
        elif self.objective == "reference":
            loss = torch.where(error > self.margin, error - 0.5, 0.5 * error**2)
        else:
            beta = max(self.margin, torch.finfo(error.dtype).eps)
            loss = torch.where(error < beta, 0.5 * error**2 / beta, error - 0.5 * beta)
        per_person = loss.sum(dim=1)
        return per_person.sum() if self.objective == "reference" else per_person.mean()


class EmoticLoss(nn.Module):
    """discrete_weight × DiscreteLoss + continuous_weight × ContinuousLoss; returns (total, discrete, continuous)."""

    def __init__(
        self,
        discrete_weight: float,
        continuous_weight: float,
        kind: ContinuousKind,
        *,
        margin: float,
        objective: Objective = "reference",
    ) -> None:
        super().__init__()
        self.discrete, self.continuous = DiscreteLoss(objective), ContinuousLoss(kind, margin, objective)
        self.discrete_weight, self.continuous_weight = discrete_weight, continuous_weight

    def forward(
        self, outputs: torch.Tensor, vad: torch.Tensor, categories: torch.Tensor, vad_targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Total, discrete and continuous losses of one batch."""
        discrete = self.discrete(outputs, categories)
        continuous = self.continuous(vad, vad_targets)
        return self.discrete_weight * discrete + self.continuous_weight * continuous, discrete, continuous
