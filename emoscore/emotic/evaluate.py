"""Predicting with a trained VAD model over a split, and judging it: AP/mAP against the label-frequency
baseline, VAD MAE against the training-mean baseline, per-category thresholds, and precision-recall plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from emoscore.emotic.dataset import EmoticArrays, make_loader
from emoscore.emotic.labels import CATEGORIES, VAD_SCALE
from emoscore.emotic.metrics import (
    best_f1_thresholds,
    mean_ap,
    per_category_ap,
    precision_recall_curve,
    vad_mae,
)
from emoscore.emotic.model import EmoticNet


@dataclass
class Predictions:
    """Model outputs over a split next to its labels: probabilities [N, 26] and VAD on the 1–10 scale [N, 3]."""

    probabilities: np.ndarray
    vad: np.ndarray
    categories: np.ndarray
    vad_targets: np.ndarray


@torch.no_grad()
def predict(model: EmoticNet, loader: DataLoader, device: torch.device) -> Predictions:
    """Run the model in eval mode over a loader."""
    model.eval()
    outputs: dict[str, list[np.ndarray]] = {"p": [], "v": [], "c": [], "t": []}
    for batch in loader:
        probabilities, vad = model.predict(batch["context"].to(device), batch["body"].to(device))
        outputs["p"].append(probabilities.cpu().numpy())
        outputs["v"].append(vad.cpu().numpy())
        outputs["c"].append(batch["categories"].numpy())
        outputs["t"].append(batch["vad"].numpy() * VAD_SCALE)
    return Predictions(*(np.concatenate(outputs[key]) for key in "pvct"))


def predict_split(model: EmoticNet, data_dir: Path, split: str, batch_size: int) -> Predictions:
    """Model outputs over one prepared split, on the device the model is on."""
    loader = make_loader(EmoticArrays(data_dir, split), batch_size, 0, shuffle=False)
    return predict(model, loader, next(model.parameters()).device)


def evaluation_report(
    test: Predictions, train_categories: np.ndarray, train_vad: np.ndarray, thresholds: dict[str, float]
) -> dict:
    """Metrics of the model next to what label frequencies and the training mean give on the same split."""
    aps = per_category_ap(test.categories, test.probabilities)
    frequency_scores = np.broadcast_to(train_categories.mean(axis=0), test.categories.shape)
    baseline_aps = per_category_ap(test.categories, frequency_scores)
    mean_vad = np.broadcast_to(train_vad.mean(axis=0), test.vad_targets.shape)
    predicted_positive = test.probabilities >= np.array([thresholds[name] for name in CATEGORIES])
    true_positive = (predicted_positive & (test.categories > 0)).sum(axis=0)
    precision = true_positive / np.maximum(predicted_positive.sum(axis=0), 1)
    recall = true_positive / np.maximum(test.categories.sum(axis=0), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return {
        "people": len(test.categories),
        "mAP": mean_ap(aps),
        "baseline_label_frequency_mAP": mean_ap(baseline_aps),
        "vad_mae": vad_mae(test.vad_targets, test.vad),
        "baseline_train_mean_vad_mae": vad_mae(test.vad_targets, mean_vad),
        "mean_f1_at_thresholds": float(f1[test.categories.sum(axis=0) > 0].mean()),
        "ap_per_category": {name: (None if np.isnan(ap) else ap) for name, ap in aps.items()},
        "positives_per_category": {name: int(n) for name, n in zip(CATEGORIES, test.categories.sum(0), strict=True)},
    }


def thresholds_from(predictions: Predictions) -> dict[str, float]:
    """Per-category decision thresholds (best F1 on the PR curve of this split)."""
    return best_f1_thresholds(predictions.categories, predictions.probabilities)


def plot_pr_curves(predictions: Predictions, path: Path) -> None:
    """One precision-recall panel per category (AP in the title) in a single PNG."""
    import matplotlib  # only this plot needs it, and training imports this module too

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(4, 7, figsize=(21, 12), sharex=True, sharey=True)
    for index, axis in enumerate(axes.flat):
        if index >= len(CATEGORIES):
            axis.axis("off")
            continue
        labels, scores = predictions.categories[:, index], predictions.probabilities[:, index]
        if labels.sum() == 0:
            axis.set_title(f"{CATEGORIES[index]} (no positives)", fontsize=9)
            continue
        precision, recall, _ = precision_recall_curve(labels, scores.astype(np.float64))
        ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
        axis.step(np.r_[0.0, recall], np.r_[precision[0], precision], where="post")
        axis.axhline(labels.mean(), color="grey", linestyle=":", linewidth=1)
        axis.set_title(f"{CATEGORIES[index]}  AP {ap:.2f}", fontsize=9)
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.02)
    figure.supxlabel("recall")
    figure.supylabel("precision (dotted: label frequency)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
