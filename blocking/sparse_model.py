"""A sparse, interpretable model of blocking persistence: L1 logistic regression on regional means.

After Zhang et al. (2024) (the authors' ``Fig7_MM-Regression-Sparse-model`` notebook): the
regions found by SHAP (:func:`blocking.explain.select_regions`), the cos(latitude)-weighted
mean of the standardised Z′ in each region at each of the three levels (4 regions × 3
levels = 12 features), and a logistic regression with an L1 penalty and balanced class
weights. For each size k = 1 … 5 every subset of k features is fitted on the training
split and the best is chosen by its F1 on the *validation* split (the authors chose on the
test set); only the chosen subsets are scored on the test split.
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import numpy as np

from blocking.config import SparseModelConfig, check_box
from blocking.dataset import load_dataset
from blocking.events import box_index
from blocking.metrics import classification_metrics, prior_correction
from sparse_core.infra.errors import ConfigError, InputError

__all__ = ["best_subsets", "read_regions", "regional_features", "run_sparse_model"]

log = logging.getLogger(__name__)


def regional_features(
    inputs: np.ndarray, lat: np.ndarray, lon: np.ndarray, boxes, levels_hpa
) -> tuple[np.ndarray, list[str]]:
    """cos(latitude)-weighted means of the inputs in each box at each level.

    Shapes:
        inputs: ``(sample, level, lat, lon)`` → features ``(sample, box × level)``, box-major.

    Returns:
        ``(features, names)`` with names such as ``"region 1 Z200"``.
    """
    columns, names = [], []
    for number, box in enumerate(boxes, start=1):
        means = box_index(inputs, lat, lon, box)  # (sample, level)
        for k, level in enumerate(levels_hpa):
            columns.append(means[:, k])
            names.append(f"region {number} Z{level:g}")
    return np.stack(columns, axis=1), names


def _fit_score(features, labels, train, chosen, columns, strength):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=strength, class_weight="balanced", max_iter=1000)
    model.fit(features[np.ix_(train, columns)], labels[train])
    probability = model.predict_proba(features[np.ix_(chosen, columns)])[:, 1]
    return model, probability


def best_subsets(
    features: np.ndarray,
    labels: np.ndarray,
    splits: dict[str, np.ndarray],
    names: list[str],
    max_features: int = 5,
    strength: float = 1.0,
) -> list[dict]:
    """For k = 1 … ``max_features``: the subset of k features with the best validation F1, tested.

    Args:
        features: standardised features, ``(sample, feature)``.
        labels: 0 / 1, ``(sample,)``.
        splits: ``{"train", "validation", "test"}`` index arrays.
        strength: inverse L1 regularisation strength C.

    Returns:
        One dict per k: ``features`` (names), ``coefficients``, ``validation_f1`` and
        ``test`` (precision, recall, f1, roc_auc, brier_skill_score; probabilities
        prior-corrected for the Brier score).
    """
    base_rate = float(labels[splits["train"]].mean())
    results = []
    for size in range(1, min(max_features, features.shape[1]) + 1):
        best = None
        for columns in itertools.combinations(range(features.shape[1]), size):
            _, probability = _fit_score(
                features, labels, splits["train"], splits["validation"], list(columns), strength
            )
            score = classification_metrics(labels[splits["validation"]], probability, base_rate)["f1"]
            if best is None or score > best[0] + 1e-12:
                best = (score, list(columns))
        model, probability = _fit_score(features, labels, splits["train"], splits["test"], best[1], strength)
        test = classification_metrics(
            labels[splits["test"]],
            prior_correction(probability, 0.5, base_rate),
            base_rate,
            decisions=probability >= 0.5,
        )
        results.append(
            {
                "size": size,
                "features": [names[c] for c in best[1]],
                "validation_f1": best[0],
                "coefficients": [float(c) for c in model.coef_[0]],
                "test": test,
            }
        )
    return results


def read_regions(path: Path) -> list[tuple[float, float, float, float]]:
    """The boxes of a ``regions.json`` written by ``blocking explain``.

    Raises:
        InputError: a missing file, or one without boxes.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: regions file not found (write one with blocking explain)")
    try:
        regions = json.loads(path.read_text())["regions"]
        boxes = [tuple(float(v) for v in region["box"]) for region in regions]
        for box in boxes:
            check_box(box, "box", str(path))
    except (ValueError, KeyError, TypeError, ConfigError) as error:
        raise InputError(f"{path}: not a regions file of blocking explain ({error})") from None
    if not boxes:
        raise InputError(f"{path}: holds no region")
    return boxes


def run_sparse_model(config: SparseModelConfig, folder: Path, progress: bool = False) -> dict:
    """``blocking sparse-model``: regional features, best subsets of 1 … k features, tested.

    Returns:
        Metrics: ``boxes``, ``features`` (names), ``subsets`` (see :func:`best_subsets`),
        ``all_features`` (the L1 model on every feature: test scores and nonzero count),
        ``samples`` per split.
    """
    dataset = load_dataset(config.dataset)
    boxes = read_regions(config.regions) if config.regions is not None else config.box_list
    days = config.persistence_days
    features, names = regional_features(dataset.inputs, dataset.lat, dataset.lon, boxes, dataset.levels_hpa)
    splits = {name: dataset.select(name, days) for name in ("train", "validation", "test")}
    for name, chosen in splits.items():
        if chosen.size == 0:
            raise InputError(f"{config.dataset}: the {name} split holds no labelled sample")
    labels = dataset.labels(days)
    mean, std = features[splits["train"]].mean(axis=0), features[splits["train"]].std(axis=0)
    features = (features - mean) / np.where(std > 0, std, 1.0)
    subsets = best_subsets(features, labels, splits, names, config.max_features, config.l1_strength)
    model, probability = _fit_score(
        features, labels, splits["train"], splits["test"], list(range(len(names))), config.l1_strength
    )
    base_rate = float(labels[splits["train"]].mean())
    everything = classification_metrics(
        labels[splits["test"]], prior_correction(probability, 0.5, base_rate), base_rate, decisions=probability >= 0.5
    )
    return {
        "boxes": [list(b) for b in boxes],
        "features": names,
        "subsets": subsets,
        "all_features": {"test": everything, "nonzero": int(np.count_nonzero(model.coef_))},
        "samples": {name: int(v.size) for name, v in splits.items()},
    }
