"""The settings of the blocking-science commands: torch-free, bounded, one config per command."""

import subprocess
import sys

import pytest

from blocking.config import (
    DatasetConfig,
    Era5RequestConfig,
    EventsConfig,
    ExplainConfig,
    IndexConfig,
    SparseModelConfig,
    TrainConfig,
    TransferConfig,
)
from sparse_core.infra.clikit import command_options
from sparse_core.infra.errors import ConfigError


def test_science_configs_import_no_numerical_library():
    code = (
        "import sys, blocking.config; print(sorted({'numpy', 'xarray', 'torch', 'scipy', 'shap'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.parametrize(
    "config_class",
    [EventsConfig, DatasetConfig, TrainConfig, ExplainConfig, SparseModelConfig, TransferConfig, Era5RequestConfig],
)
def test_every_command_config_makes_options_with_help(config_class):
    options = command_options(config_class)
    assert options and all(option.help.strip() for option in options), config_class.__name__
    assert len({option.name for option in options}) == len(options)


def test_defaults_follow_the_authors_protocol():
    index = IndexConfig()
    assert index.box == (60.0, 64.0, -4.0, 4.0) and index.threshold_m == 100.0
    assert (index.lowpass_days, index.lowpass_order, index.coriolis, index.f0_latitude) == (3.0, 2, "reference", 60.0)
    train = TrainConfig()
    assert (train.epochs, train.batch_size, train.imbalance, train.cnn.channels, train.cnn.dense) == (
        30,
        64,
        "balanced_batches",
        (32, 64, 64),
        64,
    )
    transfer = TransferConfig()
    assert (
        transfer.finetune,
        transfer.finetune_learning_rate,
        transfer.finetune_epochs,
        transfer.folds,
        transfer.seeds,
    ) == ("last", 1e-4, 20, 10, 10)
    assert ExplainConfig().background == 100 and ExplainConfig().region_level_hpa == 200.0
    assert SparseModelConfig(boxes=(60, 64, -4, 4)).max_features == 5
    assert DatasetConfig(inputs=("a.nc",)).persistence_days == 5


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: TrainConfig(learning_rate=0.0), "learning_rate"),
        (lambda: TrainConfig(imbalance="oversample"), "imbalance"),
        (lambda: IndexConfig(threshold_percentile=100.0), "threshold_percentile"),
        (lambda: IndexConfig(box=(60.0, 64.0, 0.0)), "box"),
        (lambda: TransferConfig(folds=1), "folds"),
        (lambda: ExplainConfig(region_threshold=1.0), "region_threshold"),
        (lambda: Era5RequestConfig(months=(13,)), "months"),
        (lambda: Era5RequestConfig(area=(-90.0, 0.0, 90.0, 10.0)), "area"),
    ],
)
def test_meaningless_settings_are_refused(make, field):
    with pytest.raises(ConfigError) as error:
        make()
    assert error.value.field == field
