import numpy as np

from memory import csa
from memory.config import CSAConfig


def test_input_sums_count_active_inputs_through_set_weights():
    weights = np.zeros((2, 3, 4), bool)
    weights[0, 0, 1] = weights[0, 2, 1] = weights[0, 2, 3] = True
    weights[1, 1, 0] = True
    active = np.array([[True, False, True], [False, False, False]])
    np.testing.assert_array_equal(csa.input_sums(active, weights), [[0, 2, 0, 1], [0, 0, 0, 0]])


def test_input_sums_packed_path_equals_the_plain_count_beyond_255_active_inputs():
    rng = np.random.default_rng(0)
    for cells in (16, 12):  # a multiple of 8 (64-bit words) and one that is not
        weights = rng.random((3, 600, cells)) < 0.9
        active = rng.random((3, 600)) < np.array([[0.0], [0.95], [0.3]])  # mac 1: > 510 inputs on
        expected = np.einsum("mr,mrc->mc", active.astype(np.int64), weights.astype(np.int64))
        np.testing.assert_array_equal(csa.input_sums(active, weights), expected)


def test_expansivity_is_one_below_g_minus_and_maximal_at_one():
    config = CSAConfig(cells_per_cm=8, g_minus=0.1, gamma=2.0, chi=100.0)
    eta = csa.expansivity(np.array([0.0, 0.1, 1.0]), config)
    np.testing.assert_allclose(eta, [1.0, 1.0, 1.0 + 100 * 8])


def test_novel_input_gives_uniform_choice_weights():
    config = CSAConfig()
    v = np.random.default_rng(0).random((1, 4, 8)) * 0.05
    mu = csa.choice_weights(v, csa.expansivity(csa.global_familiarity(v), config), config)
    np.testing.assert_array_equal(mu, np.ones_like(mu))


def test_sampling_follows_mu_and_best_picks_argmax():
    rng = np.random.default_rng(0)
    mu = np.ones((20000, 1, 4))
    mu[..., 2] = 7.0
    winners = csa.sample_winners(mu, rng)[:, 0]
    assert abs((winners == 2).mean() - 0.7) < 0.02
    v = np.array([[[0.1, 0.9, 0.3], [0.5, 0.2, 0.6]]])
    np.testing.assert_array_equal(csa.best_winners(v), [[1, 2]])
    assert csa.global_familiarity(v)[0] == np.float64(0.75)


def test_packed_weights_give_the_sums_of_boolean_weights():
    rng = np.random.default_rng(1)
    for cells in (5, 12, 16, 64):
        weights = rng.random((2, 40, cells)) < 0.4
        active = rng.random((2, 40)) < 0.5
        packed = csa.pack_weights(weights)
        assert packed.shape == (2, 40, -(-cells // 8)) and packed.dtype == np.uint8
        np.testing.assert_array_equal(csa.unpack_weights(packed, cells), weights)
        np.testing.assert_array_equal(csa.input_sums(active, packed, cells), csa.input_sums(active, weights))
