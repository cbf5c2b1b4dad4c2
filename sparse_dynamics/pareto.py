"""Prediction error against the number of ReLUs: sparsified large models vs small dense ones.

For each ReLU budget, a large dense model is sparsified to the budget (`sparsify`) and,
as the baseline, a small dense model with the same number of ReLUs (split evenly over
the same number of hidden layers; per MLP for graph models) is trained directly for as
many steps as the dense model. Liu et al. (NeurIPS 2023, sec. 5) report that the
sparsified model is the better of the two; `run_pareto` measures whether that holds.
Errors are `rollout_error` on held-out episodes, normalised by the training states'
standard deviation (so entries in cm and rad are comparable).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sparse_dynamics.data import TransitionData, split_episodes
from sparse_dynamics.models import make_model
from sparse_dynamics.sparsify import SparsifyConfig, sparsify
from sparse_dynamics.training import TrainConfig, evaluation_step, fit, rollout_error, state_scale

__all__ = ["ParetoConfig", "evaluate", "plot_pareto", "pareto_table", "run_pareto", "small_hidden", "train_dense"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParetoConfig:
    """Settings of `run_pareto`.

    Attributes:
        hidden: Hidden widths of the large model (of each MLP for graph models).
        budgets: ReLU budgets (per MLP for graph models), each at most the hidden total.
        train: Training of the dense models (large and small).
        sparsify_steps: Gated training steps per budget.
        finetune_steps: Fine-tuning steps after hardening.
        seed: Seeds the split and every model.
        rollout_horizon: Steps of the rollout error (10 in the issue).
    """

    hidden: tuple[int, ...] = (128, 128)
    budgets: tuple[int, ...] = (64, 32, 16, 8, 4)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=4000))
    sparsify_steps: int = 3000
    finetune_steps: int = 1500
    seed: int = 0
    rollout_horizon: int = 10


def small_hidden(relus: int, layers: int) -> tuple[int, ...]:
    """``relus`` units split evenly over at most ``layers`` hidden layers (no empty layer)."""
    layers = max(1, min(layers, relus))
    return tuple(relus // layers + (1 if i < relus % layers else 0) for i in range(layers))


def _flat(data: TransitionData) -> tuple[torch.Tensor, ...]:
    states = torch.as_tensor(data.states[:, :-1].reshape(-1, data.states.shape[-1]), dtype=torch.float32)
    actions = torch.as_tensor(data.actions.reshape(-1, data.actions.shape[-1]), dtype=torch.float32)
    next_states = torch.as_tensor(data.states[:, 1:].reshape(-1, data.states.shape[-1]), dtype=torch.float32)
    return states, actions, next_states


def train_dense(train: TransitionData, hidden, config: TrainConfig, seed: int, *, progress: bool = False) -> nn.Module:
    """A dense dynamics model for ``train``'s task, normalised on and trained with ``train``."""
    torch.manual_seed(seed)
    model = make_model(train.make_task(), hidden)
    model.set_normalization(*_flat(train))
    fit(model, train, config, torch.Generator().manual_seed(seed), progress=progress, description=f"dense {tuple(hidden)}")
    return model


def evaluate(model: nn.Module, test: TransitionData, scale: np.ndarray, horizon: int = 10) -> dict:
    """One-step and ``horizon``-step errors of ``model`` on ``test`` (see `rollout_error`)."""
    step = evaluation_step(model)
    return {"one_step_error": rollout_error(step, test, 1, scale),
            f"rollout{horizon}_error": rollout_error(step, test, horizon, scale)}


