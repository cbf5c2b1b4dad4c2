"""The realism measures of ``blocking realism`` on fields with known answers, the QG3 presets, the command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from blocking.anomalies import AnomalyFields, segment_starts
from blocking.qg3.config import PRESETS, QG3Config, SimulationConfig
from blocking.qg3.grid import gaussian_grid
from blocking.realism import block_mean_std, pattern_correlation, realism_metrics, reversal_blocking
from blocking.realism_config import RealismConfig
from sparse_core.infra.errors import ConfigError

GRID = gaussian_grid(32)
BLOCKED_LON = (0, 1, 2, 63)  # 0, 5.6, 11.25 and 354.4 degrees east


def _blocked_profile(lat: np.ndarray) -> np.ndarray:
    """Z500 rising to 60N then falling 15 m per degree: GHGS = 10 > 0, GHGN = -15 < -10; z(65N) > z(50N)."""
    return np.where(lat <= 60.0, 5000.0 + 10.0 * lat, 5600.0 - 15.0 * (lat - 60.0))


def _zonal_profile(lat: np.ndarray) -> np.ndarray:
    """Z500 falling 8 m per degree towards the pole: never blocked by either index."""
    return 5800.0 - 8.0 * lat


def _fields(z500: np.ndarray, zprime500: np.ndarray | None = None, time: np.ndarray | None = None) -> AnomalyFields:
    members, days = z500.shape[:2]
    time = np.arange(days, dtype=np.float64) if time is None else time
    zprime = np.zeros_like(z500) if zprime500 is None else zprime500
    return AnomalyFields(
        zprime=zprime[:, :, None],
        z500=z500,
        lat=GRID.lat,
        lon=GRID.lon,
        levels_hpa=np.array([500.0]),
        time=time,
        members=np.arange(members),
        segment_start=segment_starts(time),
    )


def _imposed_blocks(days: int = 30) -> np.ndarray:
    z = np.repeat(_zonal_profile(GRID.lat)[:, None], GRID.lon.size, axis=1)
    z[:, list(BLOCKED_LON)] = _blocked_profile(GRID.lat)[:, None]
    return np.broadcast_to(z, (2, days, *z.shape)).copy()


def test_imposed_reversal_and_tibaldi_molteni_block_exactly_where_imposed():
    z500 = _imposed_blocks()
    expected = np.zeros(GRID.lon.size)
    expected[list(BLOCKED_LON)] = 1.0
    np.testing.assert_array_equal(reversal_blocking(z500, GRID.lat).mean(axis=(0, 1)), expected)
    config = RealismConfig(inputs=("unused.nc",), mean_days=(10,))
    metrics, by_longitude = realism_metrics(_fields(z500), config)
    np.testing.assert_array_equal(by_longitude["reversal"], expected)
    np.testing.assert_array_equal(by_longitude["tm"], expected)
    assert metrics["tm_max_frequency"] == 1.0 and metrics["reversal_max_frequency"] == 1.0
    assert metrics["tm_max_lon"] in (0.0, -5.625) and metrics["std_10day_mean_m"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["onsets_per_1000_days"] == 0.0 and metrics["threshold_percentile"] == 100.0
    assert "pattern_correlation" not in metrics  # no reference given


def test_largest_frequency_is_looked_for_only_over_the_chosen_longitudes():
    z500 = _imposed_blocks()
    config = RealismConfig(inputs=("unused.nc",), mean_days=(10,), frequency_lon=(30.0, 90.0))
    metrics, _ = realism_metrics(_fields(z500), config)
    assert metrics["tm_max_frequency"] == 0.0 and metrics["reversal_max_frequency"] == 0.0
    assert 30.0 <= metrics["tm_max_lon"] <= 90.0


def _block_mean_amplitude(amplitude: float, days: int, period: float) -> float:
    """The amplitude of ``days``-day means of daily samples of ``amplitude`` sin(2 pi t / period)."""
    return amplitude * abs(np.sin(np.pi * days / period) / (days * np.sin(np.pi / period)))


@pytest.mark.parametrize("days", [10, 90])
def test_std_of_block_means_of_a_sinusoid(days):
    amplitude, period = 50.0, 360.0
    time = np.arange(720, dtype=np.float64)  # two periods: evenly spaced block phases, exact mean of sin^2
    series = amplitude * np.sin(2 * np.pi * time / period)
    z = 5500.0 + np.broadcast_to(series[None, :, None, None], (1, time.size, GRID.lat.size, GRID.lon.size))
    std = block_mean_std(z, GRID.lat, GRID.lon, segment_starts(time), days, (20.0, 90.0, -80.0, 40.0))
    assert std == pytest.approx(_block_mean_amplitude(amplitude, days, period) / np.sqrt(2.0), rel=1e-12)


def test_block_means_stay_inside_segments_and_members():
    # two 20-day segments with a gap: constant +10 in the first, -10 in the second; two members offset by 1000 m
    time = np.concatenate([np.arange(20.0), 100.0 + np.arange(20.0)])
    values = np.where(time < 50, 10.0, -10.0)
    z = values[None, :, None, None] + np.array([0.0, 1000.0])[:, None, None, None]
    z = np.broadcast_to(z, (2, time.size, GRID.lat.size, GRID.lon.size))
    assert block_mean_std(z, GRID.lat, GRID.lon, segment_starts(time), 10, (20.0, 90.0, -80.0, 40.0)) == 10.0
    with pytest.raises(Exception, match="no stretch of the input is 30 days long"):
        block_mean_std(z, GRID.lat, GRID.lon, segment_starts(time), 30, (20.0, 90.0, -80.0, 40.0))


def test_pattern_correlation_known_values():
    rng = np.random.default_rng(0)
    lat = np.linspace(20.0, 85.0, 12)
    field = rng.standard_normal((12, 20))
    assert pattern_correlation(field, field, lat) == pytest.approx(1.0)
    assert pattern_correlation(field, -field, lat) == pytest.approx(-1.0)
    assert pattern_correlation(3.0 * field + 100.0, field, lat) == pytest.approx(1.0)
    zonal = np.linspace(0.0, 500.0, 12)[:, None] * np.ones((12, 20))
    eddies = field - field.mean(axis=1, keepdims=True)
    # the same eddies on different zonal means: the eddy correlation is 1, the sector one is not
    assert pattern_correlation(zonal + eddies, -zonal + eddies, lat, "zonal") == pytest.approx(1.0)
    assert pattern_correlation(zonal + eddies, -zonal + eddies, lat, "sector") < 0.0
    with pytest.raises(ValueError, match="centre"):
        pattern_correlation(field, field, lat, "global")


def test_the_presets_set_the_published_physics_and_leave_the_default_alone():
    assert SimulationConfig().preset == "default" and SimulationConfig().model_config() == QG3Config(
        dt_seconds=3600.0, scheme="rk3"
    )
    lucarini = SimulationConfig(preset="lucarini2020").model_config()
    assert lucarini.tau_ekman_s == 1.5 * 86400.0 and lucarini.tau_thermal_s == 25.0 * 86400.0
    assert lucarini.tau_selective_s == 0.4 * 86400.0 and lucarini.orography_scale_m == 8000.0
    assert lucarini.dt_seconds == 3600.0 and lucarini.scheme == "rk3"  # the run's numerics are kept
    weak = SimulationConfig(preset="weak-damping").model_config()
    assert weak == QG3Config(dt_seconds=3600.0, scheme="rk3", tau_ekman_s=5.0 * 86400.0, tau_selective_s=0.4 * 86400.0)
    assert set(PRESETS) == {"default", "lucarini2020", "weak-damping"}
    with pytest.raises(ConfigError, match="preset must be one of 'default', 'lucarini2020', 'weak-damping'"):
        SimulationConfig(preset="lucarini")


def test_a_preset_has_its_own_roads_forcing():
    """Roads' forcing depends on the operators: the same climatology gives another forcing under another preset."""
    from blocking.qg3.roads import roads_forcing
    from blocking.qg3.run import build_model, initial_state

    default, initial_q = build_model(SimulationConfig())
    lucarini, _ = build_model(SimulationConfig(preset="lucarini2020"))
    states = initial_state(default, initial_q, range(3), seed=0, perturbation=0.05)
    psi = default.streamfunction(states)
    first, second = roads_forcing(default, psi), roads_forcing(lucarini, psi)
    difference = np.sqrt(np.mean((first - second) ** 2) / np.mean(first**2))
    assert np.isfinite(second).all() and difference > 0.01


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="one label per input"):
        RealismConfig(inputs=("a.nc", "b.nc"), labels=("a",))
    with pytest.raises(ConfigError, match="north > south"):
        RealismConfig(inputs=("a.nc",), reversal_lat=(50.0, 65.0))
    with pytest.raises(ConfigError, match="at least one"):
        RealismConfig(inputs=())


