import math

import pytest

from sparse_core.schedules import cosine_decay, cubic_sparsity, is_update_step, linear_decay, training_window


def test_cubic_sparsity_known_values():
    ramp = dict(final_sparsity=0.9, initial_sparsity=0.0, start_step=100, end_step=200)
    assert cubic_sparsity(0, **ramp) == 0.0
    assert cubic_sparsity(100, **ramp) == 0.0
    assert cubic_sparsity(150, **ramp) == pytest.approx(0.9 - 0.9 * 0.5**3)
    assert cubic_sparsity(200, **ramp) == pytest.approx(0.9)
    assert cubic_sparsity(10_000, **ramp) == pytest.approx(0.9)


def test_cubic_sparsity_is_piecewise_constant_between_pruning_events():
    ramp = dict(final_sparsity=0.8, initial_sparsity=0.2, start_step=0, end_step=100, frequency=10)
    values = [cubic_sparsity(step, **ramp) for step in range(0, 100)]
    assert values[10:20] == [values[10]] * 10
    assert values[19] < values[20]
    assert values[25] == pytest.approx(0.8 + (0.2 - 0.8) * (1 - 20 / 100) ** 3)
    assert all(a <= b for a, b in zip(values, values[1:]))  # monotone


def test_cubic_sparsity_needs_end_step_and_valid_values():
    with pytest.raises(TypeError, match="end_step"):
        cubic_sparsity(5, 0.9)
    with pytest.raises(ValueError, match="end_step \\(10\\).*start_step \\(20\\)"):
        cubic_sparsity(5, 0.9, start_step=20, end_step=10)
    with pytest.raises(ValueError, match="final_sparsity.*1.5"):
        cubic_sparsity(5, 1.5, end_step=10)


def test_cosine_decay_matches_rigl():
    assert cosine_decay(0, 0.3, end_step=1000) == pytest.approx(0.3)
    assert cosine_decay(500, 0.3, end_step=1000) == pytest.approx(0.15)
    assert cosine_decay(250, 0.3, end_step=1000) == pytest.approx(0.15 * (1 + math.cos(math.pi / 4)))
    assert cosine_decay(1000, 0.3, end_step=1000) == 0.0
    assert cosine_decay(2000, 0.3, end_step=1000) == 0.0
    assert cosine_decay(150, 0.3, end_step=200, start_step=100) == pytest.approx(0.15)


def test_linear_decay():
    assert linear_decay(0, 0.5, end_step=100) == pytest.approx(0.5)
    assert linear_decay(25, 0.5, end_step=100) == pytest.approx(0.375)
    assert linear_decay(100, 0.5, end_step=100) == 0.0
    assert linear_decay(5, 0.5, end_step=100, start_step=10) == pytest.approx(0.5)


def test_update_steps_start_after_start_step_and_stop_after_end_step():
    steps = [s for s in range(0, 1000) if is_update_step(s, every=100, start_step=0, end_step=750)]
    assert steps == [100, 200, 300, 400, 500, 600, 700]
    shifted = [s for s in range(0, 100) if is_update_step(s, every=25, start_step=10)]
    assert shifted == [35, 60, 85]
    with pytest.raises(ValueError, match="every must be >= 1"):
        is_update_step(3, every=0)


def test_training_window_from_fractions():
    assert training_window(1000) == (0, 750)
    assert training_window(1000, 0.1, 0.5) == (100, 500)
    with pytest.raises(ValueError, match="end_fraction"):
        training_window(1000, 0.6, 0.5)
