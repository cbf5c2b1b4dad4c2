"""The MPC problem on a ReLU network as a Pyomo mixed-integer model, built once and updated per step.

Variables over the horizon: states ``x[t, i]`` (t = 1 .. H; ``x_0`` is a mutable Param),
actions ``u[t, j]``, and for every ReLU unit n (one per unit, layer and step) its
pre-activation ``p[n]``, output ``y[n]`` and indicator ``z[n]``. The big-M encoding
(the formulation OMLT uses, with l, u from `sparse_dynamics.mpc.bounds`)::

    p = b + sum_s W_s a_s,    y >= p,    y >= 0,    y <= p - l (1 - z),    y <= u z

``l`` and ``u`` are mutable Params (the big-M constants: never a fixed number) and also
the bounds of ``p``. `MIPEncoding.update` applies a step's bounds: when
``eliminate_stable`` is on, a unit proven stable gets a continuous ``z`` fixed at 1
(``y = p``) or 0 (``y = 0``), so HiGHS sees binaries for the unstable units only; with it
off every unit keeps a binary, as in OMLT. The L1 cost is linear through auxiliary
variables ``e >= |G x - r|`` and ``s >= |u|``; the quadratic cost is a convex quadratic
objective (a QP for HiGHS only while no binary is free: HiGHS solves no MIQP).
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from sparse_dynamics.compact import INPUT, CompactNetwork
from sparse_dynamics.mpc.bounds import HorizonBounds
from sparse_dynamics.mpc.problem import ControlProblem

__all__ = ["MIPEncoding", "trace"]


def trace(network: CompactNetwork, state: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """The states and every ReLU pre-activation the network computes along ``actions``.

    Shapes:
        - state: ``(S,)``; actions: ``(H, A)``
        - output: states ``(H + 1, S)`` and pre-activations ``[t][k] -> (units_k,)``
    """
    states, pres = [np.asarray(state, dtype=np.float64)], []
    residual = bool(network.metadata.get("residual"))
    for action in np.asarray(actions, dtype=np.float64):
        sources = {INPUT: np.concatenate([states[-1], action])}
        step = []
        for layer in network.layers:
            pre = layer.pre_activation(sources)
            step.append(pre)
            sources[layer.name] = np.maximum(pre, 0.0)
        change = network.output.pre_activation(sources)
        states.append(states[-1] + change if residual else change)
        pres.append(step)
    return np.stack(states), pres


def _linear(weights: np.ndarray, variables: list) -> object:
    """``sum_j weights[j] * variables[j]`` over the nonzero weights (0 when none)."""
    return sum(float(w) * v for w, v in zip(weights, variables) if w != 0.0)


class MIPEncoding:
    """The Pyomo model of the MPC problem (module docstring).

    Args:
        network: Dynamics ``[state, action] -> change`` (or next state, if not residual).
        problem: Horizon, boxes, rate limit and cost.

    Attributes:
        model: The Pyomo model (solved by `sparse_dynamics.mpc.controller.MIPController`).
        units: ``(t, k, i)`` of each ReLU unit n, in the order of ``model.p`` / ``y`` / ``z``.
    """

    def __init__(self, network: CompactNetwork, problem: ControlProblem) -> None:
        self.network, self.problem = network, problem
        horizon, state_dim, action_dim = problem.horizon, problem.state_dim, problem.action_dim
        self.units = [
            (t, k, i) for t in range(horizon) for k, layer in enumerate(network.layers) for i in range(layer.units)
        ]
        self._index = {unit: n for n, unit in enumerate(self.units)}
        m = pyo.ConcreteModel(name="relu_mpc")
        m.x0 = pyo.Param(range(state_dim), mutable=True, initialize=0.0)
        m.x = pyo.Var(range(1, horizon + 1), range(state_dim))
        m.u = pyo.Var(range(horizon), range(action_dim))
        m.p = pyo.Var(range(len(self.units)))
        m.y = pyo.Var(range(len(self.units)))
        m.z = pyo.Var(range(len(self.units)), domain=pyo.Binary)
        m.lo = pyo.Param(range(len(self.units)), mutable=True, initialize=-1.0)
        m.hi = pyo.Param(range(len(self.units)), mutable=True, initialize=1.0)
        m.target = pyo.Param(range(problem.goal_matrix.shape[0]), mutable=True, initialize=0.0)
        self.model = m
        self._build_network(m)
        self._build_rate_limits(m)
        self._build_cost(m)

    # ------------------------------------------------------------------ structure

    def _state(self, t: int) -> list:
        m = self.model
        return [m.x0[i] if t == 0 else m.x[t, i] for i in range(self.problem.state_dim)]

    def _build_network(self, m: pyo.ConcreteModel) -> None:
        m.pre = pyo.ConstraintList()
        m.relu = pyo.ConstraintList()
        m.dynamics = pyo.ConstraintList()
        residual = bool(self.network.metadata.get("residual"))
        for t in range(self.problem.horizon):
            sources = {INPUT: self._state(t) + [m.u[t, j] for j in range(self.problem.action_dim)]}
            for k, layer in enumerate(self.network.layers):
                outputs = []
                for i in range(layer.units):
                    n = self._index[(t, k, i)]
                    total = float(layer.bias[i]) + sum(_linear(w[i], sources[s]) for s, w in layer.weights.items())
                    m.pre.add(m.p[n] == total)
                    m.relu.add(m.y[n] >= m.p[n])
                    m.relu.add(m.y[n] <= m.p[n] - m.lo[n] * (1 - m.z[n]))
                    m.relu.add(m.y[n] <= m.hi[n] * m.z[n])
                    outputs.append(m.y[n])
                sources[layer.name] = outputs
            current = self._state(t)
            for i in range(self.problem.state_dim):
                output = self.network.output
                change = float(output.bias[i]) + sum(_linear(w[i], sources[s]) for s, w in output.weights.items())
                m.dynamics.add(m.x[t + 1, i] == (current[i] + change if residual else change))

    def _build_rate_limits(self, m: pyo.ConcreteModel) -> None:
        m.previous_action = pyo.Param(range(self.problem.action_dim), mutable=True, initialize=0.0)
        m.first_rate = pyo.Param(range(self.problem.action_dim), mutable=True, initialize=0.0)
        m.rate = pyo.ConstraintList()
        if self.problem.rate_limit is None:
            return
        for j, rate in enumerate(self.problem.rate_limit):
            m.rate.add(pyo.inequality(-m.first_rate[j], m.u[0, j] - m.previous_action[j], m.first_rate[j]))
            for t in range(1, self.problem.horizon):
                m.rate.add(pyo.inequality(-float(rate), m.u[t, j] - m.u[t - 1, j], float(rate)))

    def _build_cost(self, m: pyo.ConcreteModel) -> None:
        problem = self.problem
        goals, weights, step_weights = problem.goal_matrix, problem.goal_weights, problem.step_weights
        steps, actions = range(1, problem.horizon + 1), range(problem.action_dim)
        error = {(t, k): _linear(goals[k], self._state(t)) - m.target[k] for t in steps for k in range(len(weights))}
        if problem.cost == "l1":
            m.e = pyo.Var(list(error), bounds=(0, None))
            m.s = pyo.Var(range(problem.horizon), actions, bounds=(0, None))
            m.abs = pyo.ConstraintList()
            for key, value in error.items():
                m.abs.add(m.e[key] >= value)
                m.abs.add(m.e[key] >= -value)
            for t in range(problem.horizon):
                for j in actions:
                    m.abs.add(m.s[t, j] >= m.u[t, j])
                    m.abs.add(m.s[t, j] >= -m.u[t, j])
            state_cost = sum(step_weights[t - 1] * weights[k] * m.e[t, k] for t, k in error)
            action_cost = sum(m.s[t, j] for t in range(problem.horizon) for j in actions)
        else:
            state_cost = sum(step_weights[t - 1] * weights[k] * value**2 for (t, k), value in error.items())
            action_cost = sum(m.u[t, j] ** 2 for t in range(problem.horizon) for j in actions)
        m.objective = pyo.Objective(expr=state_cost + problem.action_weight * action_cost, sense=pyo.minimize)

    # ------------------------------------------------------------------ per step

    def update(
        self,
        state: np.ndarray,
        target: np.ndarray,
        previous_action: np.ndarray | None,
        bounds: HorizonBounds,
        *,
        eliminate_stable: bool = True,
    ) -> int:
        """Sets the initial state, target, previous action and one step's bounds.

        Args:
            state: x_0 ``(S,)``.
            target: r ``(K,)`` (`ControlProblem.target`).
            previous_action: The action applied last ``(A,)``, or None (no rate limit on u_0).
            bounds: Bounds from `propagate_bounds` for this state.
            eliminate_stable: Give stable units no binary (module docstring).

        Returns:
            The number of free binaries.
        """
        m, problem = self.model, self.problem
        for i, value in enumerate(state):
            m.x0[i] = float(value)
        for k, value in enumerate(target):
            m.target[k] = float(value)
        width = problem.action_high - problem.action_low
        for j in range(problem.action_dim):
            m.previous_action[j] = 0.0 if previous_action is None else float(previous_action[j])
            free = previous_action is None or problem.rate_limit is None
            m.first_rate[j] = float(width[j]) if free else float(problem.rate_limit[j])
        for t in range(problem.horizon):
            for j in range(problem.action_dim):
                m.u[t, j].setlb(float(bounds.action_low[t, j]))
                m.u[t, j].setub(float(bounds.action_high[t, j]))
            for i in range(problem.state_dim):
                m.x[t + 1, i].setlb(float(bounds.state_low[t + 1, i]))
                m.x[t + 1, i].setub(float(bounds.state_high[t + 1, i]))
        binaries = 0
        for n, (t, k, i) in enumerate(self.units):
            low, high = float(bounds.pre_low[t][k][i]), float(bounds.pre_high[t][k][i])
            m.lo[n], m.hi[n] = low, high
            m.p[n].setlb(low)
            m.p[n].setub(high)
            m.y[n].setlb(max(low, 0.0))
            m.y[n].setub(max(high, 0.0))
            if eliminate_stable and (low >= 0.0 or high <= 0.0):
                m.z[n].domain = pyo.Reals
                m.z[n].fix(1.0 if low >= 0.0 else 0.0)
            else:
                m.z[n].domain = pyo.Binary
                m.z[n].unfix()
                binaries += 1
        return binaries

    def set_start(self, actions: np.ndarray, target: np.ndarray) -> None:
        """Sets every free variable to the point that ``actions`` lead to (a MIP start).

        The states, pre-activations, outputs, indicators and cost auxiliaries are those of
        the network's own rollout from the current ``x_0``, so the start is feasible
        whenever that rollout stays inside the bounds.
        """
        m, problem = self.model, self.problem
        state = np.array([pyo.value(m.x0[i]) for i in range(problem.state_dim)])
        states, pres = trace(self.network, state, actions)
        for t in range(problem.horizon):
            for j in range(problem.action_dim):
                m.u[t, j].set_value(float(actions[t, j]), skip_validation=True)
            for i in range(problem.state_dim):
                m.x[t + 1, i].set_value(float(states[t + 1, i]), skip_validation=True)
        for n, (t, k, i) in enumerate(self.units):
            pre = float(pres[t][k][i])
            m.p[n].set_value(pre, skip_validation=True)
            m.y[n].set_value(max(pre, 0.0), skip_validation=True)
            if not m.z[n].fixed:
                m.z[n].set_value(1.0 if pre > 0.0 else 0.0, skip_validation=True)
        if problem.cost == "l1":
            errors = states[1:] @ problem.goal_matrix.T - target
            for (t, k), variable in m.e.items():
                variable.set_value(float(abs(errors[t - 1, k])), skip_validation=True)
            for (t, j), variable in m.s.items():
                variable.set_value(float(abs(actions[t, j])), skip_validation=True)

    # ------------------------------------------------------------------ reading

    def state_variables(self) -> list:
        """``x[1, 0] .. x[H, S-1]`` in row-major order."""
        m = self.model
        return [m.x[t, i] for t in range(1, self.problem.horizon + 1) for i in range(self.problem.state_dim)]

    def action_variables(self) -> list:
        """``u[0, 0] .. u[H-1, A-1]`` in row-major order."""
        m = self.model
        return [m.u[t, j] for t in range(self.problem.horizon) for j in range(self.problem.action_dim)]

    def big_m(self) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
        """The big-M constants ``(l, u)`` now in the model, ``[t][k] -> (units_k,)``."""
        m = self.model
        low = [[np.zeros(layer.units) for layer in self.network.layers] for _ in range(self.problem.horizon)]
        high = [[np.zeros(layer.units) for layer in self.network.layers] for _ in range(self.problem.horizon)]
        for n, (t, k, i) in enumerate(self.units):
            low[t][k][i], high[t][k][i] = pyo.value(m.lo[n]), pyo.value(m.hi[n])
        return low, high
