"""Transition data: collection from a task, saving to disk, loading with validation.

A dataset is a set of episodes of equal length: ``states (episodes, steps + 1, state_dim)``
and ``actions (episodes, steps, action_dim)``, stored as ``<name>.npz`` beside a
``<name>.json`` description (task, task options, dimensions, collection settings).
Episodes stay whole so that multi-step rollouts can be trained and evaluated; splits are
by episode, never by transition.
"""

from __future__ import annotations

import functools
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from sparse_core.infra.errors import InputError
from sparse_core.infra.files import atomic_write
from sparse_dynamics.config import SPLIT_FRACTIONS, CollectConfig, split_sizes
from sparse_dynamics.readers import read_bytes, read_json, read_npz, zip_member_names
from sparse_dynamics.tasks import TASK_NAMES, Task, make_task

__all__ = [
    "CollectConfig",
    "DatasetSummary",
    "MAX_ABS_VALUE",
    "TransitionData",
    "collect",
    "dataset_files",
    "describe_dataset",
    "load_dataset",
    "save_dataset",
    "split_episodes",
    "validate",
]

FORMAT = "sparseworks.dynamics.dataset/1"
MAX_ABS_VALUE = 1e9
"""Largest magnitude of a state or action entry a dataset may hold (keeps float32 training finite)."""


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
    """Writes ``path`` (.npz with states and actions) and the .json description beside it, each atomically."""
    path = Path(path).with_suffix(".npz")
    with atomic_write(path, "wb") as handle:
        np.savez(handle, states=data.states, actions=data.actions)
    task = data.make_task()
    description = {
        "format": FORMAT,
        "task": data.task,
        "task_options": data.task_options,
        "state_dim": task.state_dim,
        "action_dim": task.action_dim,
        "state_names": list(task.state_names),
        "action_names": list(task.action_names),
        "episodes": data.episodes,
        "steps": data.steps,
        **(extra or {}),
    }
    with atomic_write(path.with_suffix(".json"), "w") as handle:
        json.dump(description, handle, indent=2)
    return path


def _fail(path: Path, field: str, message: str) -> typing.NoReturn:
    raise InputError(f"{path}: field {field!r}: {message}")


def validate(data: TransitionData, path: Path | str = "<memory>") -> TransitionData:
    """Checks shapes against the task, that every value is finite and moderate, and that states change.

    Values are refused beyond `MAX_ABS_VALUE` (larger ones overflow the float32 training),
    and so is a dataset in which no transition changes the state (nothing to learn).

    Raises:
        InputError: Naming the file, the field, what was expected and what was found.
    """
    path = Path(path)
    task = data.make_task()
    states, actions = data.states, data.actions
    if states.ndim != 3 or states.shape[2] != task.state_dim:
        _fail(
            path,
            "states",
            f"expected shape (episodes, steps + 1, {task.state_dim}) for task {data.task!r} "
            f"(state {', '.join(task.state_names)}), found {states.shape}",
        )
    if actions.ndim != 3 or actions.shape[2] != task.action_dim:
        _fail(
            path,
            "actions",
            f"expected shape (episodes, steps, {task.action_dim}) for task {data.task!r}, found {actions.shape}",
        )
    if states.shape[:2] != (actions.shape[0], actions.shape[1] + 1):
        _fail(
            path,
            "states",
            f"expected {actions.shape[0]} episodes of {actions.shape[1] + 1} states "
            f"(one more than actions), found {states.shape[:2]}",
        )
    if actions.shape[0] == 0 or actions.shape[1] == 0:
        _fail(path, "actions", f"expected at least one episode of at least one step, found shape {actions.shape}")
    for field, values in (("states", states), ("actions", actions)):
        bad = ~np.isfinite(values)
        if bad.any():
            episode, step, entry = np.argwhere(bad)[0]
            _fail(
                path,
                field,
                f"expected finite values, found {int(bad.sum())} NaN/inf entries "
                f"(first at episode {episode}, step {step}, entry {entry})",
            )
        large = np.abs(values) > MAX_ABS_VALUE
        if large.any():
            episode, step, entry = np.argwhere(large)[0]
            _fail(
                path,
                field,
                f"expected values of magnitude at most {MAX_ABS_VALUE:g}, found {int(large.sum())} "
                f"larger entries (first {values[episode, step, entry]:g} at episode {episode}, "
                f"step {step}, entry {entry})",
            )
    if not np.any(np.diff(states, axis=1)):
        _fail(path, "states", "no transition changes the state (every episode stands still); nothing to learn")
    return data


def dataset_files(path: Path | str) -> tuple[Path, Path]:
    """The (arrays, description) files of a dataset given as its .npz, its .json or their common stem.

    ``dataset``, ``dataset.npz`` and ``dataset.json`` name the pair ``dataset.npz`` +
    ``dataset.json``; a gzipped ``dataset.npz.gz`` pairs with ``dataset.json`` (or
    ``dataset.json.gz``). Another suffix names the arrays file itself, described by the
    .json of the same stem.
    """
    path = Path(path)
    if path.suffix == ".gz":
        base = path.with_suffix("")
        if base.suffix == ".json":
            return _existing(base.with_suffix(".npz")), path
        description = base.with_suffix(".json")
        return path, description if description.exists() else _existing(description.with_name(description.name + ".gz"))
    if path.suffix in ("", ".npz", ".json"):
        return path.with_suffix(".npz"), path.with_suffix(".json")
    return path, path.with_suffix(".json")


