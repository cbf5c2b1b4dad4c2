"""The sparse model: regional means, subsets chosen on validation, the regions file."""

import json

import numpy as np
import pytest

from blocking.config import SparseModelConfig
from blocking.sparse_model import best_subsets, read_regions, regional_features, run_sparse_model
from sparse_core.infra.errors import ConfigError, InputError


def test_regional_features_are_box_means_per_level():
    lat = np.array([70.0, 60.0, 50.0])
    lon = np.arange(0.0, 360.0, 90.0)
    inputs = np.arange(2 * 3 * 3 * 4, dtype=float).reshape(2, 3, 3, 4)
    features, names = regional_features(inputs, lat, lon, [(60, 60, 0, 0), (50, 70, 270, 90)], [200, 500, 800])
    assert names == [
        "region 1 Z200",
        "region 1 Z500",
        "region 1 Z800",
        "region 2 Z200",
        "region 2 Z500",
        "region 2 Z800",
    ]
    np.testing.assert_allclose(features[:, 0], inputs[:, 0, 1, 0])
    weights = np.cos(np.radians(lat))
    columns = inputs[:, 1][:, :, [0, 1, 3]].mean(axis=2)
    np.testing.assert_allclose(features[:, 4], (columns * weights).sum(axis=1) / weights.sum())


def test_best_subsets_are_chosen_on_validation_and_tested():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(900, 6))
    labels = (features[:, 4] - 0.7 * features[:, 1] + 0.3 * rng.normal(size=900) > 0.8).astype(int)
    splits = {"train": np.arange(600), "validation": np.arange(600, 750), "test": np.arange(750, 900)}
    names = [f"f{k}" for k in range(6)]
    results = best_subsets(features, labels, splits, names, max_features=2)
    assert [r["size"] for r in results] == [1, 2]
    assert results[0]["features"] == ["f4"] and sorted(results[1]["features"]) == ["f1", "f4"]
    assert results[1]["test"]["roc_auc"] > results[0]["test"]["roc_auc"] > 0.8


def test_sparse_model_run_finds_the_planted_precursor(tmp_path):
    from blocking.config import DatasetConfig, SplitConfig
    from blocking.dataset import run_dataset
    from blocking.synthetic import synthetic_qg3_file

    synthetic_qg3_file(tmp_path / "output.nc", days=2000, members=1, seed=6, noise_m=20.0, onset_rate_per_day=0.2)
    split = SplitConfig(block_days=30, train_fraction=0.5, validation_fraction=0.25)
    run_dataset(DatasetConfig(inputs=(str(tmp_path / "output.nc"),), split=split), tmp_path)
    regions = {"regions": [{"box": [20.0, 30.0, 150.0, 170.0]}, {"box": [41.0, 48.0, 280.0, 300.0]}]}
    (tmp_path / "regions.json").write_text(json.dumps(regions))
    metrics = run_sparse_model(
        SparseModelConfig(dataset=tmp_path / "dataset.nc", regions=tmp_path / "regions.json", max_features=2), tmp_path
    )
    assert len(metrics["features"]) == 6 and [s["size"] for s in metrics["subsets"]] == [1, 2]
    assert metrics["subsets"][0]["features"][0].startswith("region 2")  # the precursor box (45N, 70W)
    assert metrics["subsets"][0]["test"]["roc_auc"] > 0.6


def test_regions_files_and_settings_are_checked(tmp_path):
    (tmp_path / "regions.json").write_text(json.dumps({"regions": [{"box": [40, 50, 280, 300], "sign": 1}]}))
    assert read_regions(tmp_path / "regions.json") == [(40.0, 50.0, 280.0, 300.0)]
    (tmp_path / "bad.json").write_text(json.dumps({"regions": [{"box": [50, 40, 0, 1]}]}))
    with pytest.raises(InputError, match="not a regions file"):
        read_regions(tmp_path / "bad.json")
    (tmp_path / "empty.json").write_text(json.dumps({"regions": []}))
    with pytest.raises(InputError, match="holds no region"):
        read_regions(tmp_path / "empty.json")
    with pytest.raises(ConfigError):
        SparseModelConfig()  # neither regions nor boxes
    with pytest.raises(ConfigError):
        SparseModelConfig(boxes=(60, 64, 0))
    assert SparseModelConfig(boxes=(60, 64, -4, 4, 40, 50, 280, 300)).box_list == [(60, 64, -4, 4), (40, 50, 280, 300)]
