import numpy as np
import pytest

from memory.capacity import CapacityConfig, n_at_recall, run_capacity
from memory.classify import ClassifyConfig, default_channels, run_classify, train_and_test
from memory.config import CSASettings
from memory.data import SequenceSet
from memory.experiments import SizeGrid
from memory.sequence import SequenceConfig, run_sequence
from memory.timing import TimingConfig, hopfield_retrieve, retrieve_ratio, run_timing
from sparse_core.infra.errors import ConfigError
from sparse_core.infra.runtime import config_to_dict

SMALL = SizeGrid(inputs=(100, 200), active=(10, 10), cms=(8, 8), cells_per_cm=(16, 16), macs=(1, 2))


def test_capacity_small_recalls_few_items_perfectly_and_reports_n90():
    config = CapacityConfig(grid=SMALL, max_items=30, noise=(0.0, 0.1), queries=5)
    assert config.counts == (10, 20, 30)
    metrics = run_capacity(config)
    one, two = metrics["memories"]
    assert one["recall"][0][0] == 1.0 and one["macs"] == 1 and two["macs"] == 2
    assert one["synapses"] == 100 * 8 * 16 and two["synapses"] == 200 * 128 + 2 * 128 * 128
    assert len(two["levels"]) == 2 and two["levels"][0]["normalise"] == "max"
    assert set(one["n90"]) == {"0", "0.1"} and one["n90"]["0"] >= 10
    assert one["bits_per_synapse_at_n90"] == one["n90"]["0"] * 8 * 4 / one["synapses"]
    assert metrics["csa"] == config_to_dict(CSASettings())


def test_n90_is_the_last_n_before_recall_drops():
    assert n_at_recall([10, 20, 30, 50], [1.0, 0.95, 0.85, 0.92]) == 20
    assert n_at_recall([10, 20], [0.5, 1.0]) == 0


def test_timing_times_only_rows_that_hold_their_items():
    stored = np.eye(4, dtype=np.float32)
    np.testing.assert_allclose(hopfield_retrieve(stored, stored[2], beta=50.0), stored[2], atol=1e-6)
    config = TimingConfig(grid=SMALL, min_items=10, max_items=100, queries=10, ann="none")
    metrics = run_timing(config)
    assert metrics["sizes"] and all(r >= 0.9 for r in metrics["recall"])
    assert all("peers" in row for row in metrics["rows"] if row["holds"])
    assert all("peers" not in row for row in metrics["rows"] if not row["holds"])
    assert all(row["levels"][0]["sigmoid_center"] == 0.9 for row in metrics["rows"])
    if "ratio_sizes" in metrics:
        small, large = metrics["ratio_sizes"]
        assert metrics["retrieve_ratio_largest_vs_smallest"] == retrieve_ratio(metrics["rows"], small, large)
    assert "retrieve_ratio_100k_vs_1k" not in metrics  # only when N = 10^3 and 10^5 both hold


def test_timing_refuses_a_ratio_from_a_row_below_recall_090():
    rows = [
        {"items": 1000, "recall": 1.0, "retrieve_seconds": 1e-4},
        {"items": 100000, "recall": 0.005, "retrieve_seconds": 1e-4},
    ]
    with pytest.raises(ValueError, match=r"N = 100000 has recall 0.005 < 0.9"):
        retrieve_ratio(rows, 1000, 100000)
    rows.append({"items": 100000, "recall": 0.95, "retrieve_seconds": 3e-4})  # a larger memory that holds N
    assert retrieve_ratio(rows, 1000, 100000) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="no timed row at N = 300"):
        retrieve_ratio(rows, 300, 1000)


def test_a_saturated_memory_gives_no_ratio():
    tiny = SizeGrid(inputs=(60,), active=(10,), cms=(4,), cells_per_cm=(4,), macs=(1,))
    metrics = run_timing(TimingConfig(grid=tiny, min_items=300, max_items=1000, queries=10, ann="none"))
    assert metrics["not_held"] == [300, 1000] and metrics["sizes"] == []
    assert "retrieve_ratio_largest_vs_smallest" not in metrics
    assert all(row["recall"] < 0.9 for row in metrics["rows"])


def test_count_grids_follow_the_item_bounds():
    assert TimingConfig().counts == (1000, 3000, 10000, 30000, 100000)
    assert TimingConfig(min_items=100, max_items=1000).counts == (100, 300, 1000)
    assert TimingConfig(min_items=150, max_items=400).counts == (150, 300, 400)
    assert CapacityConfig(max_items=100).counts == (10, 20, 30, 50, 70, 100)
    assert CapacityConfig(max_items=50).counts == (10, 20, 30, 50) and CapacityConfig(max_items=5).counts == (5,)


