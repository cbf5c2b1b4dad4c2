"""Exact MPC on a ReLU network: a mixed-integer program per step (Liu et al., NeurIPS 2023).

`MIPController` builds the Pyomo model once (`sparse_dynamics.mpc.encoder`) and, at
every step: propagates bounds from the current state (`propagate_bounds`, optionally
LP-tightened), applies them to the model (variable bounds, big-M Params, which units get
a binary), starts HiGHS from the previous plan shifted by one step (always the plan this
controller last returned, fallback included, so no stale solution is reused) and solves
with a relative gap, HiGHS's time limit (what is left of ``time_limit_seconds`` after
the bounds, so that the whole step fits it) and a hard deadline of ``time_limit_seconds +
deadline_grace_seconds`` after the step started (`sparse_dynamics.mpc.solver`).
When a limit hits, the best incumbent is used and its gap reported. Infeasible or failed
solves return the shifted previous plan with a status saying so
(`sparse_dynamics.mpc.base`, ``FALLBACK_STATUSES``); the controller never raises for
solver trouble.
"""

from __future__ import annotations

import time

import numpy as np

from sparse_dynamics.compact import CompactNetwork
from sparse_dynamics.mpc.base import Planner, plan_info
from sparse_dynamics.mpc.bounds import propagate_bounds
from sparse_dynamics.mpc.config import MIPConfig
from sparse_dynamics.mpc.encoder import MIPEncoding
from sparse_dynamics.mpc.problem import ControlProblem, check_network, rollout
from sparse_dynamics.mpc.solver import HighsSession

__all__ = ["MIN_SOLVE_SECONDS", "MIPController"]

MIN_SOLVE_SECONDS = 1e-3
"""HiGHS's time limit when the bounds used up the step's budget (it may still find a plan)."""


class MIPController(Planner):
    """Mixed-integer MPC on a compact ReLU network, solved by HiGHS (module docstring).

    Args:
        network: The learned dynamics.
        problem: Horizon, boxes, rate limit and cost.
        config: Stable-unit elimination, LP tightening, time limit, gap, threads, warm start.

    Shapes:
        - plan(state ``(S,)``, goal) -> actions ``(H, A)``, info
    """

    def __init__(self, network: CompactNetwork, problem: ControlProblem, config: MIPConfig | None = None) -> None:
        super().__init__(problem)
        check_network(network, problem)
        self.network, self.config = network, config or MIPConfig()
        self.encoding = MIPEncoding(network, problem)
        self.session = HighsSession(
            self.encoding.model, quadratic=problem.cost == "quadratic", threads=self.config.threads,
            warm_start=self.config.warm_start,
        )  # fmt: skip

    def plan(self, state: np.ndarray, goal: np.ndarray) -> tuple[np.ndarray, dict]:
        """One MIP solve from ``state`` (see the class docstring); never raises for solver trouble.

        ``info`` adds to the common keys (`sparse_dynamics.mpc.base`): ``bounds_seconds``,
        ``lp_seconds``, ``lp_solves``, ``highs_seconds``, ``unstable`` (ReLUs needing a
        binary), ``neurons`` (ReLUs over the horizon), ``warm_start`` (the start handed to
        HiGHS, ``(H, A)``), ``message`` and ``dual_bound`` (HiGHS's lower bound on the
        objective, None without a MIP solve).
        """
        started = time.perf_counter()
        config, problem = self.config, self.problem
        state = np.asarray(state, dtype=np.float64)
        target = problem.target(goal, state)
        bounds = propagate_bounds(
            self.network,
            problem,
            state,
            self._previous_action,
            lp_tightening=config.lp_tightening,
            threads=config.threads,
        )
        bounds_seconds = time.perf_counter() - started
        start = np.clip(self._initial_guess(), bounds.action_low, bounds.action_high)
        details = {
            "bounds_seconds": bounds_seconds, "lp_seconds": bounds.lp_seconds, "lp_solves": bounds.lp_solves,
            "unstable": bounds.unstable_count, "neurons": bounds.neuron_count, "warm_start": start,
        }  # fmt: skip
        if not bounds.feasible:
            return self._fallback(
                "infeasible", started, state, start, bounds.stable_share, 0, details, "bounds: box unreachable"
            )
        binaries = self.encoding.update(
            state, target, self._previous_action, bounds, eliminate_stable=config.eliminate_stable
        )
        if problem.cost == "quadratic" and binaries > 0:
            message = f"a quadratic cost with {binaries} binaries is an MIQP, which HiGHS does not solve; use cost l1"
            return self._fallback("unsupported", started, state, start, bounds.stable_share, binaries, details, message)
        if config.warm_start:
            self.encoding.set_start(start, target)
        # the time limit covers the whole step: HiGHS gets what the bounds left of it
        remaining = max(config.time_limit_seconds - (time.perf_counter() - started), MIN_SOLVE_SECONDS)
        deadline = started + config.time_limit_seconds + config.deadline_grace_seconds
        outcome = self.session.solve(
            remaining, config.mip_gap, max(deadline, time.perf_counter() + remaining), integer=binaries > 0
        )
        details.update(highs_seconds=outcome.seconds, message=outcome.message, dual_bound=outcome.dual_bound)
        if not outcome.has_solution:
            return self._fallback(outcome.status, started, state, start, bounds.stable_share, binaries, details)
        actions = self.session.values(self.encoding.action_variables()).reshape(problem.horizon, problem.action_dim)
        # HiGHS meets bounds to its feasibility tolerance; the plan must meet them exactly
        actions = np.clip(actions, bounds.action_low, bounds.action_high)
        states = self.session.values(self.encoding.state_variables()).reshape(problem.horizon, problem.state_dim)
        self._remember(actions)
        return actions, plan_info(
            outcome.status, outcome.objective, time.perf_counter() - started, np.vstack([state, states]),
            gap=outcome.gap, binaries=binaries, stable_share=bounds.stable_share, **details,
        )  # fmt: skip

    def _fallback(self, status, started, state, actions, stable_share, binaries, details, message=None):
        """The shifted previous plan (clipped into this step's action bounds) with a failure status."""
        if message is not None:
            details = {**details, "message": message}
        self._remember(actions)
        return actions, plan_info(
            status, None, time.perf_counter() - started, rollout(self.network, state, actions),
            binaries=binaries, stable_share=stable_share, **details,
        )  # fmt: skip
