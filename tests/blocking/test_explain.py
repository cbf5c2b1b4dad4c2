"""SHAP of the blocking CNN: additivity, composites, regions across the seam, maps, the explain run."""

import json

import numpy as np
import pytest
import torch

from blocking.cnn import BlockingCNN, initialise
from blocking.config import CNNConfig, DatasetConfig, ExplainConfig, SplitConfig, TrainConfig
from blocking.explain import additivity_error, composites, plot_maps, run_explain, select_regions, shap_values

TINY = CNNConfig(channels=(4, 4, 4), dense=8)


def tiny_model(seed=0):
    return initialise(BlockingCNN((3, 8, 16), TINY), torch.Generator().manual_seed(seed)).eval()


def test_deep_explainer_attributions_add_up_on_a_tiny_cnn():
    model = tiny_model()
    generator = torch.Generator().manual_seed(1)
    background = torch.randn(10, 3, 8, 16, generator=generator)
    samples = torch.randn(4, 3, 8, 16, generator=generator)
    values, expected = shap_values(model, background, samples, "deep")
    assert values.shape == (4, 3, 8, 16)
    with torch.no_grad():
        assert expected == pytest.approx(float(model(background)[:, 1].mean()), abs=1e-5)
    error = additivity_error(model, samples, values, expected)
    assert error["max_abs"] < 1e-4 and error["max_relative"] < 1e-3


def test_gradient_explainer_reports_its_error_and_leaves_numpy_alone():
    model = tiny_model(2)
    generator = torch.Generator().manual_seed(3)
    background = torch.randn(10, 3, 8, 16, generator=generator)
    samples = torch.randn(3, 3, 8, 16, generator=generator)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    one, expected = shap_values(model, background, samples, "gradient", np.random.default_rng(5), gradient_samples=50)
    assert np.array_equal(np.random.get_state()[1], before)
    two, _ = shap_values(model, background, samples, "gradient", np.random.default_rng(5), gradient_samples=50)
    np.testing.assert_array_equal(one, two)
    error = additivity_error(model, samples, one, expected)
    assert 0.0 < error["max_abs"] < 1.0  # expected gradients add up only approximately


def test_composites_and_regions_across_the_seam():
    values = np.zeros((4, 1, 5, 12))
    values[:2, 0, 1, [0, 1, 11]] = 1.0  # a positive region wrapping through 0 degrees
    values[:2, 0, 3, 5] = -0.8  # a smaller negative region
    values[2:] = 5.0
    maps = composites(
        values, {"true_positive": np.array([0, 1]), "true_negative": np.array([2, 3]), "none": np.array([], dtype=int)}
    )
    assert set(maps) == {"true_positive", "true_negative"} and maps["true_negative"].max() == 5.0
    lat = np.array([80.0, 70.0, 60.0, 50.0, 40.0])
    lon = np.arange(0.0, 360.0, 30.0)
    regions = select_regions(maps["true_positive"][0], lat, lon, threshold=0.5, count=4)
    assert [r["sign"] for r in regions] == [1, -1]
    assert regions[0]["box"] == [70.0, 70.0, 330.0, 30.0] and regions[0]["points"] == 3
    assert regions[1]["box"] == [50.0, 50.0, 150.0, 150.0]
    assert select_regions(maps["true_positive"][0], lat, lon, 0.5, count=1) == regions[:1]
    assert select_regions(np.zeros((5, 12)), lat, lon) == []


def test_maps_are_written(tmp_path):
    lat = np.linspace(85, 25, 6)
    lon = np.arange(0.0, 360.0, 30.0)
    maps = {"true_positive": np.random.default_rng(0).normal(size=(3, 6, 12)), "true_negative": np.zeros((3, 6, 12))}
    outline = (np.add.outer(lat, lon) > 200).astype(float)
    path = plot_maps(
        maps,
        lat,
        lon,
        [200.0, 500.0, 800.0],
        tmp_path / "maps.png",
        outline,
        [{"box": [60.0, 70.0, 330.0, 30.0], "sign": 1}],
        200.0,
    )
    assert path.stat().st_size > 10_000


def test_explain_run_writes_composites_regions_and_maps(tmp_path):
    from blocking.dataset import run_dataset
    from blocking.synthetic import synthetic_qg3_file
    from blocking.training import run_train

    synthetic_qg3_file(tmp_path / "output.nc", days=900, members=1, seed=4)
    run_dataset(DatasetConfig(inputs=(str(tmp_path / "output.nc"),), split=SplitConfig(block_days=30)), tmp_path)
    run_train(TrainConfig(dataset=tmp_path / "dataset.nc", cnn=TINY, epochs=2, bootstrap=0, imbalance="none"), tmp_path)
    metrics = run_explain(
        ExplainConfig(
            dataset=tmp_path / "dataset.nc", model=tmp_path / "model.pt", background=10, samples=5, outline=False
        ),
        tmp_path,
    )
    assert metrics["additivity"]["max_relative"] < 1e-3 and metrics["outline"] == "off"
    assert sum(metrics["explained"].values()) > 0
    saved = json.loads((tmp_path / "regions.json").read_text())
    assert saved["level_hpa"] == 200.0 and saved["regions"] == metrics["regions"]
    assert (tmp_path / "shap_maps.png").exists() and (tmp_path / "shap_composites.nc").exists()


@pytest.mark.network
def test_land_sea_outline_on_the_model_grid():
    from blocking.explain import land_sea_outline
    from blocking.qg3.grid import gaussian_grid

    grid = gaussian_grid(32)
    mask = land_sea_outline(grid.lat[:12], grid.lon)
    assert mask.shape == (12, 64) and 0.2 < mask.mean() < 0.6  # the northern hemisphere north of 20N
    greenland = mask[np.argmin(abs(grid.lat[:12] - 74.7)), np.argmin(abs(grid.lon - 320.6))]
    assert greenland > 0.5
