import numpy as np
import pytest

from memory.capacity import CapacityConfig, run_capacity
from memory.classify import ClassifyConfig, default_channels, run_classify, train_and_test
from memory.data import SequenceSet
from memory.sequence import SequenceConfig, run_sequence
from memory.timing import TimingConfig, hopfield_retrieve, run_timing
from sparse_core.infra.errors import ConfigError


def test_capacity_small_recalls_few_items_perfectly():
    config = CapacityConfig(max_items=30, noise=(0.0, 0.1), queries=5, cms=8, cells_per_cm=16, inputs=100, active=10)
    assert config.sizes == (10, 30)
    metrics = run_capacity(config)
    assert metrics["recall"][0][0] == 1.0
    assert len(metrics["bits_per_synapse"]) == 2


def test_timing_small_runs_and_hopfield_retrieves_the_stored_pattern():
    stored = np.eye(4, dtype=np.float32)
    np.testing.assert_allclose(hopfield_retrieve(stored, stored[2], beta=50.0), stored[2], atol=1e-6)
    metrics = run_timing(TimingConfig(min_items=20, max_items=40, queries=5, inputs=100, active=10))
    assert set(metrics) >= {"retrieve_memory", "retrieve_nearest", "retrieve_hopfield", "retrieve_ratio_largest_vs_smallest"}
    assert metrics["sizes"] == [20, 30, 40] and metrics["ratio_sizes"] == [20, 40]
    assert metrics["retrieve_ratio_largest_vs_smallest"] == metrics["retrieve_memory"][-1] / metrics["retrieve_memory"][0]
    assert "retrieve_ratio_100k_vs_1k" not in metrics  # only when N = 10^3 and 10^5 were both timed


def test_size_grids_follow_the_item_bounds():
    assert TimingConfig().sizes == (1000, 3000, 10000, 30000, 100000)
    assert TimingConfig(min_items=100, max_items=1000).sizes == (100, 300, 1000)
    assert TimingConfig(min_items=150, max_items=400).sizes == (150, 300, 400)
    assert CapacityConfig().sizes == (10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)
    assert CapacityConfig(max_items=50).sizes == (10, 30) and CapacityConfig(max_items=5).sizes == (5,)


def test_timing_config_refuses_a_single_size():
    with pytest.raises(ConfigError, match="min_items .* must be smaller than max_items") as error:
        TimingConfig(min_items=1000, max_items=1000)
    assert error.value.field == "min_items"


def test_classify_config_refuses_unknown_channels_and_readouts():
    with pytest.raises(ValueError, match="channels: expected names among"):
        default_channels("mnist5k", ("filled", "blurred"))
    with pytest.raises(ConfigError, match="channels must be one of"):
        ClassifyConfig(channels=("filled", "blurred"))
    with pytest.raises(ConfigError, match="readout must be one of"):
        ClassifyConfig(readout="middle")
    with pytest.raises(ConfigError, match="every class keeps test images"):
        ClassifyConfig(dataset="digits", train_per_class=174)


def test_classify_config_picks_the_dataset_preprocessing():
    assert ClassifyConfig().preprocessing == default_channels("mnist5k")
    digits = ClassifyConfig(dataset="digits", train_per_class=50, channels=("filled", "skeleton"))
    assert digits.preprocessing == default_channels("digits", ("filled", "skeleton"))
    assert not any(p.deskew for p in digits.preprocessing)


def test_classify_on_digits_small(tmp_path):
    config = ClassifyConfig(dataset="digits", train_per_class=20, test_limit=100, cells_per_cm=256, top_cells_per_cm=64)
    model, metrics = train_and_test(config, seed=0)
    assert metrics["accuracy"] > 0.6 and 0 < metrics["knn1_accuracy"] <= 1
    assert len(metrics["knn1_accuracy_per_channel"]) == 3 and metrics["frame_shape"] == [16, 48]
    assert len(model.hierarchy_.levels) == 2 and model.levels == (0, 1)
    saved = run_classify(config, tmp_path, seed=0)
    assert (tmp_path / "model.npz").exists() and "model" not in saved
    assert {k: v for k, v in saved.items() if not k.endswith("_seconds")} == {
        k: v for k, v in metrics.items() if not k.endswith("_seconds")}


def test_sequence_on_synthetic_orders():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 20, 2))
    values = np.concatenate([base[[0]] + 0.01 * rng.normal(size=(4, 20, 2)), base[[1]] + 0.01 * rng.normal(size=(4, 20, 2))])
    labels = np.repeat([0, 1], 4)
    data = SequenceSet(values, labels, ("a", "b"))
    metrics = run_sequence(SequenceConfig(window=2, bins=6, cells_per_cm=32), data=(data, data))
    assert metrics["g_learned"] > metrics["g_shuffled"]
    assert metrics["accuracy_with_h"] >= 0.75


@pytest.mark.slow
@pytest.mark.network
def test_mnist5k_headline_one_pass_reaches_090():
    metrics = run_classify(ClassifyConfig(), seed=0)  # 200 per class, one pass, 3,000 test images
    assert metrics["test_items"] == 3000 and metrics["accuracy"] >= 0.90
