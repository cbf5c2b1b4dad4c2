"""Skill metrics of the persistent class, bootstrap intervals and the baselines."""

import numpy as np
import pytest

from blocking.metrics import (
    bootstrap_intervals,
    brier_skill_score,
    classification_metrics,
    climatology_baseline,
    evaluate,
    logistic_baseline,
    prior_correction,
)


def test_metrics_on_a_hand_made_confusion_matrix():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    probability = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.1, 0.3, 0.2])
    values = classification_metrics(labels, probability, base_rate=0.375)
    # true positives 2, false positive 1, false negative 1
    assert values["precision"] == pytest.approx(2 / 3) and values["recall"] == pytest.approx(2 / 3)
    assert values["f1"] == pytest.approx(2 / 3) and values["positives"] == 3
    from sklearn.metrics import brier_score_loss, roc_auc_score

    assert values["roc_auc"] == pytest.approx(roc_auc_score(labels, probability))
    expected = 1 - brier_score_loss(labels, probability) / np.mean((0.375 - labels) ** 2)
    assert values["brier_skill_score"] == pytest.approx(expected)
    assert brier_skill_score(labels, np.full(8, 0.375), 0.375) == 0.0
    assert brier_skill_score(labels, labels.astype(float), 0.375) == 1.0
    nothing = classification_metrics(labels, np.zeros(8), 0.375)
    assert nothing["precision"] == nothing["recall"] == nothing["f1"] == 0.0


def test_bootstrap_intervals_contain_the_value_and_depend_on_the_generator():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    probability = np.clip(labels * 0.6 + rng.normal(0.2, 0.25, 400), 0, 1)
    first = evaluate(labels, probability, 0.5, 300, np.random.default_rng(1))
    again = evaluate(labels, probability, 0.5, 300, np.random.default_rng(1))
    assert first == again
    for name in ("precision", "recall", "f1", "roc_auc", "brier_skill_score"):
        assert first[name]["ci_low"] <= first[name]["value"] <= first[name]["ci_high"]
        assert first[name]["ci_high"] - first[name]["ci_low"] < 0.25
    perfect = evaluate(labels, labels.astype(float), 0.5, 100, np.random.default_rng(2))
    assert perfect["f1"] == {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    # the mean of a known sample: interval close to the normal one
    values = np.random.default_rng(3).normal(size=1000)
    interval = bootstrap_intervals(lambda i: {"mean": values[i].mean()}, 1000, 2000, np.random.default_rng(4))["mean"]
    half = 1.96 * values.std() / np.sqrt(1000)
    assert interval[0] == pytest.approx(values.mean() - half, abs=0.015)
    assert interval[1] == pytest.approx(values.mean() + half, abs=0.015)


def test_prior_correction_moves_balanced_probabilities_to_the_base_rate():
    assert prior_correction(np.array([0.5]), 0.5, 0.2)[0] == pytest.approx(0.2)
    np.testing.assert_allclose(prior_correction(np.array([0.1, 0.7]), 0.3, 0.3), [0.1, 0.7])


def test_baselines_on_the_same_split():
    rng = np.random.default_rng(5)
    index = rng.normal(100, 20, (600, 1))
    change = rng.normal(0, 10, (600, 1))
    labels = (index[:, 0] + rng.normal(0, 10, 600) > 110).astype(int)  # persistence grows with the index
    features = np.hstack([index, change])
    climatology = climatology_baseline(labels[:400], labels[400:], 50, rng)
    assert climatology["recall"]["value"] == 1.0 and climatology["brier_skill_score"]["value"] <= 0.01
    assert climatology["roc_auc"]["value"] == 0.5
    logistic = logistic_baseline(features[:400], labels[:400], features[400:], labels[400:], 50, rng)
    assert logistic["roc_auc"]["value"] > 0.85 and logistic["brier_skill_score"]["value"] > 0.2
    assert abs(logistic["coefficients"][0]) > 5 * abs(logistic["coefficients"][1])
