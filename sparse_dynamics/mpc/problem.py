"""The planning problem every planner solves, and what each task contributes to it.

Over a horizon H, from the current state ``x_0``, choose actions ``u_0 .. u_{H-1}`` in
the action box (and within a rate limit of the previous action) so that the learned model
``x_{t+1} = x_t + f([x_t, u_t])`` (or ``f([x_t, u_t])`` for a non-residual network, as
its ``metadata["residual"]`` says) keeps the states in the task's state box and minimises

    sum_{t=1..H} c_t sum_k w_k |(G x_t)_k - r_k|  +  rho sum_{t=0..H-1} |u_t|_1

with ``c_t = 1`` except ``c_H = terminal_weight`` (squares instead of absolute values for
the quadratic cost). ``G`` picks what the goal is about and ``r`` is the goal as a target
for ``G x`` (`goal_map`): for pwa ``G = I`` and the cost is the task's own
`PiecewiseAffineTask.trajectory_cost` (at ``rho = 0.1``); for push the object pose (angle
weighted by the task's ``angle_weight``, the target angle unwrapped next to the current
one); for sort each disc's class target; for rope every segment centre. For push,
`problem_for_task` can add an L1 term on the pusher's offset from a push point behind
the object (``approach_weight``), so that a horizon too short to reach the object still
sees a cost that falls as the pusher approaches.

The tasks do not declare state boxes or success; this module does (`state_box`,
`default_success_cost`): the box is where the learned model is trusted (pwa: the square of
half-width ``1.5 * initial_box``; the table tasks: positions within 30 cm of the centre, the
pushed object's angle within 2 pi), and success is a final task cost of at most 0.1 for
pwa, 4 for push, 2 per disc for sort and 1 per segment for rope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sparse_core.infra.errors import ConfigError, InputError
from sparse_dynamics.compact import CompactNetwork
from sparse_dynamics.mpc.config import ProblemConfig
from sparse_dynamics.tasks import Task

__all__ = ["ControlProblem", "check_network", "default_success_cost", "problem_for_task", "rollout", "state_box"]

TABLE_BOX_CM = 30.0


@dataclass(frozen=True)
class ControlProblem:
    """A finite-horizon control problem on a learned model (module docstring).

    Attributes:
        horizon: H.
        state_low, state_high: The state box ``(S,)``; ``x_1 .. x_H`` must lie in it.
        action_low, action_high: The action box ``(A,)``.
        rate_limit: Largest ``|u_t - u_{t-1}|`` per entry ``(A,)``, or None for no limit.
        goal_matrix: G, ``(K, S)``.
        goal_weights: w, ``(K,)``.
        goal_map: ``(goal, state) -> r`` with r of shape ``(K,)``.
        action_weight: rho.
        terminal_weight: c_H.
        cost: ``"l1"`` or ``"quadratic"``.
        box_penalty: Cost per unit of state-box violation for planners with soft constraints.
    """

    horizon: int
    state_low: np.ndarray
    state_high: np.ndarray
    action_low: np.ndarray
    action_high: np.ndarray
    rate_limit: np.ndarray | None
    goal_matrix: np.ndarray
    goal_weights: np.ndarray
    goal_map: Callable[[np.ndarray, np.ndarray], np.ndarray]
    action_weight: float = 0.1
    terminal_weight: float = 1.0
    cost: str = "l1"
    box_penalty: float = 100.0

    @property
    def state_dim(self) -> int:
        return int(self.state_low.shape[0])

    @property
    def action_dim(self) -> int:
        return int(self.action_low.shape[0])

    @property
    def step_weights(self) -> np.ndarray:
        """``c_1 .. c_H``, shape ``(H,)``."""
        weights = np.ones(self.horizon)
        weights[-1] = self.terminal_weight
        return weights

    def target(self, goal: np.ndarray, state: np.ndarray) -> np.ndarray:
        """The goal as a target ``r`` for ``G x``, shape ``(K,)``."""
        return np.asarray(self.goal_map(np.asarray(goal, dtype=np.float64), np.asarray(state, dtype=np.float64)))

    def trajectory_cost(self, states: np.ndarray, actions: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The planning cost of trajectories (without the box penalty).

        Shapes:
            - states: ``(..., H + 1, S)`` (``states[..., 0, :]`` is x_0, not charged)
            - actions: ``(..., H, A)``; target: ``(K,)``
            - output: ``(...,)``
        """
        error = np.asarray(states)[..., 1:, :] @ self.goal_matrix.T - target
        power = 1 if self.cost == "l1" else 2
        state_cost = (np.abs(error) ** power * self.goal_weights).sum(-1)
        action_cost = (np.abs(np.asarray(actions)) ** power).sum((-1, -2))
        return (state_cost * self.step_weights).sum(-1) + self.action_weight * action_cost

    def box_violation(self, states: np.ndarray) -> np.ndarray:
        """Summed violation of the state box by ``x_1 .. x_H``, ``(..., H + 1, S) -> (...,)``."""
        states = np.asarray(states)[..., 1:, :]
        return (np.maximum(states - self.state_high, 0) + np.maximum(self.state_low - states, 0)).sum((-1, -2))


def state_box(task: Task) -> tuple[np.ndarray, np.ndarray]:
    """The box ``(low, high)`` of shape ``(S,)`` where a learned model of ``task`` is trusted."""
    if task.name == "pwa":
        high = np.full(task.state_dim, 1.5 * task.initial_box)
    else:
        high = np.full(task.state_dim, TABLE_BOX_CM)
        if task.name == "push":
            high[4] = 2.0 * np.pi
    return -high, high


