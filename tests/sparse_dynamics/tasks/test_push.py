import numpy as np
import pytest

from sparse_dynamics.tasks.push import PushTask


def _run(task, seed, steps=25):
    rng = np.random.default_rng(seed)
    states = [task.reset(seed)]
    for _ in range(steps):
        states.append(task.step(task.scripted_action(rng)))
    return np.stack(states)


@pytest.mark.parametrize("shape", ["T", "box"])
def test_same_seed_same_trajectory_bit_for_bit(shape):
    first, second = _run(PushTask(shape), 3), _run(PushTask(shape), 3)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, _run(PushTask(shape), 4))


def test_pusher_moves_exactly_by_the_clipped_action_at_10_hz():
    task = PushTask()
    assert task.physics.substeps == 10 and task.physics.control_dt == pytest.approx(0.1)
    task.set_state(np.array([-20.0, -20.0, 10.0, 10.0, 0.0]))  # far from the object
    state = task.step(np.array([1.0, 5.0]))  # y clipped to the 2 cm bound
    assert np.allclose(state[:2], [-19.0, -18.0], atol=1e-9)


def test_pushing_moves_the_object_without_passing_through_it():
    task = PushTask("box")
    task.set_state(np.array([-8.0, 0.0, 0.0, 0.0, 0.0]))  # box spans x in [-4, 4]
    deepest = 0.0
    for _ in range(15):
        state = task.step(np.array([2.0, 0.0]))
        deepest = max(deepest, task.penetration())
        assert state[0] <= state[2] - 4.0 - task.pusher_radius + 0.3  # pusher stays behind the box face
    assert deepest < 0.3  # cm
    assert state[2] > 10.0  # the box was pushed forward
    assert abs(state[3]) < 0.5 and abs(state[4]) < 0.1  # a centred push barely turns it


def test_scripted_pushes_keep_contacts_shallow():
    task = PushTask("T")
    rng = np.random.default_rng(0)
    for seed in range(3):
        task.reset(seed)
        for _ in range(30):
            task.step(task.scripted_action(rng))
            assert task.penetration() < 0.3


def test_no_momentum_from_nothing():
    task = PushTask("T")
    start = task.set_state(np.array([-20.0, -20.0, 5.0, 5.0, 0.7]))
    for _ in range(10):  # pusher moves but never reaches the object
        state = task.step(np.array([0.0, 1.0]))
    assert np.array_equal(state[2:], start[2:])
    assert task.object.velocity.length == 0.0 and task.object.angular_velocity == 0.0


def test_object_stops_when_the_pusher_withdraws():
    task = PushTask("box")
    task.set_state(np.array([-7.0, 0.0, 0.0, 0.0, 0.0]))
    for _ in range(6):
        task.step(np.array([2.0, 0.0]))
    task.step(np.array([-2.0, 0.0]))  # withdraw: contact ends
    energies = []
    for _ in range(5):
        task.step(np.zeros(2))
        body = task.object
        energies.append(0.5 * body.mass * body.velocity.length**2 + 0.5 * body.moment * body.angular_velocity**2)
    assert all(later <= earlier + 1e-9 for earlier, later in zip(energies, energies[1:]))
    assert energies[-1] == pytest.approx(0.0, abs=1e-9)


def test_cost_wraps_the_angle_and_render_writes_a_png(tmp_path):
    task = PushTask()
    goal = np.array([1.0, 2.0, np.pi - 0.1])
    state = np.array([0.0, 0.0, 1.0, 2.0, -np.pi + 0.1])
    assert task.cost(state, goal) == pytest.approx(task.angle_weight * 0.2)
    path = task.render(tmp_path / "frame.png", goal=goal)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
