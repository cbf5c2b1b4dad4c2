"""MPPI, CEM and gradient shooting: same model and cost as the MIP, better than doing nothing, seeded."""

import numpy as np
import pytest
import torch

from sparse_dynamics.mpc.config import CEMConfig, GradientConfig, MPPIConfig
from sparse_dynamics.mpc.planners import make_planner
from sparse_dynamics.mpc.problem import rollout
from sparse_dynamics.mpc.torch_model import TorchNetwork, project_actions, trajectory_cost
from tests.sparse_dynamics.mpc.conftest import pwa_network, pwa_problem, random_network

SMALL = {
    "mppi": MPPIConfig(samples=128, iterations=6),
    "cem": CEMConfig(samples=128, elites=12, iterations=6),
    "gd": GradientConfig(restarts=8, iterations=40),
}


def test_torch_model_and_cost_equal_the_numpy_ones():
    network = random_network(2, widths=(4, 3))
    _, problem = pwa_problem(horizon=4, rate_limit=0.3)
    state, target = np.array([0.4, -1.2]), np.array([0.5, 0.5])
    actions = np.random.default_rng(0).uniform(-1, 1, size=(5, 4, 2))
    states = TorchNetwork(network).rollout(torch.as_tensor(state), torch.as_tensor(actions)).numpy()
    np.testing.assert_allclose(states, rollout(network, np.broadcast_to(state, (5, 2)), actions), atol=1e-12)
    costs = trajectory_cost(problem, torch.as_tensor(states), torch.as_tensor(actions), target).numpy()
    expected = problem.trajectory_cost(states, actions, target) + problem.box_penalty * problem.box_violation(states)
    np.testing.assert_allclose(costs, expected, atol=1e-12)
    projected = project_actions(problem, torch.as_tensor(actions) * 3, np.array([0.0, 0.9])).numpy()
    assert np.all(np.abs(projected) <= 1.0)
    assert np.all(
        np.abs(np.diff(np.concatenate([np.broadcast_to([0.0, 0.9], (5, 1, 2)), projected], 1), axis=1)) <= 0.3 + 1e-12
    )


@pytest.mark.parametrize("name", ["mppi", "cem", "gd"])
def test_planners_beat_zero_actions_on_pwa(name):
    task, problem = pwa_problem(horizon=4)
    network = pwa_network(task)
    planner = make_planner(name, network, problem, SMALL[name])
    rng = np.random.default_rng(1)
    for _ in range(3):
        state, goal = rng.uniform(-2, 2, size=2), rng.uniform(-1, 1, size=2)
        planner.reset()
        actions, info = planner.plan(state, goal)
        zeros = np.zeros((4, 2))
        idle = problem.trajectory_cost(rollout(network, state, zeros), zeros, goal)
        assert info["status"] == "ok" and info["objective"] < idle
        assert info["objective"] == pytest.approx(
            problem.trajectory_cost(rollout(network, state, actions), actions, goal)
        )
        np.testing.assert_allclose(info["predicted_states"], rollout(network, state, actions), atol=1e-12)


@pytest.mark.parametrize("name", ["mppi", "cem", "gd"])
def test_planners_are_reproducible_from_their_seed(name):
    task, problem = pwa_problem(horizon=3)
    plans = [
        make_planner(name, pwa_network(task), problem, SMALL[name]).plan(np.array([1.0, 1.0]), np.zeros(2))[0]
        for _ in range(2)
    ]
    np.testing.assert_array_equal(plans[0], plans[1])


def test_a_time_budget_bounds_the_planning_time():
    task, problem = pwa_problem(horizon=3)
    planner = make_planner("mppi", pwa_network(task), problem, MPPIConfig(samples=64, time_budget_seconds=0.05))
    _, info = planner.plan(np.array([1.0, 1.0]), np.zeros(2))
    assert info["iterations"] >= 1 and 0.05 <= info["solve_seconds"] < 0.5
