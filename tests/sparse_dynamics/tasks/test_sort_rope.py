import numpy as np
import pytest

from sparse_dynamics.tasks import make_task
from sparse_dynamics.tasks.rope import RopeTask
from sparse_dynamics.tasks.sort import SortTask


def _run(task, seed, steps=20):
    rng = np.random.default_rng(seed)
    states = [task.reset(seed)]
    for _ in range(steps):
        states.append(task.step(task.scripted_action(rng)))
    return np.stack(states)


@pytest.mark.parametrize("name", ["sort", "rope"])
def test_same_seed_same_trajectory(name):
    assert np.array_equal(_run(make_task(name), 2), _run(make_task(name), 2))
    assert not np.array_equal(_run(make_task(name), 2), _run(make_task(name), 3))


def test_sort_discs_never_overlap_and_keep_momentum_sane():
    task = SortTask(objects=3)
    rng = np.random.default_rng(1)
    for seed in range(3):
        task.reset(seed)
        for _ in range(30):
            task.step(task.scripted_action(rng))
            assert task.penetration() < 0.3
            centres = task.state.reshape(-1, 2)[1:]
            gaps = [np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1 :]]
            assert min(gaps) > 2 * task.disc_radius - 0.3


def test_sort_resting_discs_stay_put_without_contact():
    task = SortTask(objects=2)
    start = task.set_state(np.array([-20.0, -20.0, 0.0, 0.0, 6.0, 0.0]))
    for _ in range(5):
        state = task.step(np.array([1.0, 0.0]))
    assert np.array_equal(state[2:], start[2:])


def test_sort_cost_and_layout():
    task = SortTask(objects=3, classes=2)
    goal = np.array([[-1.0, 0.0], [1.0, 0.0]])
    state = np.array([0, 0, -1, 0, 1, 0, -1, 2.0])
    assert task.cost(state, goal) == pytest.approx(2.0)  # only disc 2 (class 0) is off by 2
    assert task.graph_layout.node_types == (0, 1, 2, 1)


def test_rope_stays_joined_and_follows_the_gripper():
    task = RopeTask(segments=6)
    task.reset(0)
    grasped = task.state.reshape(-1, 2)[0].copy()
    for _ in range(10):
        task.step(np.array([2.0, 0.0]))
        assert task.joint_gaps().max() < 0.5
    assert task.state.reshape(-1, 2)[0, 0] > grasped[0] + 15.0


def test_rope_at_rest_does_not_move():
    task = RopeTask(segments=5)
    start = task.reset(4)
    state = task.step(np.zeros(2))
    assert np.allclose(state, start, atol=1e-6)
