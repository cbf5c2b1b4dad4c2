"""The planning problem of a task: the push task's optional approach term."""

import numpy as np
import pytest

from sparse_core.infra.errors import ConfigError
from sparse_dynamics.mpc.config import ProblemConfig
from sparse_dynamics.mpc.problem import problem_for_task
from sparse_dynamics.tasks import make_task


def test_the_approach_term_targets_the_push_point_behind_the_object():
    task = make_task("push")
    plain = problem_for_task(task, ProblemConfig(horizon=2))
    shaped = problem_for_task(task, ProblemConfig(horizon=2), approach_weight=0.5, standoff_cm=6.0)
    goal = np.array([10.0, 0.0, 0.0])
    at_push_point = np.array([-6.0, 0.0, 0.0, 0.0, 0.0])  # pusher 6 cm behind the object, away from the goal
    np.testing.assert_allclose(shaped.target(goal, at_push_point), [10.0, 0.0, 0.0, -6.0, 0.0])
    np.testing.assert_allclose(shaped.goal_weights, [1.0, 1.0, task.angle_weight, 0.5, 0.5])
    np.testing.assert_array_equal(shaped.goal_matrix[:3], plain.goal_matrix)
    actions = np.zeros((2, 2))
    for state, extra in ((at_push_point, 0.0), (np.array([-6.0, 4.0, 0.0, 0.0, 0.0]), 0.5 * 4.0 * 2)):
        states = np.stack([state] * 3)  # the object and the pusher stay put: the cost differs by the term only
        target_shaped, target_plain = shaped.target(goal, state), plain.target(goal, state)
        difference = shaped.trajectory_cost(states, actions, target_shaped) - plain.trajectory_cost(
            states, actions, target_plain
        )
        assert difference == pytest.approx(extra)


def test_the_approach_term_is_for_push_only():
    with pytest.raises(ConfigError, match="push task only"):
        problem_for_task(make_task("pwa"), ProblemConfig(horizon=2), approach_weight=1.0)
