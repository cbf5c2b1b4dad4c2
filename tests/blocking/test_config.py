"""The settings of the blocking commands: bounds, derived values, fast imports."""

import subprocess
import sys

import pytest

from blocking.qg3.config import ForcingConfig, SimulateConfig, SimulationConfig
from sparse_core.infra.errors import ConfigError


def test_float32_maps_to_the_dtype():
    assert SimulationConfig().dtype == "float64" and SimulationConfig(float32=True).dtype == "float32"
    assert SimulationConfig(float32=True).model_config().dtype == "float32"


@pytest.mark.parametrize(
    "settings, field",
    [
        (dict(years=float("nan")), "years"),
        (dict(years=0.0), "years"),
        (dict(years=-1.0), "years"),
        (dict(years=0.5 / 365), "years"),  # shorter than one snapshot interval
        (dict(dt_seconds=0.0), "dt_seconds"),
        (dict(members=0), "members"),
        (dict(scheme="euler"), "scheme"),
        (dict(output_every_days=0.7), "output_every_days"),
        (dict(checkpoint_every_days=1 / 48), "checkpoint_every_days"),
    ],
)
def test_simulation_config_refuses_meaningless_settings(settings, field):
    with pytest.raises(ConfigError) as error:
        SimulationConfig(**settings)
    assert error.value.field == field


def test_command_configs_defaults_are_the_command_line_defaults():
    config = SimulateConfig()
    assert (config.simulation.years, config.simulation.members, config.simulation.dt_seconds) == (1.0, 1, 3600.0)
    assert (config.simulation.scheme, config.workers, config.figures) == ("rk3", 0, True)
    assert ForcingConfig(climatology="c.nc").skip_days == 0
    with pytest.raises(ConfigError):
        ForcingConfig(climatology="c.nc", skip_days=-1)


def test_configs_import_no_numerical_library():
    code = "import sys, blocking.cli; print(sorted({'numpy', 'xarray', 'dask', 'torch', 'scipy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
