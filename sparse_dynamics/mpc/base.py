"""The interface every planner implements: ``plan(state, goal) -> (actions, info)``.

A planner is built for one learned model and one `ControlProblem` and is called once per
control step of a receding-horizon loop (`sparse_dynamics.mpc.closed_loop`): it returns
the whole planned action sequence ``(H, A)``; the loop applies the first action. Planners
remember what they planned (to warm-start the next step, and the previous action for the
rate limit) until `Planner.reset` starts a new episode.

``info`` always holds the keys of `plan_info` (``INFO_KEYS``): ``status`` (``"optimal"``,
``"time_limit"``, ``"deadline"`` and ``"ok"`` return a usable plan; ``"infeasible"``,
``"no_solution"``, ``"unsupported"`` and ``"error"`` mean the returned actions are a
fallback, the previous plan shifted by one step), ``objective`` (the planning cost of the
plan under the model), ``gap`` (the relative MIP gap; None for non-MIP planners),
``solve_seconds`` (wall time of the whole call), ``binaries`` (free binaries in the MIP;
0 otherwise), ``stable_share`` (share of ReLUs proven stable; None otherwise) and
``predicted_states`` (``(H + 1, S)``, the model's trajectory).
"""

from __future__ import annotations

import abc

import numpy as np

from sparse_dynamics.mpc.problem import ControlProblem

__all__ = ["FALLBACK_STATUSES", "INFO_KEYS", "Planner", "plan_info", "shift_plan"]

INFO_KEYS = ("status", "objective", "gap", "solve_seconds", "binaries", "stable_share", "predicted_states")
FALLBACK_STATUSES = ("infeasible", "no_solution", "unsupported", "error")


def plan_info(
    status: str,
    objective: float | None,
    solve_seconds: float,
    predicted_states: np.ndarray | None,
    *,
    gap: float | None = None,
    binaries: int = 0,
    stable_share: float | None = None,
    **extra,
) -> dict:
    """The ``info`` of a plan (module docstring), plus any planner-specific ``extra`` keys."""
    return {
        "status": status,
        "objective": None if objective is None else float(objective),
        "gap": None if gap is None else float(gap),
        "solve_seconds": float(solve_seconds),
        "binaries": int(binaries),
        "stable_share": None if stable_share is None else float(stable_share),
        "predicted_states": predicted_states,
        **extra,
    }


def shift_plan(actions: np.ndarray) -> np.ndarray:
    """The plan one step later: drop the first action, repeat the last, ``(H, A) -> (H, A)``."""
    actions = np.asarray(actions, dtype=np.float64)
    return np.concatenate([actions[1:], actions[-1:]], axis=0)


class Planner(abc.ABC):
    """A receding-horizon planner on a learned model (module docstring).

    Attributes:
        problem: The control problem it solves.
    """

    problem: ControlProblem

    def __init__(self, problem: ControlProblem) -> None:
        self.problem = problem
        self._plan: np.ndarray | None = None
        self._previous_action: np.ndarray | None = None

    def reset(self) -> None:
        """Forgets the previous plan and action (a new episode)."""
        self._plan = None
        self._previous_action = None

    @abc.abstractmethod
    def plan(self, state: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, dict]:
        """Plans from ``state`` towards ``goal``.

        Shapes:
            - state: ``(S,)``; goal: the task's goal
            - output: actions ``(H, A)`` and the info dict (module docstring)
        """

    def _initial_guess(self) -> np.ndarray:
        """The previous plan shifted by one step, or zeros clipped into the action box, ``(H, A)``."""
        if self._plan is not None:
            return shift_plan(self._plan)
        zeros = np.zeros((self.problem.horizon, self.problem.action_dim))
        return np.clip(zeros, self.problem.action_low, self.problem.action_high)

    def _remember(self, actions: np.ndarray) -> None:
        """Keeps ``actions`` as the current plan; its first action is the one applied."""
        self._plan = np.array(actions, dtype=np.float64)
        self._previous_action = self._plan[0].copy()
