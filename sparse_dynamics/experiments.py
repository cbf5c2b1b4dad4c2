"""The work behind each CLI command, as library functions writing into a run folder.

Each function takes a frozen config and a folder, writes its files there and returns
JSON-safe metrics; the CLI only parses arguments and prints (DESIGN §1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sparse_dynamics.data import CollectConfig, TransitionData, collect, load_dataset, save_dataset, split_episodes
from sparse_dynamics.pareto import ParetoConfig, evaluate, pareto_table, plot_pareto, run_pareto, train_dense
from sparse_dynamics.sparsify import SparsifyConfig, sparsify
from sparse_dynamics.tasks import make_task
from sparse_dynamics.training import TrainConfig, state_scale

__all__ = ["DataSource", "SparsifyRunConfig", "TrainRunConfig", "collect_run", "pareto_run", "sparsify_run", "train_run"]


@dataclass(frozen=True)
class DataSource:
    """Where transitions come from: a saved dataset, or a fresh collection.

    Attributes:
        task: Task name.
        data: Path of a dataset .npz; empty = collect with ``collect``.
        collect: Collection settings when no dataset is given.
    """

    task: str
    data: str = ""
    collect: CollectConfig = field(default_factory=CollectConfig)

    def load(self, folder: Path, *, progress: bool = False) -> TransitionData:
        if self.data:
            return load_dataset(self.data, task=self.task)
        dataset = collect(make_task(self.task), self.collect, progress=progress)
        save_dataset(dataset, folder / "dataset.npz", extra={"collect": self.collect.__dict__})
        return dataset


def collect_run(source: DataSource, folder: Path, *, frames: int = 0, progress: bool = False) -> dict:
    """Collects a dataset into ``folder/dataset.npz`` (+ .json) and renders ``frames`` PNG frames of episode 0."""
    task = make_task(source.task)
    dataset = collect(task, source.collect, progress=progress)
    path = save_dataset(dataset, folder / "dataset.npz", extra={"collect": source.collect.__dict__})
    if frames:
        goal = task.sample_goal(np.random.default_rng(source.collect.seed))
        task.reset(source.collect.seed * 100003)
        task.render(folder / "frames" / "frame_000.png", goal=goal)
        for step, action in enumerate(dataset.actions[0, : frames - 1], start=1):
            task.step(action)
            task.render(folder / "frames" / f"frame_{step:03d}.png", goal=goal)
    moved = np.abs(np.diff(dataset.states, axis=1)).reshape(-1, task.state_dim).mean(0)
    return {"task": source.task, "dataset": str(path), "episodes": dataset.episodes, "steps": dataset.steps,
            "transitions": dataset.transitions, "state_names": list(task.state_names),
            "mean_abs_change_per_step": moved.tolist(), "frames": frames}


@dataclass(frozen=True)
class TrainRunConfig:
    """Settings of `train_run`: data, hidden widths, optimisation, seed."""

    source: DataSource
    hidden: tuple[int, ...] = (128, 128)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=4000))
    seed: int = 0


def train_run(config: TrainRunConfig, folder: Path, *, progress: bool = False) -> dict:
    """Trains a dense model; writes ``model.pt``; returns held-out one-step and 10-step errors."""
    from sparse_dynamics.models import save_model

    data = config.source.load(folder, progress=progress)
    train, _, test = split_episodes(data, seed=config.seed)
    model = train_dense(train, config.hidden, config.train, config.seed, progress=progress)
    save_model(model, folder / "model.pt")
    horizon = min(10, test.steps)
    return {"task": data.task, "model": model.architecture()["kind"], "hidden": list(config.hidden),
            "relus": int(sum(config.hidden)), "rollout_horizon": horizon, **evaluate(model, test, state_scale(train), horizon),
            "model_path": str(folder / "model.pt")}


@dataclass(frozen=True)
class SparsifyRunConfig:
    """Settings of `sparsify_run`: a dense model (path, or trained here) and the budget."""

    source: DataSource
    relu_budget: int
    model: str = ""
    hidden: tuple[int, ...] = (128, 128)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=4000))
    sparsify_steps: int = 3000
    finetune_steps: int = 1500
    seed: int = 0


def sparsify_run(config: SparsifyRunConfig, folder: Path, *, progress: bool = False) -> dict:
    """Sparsifies a dense model to the ReLU budget; writes ``gated.pt`` and ``compact_*.npz/.json``."""
    from sparse_dynamics.export import export_model, save_export
    from sparse_dynamics.models import load_model, save_model
    from sparse_dynamics.pareto import compact_difference

    data = config.source.load(folder, progress=progress)
    train, _, test = split_episodes(data, seed=config.seed)
    if config.model:
        dense = load_model(config.model)
    else:
        dense = train_dense(train, config.hidden, config.train, config.seed, progress=progress)
    torch.manual_seed(config.seed)
    gated = type(dense).gated_from(dense)
    sparsify_config = SparsifyConfig(
        config.relu_budget, train=TrainConfig(steps=config.sparsify_steps, learning_rate=config.train.learning_rate / 2),
        finetune=TrainConfig(steps=config.finetune_steps, learning_rate=config.train.learning_rate / 4),
    )
    info = sparsify(gated, train, sparsify_config, torch.Generator().manual_seed(config.seed), progress=progress)
    save_model(gated, folder / "gated.pt")
    task = data.make_task()
    networks = export_model(gated, state_names=task.state_names, action_names=task.action_names)
    paths = save_export(networks, folder)
    scale = state_scale(train)
    horizon = min(10, test.steps)
    return {"task": data.task, "relu_budget": config.relu_budget, "rollout_horizon": horizon, **info,
            **{f"dense_{k}": v for k, v in evaluate(dense, test, scale, horizon).items()},
            **evaluate(gated, test, scale, horizon),
            "compact_relus": {part: net.relu_count for part, net in networks.items()},
            "compact_parameters": {part: net.parameter_count for part, net in networks.items()},
            "compact_max_abs_diff": compact_difference(gated, networks, test), "compact_files": paths}


def pareto_run(source: DataSource, config: ParetoConfig, folder: Path, *, progress: bool = False) -> tuple[dict, str]:
    """`run_pareto` plus ``pareto.png`` and ``pareto.csv`` in ``folder``; returns (metrics, table)."""
    data = source.load(folder, progress=progress)
    results = run_pareto(data, config, progress=progress)
    plot_pareto(results, folder / "pareto.png")
    horizon = config.rollout_horizon
    rows = ["relus,kind,one_step_error,rollout_error"]
    rows.append(f"{results['dense_relus']},dense,{results['dense_one_step_error']},{results[f'dense_rollout{horizon}_error']}")
    for i, budget in enumerate(results["budgets"]):
        rows.append(f"{budget},sparsified,{results['one_step_error'][i]},{results[f'rollout{horizon}_error'][i]}")
        rows.append(f"{budget},small_dense,{results['small_dense_one_step_error'][i]},"
                    f"{results[f'small_dense_rollout{horizon}_error'][i]}")
    (folder / "pareto.csv").write_text("\n".join(rows) + "\n")
    results["figure"] = str(folder / "pareto.png")
    return results, pareto_table(results)
