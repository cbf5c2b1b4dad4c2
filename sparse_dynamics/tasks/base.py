"""The interface every control task implements.

Tasks are built by name with `sparse_dynamics.tasks.make_task`; the registry of names
(`TASK_NAMES`) lives in :mod:`sparse_dynamics.tasks`, not here.

A task is a small simulator with a fixed-size state vector and a box-bounded action
vector. ``reset(seed)`` makes the episode reproducible: the same seed and the same
actions give the same states, bit for bit (tests/sparse_dynamics/tasks/).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

__all__ = ["GraphLayout", "MAX_OPTION", "Task", "check_count", "check_size"]

MAX_OPTION = 1000.0
"""Largest value of a task's size option (radii, lengths, bounds, weights: cm or state units)."""


def check_size(task: str, name: str, value: object, *, zero: bool = False) -> float:
    """``value`` as a float, if it is a finite number in ``(0, MAX_OPTION]`` (``[0, ...]`` with ``zero``).

    Task constructors check their options with it, so that a dataset description holding
    odd options is refused instead of building a simulator that misbehaves.

    Raises:
        ValueError: Naming the task and the option.
    """
    numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    number = float(value) if numeric and abs(value) <= MAX_OPTION else math.nan
    if not (0.0 <= number <= MAX_OPTION) or (number == 0.0 and not zero):
        low = "0 <=" if zero else "0 <"
        raise ValueError(f"{task}: option {name} must be a number with {low} {name} <= {MAX_OPTION:g}, got {value!r}")
    return number


def check_count(task: str, name: str, value: object, low: int, high: int) -> int:
    """``value`` as an int, if it is an integer in ``[low, high]``.

    Raises:
        ValueError: Naming the task and the option.
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or not low <= value <= high:
        raise ValueError(f"{task}: option {name} must be an integer with {low} <= {name} <= {high}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class GraphLayout:
    """How a task's flat state splits into graph nodes, for graph dynamics models.

    Attributes:
        node_count: Number of nodes (e.g. pusher + objects, or rope segments).
        node_state_dim: State entries per node; the flat state is the node states
            concatenated node by node, shape ``(node_count * node_state_dim,)``.
        node_types: Integer type of each node (e.g. 0 = pusher, 1 + class for objects).
        type_count: Number of distinct node types (for one-hot features).
        actuated_node: Index of the node the action moves (pusher or grasped segment).
    """

    node_count: int
    node_state_dim: int
    node_types: tuple[int, ...]
    type_count: int
    actuated_node: int


class Task(abc.ABC):
    """A control task: a simulator with state, bounded actions, a goal cost and rendering.

    Subclasses set the class attributes and implement the abstract methods. States and
    actions are float64 numpy vectors.

    Attributes:
        name: Registry name (``"pwa"``, ``"push"``, ...; see `sparse_dynamics.tasks.TASK_NAMES`).
        state_names: One name per state entry, with units.
        action_names: One name per action entry, with units.
        action_bound: Every action entry must lie in ``[-action_bound, action_bound]``;
            larger values are clipped by `step`.
    """

    name: ClassVar[str]
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    action_bound: float

    @property
    def state_dim(self) -> int:
        return len(self.state_names)

    @property
    def action_dim(self) -> int:
        return len(self.action_names)

    @property
    def graph_layout(self) -> GraphLayout | None:
        """The node structure of the state, for tasks meant for graph dynamics; else None."""
        return None

    def options(self) -> dict:
        """The constructor arguments, saved with datasets so a task can be rebuilt."""
        return {}

    @abc.abstractmethod
    def reset(self, seed: int) -> np.ndarray:
        """Starts an episode from an initial state drawn with ``seed``; returns the state."""

    @abc.abstractmethod
    def step(self, action: np.ndarray) -> np.ndarray:
        """Applies one control step (the action is clipped to the bound); returns the new state."""

    @property
    @abc.abstractmethod
    def state(self) -> np.ndarray:
        """A copy of the current state, shape ``(state_dim,)``."""

    @abc.abstractmethod
    def cost(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Goal cost of one state or a batch of states, shape ``(...,)``."""

    @abc.abstractmethod
    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        """A goal for `cost`."""

    def random_action(self, rng: np.random.Generator) -> np.ndarray:
        """A uniformly random action in the action box."""
        return rng.uniform(-self.action_bound, self.action_bound, size=self.action_dim)

    def scripted_action(self, rng: np.random.Generator) -> np.ndarray:
        """An action from a simple task-specific heuristic (default: random)."""
        return self.random_action(rng)

    @abc.abstractmethod
    def render(self, path: Path | str, goal: np.ndarray | None = None) -> Path:
        """Draws the current state (and the goal, if given) into a PNG file; returns its path."""

    def clip_action(self, action: np.ndarray) -> np.ndarray:
        """The action as a float64 vector, checked for shape and finiteness, clipped to the box."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.action_dim,):
            raise ValueError(f"{self.name}: expected an action of shape ({self.action_dim},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"{self.name}: the action must be finite, got {action.tolist()}")
        return np.clip(action, -self.action_bound, self.action_bound)
