"""The MIP planner: exact optima, big-M from the bounds, statuses instead of exceptions, the deadline."""

import time

import numpy as np
import pyomo.environ as pyo
import pytest

from sparse_dynamics.compact import INPUT, CompactNetwork, ReluLayer
from sparse_dynamics.mpc.base import FALLBACK_STATUSES, INFO_KEYS, shift_plan
from sparse_dynamics.mpc.bounds import propagate_bounds
from sparse_dynamics.mpc.config import MIPConfig
from sparse_dynamics.mpc.controller import MIPController
from sparse_dynamics.mpc.encoder import MIPEncoding
from sparse_dynamics.mpc.problem import rollout
from sparse_dynamics.mpc.solver import HighsSession
from sparse_dynamics.tasks.pwa import optimal_control
from tests.sparse_dynamics.mpc.conftest import brute_force_optimum, pwa_network, pwa_problem, random_network

EXACT = MIPConfig(mip_gap=0.0, time_limit_seconds=30.0)


def test_predicted_trajectory_is_the_network_rollout_of_the_chosen_actions():
    network = random_network(0, widths=(4, 3))
    _, problem = pwa_problem(horizon=3, rate_limit=0.5)
    controller = MIPController(network, problem, EXACT)
    state = np.array([1.0, -0.5])
    for _ in range(3):
        actions, info = controller.plan(state, np.zeros(2))
        assert set(INFO_KEYS) <= set(info) and info["status"] == "optimal"
        predicted = rollout(network, state, actions)
        assert np.abs(predicted - info["predicted_states"]).max() <= 1e-5
        assert info["objective"] == pytest.approx(problem.trajectory_cost(predicted, actions, np.zeros(2)), abs=1e-5)
        assert np.all(actions >= problem.action_low) and np.all(actions <= problem.action_high)
        state = predicted[1]


@pytest.mark.parametrize("seed, widths, horizon, rate", [(0, (2, 1), 3, 0.0), (1, (3,), 3, 0.4), (2, (3, 2), 2, 0.0)])
def test_mip_optimum_equals_enumeration_of_activation_patterns(seed, widths, horizon, rate):
    network = random_network(seed, widths=widths)
    _, problem = pwa_problem(horizon=horizon, rate_limit=rate)
    state, goal = np.array([0.8, -0.6]), np.array([-0.3, 0.4])
    best, _, feasible = brute_force_optimum(network, problem, state, goal)
    assert feasible > 0
    for config in (EXACT, MIPConfig(mip_gap=0.0, time_limit_seconds=30.0, eliminate_stable=False, lp_tightening=False)):
        _, info = MIPController(network, problem, config).plan(state, goal)
        assert info["status"] == "optimal"
        assert info["objective"] == pytest.approx(best, rel=1e-6, abs=1e-7)


def test_mip_on_the_exact_pwa_network_equals_the_tasks_optimal_control():
    task, problem = pwa_problem(horizon=4)
    controller = MIPController(pwa_network(task), problem, EXACT)
    rng = np.random.default_rng(0)
    for _ in range(3):
        state, goal = rng.uniform(-2, 2, size=2), rng.uniform(-1, 1, size=2)
        controller.reset()
        actions, info = controller.plan(state, goal)
        exact = optimal_control(task, state, goal, 4)
        assert info["objective"] == pytest.approx(exact.cost, rel=1e-6)
        true_states = [state]
        for action in actions:
            true_states.append(task.dynamics(true_states[-1], action))
        assert task.trajectory_cost(np.array(true_states), actions, goal) == pytest.approx(exact.cost, rel=1e-6)


@pytest.mark.parametrize("seed", [3, 5])
def test_stable_unit_elimination_never_changes_the_optimum(seed):
    network = random_network(seed, widths=(4, 3))
    _, problem = pwa_problem(horizon=3)
    state, goal = np.array([1.5, 0.5]), np.array([0.0, -0.5])
    results = {}
    for eliminate in (True, False):
        for lp in (True, False):
            config = MIPConfig(mip_gap=0.0, time_limit_seconds=30.0, eliminate_stable=eliminate, lp_tightening=lp)
            _, info = MIPController(network, problem, config).plan(state, goal)
            assert info["status"] == "optimal"
            results[(eliminate, lp)] = info
    objectives = [info["objective"] for info in results.values()]
    assert max(objectives) - min(objectives) <= 1e-6 * (1 + abs(objectives[0]))
    assert results[(False, True)]["binaries"] == results[(False, True)]["neurons"] == 21
    assert results[(True, True)]["binaries"] == results[(True, True)]["unstable"] < 21
    assert results[(True, True)]["binaries"] <= results[(True, False)]["binaries"]


def test_big_m_constants_are_the_propagated_bounds():
    network = random_network(5, widths=(3, 2))
    _, problem = pwa_problem(horizon=3, rate_limit=0.5)
    state, previous = np.array([0.3, 0.2]), np.array([0.1, 0.0])
    encoding = MIPEncoding(network, problem)
    for lp in (False, True):
        bounds = propagate_bounds(network, problem, state, previous, lp_tightening=lp)
        binaries = encoding.update(state, np.zeros(2), previous, bounds)
        low, high = encoding.big_m()
        for t in range(problem.horizon):
            for k in range(2):
                np.testing.assert_array_equal(low[t][k], bounds.pre_low[t][k])
                np.testing.assert_array_equal(high[t][k], bounds.pre_high[t][k])
        for n, (t, k, i) in enumerate(encoding.units):
            p = encoding.model.p[n]
            assert (p.lb, p.ub) == (bounds.pre_low[t][k][i], bounds.pre_high[t][k][i])
        assert binaries == bounds.unstable_count