def _existing(path: Path) -> Path:
    """``path``, or its gzipped twin ``path.gz`` when only that exists."""
    zipped = path.with_name(path.name + ".gz")
    return zipped if not path.exists() and zipped.exists() else path


def _check_description(description: dict, path: Path, task: str | None) -> tuple[str, dict]:
    """The task name and options of a dataset description, checked."""
    if description.get("format") != FORMAT:
        _fail(
            path,
            "format",
            f"expected {FORMAT!r} (a dataset written by `sparseworks dynamics collect`), "
            f"found {description.get('format')!r}",
        )
    name = description.get("task")
    if name not in TASK_NAMES:
        _fail(path, "task", f"expected one of {', '.join(TASK_NAMES)}, found {name!r}")
    if task is not None and name != task:
        _fail(path, "task", f"expected {task!r}, found {name!r}")
    options = description.get("task_options", {})
    if not isinstance(options, dict):
        _fail(path, "task_options", f"expected a JSON object of task options, found {options!r}")
    defaults = make_task(name).options()
    for key, value in options.items():
        if key not in defaults:
            _fail(path, "task_options", f"task {name!r} has no option {key!r}; its options are {sorted(defaults)}")
        default = defaults[key]
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (
            isinstance(default, float)
            and not numeric
            or not isinstance(default, float)
            and type(value) is not type(default)
        ):
            _fail(
                path,
                "task_options",
                f"option {key!r} of task {name!r} must be {type(default).__name__} like {default!r}, found {value!r}",
            )
    try:
        make_task(name, **options)
    except (ValueError, TypeError) as error:
        _fail(path, "task_options", f"task {name!r} cannot be built with {options}: {error}")
    return name, options


def load_dataset(path: Path | str, task: str | None = None) -> TransitionData:
    """Loads and validates a dataset written by `save_dataset` (either file may be gzipped).

    Args:
        path: The .npz file (its .json description must lie beside it; see `dataset_files`).
        task: If given, the task the data must belong to.

    Raises:
        FileNotFoundError: If either file is missing.
        InputError: On an unreadable file, a wrong format, task, shape, non-finite values
            or a description that disagrees with the arrays (see `validate`).
    """
    path, description_path = dataset_files(path)
    what = "a dataset .npz written by `sparseworks dynamics collect`"
    if not path.exists():
        raise FileNotFoundError(f"dataset file {path} not found (write datasets with `sparseworks dynamics collect`)")
    raw = read_bytes(path, what)
    members = zip_member_names(path, raw)
    if members is not None and any(name.endswith("data.pkl") for name in members):
        raise InputError(
            f"{path}: a torch model file, not a dataset; give --data the dataset.npz written by "
            f"`sparseworks dynamics collect` (and --model the model.pt)"
        )
    if not description_path.exists():
        raise FileNotFoundError(
            f"dataset description {description_path} not found: a dataset .npz needs the .json "
            f"written beside it by `sparseworks dynamics collect`"
        )
    description = read_json(description_path, "the JSON description of a dataset")
    name, options = _check_description(description, description_path, task)
    found = read_npz(path, what, raw)
    for field in ("states", "actions"):
        if field not in found:
            _fail(path, field, f"missing; found arrays {sorted(found)}")
    data = validate(TransitionData(name, options, found["states"], found["actions"]), path)
    for field, actual in (
        ("episodes", data.episodes),
        ("steps", data.steps),
        ("state_dim", data.states.shape[2]),
        ("action_dim", data.actions.shape[2]),
    ):
        if field in description and description[field] != actual:
            _fail(description_path, field, f"says {description[field]!r}, but {path.name} holds {actual}")
    return data


class DatasetSummary(NamedTuple):
    """What a command's settings are checked against: the task, episodes and steps of a dataset file."""

    task: str
    episodes: int
    steps: int


def describe_dataset(path: Path | str) -> DatasetSummary:
    """The task and size of the dataset at ``path``, after the full checks of `load_dataset`.

    Configs call it when they are built (`sparse_dynamics.config.DataSource`), so that a
    bad ``--data`` is refused before a run starts; the answer is cached while the files
    are unchanged.

    Raises:
        FileNotFoundError: If either file is missing.
        InputError: As `load_dataset`.
    """
    files = dataset_files(path)
    stamp = tuple(
        (str(f.resolve()), f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else (str(f),) for f in files
    )
    return _describe(Path(path), stamp)


@functools.lru_cache(maxsize=8)
def _describe(path: Path, stamp: tuple) -> DatasetSummary:
    data = load_dataset(path)
    return DatasetSummary(data.task, data.episodes, data.steps)
