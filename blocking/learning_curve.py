"""The CNN's skill against the amount of training data (Zhang et al. 2024, Fig. 4).

Every point trains the networks of :func:`blocking.training.train_and_test` on the first N
days of the dataset's training split (member by member, in time order, standardised with
those days' own statistics) and tests them on the same, untouched test split, beside the
climatology and index-logistic baselines fitted on the same N days. The authors' figures
(D = 5, mean of 10 seeds, precision / recall): 1k days 0.370 / 0.582, 10k 0.609 / 0.695,
100k 0.660 / 0.791 (hzhang-math/BlockingSHAPTL, on a 1.25-million-day run of their model).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from blocking.config import LearningCurveConfig
from blocking.dataset import load_dataset
from blocking.training import train_and_test
from sparse_core.infra.files import atomic_write, save_figure

__all__ = ["AUTHORS", "plot_learning_curve", "run_learning_curve"]

log = logging.getLogger(__name__)

AUTHORS = {
    1000: {"precision": 0.370, "recall": 0.582},
    10000: {"precision": 0.609, "recall": 0.695},
    100000: {"precision": 0.660, "recall": 0.791},
}
"""The authors' CNN at D = 5 (mean of 10 seeds) by training days: precision and recall."""
for _point in AUTHORS.values():
    _point["f1"] = 2 * _point["precision"] * _point["recall"] / (_point["precision"] + _point["recall"])

_COLUMNS = ("precision", "recall", "f1")


def _point(days: int, used: int, result: dict) -> dict:
    cnn, seeds = result["cnn"], result["cnn_seeds"]
    point = {"requested_days": days, "train_days": used, "samples": result["samples"], "base_rate": result["base_rate"]}
    for name in _COLUMNS + ("roc_auc", "brier_skill_score"):
        point[f"cnn_{name}"] = {
            "mean": seeds[name]["mean"],
            "std": seeds[name]["std"],
            "first_seed": cnn[name]["value"],
            "ci": [cnn[name]["ci_low"], cnn[name]["ci_high"]],
        }
    for baseline in ("logistic", "climatology"):
        for name in _COLUMNS:
            block = result[baseline][name]
            point[f"{baseline}_{name}"] = {"value": block["value"], "ci": [block["ci_low"], block["ci_high"]]}
    return point


def run_learning_curve(config: LearningCurveConfig, folder: Path, device: str = "cpu", progress: bool = False) -> dict:
    """``blocking learning-curve``: one :func:`~blocking.training.train_and_test` per number of days.

    Writes ``learning_curve.csv``, ``learning_curve.png`` and, per point, ``days-<N>/``
    (model.pt and predictions.csv of its first seed) into ``folder``.

    Returns:
        ``points`` (per number of days: the training days used, samples per split, the CNN's
        precision / recall / F1 / ROC AUC / BSS as mean and std over seeds plus the first
        seed's value and bootstrap CI, the baselines' value and CI), ``test_samples``,
        ``seeds``, ``persistence_days``, ``authors`` (their precision / recall / F1).

    Raises:
        InputError: the dataset is unreadable or lacks its split layout, a point has no
            training sample or only one class.
    """
    folder = Path(folder)
    dataset = load_dataset(config.fit.dataset)
    points = []
    for days in config.train_days:
        subset, used = dataset.first_training_days(days)
        log.info("learning curve: %d training days (%d available)", days, used)
        point_folder = folder / f"days-{days}"
        point_folder.mkdir(parents=True, exist_ok=True)
        result = train_and_test(subset, config.fit, point_folder, device, progress)
        points.append(_point(days, used, result))
    _write_csv(folder / "learning_curve.csv", points)
    plot_learning_curve(folder / "learning_curve.png", points, result["persistence_days"])
    return {
        "points": points,
        "test_samples": points[-1]["samples"]["test"],
        "seeds": config.fit.seeds,
        "persistence_days": result["persistence_days"],
        "authors": {str(k): v for k, v in AUTHORS.items()},
        "files": ["learning_curve.csv", "learning_curve.png"] + [f"days-{d}" for d in config.train_days],
    }


def _write_csv(path: Path, points: list[dict]) -> None:
    header = ["train_days", "train_samples", "base_rate"]
    for name in _COLUMNS:
        header += [f"cnn_{name}_mean", f"cnn_{name}_std", f"cnn_{name}_ci_low", f"cnn_{name}_ci_high"]
    header += [f"{b}_{name}" for b in ("logistic", "climatology") for name in _COLUMNS]
    lines = [",".join(header)]
    for p in points:
        row = [p["train_days"], p["samples"]["train"], f"{p['base_rate']:.4f}"]
        for name in _COLUMNS:
            cnn = p[f"cnn_{name}"]
            row += [f"{cnn['mean']:.4f}", f"{cnn['std']:.4f}", f"{cnn['ci'][0]:.4f}", f"{cnn['ci'][1]:.4f}"]
        row += [f"{p[f'{b}_{name}']['value']:.4f}" for b in ("logistic", "climatology") for name in _COLUMNS]
        lines.append(",".join(str(v) for v in row))
    with atomic_write(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def plot_learning_curve(path: Path, points: list[dict], persistence_days: int) -> Path:
    """Precision, recall and F1 of the CNN (mean ± std over seeds) and the baselines against training days."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = np.array([p["train_days"] for p in points], dtype=np.float64)
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True, constrained_layout=True)
    for axis, name in zip(axes, _COLUMNS):
        mean = np.array([p[f"cnn_{name}"]["mean"] for p in points])
        std = np.array([p[f"cnn_{name}"]["std"] for p in points])
        axis.errorbar(days, mean, yerr=std, marker="o", capsize=3, label="CNN (mean ± std over seeds)")
        axis.plot(days, [p[f"logistic_{name}"]["value"] for p in points], "s--", label="index logistic")
        axis.plot(days, [p[f"climatology_{name}"]["value"] for p in points], "^:", label="climatology")
        if persistence_days == 5:
            axis.plot(list(AUTHORS), [v[name] for v in AUTHORS.values()], "kx", ms=8, label="Zhang et al. CNN")
        axis.set_xscale("log")
        axis.set_xlabel("training days")
        title = "F1" if name == "f1" else name
        axis.set_title(f"{title} of the persistent class (D = {persistence_days} days)", fontsize=10)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("test score (1)")
    axes[0].set_ylim(0.0, 1.0)
    axes[0].legend(fontsize=8)
    save_figure(figure, path, dpi=120)
    plt.close(figure)
    return Path(path)
