"""Transition data: collection from a task, saving to disk, loading with validation.

A dataset is a set of episodes of equal length: ``states (episodes, steps + 1, state_dim)``
and ``actions (episodes, steps, action_dim)``, stored as ``<name>.npz`` beside a
``<name>.json`` description (task, task options, dimensions, collection settings).
Episodes stay whole so that multi-step rollouts can be trained and evaluated; splits are
by episode, never by transition.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from sparse_core.infra.errors import InputError
from sparse_core.infra.files import atomic_write
from sparse_dynamics.config import SPLIT_FRACTIONS, CollectConfig, split_sizes
from sparse_dynamics.tasks import Task, make_task

__all__ = ["CollectConfig", "TransitionData", "collect", "load_dataset", "save_dataset", "split_episodes"]

FORMAT = "sparseworks.dynamics.dataset/1"


@dataclass(frozen=True)
class TransitionData:
    """Episodes of one task.

    Attributes:
        task: Task name.
        task_options: Constructor options of the task.
        states: ``(episodes, steps + 1, state_dim)`` float64.
        actions: ``(episodes, steps, action_dim)`` float64.
    """

    task: str
    task_options: dict
    states: np.ndarray
    actions: np.ndarray

    @property
    def episodes(self) -> int:
        return self.states.shape[0]

    @property
    def steps(self) -> int:
        return self.actions.shape[1]

    @property
    def transitions(self) -> int:
        return self.episodes * self.steps

    def subset(self, episodes: np.ndarray) -> TransitionData:
        """The dataset restricted to the given episode indices."""
        return TransitionData(self.task, self.task_options, self.states[episodes], self.actions[episodes])

    def make_task(self) -> Task:
        """A task equal to the one the data was collected from."""
        return make_task(self.task, **self.task_options)


def collect(task: Task, config: CollectConfig, *, progress: bool = False) -> TransitionData:
    """Runs ``config.episodes`` episodes mixing scripted and random actions.

    Returns:
        The transitions; the same task, config and seed give identical arrays.
    """
    rng = np.random.default_rng([config.seed, 7])
    states = np.empty((config.episodes, config.steps + 1, task.state_dim))
    actions = np.empty((config.episodes, config.steps, task.action_dim))
    for episode in tqdm(range(config.episodes), desc=f"collect {task.name}", disable=not progress):
        states[episode, 0] = task.reset(config.seed * 100003 + episode)
        for step in range(config.steps):
            scripted = rng.random() < config.scripted_fraction
            action = task.clip_action(task.scripted_action(rng) if scripted else task.random_action(rng))
            actions[episode, step] = action
            states[episode, step + 1] = task.step(action)
    return TransitionData(task.name, task.options(), states, actions)


def split_episodes(
    data: TransitionData, fractions: tuple[float, float] = SPLIT_FRACTIONS, seed: int = 0
) -> tuple[TransitionData, ...]:
    """Random split by episode into (train, validation, test); the test share is the rest.

    Raises:
        InputError: If a part would hold no episode.
    """
    order = np.random.default_rng([seed, 11]).permutation(data.episodes)
    train, validation, _ = split_sizes(data.episodes, fractions)
    parts = (order[:train], order[train : train + validation], order[train + validation :])
    if any(len(part) == 0 for part in parts):
        raise InputError(f"{data.episodes} episodes are too few to split {fractions} + rest; collect more episodes")
    return tuple(data.subset(np.sort(part)) for part in parts)


def save_dataset(data: TransitionData, path: Path | str, extra: dict | None = None) -> Path:
    """Writes ``path`` (.npz with states and actions) and the .json description beside it."""
    path = Path(path).with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        np.savez(handle, states=data.states, actions=data.actions)
    task = data.make_task()
    description = {
        "format": FORMAT, "task": data.task, "task_options": data.task_options,
        "state_dim": task.state_dim, "action_dim": task.action_dim,
        "state_names": list(task.state_names), "action_names": list(task.action_names),
        "episodes": data.episodes, "steps": data.steps, **(extra or {}),
    }
    with atomic_write(path.with_suffix(".json"), "w") as handle:
        json.dump(description, handle, indent=2)
    return path


def _fail(path: Path, field: str, message: str) -> None:
    raise InputError(f"{path}: field {field!r}: {message}")


def validate(data: TransitionData, path: Path | str = "<memory>") -> TransitionData:
    """Checks shapes against the task and that every value is finite; returns the data.

    Raises:
        InputError: Naming the file, the field, what was expected and what was found.
    """
    path = Path(path)
    task = data.make_task()
    states, actions = data.states, data.actions
    if states.ndim != 3 or states.shape[2] != task.state_dim:
        _fail(path, "states", f"expected shape (episodes, steps + 1, {task.state_dim}) for task {data.task!r} "
                              f"(state {', '.join(task.state_names)}), found {states.shape}")
    if actions.ndim != 3 or actions.shape[2] != task.action_dim:
        _fail(path, "actions", f"expected shape (episodes, steps, {task.action_dim}) for task {data.task!r}, "
                               f"found {actions.shape}")
    if states.shape[:2] != (actions.shape[0], actions.shape[1] + 1):
        _fail(path, "states", f"expected {actions.shape[0]} episodes of {actions.shape[1] + 1} states "
                              f"(one more than actions), found {states.shape[:2]}")
    for field, values in (("states", states), ("actions", actions)):
        bad = ~np.isfinite(values)
        if bad.any():
            episode, step, entry = np.argwhere(bad)[0]
            _fail(path, field, f"expected finite values, found {int(bad.sum())} NaN/inf entries "
                               f"(first at episode {episode}, step {step}, entry {entry})")
    return data


def load_dataset(path: Path | str, task: str | None = None) -> TransitionData:
    """Loads and validates a dataset written by `save_dataset`.

    Args:
        path: The .npz file (its .json description must lie beside it).
        task: If given, the task the data must belong to.

    Raises:
        FileNotFoundError: If either file is missing.
        InputError: On a wrong format, task, shape or non-finite values (see `validate`).
    """
    path = Path(path).with_suffix(".npz")
    description_path = path.with_suffix(".json")
    for needed in (path, description_path):
        if not needed.exists():
            raise FileNotFoundError(f"dataset file {needed} not found (write datasets with `sparseworks dynamics collect`)")
    try:
        description = json.loads(description_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{description_path}: expected the JSON description of a dataset, found: {error}") from None
    if description.get("format") != FORMAT:
        _fail(description_path, "format", f"expected {FORMAT!r}, found {description.get('format')!r}")
    if task is not None and description.get("task") != task:
        _fail(description_path, "task", f"expected {task!r}, found {description.get('task')!r}")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = {name: arrays[name] for name in arrays.files if name in ("states", "actions")}
            names = sorted(arrays.files)
    except (ValueError, EOFError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: expected a .npz archive of states and actions, found: {error}") from None
    for field in ("states", "actions"):
        if field not in found:
            _fail(path, field, f"missing; found arrays {names}")
    states, actions = found["states"].astype(np.float64), found["actions"].astype(np.float64)
    data = TransitionData(description["task"], description.get("task_options", {}), states, actions)
    return validate(data, path)