REGISTER_AND_RUN = (
    "import sys\n"
    "from blocking.cli import app\n"
    "from blocking.cli_realism import register\n"
    "if not any(c.name == 'realism' for c in app.registered_commands):\n"
    "    register(app)\n"
    "app(sys.argv[1:], prog_name='sparseworks blocking')\n"
)


def _blocking(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", REGISTER_AND_RUN, *args], capture_output=True, text=True, timeout=300, check=False
    )


def _reference_file(path, mean: np.ndarray) -> None:
    """A one-day 'reanalysis' holding ``mean (lat, lon)`` as its z500 (CF attributes)."""
    import xarray as xr

    xr.Dataset(
        {
            "z": (
                ("time", "level", "lat", "lon"),
                mean[None, None],
                {"units": "m", "standard_name": "geopotential_height"},
            )
        },
        coords={
            "time": np.array(["2000-01-15"], dtype="datetime64[ns]"),
            "level": ("level", [500.0], {"units": "hPa"}),
            "lat": ("lat", GRID.lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", GRID.lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
    ).to_netcdf(path)


@pytest.mark.slow
def test_realism_command_end_to_end(tmp_path):
    """A tiny run, compared with a 'reanalysis' that is its own time mean: pattern correlation 1."""
    from blocking.anomalies import qg3_fields
    from blocking.config import IndexConfig

    run = tmp_path / "qg3"
    done = subprocess.run(
        [sys.executable, "-m", "sparseworks", "blocking", "simulate", "--years", "0.15", "--no-figures"]
        + ["--threads", "1", "--out", str(run)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    fields = qg3_fields(run / "output.nc", IndexConfig())
    _reference_file(tmp_path / "reference.nc", fields.z500.mean(axis=(0, 1)))
    out = tmp_path / "realism"
    done = _blocking(
        "realism",
        "--inputs",
        f"{run / 'output.nc'},{run / 'output.nc'}",
        "--labels",
        "first,second",
        "--mean-days",
        "10,30",
        "--reference",
        str(tmp_path / "reference.nc"),
        "--out",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = metrics["runs"]["first"], metrics["runs"]["second"]
    assert first == second and first["days"] == 55 and first["members"] == 1
    assert first["pattern_correlation"] == pytest.approx(1.0) and first[
        "pattern_correlation_with_zonal_mean"
    ] == pytest.approx(1.0)
    assert first["std_10day_mean_m"] > 0.0 and 0.0 <= first["tm_max_frequency"] <= 1.0
    assert {"realism.csv", "frequency_by_longitude.csv", "blocking_frequency.png"} <= {p.name for p in out.iterdir()}
    rows = (out / "realism.csv").read_text().splitlines()
    assert rows[0].startswith("label,tm_max_frequency") and [r.split(",")[0] for r in rows[1:]] == ["first", "second"]
    bad = _blocking("realism", "--inputs", str(run / "output.nc"), "--labels", "a,b", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "one label per input" in bad.stderr


@pytest.mark.slow
def test_forcing_command_computes_a_presets_own_forcing(tmp_path):
    """``blocking forcing --preset NAME`` (active once ForcingConfig has the field) differs from the default's."""
    import dataclasses

    import xarray as xr

    from blocking.qg3.config import ForcingConfig

    if "preset" not in {f.name for f in dataclasses.fields(ForcingConfig)}:
        pytest.skip("blocking forcing has no --preset yet")
    sparseworks = [sys.executable, "-m", "sparseworks", "blocking"]
    run = subprocess.run(
        sparseworks + ["simulate", "--years", "0.03", "--no-figures", "--out", str(tmp_path / "qg3")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    forcing = {}
    for preset in ("default", "lucarini2020"):
        done = subprocess.run(
            sparseworks
            + ["forcing", "--climatology", str(tmp_path / "qg3" / "output.nc"), "--preset", preset]
            + ["--out", str(tmp_path / preset)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        with xr.open_dataset(tmp_path / preset / "forcing.nc") as data:
            forcing[preset] = data["forcing"].to_numpy()
    difference = np.sqrt(
        np.mean((forcing["default"] - forcing["lucarini2020"]) ** 2) / np.mean(forcing["default"] ** 2)
    )
    assert difference > 0.01
