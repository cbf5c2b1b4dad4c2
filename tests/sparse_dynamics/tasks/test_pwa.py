import numpy as np
import pytest

from sparse_dynamics.tasks.pwa import PiecewiseAffineTask, optimal_control


def test_reset_is_deterministic_and_step_follows_the_affine_pieces():
    task = PiecewiseAffineTask()
    assert np.array_equal(task.reset(5), task.reset(5))
    assert not np.array_equal(task.reset(5), task.reset(6))
    state = task.reset(3)
    action = np.array([0.3, -0.7])
    sigma = task.region(state).astype(float)
    affine = (task.A + task.D @ np.diag(sigma) @ task.C) @ state + task.B @ action + task.c + task.D @ (sigma * task.d)
    assert np.allclose(task.step(action), affine)


def test_dynamics_is_continuous_across_region_borders():
    task = PiecewiseAffineTask()
    on_border = np.array([0.5, 0.0])  # C_0 x + d_0 = 0
    eps = np.array([1e-9, 0.0])
    assert np.allclose(
        task.dynamics(on_border - eps, np.zeros(2)), task.dynamics(on_border + eps, np.zeros(2)), atol=1e-8
    )


def test_actions_are_clipped_and_checked():
    task = PiecewiseAffineTask(action_bound=1.0)
    task.reset(0)
    state = task.state
    assert np.allclose(task.step(np.array([5.0, -5.0])), task.dynamics(state, np.array([1.0, -1.0])))
    with pytest.raises(ValueError, match="finite"):
        task.step(np.array([np.nan, 0.0]))


def test_one_step_optimum_matches_a_fine_grid():
    task = PiecewiseAffineTask()
    x0, goal = np.array([1.2, -0.4]), np.array([0.3, 0.2])
    plan = optimal_control(task, x0, goal, horizon=1)
    grid = np.linspace(-1, 1, 401)
    actions = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    costs = task.cost(task.dynamics(x0, actions), goal) + task.action_weight * np.abs(actions).sum(-1)
    assert plan.cost <= costs.min() + 1e-9
    assert plan.cost >= costs.min() - 1e-2  # the grid is within its spacing of the optimum


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multi_step_optimum_is_never_beaten_by_random_plans(seed):
    task = PiecewiseAffineTask()
    rng = np.random.default_rng(seed)
    x0, goal = rng.uniform(-2, 2, size=2), rng.uniform(-1, 1, size=2)
    plan = optimal_control(task, x0, goal, horizon=3)
    # the reported cost is the cost of really simulating the plan
    states = [x0]
    for action in plan.actions:
        states.append(task.dynamics(states[-1], action))
    assert np.allclose(plan.states, np.stack(states))
    assert plan.cost == pytest.approx(task.trajectory_cost(np.stack(states), plan.actions, goal))
    candidates = rng.uniform(-1, 1, size=(20000, 3, 2))
    candidates = np.concatenate([candidates, np.clip(plan.actions + rng.normal(0, 0.05, size=(2000, 3, 2)), -1, 1)])
    total = np.zeros(len(candidates))
    x = np.broadcast_to(x0, (len(candidates), 2))
    for t in range(3):
        x = task.dynamics(x, candidates[:, t])
        total += task.cost(x, goal) + task.action_weight * np.abs(candidates[:, t]).sum(-1)
    assert plan.cost <= total.min() + 1e-7


def test_horizon_is_checked():
    with pytest.raises(ValueError, match="horizon"):
        optimal_control(PiecewiseAffineTask(), np.zeros(2), np.zeros(2), horizon=0)
