"""The quick demonstration behind ``sparseworks demo --only dynamics`` (about ten seconds).

On the piecewise-affine task: collect data, train a dense 32x32 ReLU MLP, sparsify it to
four ReLUs, export the compact network and check it against the gated model; train a
small dense network with the same four ReLUs for comparison; compute the exact optimal
control of the true system for a three-step horizon. Writes ``error_vs_relus.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sparse_dynamics.config import SparsifyRecipe
from sparse_dynamics.data import CollectConfig, collect, save_dataset, split_episodes
from sparse_dynamics.export import compact_difference, export_model, save_export
from sparse_dynamics.pareto import plot_pareto, small_hidden
from sparse_dynamics.sparsify import sparsify_to_budget
from sparse_dynamics.tasks import make_task
from sparse_dynamics.tasks.pwa import optimal_control
from sparse_dynamics.training import TrainConfig, evaluate, state_scale, train_dense

__all__ = ["run_demo"]


def run_demo(folder: Path, seed: int = 0, progress: bool = False) -> dict:
    """Runs the demonstration, writing the dataset, compact network and figure into ``folder``.

    Returns:
        The errors of the three models, a one-line ``summary`` and what the demo report
        shows: ``title``, ``paragraph``, ``key_numbers`` and ``figures`` (paths relative
        to ``folder``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    task = make_task("pwa")
    data = collect(task, CollectConfig(episodes=60, steps=12, seed=seed), progress=progress)
    save_dataset(data, folder / "dataset.npz")
    train, _, test = split_episodes(data, seed=seed)
    scale = state_scale(train)
    dense = train_dense(train, (32, 32), TrainConfig(steps=600), seed, progress=progress)
    budget = 4  # ReLUs
    recipe = SparsifyRecipe(sparsify_steps=500, finetune_steps=200)  # learning rates 1e-3, then 5e-4
    gated, info = sparsify_to_budget(dense, train, budget, recipe, seed=seed, progress=progress)
    networks = export_model(gated, state_names=task.state_names, action_names=task.action_names)
    save_export(networks, folder)
    dense_errors, sparse_errors = evaluate(dense, test, scale, 10), evaluate(gated, test, scale, 10)
    relus = info["relu_counts"][0]
    small = small_hidden(budget, len(dense.hidden))
    small_model = train_dense(train, small, TrainConfig(steps=600), seed, progress=progress)
    small_errors = evaluate(small_model, test, scale, 10)
    plan = optimal_control(task, np.array([1.5, -1.0]), np.array([0.0, 0.5]), horizon=3)
    difference = compact_difference(gated, networks, test)
    summary = (
        f"pwa: dense 64 ReLUs 10-step error {dense_errors['rollout10_error']:.2e}; sparsified to "
        f"{relus} ReLUs {sparse_errors['rollout10_error']:.2e} (small dense {small_errors['rollout10_error']:.2e}); "
        f"compact vs gated {difference:.1e}; "
        f"exact 3-step optimum {plan.cost:.3f} over {plan.regions_tried} region sequences"
    )
    plot_pareto(
        _pareto_results(dense_errors, relus, budget, sparse_errors, small, small_errors), folder / "error_vs_relus.png"
    )
    paragraph = (
        f"The piecewise-affine task ({task.state_dim} states, {task.action_dim} actions; {data.episodes} episodes of "
        f"{data.steps} steps, split into training and held-out episodes): "
        f"a dense 32x32 ReLU MLP (64 ReLUs) is trained on the transitions, then sparsified neuron by neuron to a "
        f"budget of {budget} ReLUs (the other units become linear or are removed) and fine-tuned; a small "
        f"dense MLP with the same {sum(small)} ReLUs ({'x'.join(map(str, small))}) is trained the same way for "
        f"comparison. Errors are the mean squared next-state error on held-out episodes, per state entry divided "
        f"by the training-state standard deviation, after one step and after ten open-loop steps. The sparsified "
        f"network is exported as plain arrays (compact_dynamics.npz/.json) and matches the gated model to "
        f"{difference:.0e}; the exact optimal 3-step control of the true system costs {plan.cost:.3f}."
    )
    return {
        "dense_relus": 64,
        "dense": dense_errors,
        "relus": relus,
        "sparse": sparse_errors,
        "small_dense_hidden": list(small),
        "small_dense": small_errors,
        "compact_max_abs_diff": difference,
        "optimal_cost": plan.cost,
        "summary": summary,
        "title": "dynamics: a sparsified ReLU dynamics model",
        "paragraph": paragraph,
        "key_numbers": {
            "dense (64 ReLUs): 10-step error": dense_errors["rollout10_error"],
            f"sparsified ({relus} ReLUs): 10-step error": sparse_errors["rollout10_error"],
            f"small dense ({sum(small)} ReLUs): 10-step error": small_errors["rollout10_error"],
            "dense (64 ReLUs): one-step error": dense_errors["one_step_error"],
            f"sparsified ({relus} ReLUs): one-step error": sparse_errors["one_step_error"],
            f"small dense ({sum(small)} ReLUs): one-step error": small_errors["one_step_error"],
            "compact export vs gated model, max |difference|": difference,
            "exact 3-step optimal cost": plan.cost,
        },
        "figures": [
            {
                "path": "error_vs_relus.png",
                "caption": "Held-out prediction error (normalised MSE, state-std units squared; log scale) "
                "against the number of ReLUs (log2 scale), after one step (left) and ten open-loop "
                "steps (right): the dense model, its sparsification and a small dense model.",
            }
        ],
    }


def _pareto_results(
    dense_errors: dict, relus: int, budget: int, sparse_errors: dict, small: tuple[int, ...], small_errors: dict
) -> dict:
    """The demo's three models in the layout `plot_pareto` reads (one budget)."""
    return {
        "task": "pwa",
        "model": "mlp",
        "dense_relus": 64,
        "budgets": [budget],
        "relu_counts": [[relus]],
        "small_dense_hidden": [list(small)],
        **{key: [sparse_errors[key]] for key in ("one_step_error", "rollout10_error")},
        **{f"small_dense_{key}": [small_errors[key]] for key in ("one_step_error", "rollout10_error")},
        **{f"dense_{key}": dense_errors[key] for key in ("one_step_error", "rollout10_error")},
    }
