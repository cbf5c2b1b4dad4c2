"""A persistent HiGHS solver on one Pyomo model, with a hard deadline and no exceptions.

The L1 MPC is a MILP, solved through Pyomo's persistent ``appsi`` HiGHS interface
(``pyomo.contrib.appsi.solvers.Highs``): the model is sent once, later solves only push
changed bounds and Params, and ``warmstart`` hands the current variable values to HiGHS
as a MIP start. That interface rejects quadratic objectives, so the quadratic cost goes
through ``pyomo.contrib.solver.solvers.highs.Highs`` (also persistent; a QP only: HiGHS
has no MIQP solver, it returns an unknown status for one).

The deadline is our own: a callback on HiGHS's MIP, simplex and IPM interrupt hooks
interrupts the solve once ``time.perf_counter()`` passes it, and the best incumbent
stays available (status ``"deadline"``), besides HiGHS's own ``time_limit``
(``"time_limit"``). The callback sets the interrupt flag on every call, because HiGHS
keeps the flag between runs. Every failure becomes a `SolveOutcome` status; nothing raises.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo

__all__ = ["HighsSession", "SolveOutcome"]

logger = logging.getLogger(__name__)


class _DropInterruptWarnings(logging.Filter):
    """Pyomo's HiGHS interfaces warn about the (expected) interrupt status; we report it ourselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "kInterrupt" not in record.getMessage()


_FILTER = _DropInterruptWarnings()
for _name in ("pyomo.contrib.appsi.solvers.highs", "pyomo.contrib.solver.solvers.highs"):
    if not any(isinstance(f, _DropInterruptWarnings) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_FILTER)


@dataclass(frozen=True)
class SolveOutcome:
    """What one solve gave.

    Attributes:
        status: ``"optimal"``, ``"time_limit"`` or ``"deadline"`` (an incumbent exists), or
            ``"infeasible"``, ``"no_solution"`` (a limit hit before any incumbent), ``"error"``.
        has_solution: Whether variable values can be read (`HighsSession.values`).
        objective: Objective of the incumbent, else None.
        gap: Relative MIP gap of the incumbent (0 for an LP / QP solved to optimality), else None.
        seconds: Wall time of the solve call (update, run, status).
        message: HiGHS's model status, or the error text.
        dual_bound: HiGHS's proven lower bound on the objective (a MIP with free binaries), else None.
    """

    status: str
    has_solution: bool
    objective: float | None
    gap: float | None
    seconds: float
    message: str = ""
    dual_bound: float | None = None


class HighsSession:
    """A persistent HiGHS solver for ``model`` (module docstring).

    Args:
        model: The Pyomo model (built once; later solves send only what changed).
        quadratic: Whether the objective is quadratic (then a QP through the newer interface).
        threads: HiGHS threads.
        warm_start: Pass the variables' current values to HiGHS as a MIP start.
    """

    def __init__(self, model: pyo.ConcreteModel, *, quadratic: bool = False, threads: int = 1, warm_start: bool = True):
        self.model, self.quadratic = model, quadratic
        self._options = {"output_flag": False, "threads": int(threads), "random_seed": 0}
        self._deadline = math.inf
        self._results = None
        if quadratic:
            from pyomo.contrib.solver.solvers.highs import Highs

            self._solver = Highs()
        else:
            from pyomo.contrib.appsi.solvers import Highs

            self._solver = Highs()
            self._solver.config.load_solution = False
            self._solver.config.warmstart = warm_start
            self._solver.highs_options = dict(self._options)
            updates = self._solver.update_config
            for name in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                         "check_for_new_or_removed_params", "check_for_new_objective", "update_constraints",
                         "update_named_expressions", "update_objective"):  # fmt: skip
                setattr(updates, name, False)
        self._solver.set_instance(model)
        self._highs = self._solver._solver_model  # the highspy.Highs both interfaces keep
        for hook in (self._highs.cbMipInterrupt, self._highs.cbSimplexInterrupt, self._highs.cbIpmInterrupt):
            hook += self._check_deadline

    def _check_deadline(self, event) -> None:
        event.interrupt(time.perf_counter() > self._deadline)

    def solve(
        self, time_limit_seconds: float, mip_gap: float, deadline: float, *, integer: bool = True
    ) -> SolveOutcome:
        """Solves the model as it is now.

        Args:
            time_limit_seconds: HiGHS's own time limit.
            mip_gap: Relative gap at which the MIP stops.
            deadline: ``time.perf_counter()`` value after which the solve is interrupted.
            integer: Whether free binaries exist (a gap is then read from the MIP).
        """
        started = time.perf_counter()
        self._deadline = deadline
        try:
            if self.quadratic:
                self._results = self._solver.solve(
                    self.model, load_solutions=False, raise_exception_on_nonoptimal_result=False,
                    time_limit=time_limit_seconds, rel_gap=mip_gap, solver_options=dict(self._options),
                )  # fmt: skip
            else:
                self._solver.config.time_limit = time_limit_seconds
                self._solver.config.mip_gap = mip_gap
                self._solver.solve(self.model)
            return self._outcome(started, integer)
        except Exception as error:  # noqa: BLE001 - solver trouble becomes a status, never an exception
            logger.warning("HiGHS solve failed: %s: %s", type(error).__name__, error)
            return SolveOutcome(
                "error", False, None, None, time.perf_counter() - started, f"{type(error).__name__}: {error}"
            )
        finally:
            self._deadline = math.inf

    def _outcome(self, started: float, integer: bool) -> SolveOutcome:
        status = self._highs.getModelStatus()
        info = self._highs.getInfo()
        has_solution = info.primal_solution_status == 2
        seconds = time.perf_counter() - started
        statuses = highspy.HighsModelStatus
        if status == statuses.kOptimal:
            name = "optimal"
        elif status in (statuses.kInfeasible, statuses.kUnboundedOrInfeasible):
            name, has_solution = "infeasible", False
        elif status == statuses.kTimeLimit:
            name = "time_limit" if has_solution else "no_solution"
        elif status == statuses.kInterrupt:
            name = "deadline" if has_solution else "no_solution"
        else:
            name, has_solution = "error", False
        objective = info.objective_function_value if has_solution else None
        gap = None
        if has_solution:
            gap = float(info.mip_gap) if integer and info.mip_node_count >= 0 else 0.0
        dual_bound = float(info.mip_dual_bound) if integer and info.mip_node_count >= 0 else None
        return SolveOutcome(name, has_solution, objective, gap, seconds, str(status), dual_bound)

    def values(self, variables: list) -> np.ndarray:
        """The incumbent's values of ``variables`` (after a solve with ``has_solution``)."""
        if self.quadratic:
            primals = self._results.solution_loader.get_vars(variables)
        else:
            primals = self._solver.get_primals(vars_to_load=variables)
        return np.array([primals[v] for v in variables], dtype=np.float64)