def test_size_grid_broadcasts_and_checks_its_lists():
    grid = SizeGrid(inputs=(784, 2048), active=(40,), cms=(24,), cells_per_cm=(16, 64), macs=(1,))
    assert [s.name for s in grid.sizes] == ["784/40 Q24xK16", "2048/40 Q24xK64"]
    assert grid.sizes[0].willshaw_items == int(np.log(2) * 784 * 384 / (40 * 24))
    with pytest.raises(ConfigError, match="one common length"):
        SizeGrid(inputs=(784, 2048, 4096), active=(40, 16))
    with pytest.raises(ConfigError, match="must divide inputs") as error:
        SizeGrid(inputs=(100,), active=(10,), cms=(4,), cells_per_cm=(4,), macs=(3,))
    assert error.value.field == "macs"
    assert len(SizeGrid().sizes) >= 6 and {s.macs for s in SizeGrid().sizes} >= {1, 4}


def test_every_command_shares_the_csa_settings():
    shared = config_to_dict(CSASettings())
    for config in (ClassifyConfig(), CapacityConfig(), TimingConfig()):
        assert config_to_dict(config.csa) == shared
    # sequence differs in normalise only, and says why in its docstring
    differs = {k for k, v in config_to_dict(SequenceConfig().csa).items() if shared[k] != v}
    assert differs == {"normalise"} and "normalise=active" in SequenceConfig.__doc__


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
    with pytest.raises(ConfigError, match="validation_per_class") as error:
        ClassifyConfig(train_per_class=10, validation_per_class=10)
    assert error.value.field == "validation_per_class"


def test_classify_config_picks_the_dataset_preprocessing():
    assert ClassifyConfig().preprocessing() == default_channels("mnist5k")
    digits = ClassifyConfig(dataset="digits", train_per_class=50, channels=("filled", "skeleton"))
    assert digits.preprocessing() == default_channels("digits", ("filled", "skeleton"))
    assert not any(p.deskew for p in digits.preprocessing())
    large, small = default_channels("file", image_shape=(32, 32)), default_channels("file", image_shape=(8, 8))
    assert all(p.deskew for p in large) and large[2].shape == (28, 28)
    assert small == default_channels("digits")


def test_classify_on_digits_small(tmp_path):
    config = ClassifyConfig(dataset="digits", train_per_class=20, test_limit=100, cells_per_cm=256, top_cells_per_cm=64)
    model, metrics = train_and_test(config, seed=0)
    assert metrics["accuracy"] > 0.6 and 0 < metrics["knn1_accuracy"] <= 1
    assert 0 < metrics["knn1_pixels_accuracy"] <= 1 and 0 < metrics["linear_on_codes_accuracy"] <= 1
    assert len(metrics["knn1_accuracy_per_channel"]) == 3 and metrics["frame_shape"] == [16, 48]
    assert len(model.hierarchy_.levels) == 2 and model.levels == (0, 1)
    assert metrics["levels"][0]["csa"]["cells_per_cm"] == 256 and metrics["levels"][1]["csa"]["cells_per_cm"] == 64
    assert metrics["levels"][0]["csa"]["normalise"] == metrics["csa"]["normalise"] == "max"
    saved = run_classify(config, tmp_path, seed=0)
    assert (tmp_path / "model.npz").exists() and "model" not in saved
    assert {k: v for k, v in saved.items() if not k.endswith("_seconds")} == {
        k: v for k, v in metrics.items() if not k.endswith("_seconds")
    }


def test_validation_split_never_touches_the_test_images():
    config = ClassifyConfig(
        dataset="digits",
        train_per_class=20,
        validation_per_class=5,
        cells_per_cm=64,
        top_cells_per_cm=0,
        channels=("filled",),
        baselines=False,
    )
    _, metrics = train_and_test(config, seed=0)
    assert metrics["evaluated_on"] == "validation"
    assert metrics["train_items"] == 150 and metrics["test_items"] == 50


def test_sequence_on_synthetic_orders():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 20, 2))
    values = np.concatenate(
        [base[[0]] + 0.01 * rng.normal(size=(4, 20, 2)), base[[1]] + 0.01 * rng.normal(size=(4, 20, 2))]
    )
    labels = np.repeat([0, 1], 4)
    data = SequenceSet(values, labels, ("a", "b"))
    metrics = run_sequence(SequenceConfig(window=2, bins=6, cells_per_cm=32), data=(data, data))
    assert metrics["g_learned"] > metrics["g_shuffled"]
    assert metrics["accuracy_with_h"] >= 0.75
    assert metrics["csa"]["normalise"] == "active" and metrics["levels"][0]["csa"]["cells_per_cm"] == 32


@pytest.mark.slow
@pytest.mark.network
def test_mnist5k_headline_one_pass_reaches_090():
    metrics = run_classify(ClassifyConfig(), seed=0)  # 200 per class, one pass, 3,000 test images
    assert metrics["test_items"] == 3000 and metrics["accuracy"] >= 0.90