def _contradictory_network() -> CompactNetwork:
    """x'_0 = 2.9 + |u| and x'_1 = 3.4 - |u| must both stay <= 3: |u| <= 0.1 and |u| >= 0.4."""
    relu = ReluLayer("relu1", {INPUT: np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])}, np.zeros(2))
    output = ReluLayer(
        "output",
        {INPUT: np.array([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]), "relu1": np.array([[1.0, 1.0], [-1.0, -1.0]])},
        np.array([2.9, 3.4]),
    )
    return CompactNetwork(3, [relu], output, {"residual": True})


@pytest.mark.parametrize("lp_tightening", [False, True])
def test_an_infeasible_problem_returns_a_status_not_an_exception(lp_tightening):
    _, problem = pwa_problem(horizon=1)
    problem = type(problem)(**{**problem.__dict__, "action_low": np.array([-1.0]), "action_high": np.array([1.0])})
    controller = MIPController(_contradictory_network(), problem, MIPConfig(lp_tightening=lp_tightening))
    actions, info = controller.plan(np.zeros(2), np.zeros(2))
    assert info["status"] == "infeasible" and info["status"] in FALLBACK_STATUSES
    assert actions.shape == (1, 1) and info["objective"] is None


def test_a_quadratic_cost_with_binaries_is_reported_unsupported_and_without_is_solved_as_a_qp():
    _, problem = pwa_problem(horizon=2, cost="quadratic")
    actions, info = MIPController(random_network(0), problem).plan(np.array([1.0, 0.0]), np.zeros(2))
    assert info["status"] == "unsupported" and "MIQP" in info["message"]
    linear = random_network(0, widths=())
    state = np.array([1.0, -1.0])
    actions, info = MIPController(linear, problem).plan(state, np.zeros(2))
    assert info["status"] == "optimal" and info["binaries"] == 0
    from scipy.optimize import minimize

    def cost(flat):
        plan = flat.reshape(2, 2)
        return problem.trajectory_cost(rollout(linear, state, plan), plan, np.zeros(2))

    reference = minimize(cost, np.zeros(4), bounds=[(-1, 1)] * 4, method="L-BFGS-B", options={"ftol": 1e-14})
    assert info["objective"] == pytest.approx(reference.fun, rel=1e-5)


def test_warm_start_is_the_shifted_current_plan():
    task, problem = pwa_problem(horizon=4)
    controller = MIPController(pwa_network(task), problem, EXACT)
    state, goal = np.array([1.5, -1.0]), np.array([0.2, 0.1])
    actions, info = controller.plan(state, goal)
    np.testing.assert_array_equal(info["warm_start"], np.zeros((4, 2)))
    _, info = controller.plan(task.dynamics(state, actions[0]), goal)
    np.testing.assert_array_equal(info["warm_start"], shift_plan(actions))
    controller.reset()
    _, info = controller.plan(state, goal)
    np.testing.assert_array_equal(info["warm_start"], np.zeros((4, 2)))


def _market_split(seed: int = 0, rows: int = 4, columns: int = 32) -> pyo.ConcreteModel:
    """A market-split instance (Cornuejols & Dawande 1998): tiny, and very hard for branch and bound."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 100, size=(rows, columns))
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(columns), domain=pyo.Binary)
    m.plus = pyo.Var(range(rows), bounds=(0, None))
    m.minus = pyo.Var(range(rows), bounds=(0, None))
    m.split = pyo.Constraint(
        range(rows),
        rule=lambda m, i: (
            sum(int(weights[i, j]) * m.x[j] for j in range(columns)) + m.plus[i] - m.minus[i]
            == int(weights[i].sum() // 2)
        ),
    )
    m.objective = pyo.Objective(expr=sum(m.plus[i] + m.minus[i] for i in range(rows)))
    return m


def test_the_deadline_cuts_off_a_long_solve():
    session = HighsSession(_market_split(), threads=1)
    for limit in (0.05, 0.2):
        started = time.perf_counter()
        outcome = session.solve(time_limit_seconds=1000.0, mip_gap=0.0, deadline=started + limit)
        wall = time.perf_counter() - started
        assert outcome.status in ("deadline", "no_solution"), outcome
        assert wall < limit + 0.5
        if outcome.has_solution:
            assert outcome.gap is not None and outcome.gap > 0
    # the interrupt flag does not leak into the next solve
    outcome = session.solve(time_limit_seconds=0.3, mip_gap=0.0, deadline=time.perf_counter() + 1000.0)
    assert outcome.status in ("time_limit", "no_solution")


def test_a_time_limit_returns_the_incumbent_with_its_gap():
    network = random_network(7, widths=(12, 12), scale=0.1)
    _, problem = pwa_problem(horizon=6)
    controller = MIPController(
        network,
        problem,
        MIPConfig(
            time_limit_seconds=0.02,
            deadline_grace_seconds=0.02,
            lp_tightening=False,
            eliminate_stable=False,
            mip_gap=0.0,
        ),
    )
    actions, info = controller.plan(np.array([0.5, 0.5]), np.array([-1.0, 1.0]))
    assert info["highs_seconds"] < 1.0
    assert info["binaries"] == 144
    if info["status"] in ("time_limit", "deadline"):
        assert info["gap"] is not None and info["gap"] >= 0 and info["objective"] is not None
    else:
        assert info["status"] in ("optimal", "no_solution")
    assert actions.shape == (6, 2)
