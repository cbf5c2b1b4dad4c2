"""The onset dataset: labels, splits that never straddle, training-only standardisation, files."""

import numpy as np
import pytest

from blocking.anomalies import AnomalyFields, segment_starts
from blocking.config import DatasetConfig, SplitConfig
from blocking.dataset import build_dataset, load_dataset, run_dataset, save_dataset, standardise
from blocking.synthetic import synthetic_qg3_file
from sparse_core.infra.errors import ConfigError, InputError

LAT = np.array([85.0, 75.0, 62.0, 50.0, 30.0, 10.0])
LON = np.arange(0.0, 360.0, 8.0)


def make_fields(index_series, offset_after=None, members=None):
    """Fields whose box index (62N, 0E at 500 hPa) is the given series, noise elsewhere."""
    series = np.atleast_2d(np.asarray(index_series, float))
    count, days = series.shape
    rng = np.random.default_rng(0)
    zprime = rng.normal(scale=10.0, size=(count, days, 3, LAT.size, LON.size))
    zprime[:, :, 1, 2, 0] = series
    if offset_after is not None:
        zprime[:, offset_after:, 0, 0, 10] += 1000.0  # a far-away point that is very different later on
    time = np.arange(days, dtype=float)
    return AnomalyFields(
        zprime=zprime,
        z500=5500 + zprime[:, :, 1],
        lat=LAT,
        lon=LON,
        levels_hpa=np.array([200.0, 500.0, 800.0]),
        time=time,
        members=np.arange(count) if members is None else members,
        segment_start=segment_starts(time),
        attrs={"source": "test"},
    )


def config(**split):
    return DatasetConfig(inputs=("unused.nc",), lat_min=20.0, split=SplitConfig(**{"block_days": 10, **split}))


def test_splits_follow_time_blocks_and_events_never_straddle():
    series = np.zeros(30)
    series[2:8] = 150.0  # block 0 (train): 6 days, persistent at D = 5
    series[8:9] = 0.0
    series[9:12] = 150.0  # days 9-11 straddle blocks 0 and 1: dropped
    series[14:16] = 150.0  # block 1 (validation)
    series[22:24] = 150.0  # block 2 (test)
    series[26:27] = 150.0
    dataset, summary = build_dataset(make_fields(series), config(), np.random.default_rng(0))
    assert summary["events"] == 5 and summary["dropped_straddling"] == 1
    assert dataset.onset.tolist() == [2, 14, 22, 26]
    assert dataset.split.tolist() == [0, 1, 2, 2]
    assert dataset.labels().tolist() == [1, 0, 0, 0]
    assert dataset.labels(7).tolist() == [0, 0, 0, 0]
    np.testing.assert_allclose(dataset.index_change, 150.0)
    assert dataset.inputs.shape == (4, 3, 5, LON.size)  # latitudes north of 20N
    assert dataset.select("test").tolist() == [2, 3]


def test_split_by_member_keeps_members_whole():
    series = np.zeros((4, 20))
    series[:, 3:5] = 150.0
    series[:, 12:18] = 150.0
    dataset, _ = build_dataset(
        make_fields(series, members=np.array([10, 11, 12, 13])),
        config(by="member", train_fraction=0.5, validation_fraction=0.25),
        np.random.default_rng(0),
    )
    for member in (10, 11, 12, 13):
        assert np.unique(dataset.split[dataset.member == member]).size == 1
    assert sorted(np.unique(dataset.split).tolist()) == [0, 1, 2]
    with pytest.raises(InputError, match="at least 3 members"):
        build_dataset(make_fields(series[:2]), config(by="member"), np.random.default_rng(0))


def test_shuffled_blocks_depend_on_the_seed_only():
    series = np.zeros(200)
    series[5::10] = 150.0
    one = build_dataset(make_fields(series), config(shuffle_blocks=True), np.random.default_rng(3))[0].split
    two = build_dataset(make_fields(series), config(shuffle_blocks=True), np.random.default_rng(3))[0].split
    other = build_dataset(make_fields(series), config(shuffle_blocks=True), np.random.default_rng(4))[0].split
    assert one.tolist() == two.tolist() and one.tolist() != other.tolist()


