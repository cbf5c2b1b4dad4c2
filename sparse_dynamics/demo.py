"""The quick demonstration behind ``sparseworks demo --only dynamics`` (about ten seconds).

On the piecewise-affine task: collect data, train a dense 32x32 ReLU MLP, sparsify it to
four ReLUs, export the compact network and check it against the gated model; compute the
exact optimal control of the true system for a three-step horizon.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sparse_dynamics.data import CollectConfig, collect, save_dataset, split_episodes
from sparse_dynamics.export import export_model, save_export
from sparse_dynamics.pareto import compact_difference, evaluate, train_dense
from sparse_dynamics.sparsify import SparsifyConfig, sparsify
from sparse_dynamics.tasks import make_task
from sparse_dynamics.tasks.pwa import optimal_control
from sparse_dynamics.training import TrainConfig, state_scale

__all__ = ["run_demo"]


def run_demo(folder: Path, seed: int = 0, progress: bool = False) -> dict:
    """Runs the demonstration, writing the dataset and compact network into ``folder``; returns metrics."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    task = make_task("pwa")
    data = collect(task, CollectConfig(episodes=60, steps=12, seed=seed), progress=progress)
    save_dataset(data, folder / "dataset.npz")
    train, _, test = split_episodes(data, seed=seed)
    scale = state_scale(train)
    dense = train_dense(train, (32, 32), TrainConfig(steps=600), seed, progress=progress)
    gated = type(dense).gated_from(dense)
    torch.manual_seed(seed)
    config = SparsifyConfig(4, train=TrainConfig(steps=500, learning_rate=1e-3), finetune=TrainConfig(steps=200, learning_rate=5e-4))
    info = sparsify(gated, train, config, torch.Generator().manual_seed(seed), progress=progress)
    networks = export_model(gated, state_names=task.state_names, action_names=task.action_names)
    save_export(networks, folder)
    dense_errors, sparse_errors = evaluate(dense, test, scale, 10), evaluate(gated, test, scale, 10)
    plan = optimal_control(task, np.array([1.5, -1.0]), np.array([0.0, 0.5]), horizon=3)
    difference = compact_difference(gated, networks, test)
    summary = (
        f"pwa: dense 64 ReLUs 10-step error {dense_errors['rollout10_error']:.2e}; sparsified to "
        f"{info['relu_counts'][0]} ReLUs {sparse_errors['rollout10_error']:.2e}; compact vs gated {difference:.1e}; "
        f"exact 3-step optimum {plan.cost:.3f} over {plan.regions_tried} region sequences"
    )
    return {"dense_relus": 64, "dense": dense_errors, "relus": info["relu_counts"][0], "sparse": sparse_errors,
            "compact_max_abs_diff": difference, "optimal_cost": plan.cost, "summary": summary}
