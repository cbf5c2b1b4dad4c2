"""Skill of persistence forecasts: precision, recall, F1, ROC AUC, Brier skill, bootstrap CIs, baselines.

The persistent class (label 1) is the positive class, as in Zhang et al. (2024). The
Brier skill score is relative to climatology: the constant forecast of the training base
rate. Confidence intervals are percentile intervals of a bootstrap over test samples,
drawn from an explicit ``numpy.random.Generator``. The baselines run on the same split:
climatology (the base rate as a probability; as a decision, "always persistent") and a
logistic regression (scikit-learn) on the onset's index value Z_B and its one-day change.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "METRICS",
    "bootstrap_intervals",
    "brier_skill_score",
    "classification_metrics",
    "climatology_baseline",
    "evaluate",
    "logistic_baseline",
    "prior_correction",
]

METRICS = ("precision", "recall", "f1", "roc_auc", "brier_skill_score")


def _counts(labels: np.ndarray, decisions: np.ndarray) -> tuple[int, int, int]:
    positive = labels == 1
    return (int(np.sum(decisions & positive)), int(np.sum(decisions & ~positive)), int(np.sum(~decisions & positive)))


def brier_skill_score(labels: np.ndarray, probability: np.ndarray, base_rate: float) -> float:
    """1 − BS / BS_clim, with BS_clim the Brier score of the constant forecast ``base_rate``."""
    labels = np.asarray(labels, dtype=np.float64)
    brier = np.mean((np.asarray(probability, dtype=np.float64) - labels) ** 2)
    reference = np.mean((base_rate - labels) ** 2)
    return float(1.0 - brier / reference) if reference > 0 else float("nan")


def _roc_auc(labels: np.ndarray, probability: np.ndarray) -> float:
    """ROC AUC as the Mann–Whitney statistic (ties count half); NaN with one class only."""
    from scipy.stats import rankdata

    positive = labels == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(probability)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_metrics(
    labels, probability, base_rate: float, threshold: float = 0.5, decisions=None
) -> dict[str, float]:
    """Precision, recall and F1 of the persistent class, ROC AUC, Brier skill score.

    Args:
        labels: 0 / 1, ``(sample,)``.
        probability: forecast probability of persistence, ``(sample,)``.
        base_rate: the climatological probability (training base rate) for the Brier skill.
        threshold: decide "persistent" where ``probability >= threshold``.
        decisions: the decisions instead of thresholding (e.g. argmax of the logits).

    Returns:
        ``precision``, ``recall``, ``f1`` (0 when undefined), ``roc_auc`` (NaN with one
        class), ``brier_skill_score``, ``positives`` (predicted), ``base_rate`` (of these labels).
    """
    labels = np.asarray(labels).astype(np.int64)
    probability = np.asarray(probability, dtype=np.float64)
    decisions = probability >= threshold if decisions is None else np.asarray(decisions, dtype=bool)
    true_pos, false_pos, false_neg = _counts(labels, decisions)
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": _roc_auc(labels, probability),
        "brier_skill_score": brier_skill_score(labels, probability, base_rate),
        "positives": int(decisions.sum()),
        "base_rate": float(labels.mean()) if labels.size else 0.0,
    }


def bootstrap_intervals(
    statistic: Callable[[np.ndarray], dict[str, float]],
    samples: int,
    resamples: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of every value ``statistic(indices)`` returns.

    Args:
        statistic: metrics of the samples at the given indices (drawn with replacement).
        samples: number of samples.
        resamples: bootstrap resamples (0: no intervals).
        rng: the generator of the resamples.
        level: coverage of the intervals.

    Returns:
        ``{name: (low, high)}``; resamples where a value is NaN (e.g. AUC of one class)
        are left out of that value's interval.
    """
    if resamples <= 0 or samples == 0:
        return {}
    draws = [statistic(rng.integers(0, samples, samples)) for _ in range(resamples)]
    tail = 100.0 * (1.0 - level) / 2.0
    intervals = {}
    for name in draws[0]:
        values = np.array([d[name] for d in draws], dtype=np.float64)
        values = values[np.isfinite(values)]
        intervals[name] = (
            (float(np.percentile(values, tail)), float(np.percentile(values, 100.0 - tail)))
            if values.size
            else (float("nan"), float("nan"))
        )
    return intervals