def test_standardisation_uses_training_statistics_only():
    series = np.zeros(60)
    series[3::6] = 150.0  # one-day events every 6 days
    dataset, _ = build_dataset(make_fields(series, offset_after=50), config(), np.random.default_rng(0))
    train = dataset.split == 0
    assert dataset.onset[train].max() < 50  # the shifted days are all in validation / test
    np.testing.assert_allclose(dataset.inputs[train].mean(axis=0), 0.0, atol=1e-5)
    spread = dataset.inputs[train].std(axis=0)
    assert spread[1, 2, 0] == 0.0 and dataset.std[1, 2, 0] == 1.0  # the index point is 150 m at every onset
    spread[1, 2, 0] = 1.0
    np.testing.assert_allclose(spread, 1.0, atol=1e-4)
    assert dataset.inputs[~train][:, 0, 0, 10].mean() > 50.0  # the later shift is not standardised away
    np.testing.assert_allclose(dataset.raw_inputs()[:, 1, 2, 0], 150.0, atol=1e-3)
    values, mean, std = standardise(np.array([[1.0, 5.0], [3.0, 5.0], [100.0, 5.0]]), np.array([0, 1]))
    assert mean.tolist() == [2.0, 5.0] and std.tolist() == [1.0, 1.0]  # a constant point gets std 1
    assert values[2].tolist() == [98.0, 0.0]


def test_censored_events_without_a_label_are_dropped():
    series = np.zeros(30)
    series[27:] = 150.0  # runs into the end: 3 days seen, D = 5 unknown
    series[22:24] = 150.0
    series[3:5] = 150.0
    series[13:15] = 150.0
    dataset, summary = build_dataset(make_fields(series), config(), np.random.default_rng(0))
    assert summary["dropped_censored"] == 1 and 27 not in dataset.onset.tolist()


@pytest.mark.parametrize("name", ["dataset.nc", "dataset.npz"])
def test_dataset_files_round_trip(tmp_path, name):
    series = np.zeros(30)
    series[[2, 14, 22]] = 150.0
    dataset, _ = build_dataset(make_fields(series), config(), np.random.default_rng(0))
    back = load_dataset(save_dataset(dataset, tmp_path / name))
    for field in (
        "inputs",
        "mean",
        "std",
        "duration",
        "split",
        "member",
        "onset",
        "index_value",
        "lat",
        "lon",
        "levels_hpa",
    ):
        np.testing.assert_array_equal(getattr(back, field), getattr(dataset, field))
    assert back.onset_time.tolist() == dataset.onset_time.tolist() and back.persistence_days == 5
    assert back.attrs["threshold_m"] == 100.0
    if name.endswith(".npz"):
        with np.load(tmp_path / name) as arrays:
            assert arrays["test_index"].tolist() == np.flatnonzero(dataset.split == 2).tolist()


def test_run_dataset_on_a_synthetic_run(tmp_path):
    path = tmp_path / "output.nc"
    synthetic_qg3_file(path, days=300, members=1, seed=5)
    metrics = run_dataset(DatasetConfig(inputs=(str(path),), split=SplitConfig(block_days=30)), tmp_path)
    assert metrics["input_shape"] == [3, 12, 64]  # 12 Gaussian latitudes north of 20N, 64 longitudes
    assert sum(s["samples"] for s in metrics["splits"].values()) == metrics["samples"] > 5
    assert load_dataset(tmp_path / "dataset.nc").attrs["grid_nlat"] == 32


def test_split_settings_are_checked():
    with pytest.raises(ConfigError) as error:
        SplitConfig(train_fraction=0.9, validation_fraction=0.1)
    assert error.value.field == "validation_fraction"
    with pytest.raises(InputError, match="too few"):
        build_dataset(make_fields(np.r_[0, 150.0, np.zeros(8)]), config(block_days=100), np.random.default_rng(0))


def test_a_remainder_of_days_joins_the_last_block_instead_of_making_a_sliver():
    """3,651 days in 365-day blocks: 10 blocks, the last of 366 days (a 1-day 11th block once left the test split empty)."""
    from blocking.dataset import block_count, block_lengths, block_of

    assert block_count(3651, 365) == 10 and block_count(100, 365) == 1
    lengths = block_lengths(3651, 365)
    assert lengths.sum() == 3651 and lengths[-1] == 366 and (lengths[:-1] == 365).all()
    np.testing.assert_array_equal(block_of(np.array([0, 364, 365, 3284, 3285, 3650]), 3651, 365), [0, 0, 1, 8, 9, 9])