def run_pareto(data: TransitionData, config: ParetoConfig, *, progress: bool = False) -> dict:
    """Dense model, its sparsifications at every budget, and small dense baselines.

    Returns:
        JSON-safe metrics: ``budgets``, ``relu_counts`` (per MLP), ``one_step_error``,
        ``rollout10_error``, ``small_dense_one_step_error``, ``small_dense_rollout10_error``,
        ``dense_relus``, ``dense_one_step_error``, ``dense_rollout10_error`` and
        ``compact_max_abs_diff`` (exported vs gated model, float64).
    """
    from sparse_dynamics.export import export_model

    train, _, test = split_episodes(data, seed=config.seed)
    scale = state_scale(train)
    horizon = config.rollout_horizon
    dense = train_dense(train, config.hidden, config.train, config.seed, progress=progress)
    dense_errors = evaluate(dense, test, scale, horizon)
    results: dict = {"task": data.task, "model": dense.architecture()["kind"], "hidden": list(config.hidden),
                     "budgets": [], "relu_counts": [], "one_step_error": [], f"rollout{horizon}_error": [],
                     "small_dense_hidden": [], "small_dense_one_step_error": [], f"small_dense_rollout{horizon}_error": [],
                     "dense_relus": int(sum(config.hidden)), "dense_one_step_error": dense_errors["one_step_error"],
                     f"dense_rollout{horizon}_error": dense_errors[f"rollout{horizon}_error"], "compact_max_abs_diff": 0.0,
                     "error_metric": "mean squared error per state entry, divided by the training-state std, on held-out episodes",
                     "train_episodes": train.episodes, "test_episodes": test.episodes}
    sparsify_train = TrainConfig(steps=config.sparsify_steps, batch_size=config.train.batch_size,
                                 rollout_steps=config.train.rollout_steps, learning_rate=config.train.learning_rate / 2)
    finetune = TrainConfig(steps=config.finetune_steps, batch_size=config.train.batch_size,
                           rollout_steps=config.train.rollout_steps, learning_rate=config.train.learning_rate / 4)
    for budget in tqdm(config.budgets, desc="budgets", disable=not progress):
        torch.manual_seed(config.seed + budget)
        gated = type(dense).gated_from(dense)
        info = sparsify(gated, train, SparsifyConfig(budget, train=sparsify_train, finetune=finetune),
                        torch.Generator().manual_seed(config.seed + budget), progress=progress)
        errors = evaluate(gated, test, scale, horizon)
        results["compact_max_abs_diff"] = max(results["compact_max_abs_diff"], compact_difference(gated, export_model(gated), test))
        small = small_hidden(budget, len(config.hidden))
        small_model = train_dense(train, small, config.train, config.seed + budget, progress=progress)
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


def compact_difference(model: nn.Module, networks: dict, data: TransitionData) -> float:
    """Largest |exported - gated| next-state difference over the first states of ``data`` (float64)."""
    from sparse_dynamics.compact import graph_step

    states = data.states[:, :-1].reshape(-1, data.states.shape[-1])[:512]
    actions = data.actions.reshape(-1, data.actions.shape[-1])[:512]
    reference = evaluation_step(model)(torch.as_tensor(states), torch.as_tensor(actions)).numpy()
    if "dynamics" in networks:
        exported = networks["dynamics"].step(states, actions)
    else:
        exported = graph_step(networks["edge"], networks["node"], states, actions)
    return float(np.abs(exported - reference).max())


def pareto_table(results: dict) -> str:
    """A printable table of `run_pareto` results."""
    horizon = next(k for k in results if k.startswith("rollout")).removeprefix("rollout").removesuffix("_error")
    lines = [f"task {results['task']} ({results['model']}, hidden {results['hidden']}); errors: {results['error_metric']}",
             f"{'budget':>8} {'used':>9} {'1-step sparse':>14} {'1-step small':>13} {f'{horizon}-step sparse':>15} {f'{horizon}-step small':>14}",
             f"{results['dense_relus']:>8} {'(dense)':>9} {results['dense_one_step_error']:>14.3e} {'(dense)':>13} "
             f"{results[f'dense_rollout{horizon}_error']:>15.3e} {'(dense)':>14}"]
    for i, budget in enumerate(results["budgets"]):
        used = ",".join(str(c) for c in results["relu_counts"][i])
        lines.append(f"{budget:>8} {used:>9} {results['one_step_error'][i]:>14.3e} {results['small_dense_one_step_error'][i]:>13.3e} "
                     f"{results[f'rollout{horizon}_error'][i]:>15.3e} {results[f'small_dense_rollout{horizon}_error'][i]:>14.3e}")
    lines.append(f"compact export vs gated model: max |difference| = {results['compact_max_abs_diff']:.2e}")
    return "\n".join(lines)


def plot_pareto(results: dict, path: Path | str) -> Path:
    """Error against ReLU count (log-log), sparsified vs small dense vs the dense model; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizon = next(k for k in results if k.startswith("rollout")).removeprefix("rollout").removesuffix("_error")
    per = " per MLP" if results["model"] == "graph" else ""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for axis, key, title in ((axes[0], "one_step_error", "one-step"), (axes[1], f"rollout{horizon}_error", f"{horizon}-step rollout")):
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
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
