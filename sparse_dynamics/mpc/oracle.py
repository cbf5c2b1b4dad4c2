"""The exact optimal controller of the pwa task, behind the `Planner` interface.

`ExactPWAPlanner` plans on the *true* piecewise-affine dynamics with
`sparse_dynamics.tasks.pwa.optimal_control` (one LP per region sequence), so that in
closed loop it is the reference every planner on a learned model is measured against:
same horizon, same cost (`ControlProblem.trajectory_cost` equals the task's
``trajectory_cost`` for an L1 problem with terminal weight 1 and the task's action weight).
"""

from __future__ import annotations

import time

import numpy as np

from sparse_core.infra.errors import ConfigError
from sparse_dynamics.mpc.base import Planner, plan_info
from sparse_dynamics.mpc.problem import ControlProblem
from sparse_dynamics.tasks.pwa import PiecewiseAffineTask, optimal_control

__all__ = ["ExactPWAPlanner"]


class ExactPWAPlanner(Planner):
    """Exact receding-horizon control of `PiecewiseAffineTask` (module docstring).

    Args:
        task: The pwa task (its true dynamics and cost).
        problem: Must be the task's own cost: L1, no rate limit, terminal weight 1, the
            task's action weight, horizon 1 to 6.

    Raises:
        ConfigError: If ``problem`` differs from what `optimal_control` optimises.
    """

    def __init__(self, task: PiecewiseAffineTask, problem: ControlProblem) -> None:
        super().__init__(problem)
        same = (
            problem.cost == "l1" and problem.rate_limit is None and problem.terminal_weight == 1.0
            and np.isclose(problem.action_weight, task.action_weight) and 1 <= problem.horizon <= 6
        )  # fmt: skip
        if not same:
            raise ConfigError(
                "the exact pwa planner optimises the task's own cost: use cost l1, rate_limit 0, terminal_weight 1, "
                f"action_weight {task.action_weight} and a horizon of 1 to 6"
            )
        self.task = task

    def plan(self, state: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, dict]:
        """The optimal plan over the horizon on the true dynamics."""
        started = time.perf_counter()
        best = optimal_control(self.task, state, goal, self.problem.horizon)
        self._remember(best.actions)
        return best.actions, plan_info("optimal", best.cost, time.perf_counter() - started, best.states, gap=0.0)
