"""Prediction error against the number of ReLUs: sparsified large models vs small dense ones.

For each ReLU budget, a large dense model is sparsified to the budget (`sparsify`) and,
as the baseline, a small dense model with the same number of ReLUs (split evenly over
the same number of hidden layers; per MLP for graph models) is trained directly for as
many steps as the dense model. Liu et al. (NeurIPS 2023, sec. 5) report that the
sparsified model is the better of the two; `run_pareto` measures whether that holds.
Errors are `rollout_error` on held-out episodes, normalised by the training states'
standard deviation (so entries in cm and rad are comparable). Each budget's
sparsification is `sparsify_to_budget`, the recipe that ``dynamics sparsify`` follows
too: the budget-B point equals ``dynamics sparsify --relu-budget B`` on the same data,
dense model and seed.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from tqdm.auto import tqdm

from sparse_core.infra.files import save_figure
from sparse_dynamics.config import ParetoConfig, rollout_horizon
from sparse_dynamics.data import TransitionData, split_episodes
from sparse_dynamics.export import compact_difference, export_model
from sparse_dynamics.sparsify import sparsify_to_budget
from sparse_dynamics.training import evaluate, state_scale, train_dense

__all__ = ["ParetoConfig", "plot_pareto", "pareto_table", "run_pareto", "small_hidden"]

logger = logging.getLogger(__name__)


def small_hidden(relus: int, layers: int) -> tuple[int, ...]:
    """``relus`` units split evenly over at most ``layers`` hidden layers (no empty layer)."""
    layers = max(1, min(layers, relus))
    return tuple(relus // layers + (1 if i < relus % layers else 0) for i in range(layers))


def run_pareto(data: TransitionData, config: ParetoConfig, *, progress: bool = False) -> dict:
    """Dense model, its sparsifications at every budget, and small dense baselines.

    The rollout horizon is ``min(10, steps)`` of the episodes (`rollout_horizon`).

    Returns:
        JSON-safe metrics: ``budgets``, ``relu_counts`` (per MLP), ``one_step_error``,
        ``rollout10_error``, ``small_dense_one_step_error``, ``small_dense_rollout10_error``,
        ``dense_relus``, ``dense_one_step_error``, ``dense_rollout10_error`` and
        ``compact_max_abs_diff`` (exported vs gated model, float64).
    """
    train, _, test = split_episodes(data, seed=config.seed)
    scale = state_scale(train)
    horizon = rollout_horizon(data.steps)
    dense_config = config.dense
    dense = train_dense(train, dense_config.hidden, dense_config.train, config.seed, progress=progress)
    dense_errors = evaluate(dense, test, scale, horizon)
    results: dict = {
        "task": data.task,
        "model": dense.architecture()["kind"],
        "hidden": list(dense_config.hidden),
        "rollout_horizon": horizon,
        "budgets": [],
        "relu_counts": [],
        "one_step_error": [],
        f"rollout{horizon}_error": [],
        "small_dense_hidden": [],
        "small_dense_one_step_error": [],
        f"small_dense_rollout{horizon}_error": [],
        "dense_relus": dense_config.relus,
        "dense_one_step_error": dense_errors["one_step_error"],
        f"dense_rollout{horizon}_error": dense_errors[f"rollout{horizon}_error"],
        "compact_max_abs_diff": 0.0,
        "error_metric": "mean squared error per state entry, divided by the training-state std, on held-out episodes",
        "train_episodes": train.episodes,
        "test_episodes": test.episodes,
    }
    for budget in tqdm(config.budgets, desc="budgets", disable=not progress):
        gated, info = sparsify_to_budget(
            dense,
            train,
            budget,
            config.recipe,
            seed=config.seed,
            rollout_steps=dense_config.train.rollout_steps,
            progress=progress,
        )
        errors = evaluate(gated, test, scale, horizon)
        results["compact_max_abs_diff"] = max(
            results["compact_max_abs_diff"], compact_difference(gated, export_model(gated), test)
        )
        small = small_hidden(budget, len(dense_config.hidden))
        small_model = train_dense(train, small, dense_config.train, config.seed + budget, progress=progress)
        small_errors = evaluate(small_model, test, scale, horizon)
        results["budgets"].append(budget)
        results["relu_counts"].append(info["relu_counts"])
        results["one_step_error"].append(errors["one_step_error"])
        results[f"rollout{horizon}_error"].append(errors[f"rollout{horizon}_error"])
        results["small_dense_hidden"].append(list(small))
        results["small_dense_one_step_error"].append(small_errors["one_step_error"])
        results[f"small_dense_rollout{horizon}_error"].append(small_errors[f"rollout{horizon}_error"])
        logger.info("budget %d: sparse %s small dense %s", budget, errors, small_errors)
    return results


def _horizon(results: dict) -> int:
    """The rollout horizon of `run_pareto` results (from the ``rollout<H>_error`` key where not recorded)."""
    if "rollout_horizon" in results:
        return int(results["rollout_horizon"])
    for key in results:
        match = re.fullmatch(r"rollout(\d+)_error", key)
        if match:
            return int(match[1])
    raise KeyError("results hold no rollout<H>_error key")


def pareto_table(results: dict) -> str:
    """A printable table of `run_pareto` results."""
    horizon = _horizon(results)
    lines = [
        f"task {results['task']} ({results['model']}, hidden {results['hidden']}); errors: {results['error_metric']}",
        f"{'budget':>8} {'used':>9} {'1-step sparse':>14} {'1-step small':>13} {f'{horizon}-step sparse':>15} {f'{horizon}-step small':>14}",
        f"{results['dense_relus']:>8} {'(dense)':>9} {results['dense_one_step_error']:>14.3e} {'(dense)':>13} "
        f"{results[f'dense_rollout{horizon}_error']:>15.3e} {'(dense)':>14}",
    ]
    for i, budget in enumerate(results["budgets"]):
        used = ",".join(str(c) for c in results["relu_counts"][i])
        lines.append(
            f"{budget:>8} {used:>9} {results['one_step_error'][i]:>14.3e} {results['small_dense_one_step_error'][i]:>13.3e} "
            f"{results[f'rollout{horizon}_error'][i]:>15.3e} {results[f'small_dense_rollout{horizon}_error'][i]:>14.3e}"
        )
    lines.append(f"compact export vs gated model: max |difference| = {results['compact_max_abs_diff']:.2e}")
    return "\n".join(lines)


def plot_pareto(results: dict, path: Path | str) -> Path:
    """Error against ReLU count (log-log), sparsified vs small dense vs the dense model; PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizon = _horizon(results)
    per = " per MLP" if results["model"] == "graph" else ""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for axis, key, title in (
        (axes[0], "one_step_error", "one-step"),
        (axes[1], f"rollout{horizon}_error", f"{horizon}-step rollout"),
    ):
        used = [max(counts) for counts in results["relu_counts"]]  # ReLUs kept (largest MLP), <= budget
        axis.plot(used, results[key], "o-", label="sparsified large model (ReLUs kept)")
        axis.plot(results["budgets"], results[f"small_dense_{key}"], "s--", label="small dense model (= budget)")
        axis.plot([results["dense_relus"]], [results[f"dense_{key}"]], "k*", markersize=12, label="dense large model")
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel(f"number of ReLUs{per}")
        axis.set_ylabel("normalised MSE (state std units²)")
        axis.set_title(f"{results['task']}: {title} error (held-out)")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    try:
        save_figure(figure, path, dpi=100)
    finally:
        plt.close(figure)
    return Path(path)
