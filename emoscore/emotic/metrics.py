"""EMOTIC evaluation: per-category average precision, mAP, VAD mean absolute error, thresholds from PR curves."""

from __future__ import annotations

import numpy as np

from emoscore.emotic.labels import CATEGORIES, VAD_DIMENSIONS


def precision_recall_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at each distinct score threshold, highest threshold first (ties count together)."""
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order].astype(np.float64)
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_labels.size - 1]
    true_positives = np.cumsum(sorted_labels)[last_of_tie]
    predicted = last_of_tie + 1.0
    precision = true_positives / predicted
    recall = true_positives / max(sorted_labels.sum(), 1.0)
    return precision, recall, sorted_scores[last_of_tie]


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """AP = Σ (R_n − R_{n−1}) P_n over thresholds (the step-wise sum scikit-learn uses); NaN with no positive."""
    labels = np.asarray(labels)
    if labels.sum() == 0:
        return float("nan")
    precision, recall, _ = precision_recall_curve(labels, np.asarray(scores, dtype=np.float64))
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def per_category_ap(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AP of each category over [N, 26] labels and scores."""
    return {name: average_precision(labels[:, i], scores[:, i]) for i, name in enumerate(CATEGORIES)}


def mean_ap(aps: dict[str, float]) -> float:
    """Mean over categories that have positives (a category absent from the split has no AP)."""
    values = [value for value in aps.values() if not np.isnan(value)]
    return float(np.mean(values)) if values else float("nan")


def vad_mae(targets: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Mean absolute error per VAD dimension, and their mean, on the 1–10 scale."""
    errors = np.abs(np.asarray(targets) - np.asarray(predicted)).mean(axis=0)
    result = {name: float(errors[i]) for i, name in enumerate(VAD_DIMENSIONS)}
    result["mean"] = float(errors.mean())
    return result


def best_f1_thresholds(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Per category, the score threshold on the PR curve with the highest F1 (0.5 when no positives)."""
    thresholds = {}
    for i, name in enumerate(CATEGORIES):
        if labels[:, i].sum() == 0:
            thresholds[name] = 0.5
            continue
        precision, recall, cut = precision_recall_curve(labels[:, i], scores[:, i].astype(np.float64))
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        thresholds[name] = float(cut[int(np.argmax(f1))])
    return thresholds
