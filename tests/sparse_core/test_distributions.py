import math

import pytest

from sparse_core.distributions import counts, erk, uniform

MLP = {"fc1.weight": (300, 784), "fc2.weight": (10, 300)}  # PyTorch layout (out, in)


def kept(shapes, densities):
    return sum(densities[name] * math.prod(shape) for name, shape in shapes.items())


def test_erk_matches_the_hand_computation():
    densities = erk(MLP, 0.01)
    eps = 0.01 * (235_200 + 3_000) / (1_084 + 310)  # budget / sum(raw * numel) = budget / sum(dims)
    assert densities["fc1.weight"] == pytest.approx(eps * 1_084 / 235_200)
    assert densities["fc2.weight"] == pytest.approx(eps * 310 / 3_000)
    assert kept(MLP, densities) == pytest.approx(0.01 * 238_200)


def test_erk_repair_loop_makes_a_small_layer_dense():
    densities = erk(MLP, 0.1)  # without repair fc2 would get 1.77
    assert densities["fc2.weight"] == 1.0
    assert densities["fc1.weight"] == pytest.approx((23_820 - 3_000) / 235_200)
    assert kept(MLP, densities) == pytest.approx(23_820)


def test_erk_repair_loop_runs_until_every_density_fits():
    shapes = {"big": (1000, 1000), "mid": (20, 20), "tiny": (2, 3)}
    densities = erk(shapes, 0.05)
    assert densities["tiny"] == 1.0 and densities["mid"] == 1.0
    assert all(0.0 <= d <= 1.0 for d in densities.values())
    assert kept(shapes, densities) == pytest.approx(0.05 * (1_000_000 + 400 + 6))


def test_erk_kernel_term_and_er_variant():
    shapes = {"conv": (16, 3, 3, 3), "fc": (10, 64)}
    with_kernel, without_kernel = erk(shapes, 0.2), erk(shapes, 0.2, kernel=False)
    ratio = with_kernel["conv"] / with_kernel["fc"]
    assert ratio == pytest.approx((25 / 432) / (74 / 640))
    assert without_kernel["conv"] / without_kernel["fc"] == pytest.approx((19 / 48) / (74 / 640))


def test_power_scale_zero_is_uniform():
    densities = erk(MLP, 0.05, power_scale=0.0)
    assert densities["fc1.weight"] == pytest.approx(0.05)
    assert densities["fc2.weight"] == pytest.approx(0.05)


def test_dense_layers_count_toward_the_budget():
    shapes = {"a": (10, 10), "b": (10, 10)}
    assert uniform(shapes, 0.75, dense_layers=["b"]) == pytest.approx({"a": 0.5, "b": 1.0})
    assert erk(shapes, 0.75, dense_layers=["b"]) == pytest.approx({"a": 0.5, "b": 1.0})
    assert uniform(shapes, 0.3) == pytest.approx({"a": 0.3, "b": 0.3})


def test_dense_layers_over_budget_and_unknown_names_are_errors():
    shapes = {"a": (10, 10), "b": (10, 10)}
    with pytest.raises(ValueError, match="dense layers \\['a'\\] hold 100 weights, more than the budget of 60"):
        erk(shapes, 0.3, dense_layers=["a"])
    with pytest.raises(KeyError, match="'c'"):
        uniform(shapes, 0.3, dense_layers=["c"])
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        erk(shapes, 1.2)


def test_counts_use_largest_remainder_rounding():
    shapes = {"a": (3,), "b": (3,), "c": (3,)}
    assert counts(shapes, {"a": 0.5, "b": 0.5, "c": 0.5}, density=5 / 9) == {"a": 2, "b": 2, "c": 1}
    assert counts(shapes, {"a": 0.9, "b": 0.5, "c": 0.1}) == {"a": 3, "b": 1, "c": 0}


@pytest.mark.parametrize("density", [0.013, 0.1, 0.37, 0.9])
def test_counts_meet_the_global_budget_exactly(density):
    shapes = {"conv1": (16, 3, 5, 5), "conv2": (32, 16, 3, 3), "fc1": (128, 288), "fc2": (10, 128)}
    total = sum(math.prod(s) for s in shapes.values())
    densities = erk(shapes, density)
    result = counts(shapes, densities, density=density)
    assert sum(result.values()) == round(density * total)
    for name, shape in shapes.items():
        assert abs(result[name] - densities[name] * math.prod(shape)) < 1
        assert 0 <= result[name] <= math.prod(shape)


def test_counts_reject_mismatched_layers():
    with pytest.raises(ValueError, match="\\['b'\\]"):
        counts({"a": (2,)}, {"a": 0.5, "b": 0.5})
