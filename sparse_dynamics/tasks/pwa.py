"""A continuous piecewise-affine (PWA) system whose optimal control is computable exactly.

Dynamics (2-D state x, 2-D action u, K = 2 hyperplanes, so up to four regions)::

    x_{t+1} = A x_t + B u_t + c + D relu(C x_t + d)

Inside the region where the activation pattern ``sigma = [C x + d >= 0]`` is fixed the
map is affine, ``x_{t+1} = (A + D diag(sigma) C) x_t + B u_t + c + D diag(sigma) d``, and
it is continuous across region borders, so a ReLU network with two ReLU units (and
identity units for the affine part) represents it exactly: the ideal target for neuron
sparsification (Liu et al., NeurIPS 2023, sec. 3).

The cost is L1 so that planning stays a mixed-integer *linear* program (HiGHS solves
MILPs, not MIQPs). `optimal_control` finds the exact optimum over a short horizon by
enumerating the region sequences of x_1 ... x_{H-1} (x_0 is known) and solving one linear
program per sequence; the smallest feasible objective is the global optimum
(Bemporad & Morari, "Control of systems integrating logic, dynamics, and constraints",
Automatica 1999, the mode-enumeration view of PWA optimal control).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.optimize

from sparse_dynamics.tasks.base import Task, check_size

__all__ = ["OptimalPlan", "PiecewiseAffineTask", "optimal_control"]

_A = np.array([[1.0, 0.1], [-0.1, 0.95]])
_B = np.array([[0.1, 0.0], [0.02, 0.1]])
_C = np.array([[1.0, 0.0], [0.5, 1.0]])
_D = np.array([[-0.3, 0.2], [0.25, -0.35]])
_c = np.array([0.0, 0.02])
_d = np.array([-0.5, 0.3])


class PiecewiseAffineTask(Task):
    """The PWA system of the module docstring.

    Args:
        action_bound: Bound on each action entry.
        initial_box: Initial states are drawn uniformly from ``[-initial_box, initial_box]^2``.
        action_weight: ``rho`` in ``cost = sum_t |x_t - goal|_1 + rho sum_t |u_t|_1`` (see
            `trajectory_cost`).
    """

    name = "pwa"
    state_names = ("x1", "x2")
    action_names = ("u1", "u2")

    def __init__(self, action_bound: float = 1.0, initial_box: float = 2.0, action_weight: float = 0.1) -> None:
        self.action_bound = check_size(self.name, "action_bound", action_bound)
        self.initial_box = check_size(self.name, "initial_box", initial_box)
        self.action_weight = check_size(self.name, "action_weight", action_weight, zero=True)
        self.A, self.B, self.C, self.D, self.c, self.d = _A, _B, _C, _D, _c, _d
        self._state = np.zeros(2)

    def options(self) -> dict:
        return {"action_bound": self.action_bound, "initial_box": self.initial_box, "action_weight": self.action_weight}

    def dynamics(self, state: np.ndarray, action: np.ndarray) -> np.ndarray:
        """The next state for a batch of states and actions, shapes ``(..., 2) -> (..., 2)``."""
        state, action = np.asarray(state, dtype=np.float64), np.asarray(action, dtype=np.float64)
        hinge = np.maximum(state @ self.C.T + self.d, 0.0)
        return state @ self.A.T + action @ self.B.T + self.c + hinge @ self.D.T

    def region(self, state: np.ndarray) -> np.ndarray:
        """The activation pattern ``C x + d >= 0`` as booleans, shape ``(..., 2)``."""
        return np.asarray(state) @ self.C.T + self.d >= 0.0

    def reset(self, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        self._state = rng.uniform(-self.initial_box, self.initial_box, size=2)
        return self.state

    def step(self, action: np.ndarray) -> np.ndarray:
        self._state = self.dynamics(self._state, self.clip_action(action))
        return self.state

    @property
    def state(self) -> np.ndarray:
        return self._state.copy()

    def cost(self, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """``|x - goal|_1``, shape ``(...,)``."""
        return np.abs(np.asarray(state) - np.asarray(goal)).sum(axis=-1)

    def trajectory_cost(self, states: np.ndarray, actions: np.ndarray, goal: np.ndarray) -> float:
        """``sum_{t=1..H} |x_t - goal|_1 + rho sum_{t=0..H-1} |u_t|_1`` for states ``(H+1, 2)``, actions ``(H, 2)``."""
        return float(self.cost(states[1:], goal).sum() + self.action_weight * np.abs(actions).sum())

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, size=2)

    def scripted_action(self, rng: np.random.Generator) -> np.ndarray:
        """A noisy proportional controller towards a random point (wide coverage of all regions)."""
        target = rng.uniform(-self.initial_box, self.initial_box, size=2)
        command = np.linalg.lstsq(self.B, 0.5 * (target - self._state), rcond=None)[0]
        return np.clip(command + rng.normal(0.0, 0.2, size=2), -self.action_bound, self.action_bound)

    def render(self, path: Path | str, goal: np.ndarray | None = None) -> Path:
        from sparse_dynamics.tasks.render import draw_scene

        box = 1.5 * self.initial_box
        lines = []
        for normal, offset in zip(self.C, self.d):  # n . x + offset = 0, drawn across the box
            direction = np.array([-normal[1], normal[0]])
            point = -offset * normal / normal.dot(normal)
            lines.append(np.stack([point - 3 * box * direction, point + 3 * box * direction]))
        return draw_scene(
            path,
            limits=(-box, box, -box, box),
            circles=[(self._state, 0.05 * box, "tab:blue")],
            lines=lines,
            goal_circles=[] if goal is None else [(np.asarray(goal), 0.05 * box)],
            title="pwa: state (dot), region borders (lines)",
            units="state units",
        )


@dataclass(frozen=True)
class OptimalPlan:
    """The exact optimum of `optimal_control`.

    Attributes:
        actions: Optimal actions, shape ``(horizon, 2)``.
        states: The states they lead to, shape ``(horizon + 1, 2)`` (``states[0] = x0``).
        cost: The optimal `PiecewiseAffineTask.trajectory_cost`.
        regions_tried: Number of feasible region sequences whose LP was solved.
    """

    actions: np.ndarray
    states: np.ndarray
    cost: float
    regions_tried: int


def _plan_lp(
    task: PiecewiseAffineTask, x0: np.ndarray, goal: np.ndarray, patterns: tuple
) -> scipy.optimize.OptimizeResult:
    """One LP: the optimum when x_t stays in region ``patterns[t]`` (t = 0 .. H-1).

    Variables per step t = 0..H-1: u_t (2), x_{t+1} (2), e_{t+1} >= |x_{t+1} - goal| (2),
    s_t >= |u_t| (2); 8 per step.
    """
    horizon = len(patterns)
    n = 8 * horizon
    u = lambda t: slice(8 * t, 8 * t + 2)  # noqa: E731
    x = lambda t: slice(8 * t + 2, 8 * t + 4)  # noqa: E731  (x_{t+1})
    e = lambda t: slice(8 * t + 4, 8 * t + 6)  # noqa: E731
    s = lambda t: slice(8 * t + 6, 8 * t + 8)  # noqa: E731
    objective = np.zeros(n)
    bounds = [(None, None)] * n
    eq_rows, eq_rhs, ub_rows, ub_rhs = [], [], [], []
    for t, sigma in enumerate(patterns):
        objective[e(t)] = 1.0
        objective[s(t)] = task.action_weight
        for j in range(2):
            bounds[u(t).start + j] = (-task.action_bound, task.action_bound)
        active = np.asarray(sigma, dtype=float)
        A_r = task.A + task.D @ np.diag(active) @ task.C
        c_r = task.c + task.D @ (active * task.d)
        # x_{t+1} - A_r x_t - B u_t = c_r  (x_0 is a constant)
        for i in range(2):
            row = np.zeros(n)
            row[x(t).start + i] = 1.0
            row[u(t)] = -task.B[i]
            rhs = c_r[i]
            if t == 0:
                rhs += A_r[i] @ x0
            else:
                row[x(t - 1)] = -A_r[i]
            eq_rows.append(row)
            eq_rhs.append(rhs)
        # |x_{t+1} - goal| <= e,  |u_t| <= s
        for i in range(2):
            for sign in (1.0, -1.0):
                row = np.zeros(n)
                row[x(t).start + i], row[e(t).start + i] = sign, -1.0
                ub_rows.append(row), ub_rhs.append(sign * goal[i])
                row = np.zeros(n)
                row[u(t).start + i], row[s(t).start + i] = sign, -1.0
                ub_rows.append(row), ub_rhs.append(0.0)
        # region of x_t for t >= 1: C_k x + d_k >= 0 if active else <= 0
        if t >= 1:
            for k in range(2):
                row = np.zeros(n)
                sign = -1.0 if sigma[k] else 1.0  # sign * (C_k x + d_k) <= 0
                row[x(t - 1)] = sign * task.C[k]
                ub_rows.append(row), ub_rhs.append(-sign * task.d[k])
    return scipy.optimize.linprog(
        objective,
        A_ub=np.array(ub_rows),
        b_ub=np.array(ub_rhs),
        A_eq=np.array(eq_rows),
        b_eq=np.array(eq_rhs),
        bounds=bounds,
        method="highs",
    )


def optimal_control(task: PiecewiseAffineTask, x0: np.ndarray, goal: np.ndarray, horizon: int) -> OptimalPlan:
    """The exact minimum of `PiecewiseAffineTask.trajectory_cost` over ``horizon`` steps.

    Enumerates the ``4^(horizon-1)`` region sequences of x_1 .. x_{H-1} (the region of x_0 is
    known) and solves one LP for each with scipy's HiGHS; returns the best.

    Args:
        task: The PWA system.
        x0: Initial state, shape (2,).
        goal: Goal state, shape (2,).
        horizon: Number of control steps H (1 to 6; 4^(H-1) LPs are solved).

    Returns:
        The optimal plan.
    """
    if not 1 <= horizon <= 6:
        raise ValueError(f"horizon must be between 1 and 6 (4^(H-1) LPs are solved), got {horizon}")
    x0, goal = np.asarray(x0, dtype=np.float64), np.asarray(goal, dtype=np.float64)
    first = tuple(bool(v) for v in task.region(x0))
    best, tried = None, 0
    for rest in itertools.product(itertools.product((False, True), repeat=2), repeat=horizon - 1):
        result = _plan_lp(task, x0, goal, (first, *rest))
        if result.status != 0:
            continue
        tried += 1
        if best is None or result.fun < best.fun:
            best = result
    if best is None:  # cannot happen: the region sequence of any feasible plan is enumerated
        raise RuntimeError("no feasible region sequence found")
    actions = np.stack([best.x[8 * t : 8 * t + 2] for t in range(horizon)])
    states = [x0]
    for action in actions:
        states.append(task.dynamics(states[-1], action))
    states = np.stack(states)
    return OptimalPlan(
        actions=actions, states=states, cost=task.trajectory_cost(states, actions, goal), regions_tried=tried
    )
