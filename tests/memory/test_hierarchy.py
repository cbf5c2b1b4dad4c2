import numpy as np
import pytest

from memory.config import CSAConfig, HierarchyConfig, LevelConfig
from memory.hierarchy import Hierarchy


def _model(normalise="active", seed=0, levels=None):
    csa = CSAConfig(cms=6, cells_per_cm=64, normalise=normalise)
    levels = levels or (LevelConfig(grid=(1, 1), rf=(10, 10), csa=csa),)
    return Hierarchy(HierarchyConfig(input_shape=(10, 10), levels=levels), seed=seed)


def _patterns(count, seed=1):
    return np.random.default_rng(seed).random((count, 10, 10)) < 0.15


@pytest.mark.parametrize(("normalise", "g_min"), [("active", 0.99), ("max", 0.9)])
def test_familiar_input_gets_its_stored_code_back_with_g_one(normalise, g_min):
    # with "max", a cell shared by two similar items reads |x| / fan-in < 1
    model = _model(normalise)
    patterns = _patterns(5)
    stored = model.encode(patterns, learn=True)[0]
    recalled = model.encode(patterns, learn=False)[0]
    np.testing.assert_array_equal(recalled, stored)
    steps = [model.present(p, learn=False)[0] for p in patterns]
    assert all(s.g[0] >= g_min for s in steps)


def test_novel_input_has_low_g_and_a_near_random_code():
    model = _model()
    patterns = _patterns(40)
    model.encode(patterns[:5], learn=True)
    g = [model.present(p, learn=False)[0].g[0] for p in patterns[20:]]
    assert np.mean(g) < 0.5
    codes = model.encode(patterns[20:], learn=True)[0][:, 0]
    overlaps = [(codes[i] == codes[j]).mean() for i in range(len(codes)) for j in range(i)]
    assert np.mean(overlaps) < 0.1  # chance is 1/K = 1/64 per CM


def test_same_seed_same_codes():
    patterns = _patterns(10)
    a = _model(seed=3).encode(patterns, learn=True)[0]
    b = _model(seed=3).encode(patterns, learn=True)[0]
    np.testing.assert_array_equal(a, b)


def test_two_level_hierarchy_with_h_and_d_runs_and_silent_macs_are_minus_one():
    csa = CSAConfig(cms=4, cells_per_cm=4, min_active=3)
    levels = (
        LevelConfig(grid=(2, 2), rf=(5, 5), h_radius=1, csa=csa),
        LevelConfig(grid=(1, 1), rf=(2, 2), h_radius=0, csa=csa),
    )
    model = Hierarchy(HierarchyConfig(input_shape=(10, 10), levels=levels, use_d=True), seed=0)
    frame = np.zeros((10, 10), bool)
    frame[:5, :5] = True
    codes = model.encode(np.stack([frame, frame]), learn=True, sequence=True)
    assert codes[0].shape == (2, 4, 4) and codes[1].shape == (2, 1, 4)
    assert (codes[0][0, 0] >= 0).all() and (codes[0][0, 3] == -1).all()


def test_freezing_stops_learning():
    csa = CSAConfig(cms=4, cells_per_cm=2, freeze_fraction=0.05)
    model = _model(levels=(LevelConfig(grid=(1, 1), rf=(10, 10), csa=csa),))
    model.encode(_patterns(30), learn=True)
    level = model.levels[0]
    assert level.frozen.all()
    before = level.weights["u"].copy()
    model.encode(_patterns(5, seed=9), learn=True)
    np.testing.assert_array_equal(level.weights["u"], before)


def test_bad_frames_are_refused_with_what_was_expected():
    model = _model()
    with pytest.raises(ValueError, match="expected frames of 10x10"):
        model.encode(np.zeros((2, 8, 8)), learn=True)
    with pytest.raises(ValueError, match="expected binary input"):
        model.encode(np.full((1, 10, 10), 0.5), learn=True)
    with pytest.raises(ValueError, match="expected at least one frame"):
        model.encode(np.zeros((0, 10, 10), bool), learn=True)


@pytest.mark.parametrize("k", [4, 16])  # modules sharing bytes (bitwise_or.at) and owning whole bytes
def test_packed_learning_sets_exactly_the_bits_of_a_boolean_reference(k):
    from memory.level import Level

    rng = np.random.default_rng(0)
    level = Level(LevelConfig(grid=(1, 1), rf=(1, 30), csa=CSAConfig(cms=3, cells_per_cm=k)), np.arange(30)[None, :])
    reference = np.zeros((1, 30, 3 * k), bool)
    for _ in range(25):
        pattern = rng.random(30) < 0.3
        codes = level.step(pattern, learn=True, rng=rng).codes[0]
        if pattern.any():
            reference[0, np.flatnonzero(pattern)[:, None], codes + np.arange(3) * k] = True
    np.testing.assert_array_equal(level.dense_weights(), reference)
    assert level.set_count[0] == reference.sum() and level.fill()[0] == reference.mean()
    np.testing.assert_array_equal(level.fanin[0], reference[0].sum(axis=0))


def test_weights_saved_in_the_older_bit_order_are_repacked():
    model = _model()
    model.encode(_patterns(5), learn=True)
    state = model.state_dict()
    dense = model.levels[0].dense_weights()
    legacy = {k: v for k, v in state.items() if not k.endswith("weights_format")}
    legacy["level0.w_u"] = np.packbits(dense, axis=-1)  # numpy's default big-endian bit order
    fresh = _model()
    fresh.load_state_dict(legacy)
    np.testing.assert_array_equal(fresh.levels[0].dense_weights(), dense)
    state["level0.set_count"] = state["level0.set_count"] + 1
    with pytest.raises(ValueError, match="set_count: expected the set U weights"):
        _model().load_state_dict(state)
