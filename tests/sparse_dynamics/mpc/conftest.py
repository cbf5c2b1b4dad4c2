"""Shared pieces of the MPC tests: tiny networks, the exact pwa network, brute-force optima."""

import itertools

import numpy as np
import scipy.optimize

from sparse_dynamics.compact import INPUT, CompactNetwork, ReluLayer
from sparse_dynamics.mpc.config import ProblemConfig
from sparse_dynamics.mpc.problem import ControlProblem, problem_for_task
from sparse_dynamics.tasks import make_task


def random_network(seed: int, widths=(2, 1), state_dim: int = 2, action_dim: int = 2, scale: float = 0.3):
    """A residual ReLU DAG with the given layer widths; every layer sees the input and all earlier layers."""
    rng = np.random.default_rng(seed)
    layers, dims = [], {INPUT: state_dim + action_dim}
    for index, width in enumerate(widths, start=1):
        name = f"relu{index}"
        weights = {source: rng.normal(size=(width, dim)) for source, dim in dims.items()}
        layers.append(ReluLayer(name, weights, rng.normal(size=width) * 0.5))
        dims[name] = width
    output = ReluLayer(
        "output",
        {source: scale * rng.normal(size=(state_dim, dim)) for source, dim in dims.items()},
        0.05 * rng.normal(size=state_dim),
    )
    metadata = {"residual": True, "state_dim": state_dim, "action_dim": action_dim}
    return CompactNetwork(state_dim + action_dim, layers, output, metadata)


def pwa_network(task) -> CompactNetwork:
    """The pwa task's dynamics as an exact residual ReLU network (two ReLUs)."""
    relu = ReluLayer("relu1", {INPUT: np.hstack([task.C, np.zeros((2, 2))])}, task.d.copy())
    output = ReluLayer(
        "output", {INPUT: np.hstack([task.A - np.eye(2), task.B]), "relu1": task.D.copy()}, task.c.copy()
    )
    return CompactNetwork(4, [relu], output, {"residual": True, "state_dim": 2, "action_dim": 2})


def pwa_problem(horizon: int = 3, **options) -> tuple[object, ControlProblem]:
    task = make_task("pwa")
    return task, problem_for_task(task, ProblemConfig(horizon=horizon, **options))


