"""Bounds over the horizon: sound for every feasible rollout, LP-tightened ones inside the interval ones."""

import numpy as np
import pytest

from sparse_dynamics.mpc.bounds import propagate_bounds
from sparse_dynamics.mpc.encoder import trace
from tests.sparse_dynamics.mpc.conftest import pwa_network, pwa_problem, random_network


@pytest.mark.parametrize("lp_tightening", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_bounds_contain_every_rollout_inside_the_box(seed, lp_tightening):
    network = random_network(seed, widths=(4, 3))
    _, problem = pwa_problem(horizon=3, rate_limit=0.6)
    state, previous = np.array([0.5, -0.4]), np.array([0.2, -0.1])
    bounds = propagate_bounds(network, problem, state, previous, lp_tightening=lp_tightening)
    assert bounds.feasible
    np.testing.assert_array_equal(bounds.state_low[0], state)
    np.testing.assert_array_equal(bounds.state_high[0], state)
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(300):
        actions, before = [], previous
        for _step in range(problem.horizon):  # a random walk inside the rate limit and the box
            before = np.clip(before + rng.uniform(-0.6, 0.6, size=2), problem.action_low, problem.action_high)
            actions.append(before)
        states, pres = trace(network, state, np.array(actions))
        if np.any(states[1:] < problem.state_low) or np.any(states[1:] > problem.state_high):
            continue
        checked += 1
        assert np.all(states >= bounds.state_low - 1e-9) and np.all(states <= bounds.state_high + 1e-9)
        for t in range(problem.horizon):
            for k in range(len(network.layers)):
                assert np.all(pres[t][k] >= bounds.pre_low[t][k] - 1e-9)
                assert np.all(pres[t][k] <= bounds.pre_high[t][k] + 1e-9)
    assert checked > 20


def test_lp_bounds_are_inside_interval_bounds_and_report_their_time():
    network = random_network(3, widths=(4, 3))
    _, problem = pwa_problem(horizon=3)
    state = np.array([1.0, 0.3])
    interval = propagate_bounds(network, problem, state)
    lp = propagate_bounds(network, problem, state, lp_tightening=True)
    assert interval.lp_solves == 0 and lp.lp_solves > 0 and lp.lp_seconds > 0.0
    widths_interval = sum(
        (h - l).sum() for step_l, step_h in zip(interval.pre_low, interval.pre_high) for l, h in zip(step_l, step_h)
    )  # noqa: E741
    widths_lp = sum((h - l).sum() for step_l, step_h in zip(lp.pre_low, lp.pre_high) for l, h in zip(step_l, step_h))  # noqa: E741
    for t in range(problem.horizon):
        for k in range(2):
            assert np.all(lp.pre_low[t][k] >= interval.pre_low[t][k] - 1e-12)
            assert np.all(lp.pre_high[t][k] <= interval.pre_high[t][k] + 1e-12)
    assert widths_lp < widths_interval
    assert lp.unstable_count <= interval.unstable_count


def test_stable_units_are_classified_from_the_bounds():
    task, problem = pwa_problem(horizon=2)
    network = pwa_network(task)
    # x_0 is exact, so the two ReLUs of step 0 (which see only the state) are stable
    bounds = propagate_bounds(network, problem, np.array([2.0, 1.0]))
    assert bounds.neuron_count == 4
    pre0 = task.C @ np.array([2.0, 1.0]) + task.d
    np.testing.assert_allclose(bounds.pre_low[0][0], pre0)
    np.testing.assert_allclose(bounds.pre_high[0][0], pre0)
    assert not bounds.unstable(0, 0).any()
    assert bounds.stable_active(0, 0).tolist() == (pre0 >= 0).tolist()
    assert bounds.stable_share == pytest.approx(1.0 - bounds.unstable_count / 4)


def test_bounds_prove_an_unreachable_box_infeasible():
    network = random_network(0)
    network.output.bias[:] = 10.0  # every step moves the state by ~10, out of the +-3 box
    _, problem = pwa_problem(horizon=2)
    assert not propagate_bounds(network, problem, np.zeros(2)).feasible
    assert not propagate_bounds(network, problem, np.zeros(2), lp_tightening=True).feasible


@pytest.mark.parametrize("seed", [0, 4])
def test_skipping_the_lps_of_interval_stable_units_saves_lps_and_only_loosens_bounds(seed):
    network = random_network(seed, widths=(6, 4))
    _, problem = pwa_problem(horizon=3, rate_limit=0.6)
    state, previous = np.array([0.5, -0.4]), np.array([0.2, -0.1])
    every = propagate_bounds(network, problem, state, previous, lp_tightening=True, tighten_stable=True)
    skipped = propagate_bounds(network, problem, state, previous, lp_tightening=True)
    interval = propagate_bounds(network, problem, state, previous)
    assert skipped.lp_solves < every.lp_solves
    assert every.unstable_count <= skipped.unstable_count <= interval.unstable_count
    assert np.all(every.state_low >= skipped.state_low - 1e-6) and np.all(every.state_high <= skipped.state_high + 1e-6)
    for t in range(problem.horizon):
        for k in range(len(network.layers)):
            assert np.all(every.pre_low[t][k] >= skipped.pre_low[t][k] - 1e-6)
            assert np.all(every.pre_high[t][k] <= skipped.pre_high[t][k] + 1e-6)
            # the skipped units are the interval-stable ones: each keeps its side
            np.testing.assert_array_equal(
                skipped.stable_active(t, k), every.stable_active(t, k) & skipped.stable_active(t, k)
            )