def evaluate(
    labels,
    probability,
    base_rate: float,
    resamples: int,
    rng: np.random.Generator,
    decisions=None,
    threshold: float = 0.5,
) -> dict[str, dict[str, float]]:
    """Metrics with bootstrap intervals: ``{name: {"value", "ci_low", "ci_high"}}`` for :data:`METRICS`."""
    labels = np.asarray(labels)
    probability = np.asarray(probability, dtype=np.float64)
    decisions = probability >= threshold if decisions is None else np.asarray(decisions, dtype=bool)

    def statistic(indices: np.ndarray) -> dict[str, float]:
        values = classification_metrics(labels[indices], probability[indices], base_rate, decisions=decisions[indices])
        return {name: values[name] for name in METRICS}

    point = classification_metrics(labels, probability, base_rate, decisions=decisions)
    intervals = bootstrap_intervals(statistic, labels.size, resamples, rng)
    result = {}
    for name in METRICS:
        low, high = intervals.get(name, (float("nan"), float("nan")))
        result[name] = {"value": point[name], "ci_low": low, "ci_high": high}
    result["positives"] = point["positives"]
    return result


def prior_correction(probability, trained_rate: float, base_rate: float) -> np.ndarray:
    """Probabilities of a model trained at class rate ``trained_rate`` moved to ``base_rate``.

    Balanced batches train at a class rate ρ = 0.5; Bayes' rule multiplies the odds,
    p'/(1 − p') = p/(1 − p) · (π/(1 − π)) / (ρ/(1 − ρ)) with π the base rate, giving
    calibrated probabilities for the Brier score (decisions are left to the caller).
    """
    p = np.clip(np.asarray(probability, dtype=np.float64), 1e-12, 1 - 1e-12)
    odds = p / (1 - p) * (base_rate / (1 - base_rate)) / (trained_rate / (1 - trained_rate))
    return odds / (1 + odds)


def climatology_baseline(train_labels, test_labels, resamples: int, rng: np.random.Generator) -> dict:
    """The climatological forecast: probability = training base rate, decision "always persistent"."""
    base_rate = float(np.mean(train_labels))
    probability = np.full(len(test_labels), base_rate)
    return evaluate(test_labels, probability, base_rate, resamples, rng, decisions=np.ones(len(test_labels), bool))


def logistic_baseline(
    train_features,
    train_labels,
    test_features,
    test_labels,
    resamples: int,
    rng: np.random.Generator,
    class_weight: str | None = "balanced",
) -> dict:
    """Logistic regression on the onset's index features (Z_B and its one-day change).

    The features are standardised with training statistics; with balanced class weights
    the decision is ``p ≥ 0.5`` and the Brier score uses prior-corrected probabilities.

    Shapes:
        train_features: ``(train, features)``; test_features: ``(test, features)``.
    """
    from sklearn.linear_model import LogisticRegression

    train_features = np.asarray(train_features, dtype=np.float64)
    mean, std = train_features.mean(axis=0), train_features.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    model = LogisticRegression(class_weight=class_weight, max_iter=1000)
    model.fit((train_features - mean) / std, train_labels)
    probability = model.predict_proba((np.asarray(test_features, dtype=np.float64) - mean) / std)[:, 1]
    base_rate = float(np.mean(train_labels))
    decisions = probability >= 0.5
    if class_weight == "balanced":
        probability = prior_correction(probability, 0.5, base_rate)
    result = evaluate(test_labels, probability, base_rate, resamples, rng, decisions=decisions)
    result["coefficients"] = [float(c) for c in model.coef_[0]]
    return result
