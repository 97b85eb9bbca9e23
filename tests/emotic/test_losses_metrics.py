"""Losses against values computed by hand, metrics against scikit-learn."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import average_precision_score

from emoscore.emotic.labels import CATEGORIES
from emoscore.emotic.losses import ContinuousLoss, DiscreteLoss, EmoticLoss, dynamic_category_weights
from emoscore.emotic.metrics import average_precision, best_f1_thresholds, mean_ap, per_category_ap, vad_mae


def test_dynamic_weights_by_hand():
    targets = torch.zeros(4, 26)
    targets[:, 0] = 1  # 4 positives
    targets[0, 1] = 1  # 1 positive
    weights = dynamic_category_weights(targets)
    assert weights[0].item() == pytest.approx(1 / math.log(5.2))
    assert weights[1].item() == pytest.approx(1 / math.log(2.2))
    assert weights[2].item() == pytest.approx(1e-4)


def test_discrete_loss_by_hand():
    logits = torch.zeros(2, 26)  # sigmoid = 0.5 everywhere
    targets = torch.zeros(2, 26)
    targets[0, 3] = 1
    loss = DiscreteLoss("normalized")(logits, targets).item()
    # per sample: category 3 weighs 1/ln(2.2), the 25 others 1e-4; every squared error is 0.25
    expected = 0.25 * (1 / math.log(2.2) + 25 * 1e-4)
    assert loss == pytest.approx(expected, rel=1e-6)


def test_reference_objective_gives_the_reference_values():
    """The inputs Tandon-A/emotic's loss.py tests itself with, and the values it prints for them."""
    target = torch.zeros(2, 26)
    target[0, 0:13] = 1
    target[1, 13:] = 2
    target[:, 13] = 0
    assert DiscreteLoss("reference")(torch.ones(2, 26), target).item() == pytest.approx(37.1217, abs=1e-4)
    # VAD arrives as VAD / 10 (what the model outputs); the reference compares pred * 10 with target * 10
    target_vad, predicted_vad = torch.ones(2, 3), torch.ones(2, 3)
    target_vad[0], target_vad[1] = 0.9, 0.2
    predicted_vad[0], predicted_vad[1] = 0.7, 0.25
    assert ContinuousLoss("smooth_l1", 1.0, "reference")(predicted_vad, target_vad).item() == pytest.approx(4.875)
    assert ContinuousLoss("l2", 1.0, "reference")(predicted_vad, target_vad).item() == pytest.approx(12.0)


def test_reference_sums_over_the_batch_and_normalized_averages():
    outputs, targets = torch.full((4, 26), 0.25), torch.zeros(4, 26)
    targets[:, 0] = 1
    absent = 25 * 0.25**2 * 1e-4  # the 25 categories without a positive in the batch, per person
    per_person = 0.75**2 / math.log(5.2) + absent
    assert DiscreteLoss("reference")(outputs, targets).item() == pytest.approx(4 * per_person)
    logits = torch.logit(outputs)  # the normalized objective reads logits: the same scores after the sigmoid
    assert DiscreteLoss("normalized")(logits, targets).item() == pytest.approx(per_person)


def test_continuous_l2_margin_by_hand():
    predicted = torch.tensor([[0.50, 0.30, 0.90]])
    targets = torch.tensor([[0.55, 0.10, 0.90]])
    loss = ContinuousLoss("l2", margin=1.0, objective="normalized")(predicted, targets).item()
    assert loss == pytest.approx(0.2**2)  # 0.05 is inside the margin, 0.0 too


def test_continuous_smooth_l1_by_hand():
    predicted = torch.tensor([[0.5, 0.0, 0.0]])
    targets = torch.tensor([[0.55, 0.5, 0.0]])
    loss = ContinuousLoss("smooth_l1", margin=1.0, objective="normalized")(predicted, targets).item()
    assert loss == pytest.approx(0.5 * 0.05**2 / 0.1 + (0.5 - 0.05))


def test_combined_loss_weights():
    logits, targets = torch.zeros(2, 26), torch.zeros(2, 26)
    targets[:, 0] = 1
    vad, vad_targets = torch.zeros(2, 3), torch.full((2, 3), 0.5)
    total, discrete, continuous = EmoticLoss(0.3, 0.7, "l2", margin=0.0, objective="normalized")(
        logits, vad, targets, vad_targets
    )
    assert total.item() == pytest.approx(0.3 * discrete.item() + 0.7 * continuous.item())
    assert continuous.item() == pytest.approx(3 * 0.25)


def test_unknown_continuous_loss():
    with pytest.raises(ValueError, match="huber"):
        ContinuousLoss("huber")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 60).flatmap(
        lambda n: st.tuples(
            arrays(np.int64, n, elements=st.integers(0, 1)),
            arrays(np.float64, n, elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])),
        )
    )
)
def test_average_precision_matches_sklearn(case):
    labels, scores = case
    if labels.sum() == 0:
        assert math.isnan(average_precision(labels, scores))
    else:
        assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)


def test_map_skips_categories_without_positives():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (50, 26))
    labels[:, 5] = 0
    scores = rng.random((50, 26))
    aps = per_category_ap(labels, scores)
    assert math.isnan(aps[CATEGORIES[5]])
    expected = np.mean([average_precision_score(labels[:, i], scores[:, i]) for i in range(26) if i != 5])
    assert mean_ap(aps) == pytest.approx(expected)


def test_vad_mae_and_thresholds():
    errors = vad_mae(np.array([[5, 5, 5], [1, 2, 3]]), np.array([[6, 5, 3], [1, 4, 3]]))
    assert errors == pytest.approx({"valence": 0.5, "arousal": 1.0, "dominance": 1.0, "mean": 2.5 / 3})
    labels = np.zeros((6, 26))
    labels[:3, 0] = 1
    scores = np.zeros((6, 26))
    scores[:, 0] = [0.9, 0.8, 0.7, 0.6, 0.2, 0.1]
    thresholds = best_f1_thresholds(labels, scores)
    assert thresholds[CATEGORIES[0]] == pytest.approx(0.7)  # F1 = 1 there
    assert thresholds[CATEGORIES[1]] == 0.5  # no positives
