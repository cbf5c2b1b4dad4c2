"""The work behind each ``sparseworks dynamics`` command, as library functions writing into a run folder.

Each function takes the command's frozen config (`sparse_dynamics.config`) and a folder,
writes its files there and returns JSON-safe metrics; the CLI only prints
(docs/architecture.md, "Layers"). File names in the metrics are relative to the run
folder, so that a replayed run (``--config``) gives the same metrics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sparse_core.infra.errors import InputError
from sparse_core.infra.files import atomic_write
from sparse_core.infra.runtime import config_to_dict
from sparse_dynamics.config import (
    CollectRunConfig,
    DataSource,
    ParetoRunConfig,
    SparsifyRunConfig,
    TrainRunConfig,
    rollout_horizon,
)
from sparse_dynamics.data import TransitionData, collect, load_dataset, save_dataset, split_episodes
from sparse_dynamics.tasks import make_task
from sparse_dynamics.training import evaluate, state_scale, train_dense

__all__ = ["collect_run", "load_source", "pareto_run", "remove_leftovers", "sparsify_run", "train_run"]

DATASET = "dataset.npz"
"""File name of a dataset collected into a run folder."""


def remove_leftovers(folder: Path) -> list[Path]:
    """Removes the temporary files (``.<name>.<random>.part*``) a killed earlier run left in ``folder``.

    Files are written atomically (`sparse_core.infra.files`): a run killed mid-write leaves
    at most such a temporary file, never a half-written result. A rerun into the same
    folder removes them first (also in ``frames/``).

    Returns:
        The files removed.
    """
    removed = []
    for place in (folder, folder / "frames"):
        if place.is_dir():
            for leftover in [*place.glob(".*.part"), *place.glob(".*.part.*")]:
                if leftover.is_file():
                    leftover.unlink(missing_ok=True)
                    removed.append(leftover)
    return removed


def load_source(source: DataSource, folder: Path, *, rollout_steps: int = 1, progress: bool = False) -> TransitionData:
    """The transitions of ``source``: its dataset file, or a fresh collection saved as ``folder/dataset.npz``.

    Raises:
        FileNotFoundError: If the dataset file is missing.
        InputError: If the dataset is malformed, of another task, or too short for the
            rollout loss of ``rollout_steps`` steps.
    """
    if source.data is None:
        data = collect(make_task(source.task), source.collect, progress=progress)
        save_dataset(data, folder / DATASET, extra={"collect": config_to_dict(source.collect)})
        return data
    data = load_dataset(source.data, task=source.task)  # task and size were checked with the config (`DataSource`)
    if rollout_steps > data.steps:
        raise InputError(
            f"{source.data}: episodes of {data.steps} steps are shorter than the rollout loss "
            f"(--rollout-steps {rollout_steps}); choose --rollout-steps {data.steps} or less"
        )
    return data


def collect_run(config: CollectRunConfig, folder: Path, *, progress: bool = False) -> dict:
    """Collects a dataset into ``folder/dataset.npz`` (+ .json) and renders ``config.frames`` PNG frames of episode 0."""
    remove_leftovers(folder)
    task = make_task(config.task)
    settings = config.collect
    dataset = collect(task, settings, progress=progress)
    save_dataset(dataset, folder / DATASET, extra={"collect": config_to_dict(settings)})
    if config.frames:
        goal = task.sample_goal(np.random.default_rng(settings.seed))
        task.reset(settings.seed * 100003)
        task.render(folder / "frames" / "frame_000.png", goal=goal)
        for step, action in enumerate(dataset.actions[0, : config.frames - 1], start=1):
            task.step(action)
            task.render(folder / "frames" / f"frame_{step:03d}.png", goal=goal)
    moved = np.abs(np.diff(dataset.states, axis=1)).reshape(-1, task.state_dim).mean(0)
    return {
        "task": config.task,
        "dataset": DATASET,
        "episodes": dataset.episodes,
        "steps": dataset.steps,
        "transitions": dataset.transitions,
        "state_names": list(task.state_names),
        "mean_abs_change_per_step": moved.tolist(),
        "frames": config.frames,
    }


def train_run(config: TrainRunConfig, folder: Path, *, progress: bool = False) -> dict:
    """Trains a dense model; writes ``model.pt``; returns held-out one-step and rollout errors."""
    from sparse_dynamics.models import save_model

    remove_leftovers(folder)
    dense = config.dense
    data = load_source(config.source, folder, rollout_steps=dense.train.rollout_steps, progress=progress)
    train, _, test = split_episodes(data, seed=config.seed)
    model = train_dense(train, dense.hidden, dense.train, config.seed, progress=progress)
    save_model(model, folder / "model.pt", task=data.task)
    horizon = rollout_horizon(test.steps)
    return {
        "task": data.task,
        "model": model.architecture()["kind"],
        "hidden": list(dense.hidden),
        "relus": dense.relus,
        "rollout_horizon": horizon,
        **evaluate(model, test, state_scale(train), horizon),
        "model_path": "model.pt",
    }


def _dense_model(config: SparsifyRunConfig, train: TransitionData, *, progress: bool):
    """The model file of ``config.model`` (checked against the task, and dense), else a dense model trained here."""
    from sparse_core.activation_gates import RELU
    from sparse_dynamics.models import load_model, make_model, saved_task

    if config.model is None:
        return train_dense(train, config.dense.hidden, config.dense.train, config.seed, progress=progress)
    trained_for = saved_task(config.model)
    if trained_for is not None and trained_for != train.task:
        raise InputError(
            f"{config.model}: a model trained for task {trained_for!r}, but the data is of task "
            f"{train.task!r}; give the model and the data of one task"
        )
    dense = load_model(config.model)
    expected = make_model(train.make_task(), config.dense.hidden).architecture()
    if dense.architecture() != expected:
        raise InputError(
            f"{config.model}: a model of architecture {dense.architecture()}, but task {train.task!r} needs {expected}"
        )
    choices = [activation for group in dense.budget_groups() for activation in group.activations]
    if not all(a.is_hardened and bool((a.choices() == RELU).all()) for a in choices):
        raise InputError(
            f"{config.model}: not a dense model (some hidden neurons are identities, removed or still "
            f"gated: a gated.pt from `sparsify`?); give the model.pt written by `sparseworks dynamics train`"
        )
    return dense


def sparsify_run(config: SparsifyRunConfig, folder: Path, *, progress: bool = False) -> dict:
    """Sparsifies a dense model to the ReLU budget; writes ``gated.pt`` and ``compact_*.npz/.json``."""
    from sparse_dynamics.export import compact_difference, export_model, save_export
    from sparse_dynamics.models import save_model
    from sparse_dynamics.sparsify import sparsify_to_budget

    remove_leftovers(folder)
    rollout_steps = config.dense.train.rollout_steps
    data = load_source(config.source, folder, rollout_steps=rollout_steps, progress=progress)
    train, _, test = split_episodes(data, seed=config.seed)
    dense = _dense_model(config, train, progress=progress)
    gated, info = sparsify_to_budget(
        dense,
        train,
        config.relu_budget,
        config.recipe,
        seed=config.seed,
        rollout_steps=rollout_steps,
        progress=progress,
    )
    save_model(gated, folder / "gated.pt", task=data.task)
    task = data.make_task()
    networks = export_model(gated, state_names=task.state_names, action_names=task.action_names)
    paths = save_export(networks, folder)
    scale = state_scale(train)
    horizon = rollout_horizon(test.steps)
    return {
        "task": data.task,
        "relu_budget": config.relu_budget,
        "hidden": list(config.dense.hidden),
        "rollout_horizon": horizon,
        **info,
        **{f"dense_{k}": v for k, v in evaluate(dense, test, scale, horizon).items()},
        **evaluate(gated, test, scale, horizon),
        "compact_relus": {part: net.relu_count for part, net in networks.items()},
        "compact_parameters": {part: net.parameter_count for part, net in networks.items()},
        "compact_max_abs_diff": compact_difference(gated, networks, test),
        "compact_files": {part: Path(path).name for part, path in paths.items()},
    }


def pareto_run(config: ParetoRunConfig, folder: Path, *, progress: bool = False) -> dict:
    """`run_pareto` on the data of ``config.source``, plus ``pareto.png`` and ``pareto.csv`` in ``folder``."""
    from sparse_dynamics.pareto import plot_pareto, run_pareto

    remove_leftovers(folder)
    data = load_source(config.source, folder, rollout_steps=config.dense.train.rollout_steps, progress=progress)
    results = run_pareto(data, config, progress=progress)
    plot_pareto(results, folder / "pareto.png")
    horizon = results["rollout_horizon"]
    rows = ["relus,kind,one_step_error,rollout_error"]
    rows.append(
        f"{results['dense_relus']},dense,{results['dense_one_step_error']},{results[f'dense_rollout{horizon}_error']}"
    )
    for i, budget in enumerate(results["budgets"]):
        rows.append(f"{budget},sparsified,{results['one_step_error'][i]},{results[f'rollout{horizon}_error'][i]}")
        rows.append(
            f"{budget},small_dense,{results['small_dense_one_step_error'][i]},"
            f"{results[f'small_dense_rollout{horizon}_error'][i]}"
        )
    with atomic_write(folder / "pareto.csv", "w") as handle:
        handle.write("\n".join(rows) + "\n")
    results["figure"] = "pareto.png"
    return results