def default_success_cost(task: Task) -> float:
    """The final task cost at or below which an episode counts as a success (module docstring)."""
    if task.name == "pwa":
        return 0.1
    if task.name == "push":
        return 4.0
    if task.name == "sort":
        return 2.0 * task.objects
    return 1.0 * task.segments


def _push_approach(task: Task, weight: float, standoff_cm: float):
    """Rows of G, weights and a target map for the pusher's offset from its push point (push only).

    The push point lies ``standoff_cm`` behind the object's centre on the line from the
    goal position through it (where a push moves the object towards its goal), so the
    rows are ``pusher - object`` and the target is ``-standoff_cm * (goal - object) / |goal - object|``.
    """
    rows = np.zeros((2, task.state_dim))
    rows[0, 0], rows[0, 2], rows[1, 1], rows[1, 3] = 1.0, -1.0, 1.0, -1.0

    def target(goal: np.ndarray, state: np.ndarray) -> np.ndarray:
        direction = goal[:2] - state[2:4]
        length = float(np.linalg.norm(direction))
        return np.zeros(2) if length < 1e-9 else -standoff_cm * direction / length

    return rows, np.full(2, weight), target


def _goal_structure(
    task: Task, approach_weight: float = 0.0, standoff_cm: float = 6.0
) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """``(G, w, goal_map)`` of the task's cost (module docstring)."""
    eye = np.eye(task.state_dim)
    if task.name in ("pwa", "rope"):
        return eye, np.ones(task.state_dim), lambda goal, state: goal.reshape(-1)
    if task.name == "push":

        def push_target(goal: np.ndarray, state: np.ndarray) -> np.ndarray:
            turns = np.round((state[4] - goal[2]) / (2 * np.pi))
            return np.array([goal[0], goal[1], goal[2] + 2 * np.pi * turns])

        if approach_weight <= 0.0:
            return eye[2:5], np.array([1.0, 1.0, task.angle_weight]), push_target
        rows, weights, approach_target = _push_approach(task, approach_weight, standoff_cm)

        def shaped_target(goal: np.ndarray, state: np.ndarray) -> np.ndarray:
            return np.concatenate([push_target(goal, state), approach_target(goal, state)])

        return np.vstack([eye[2:5], rows]), np.array([1.0, 1.0, task.angle_weight, *weights]), shaped_target
    if task.name == "sort":
        labels = list(task.labels)
        return eye[2:], np.ones(task.state_dim - 2), lambda goal, state: goal.reshape(-1, 2)[labels].reshape(-1)
    raise ValueError(f"no planning cost is defined for task {task.name!r}")


def problem_for_task(
    task: Task, config: ProblemConfig, *, approach_weight: float = 0.0, standoff_cm: float = 6.0
) -> ControlProblem:
    """The planning problem of ``config`` on ``task`` (its action bound, state box and cost).

    Args:
        task: The task (its action bound, state names and goal).
        config: Horizon, cost, weights, rate limit.
        approach_weight: Push only: weight (per cm) of an L1 term on the pusher's offset from
            its push point, ``standoff_cm`` behind the object on the line from the goal
            through it. Without it a plan whose horizon cannot reach the object sees the
            same object cost for every action and does not move (0: no such term).
        standoff_cm: Distance of the push point from the object's centre (cm).
    """
    if approach_weight > 0.0 and task.name != "push":
        raise ConfigError(f"approach_weight applies to the push task only, not {task.name!r}", field="approach_weight")
    goal_matrix, goal_weights, goal_map = _goal_structure(task, approach_weight, standoff_cm)
    low, high = state_box(task)
    bound = np.full(task.action_dim, task.action_bound)
    return ControlProblem(
        horizon=config.horizon,
        state_low=low,
        state_high=high,
        action_low=-bound,
        action_high=bound,
        rate_limit=np.full(task.action_dim, config.rate_limit) if config.rate_limit > 0 else None,
        goal_matrix=goal_matrix,
        goal_weights=goal_weights,
        goal_map=goal_map,
        action_weight=config.action_weight,
        terminal_weight=config.terminal_weight,
        cost=config.cost,
        box_penalty=config.box_penalty,
    )


def check_network(network: CompactNetwork, problem: ControlProblem, where: str = "the network") -> None:
    """Checks that ``network`` maps ``[state, action]`` to a state (change) of ``problem``'s sizes.

    Raises:
        InputError: Naming ``where``, what was expected and what was found.
    """
    state_dim, action_dim = problem.state_dim, problem.action_dim
    if network.input_dim != state_dim + action_dim or network.output_dim != state_dim:
        raise InputError(
            f"{where}: expected a dynamics network from {state_dim} states + {action_dim} actions to {state_dim} "
            f"outputs, found {network.input_dim} inputs and {network.output_dim} outputs (a graph task's edge/node "
            f"networks are not planned with yet)"
        )


def rollout(network: CompactNetwork, state: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """The states the network predicts from ``state`` under ``actions``.

    Shapes:
        - state: ``(S,)`` or ``(B, S)``; actions: ``(H, A)`` or ``(B, H, A)``
        - output: ``(H + 1, S)`` or ``(B, H + 1, S)``
    """
    states = [np.asarray(state, dtype=np.float64)]
    actions = np.asarray(actions, dtype=np.float64)
    residual = bool(network.metadata.get("residual"))
    for t in range(actions.shape[-2]):
        change = network(np.concatenate([states[-1], actions[..., t, :]], axis=-1))
        states.append(states[-1] + change if residual else change)
    return np.stack(states, axis=-2)