def brute_force_optimum(network: CompactNetwork, problem: ControlProblem, state, target, previous_action=None):
    """The L1 optimum by enumerating every activation pattern over the horizon, one LP each (scipy HiGHS).

    Returns:
        (best objective, its actions ``(H, A)``, number of feasible patterns).
    """
    horizon, S, A = problem.horizon, problem.state_dim, problem.action_dim
    units = [(t, k, i) for t in range(horizon) for k, layer in enumerate(network.layers) for i in range(layer.units)]
    K = problem.goal_matrix.shape[0]
    # variables: u (H*A), x_1..x_H (H*S), p (units), y (units), e (H*K), s (H*A)
    nu, nx, nn, ne = horizon * A, horizon * S, len(units), horizon * K
    u0, x0, p0, y0, e0, s0 = 0, nu, nu + nx, nu + nx + nn, nu + nx + 2 * nn, nu + nx + 2 * nn + ne
    n = s0 + nu
    index = {unit: j for j, unit in enumerate(units)}
    residual = bool(network.metadata.get("residual"))

    def source_columns(t, source):
        if source == INPUT:
            return None
        k = [layer.name for layer in network.layers].index(source)
        return [y0 + index[(t, k, i)] for i in range(network.layers[k].units)]

    def affine_rows(t, weights, bias, lhs_cols, minus_state):
        rows, rhs = [], []
        for r, col in enumerate(lhs_cols):
            row, b = np.zeros(n), float(bias[r])
            row[col] = 1.0
            for source, weight in weights.items():
                cols = source_columns(t, source)
                if cols is None:
                    w_state, w_action = weight[r, :S], weight[r, S:]
                    if t == 0:
                        b += w_state @ state
                    else:
                        row[x0 + (t - 1) * S : x0 + t * S] -= w_state
                    row[u0 + t * A : u0 + (t + 1) * A] -= w_action
                else:
                    row[cols] -= weight[r]
            if minus_state is not None:
                if t == 0:
                    b += state[minus_state]
                else:
                    row[x0 + (t - 1) * S + minus_state] -= 1.0
            rows.append(row)
            rhs.append(b)
        return rows, rhs

    eq_rows, eq_rhs, ub_rows, ub_rhs = [], [], [], []
    for t in range(horizon):
        for k, layer in enumerate(network.layers):
            cols = [p0 + index[(t, k, i)] for i in range(layer.units)]
            rows, rhs = affine_rows(t, layer.weights, layer.bias, cols, None)
            eq_rows += rows
            eq_rhs += rhs
        for i in range(S):
            rows, rhs = affine_rows(
                t,
                {s: w[i : i + 1] for s, w in network.output.weights.items()},
                network.output.bias[i : i + 1],
                [x0 + t * S + i],
                i if residual else None,
            )
            eq_rows += rows
            eq_rhs += rhs
        for k in range(K):
            for sign in (1.0, -1.0):
                row = np.zeros(n)
                row[x0 + t * S : x0 + (t + 1) * S] = sign * problem.goal_matrix[k]
                row[e0 + t * K + k] = -1.0
                ub_rows.append(row)
                ub_rhs.append(sign * target[k])
        for j in range(A):
            for sign in (1.0, -1.0):
                row = np.zeros(n)
                row[u0 + t * A + j], row[s0 + t * A + j] = sign, -1.0
                ub_rows.append(row)
                ub_rhs.append(0.0)
            if problem.rate_limit is not None and (t > 0 or previous_action is not None):
                for sign in (1.0, -1.0):
                    row = np.zeros(n)
                    row[u0 + t * A + j] = sign
                    rhs = problem.rate_limit[j]
                    if t > 0:
                        row[u0 + (t - 1) * A + j] = -sign
                    else:
                        rhs += sign * previous_action[j]
                    ub_rows.append(row)
                    ub_rhs.append(rhs)
    cost = np.zeros(n)
    weights = problem.step_weights
    for t in range(horizon):
        cost[e0 + t * K : e0 + (t + 1) * K] = weights[t] * problem.goal_weights
    cost[s0:] = problem.action_weight
    bounds = [(None, None)] * n
    for t in range(horizon):
        for j in range(A):
            bounds[u0 + t * A + j] = (problem.action_low[j], problem.action_high[j])
        for i in range(S):
            bounds[x0 + t * S + i] = (problem.state_low[i], problem.state_high[i])
    best, best_actions, feasible = np.inf, None, 0
    for pattern in itertools.product((0, 1), repeat=len(units)):
        pattern_bounds = list(bounds)
        pattern_eq_rows, pattern_eq_rhs = list(eq_rows), list(eq_rhs)
        for j, on in enumerate(pattern):
            if on:  # y = p >= 0
                pattern_bounds[p0 + j] = (0.0, None)
                row = np.zeros(n)
                row[y0 + j], row[p0 + j] = 1.0, -1.0
                pattern_eq_rows.append(row)
                pattern_eq_rhs.append(0.0)
            else:  # y = 0, p <= 0
                pattern_bounds[p0 + j] = (None, 0.0)
                pattern_bounds[y0 + j] = (0.0, 0.0)
        result = scipy.optimize.linprog(
            cost,
            A_ub=np.array(ub_rows),
            b_ub=np.array(ub_rhs),
            A_eq=np.array(pattern_eq_rows),
            b_eq=np.array(pattern_eq_rhs),
            bounds=pattern_bounds,
            method="highs",
        )
        if result.status != 0:
            continue
        feasible += 1
        if result.fun < best:
            best, best_actions = result.fun, result.x[u0 : u0 + nu].reshape(horizon, A)
    return best, best_actions, feasible
