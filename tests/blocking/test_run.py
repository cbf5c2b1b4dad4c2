"""The simulation driver: restart bit for bit, CF output, Roads' forcing, bad input."""

import numpy as np
import pytest
import xarray as xr

from blocking.qg3.run import SimulationConfig, simulate, simulate_members
from blocking.qg3.runfiles import split_members

pytestmark = pytest.mark.network
SHORT = dict(
    years=3 / 365,
    members=1,
    dt_seconds=3600.0,
    scheme="rk3",
    output_every_days=1.0,
    checkpoint_every_days=1.0,
    spinup_days=1.0,
)


def test_killed_run_resumes_bit_for_bit(tmp_path):
    config = SimulationConfig(**SHORT)
    whole = simulate(config, tmp_path / "whole")
    assert whole["finite"]
    folder = tmp_path / "killed"
    folder.mkdir()
    stopped = simulate_members(
        config, split_members(config.members, 0)[0], folder, stop_after_steps=70
    )  # killed between two checkpoints (24 steps a day)
    assert not stopped["completed"]
    assert not (folder / "output.nc").exists()  # the snapshots wait in complete per-interval files
    simulate(config, folder)  # resumes from the day-2 checkpoint
    with xr.open_dataset(tmp_path / "whole" / "output.nc") as a, xr.open_dataset(folder / "output.nc") as b:
        assert a.sizes["time"] == b.sizes["time"] == 4  # day 0 … day 3
        for name in ("psi", "q", "z500", "energy", "enstrophy", "time"):
            np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy())


def test_output_is_cf_with_expected_dims(tmp_path):
    config = SimulationConfig(**{**SHORT, "years": 2 / 365, "members": 1})
    simulate(config, tmp_path)
    with xr.open_dataset(tmp_path / "output.nc") as data:
        assert data.Conventions.startswith("CF") and "history" in data.attrs
        assert data.psi.dims == ("member", "time", "level", "lat", "lon")
        assert data.z500.dims == ("member", "time", "lat", "lon")
        assert data.psi.units == "m2 s-1" and data.lat.units == "degrees_north"
        assert list(data.level.values) == [200, 500, 800]
        from blocking.qg3.output import GRAVITY, REFERENCE_F0

        np.testing.assert_allclose(data.z500, REFERENCE_F0 * data.psi.sel(level=500) / GRAVITY, rtol=1e-5)
        assert np.isfinite(data.psi).all()


def test_roads_forcing_makes_a_state_stationary(tmp_path):
    """With one sample, S = −F₀(q): the forced tendency of that state vanishes."""
    from blocking.qg3.roads import roads_forcing
    from blocking.qg3.run import build_model, initial_state

    model, initial_q = build_model(SimulationConfig())
    state = initial_state(model, initial_q, [0], seed=0, perturbation=0.01)
    psi = model.streamfunction(state)
    forcing = roads_forcing(model, psi)
    model.forcing = forcing
    residual = model.tendency(state)
    model.forcing = np.zeros_like(forcing)
    unforced = model.tendency(state)
    assert np.linalg.norm(residual) < 1e-10 * np.linalg.norm(unforced)


def test_bad_forcing_files_name_file_and_variable(tmp_path):
    from blocking.qg3 import InputError, gaussian_grid, read_forcing_file
    from blocking.qg3.forcing_io import write_forcing

    grid = gaussian_grid(32)
    good = np.zeros((3, 32, 64))
    nan = good.copy()
    nan[1, 3, 4] = np.nan
    write_forcing(tmp_path / "nan.nc", nan, grid, source="test")
    with pytest.raises(InputError, match=r"nan\.nc.*'forcing'.*1 NaN"):
        read_forcing_file(tmp_path / "nan.nc", grid)
    xr.Dataset({"other": (("lat",), grid.lat)}).to_netcdf(tmp_path / "missing.nc")
    with pytest.raises(InputError, match=r"missing\.nc.*'forcing' missing"):
        read_forcing_file(tmp_path / "missing.nc", grid)
    coarse = gaussian_grid(16)
    xr.Dataset(
        {"forcing": (("level", "lat", "lon"), np.zeros((3, 16, 32)), {"units": "s-2"})},
        coords=dict(level=[200, 500, 800], lat=coarse.lat, lon=coarse.lon),
    ).to_netcdf(tmp_path / "grid.nc")
    with pytest.raises(InputError, match=r"grid\.nc.*'forcing' is not on the T21 model grid"):
        read_forcing_file(tmp_path / "grid.nc", grid)


def test_bad_climatology_names_file_and_variable(tmp_path):
    from blocking.qg3 import InputError
    from blocking.qg3.roads import read_climatology
    from blocking.qg3.run import build_model

    model, _ = build_model(SimulationConfig())
    grid = model.transform.grid
    psi = np.zeros((5, 3, 32, 64))
    psi[2, 0, 0, 0] = np.nan
    xr.Dataset(
        {"psi": (("time", "level", "lat", "lon"), psi, {"units": "m2 s-1"})},
        coords=dict(level=[200, 500, 800], lat=grid.lat, lon=grid.lon),
    ).to_netcdf(tmp_path / "clim.nc")
    with pytest.raises(InputError, match=r"clim\.nc.*'psi'.*NaN"):
        list(read_climatology(tmp_path / "clim.nc", model))
    xr.Dataset({"z": (("time",), np.zeros(3))}).to_netcdf(tmp_path / "noz.nc")
    with pytest.raises(InputError, match=r"noz\.nc.*'psi'.*missing"):
        list(read_climatology(tmp_path / "noz.nc", model))
    xr.Dataset({"psi": (("time", "level", "lat", "lon"), np.zeros((5, 3, 32, 64)), {"units": "m2 s-1"})}).to_netcdf(
        tmp_path / "nocoords.nc"
    )
    with pytest.raises(InputError, match=r"nocoords\.nc.*'psi' has no latitude coordinate"):
        list(read_climatology(tmp_path / "nocoords.nc", model))


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 2-day run of one member (2 snapshot days after a 1-day spin-up)."""
    folder = tmp_path_factory.mktemp("finished")
    config = SimulationConfig(**{**SHORT, "years": 2 / 365})
    simulate(config, folder)
    return config, folder


@pytest.mark.parametrize(
    "change, option",
    [
        (dict(dt_seconds=1800.0), "--dt"),
        (dict(members=2), "--members"),
        (dict(scheme="rk4"), "--scheme"),
        (dict(float32=True), "--float32"),
        (dict(perturbation=0.02), "--perturbation"),
        (dict(seed=1), "--seed"),
        (dict(spinup_days=2.0), "--spinup-days"),
        (dict(output_every_days=2.0), "--output-every-days"),
        (dict(years=1 / 365), "--years"),
    ],
)
def test_resume_under_other_settings_is_refused(finished_run, change, option):
    from sparse_core.infra.errors import ConfigError

    config, folder = finished_run
    before = _files(folder)
    other = SimulationConfig(**{**SHORT, "years": 2 / 365, **change})
    with pytest.raises(ConfigError, match="other settings") as error:
        simulate(other, folder)
    assert f"{option} " in str(error.value) and "--restart" in str(error.value)
    assert _files(folder) == before  # nothing written, nothing removed


def test_resume_with_another_forcing_is_refused(tmp_path, finished_run):
    from blocking.qg3 import gaussian_grid
    from blocking.qg3.forcing_io import write_forcing
    from sparse_core.infra.errors import ConfigError

    forcing = tmp_path / "forcing.nc"
    write_forcing(forcing, np.zeros((3, 32, 64)), gaussian_grid(32), source="test")
    config = SimulationConfig(**{**SHORT, "years": 1 / 365, "forcing_file": str(forcing)})
    simulate(config, tmp_path / "run")
    write_forcing(forcing, np.full((3, 32, 64), 1e-12), gaussian_grid(32), source="test")  # same path, new contents
    with pytest.raises(ConfigError, match=r"--forcing \(the file's contents\)"):
        simulate(config, tmp_path / "run")
    with pytest.raises(ConfigError, match="--forcing"):
        simulate(SimulationConfig(**{**SHORT, "years": 1 / 365}), tmp_path / "run")


def test_longer_years_extend_a_run_bit_for_bit_and_restart_starts_over(tmp_path, finished_run):
    import shutil

    config, finished = finished_run
    folder = tmp_path / "extended"
    shutil.copytree(finished, folder)
    (folder / ".output.nc.x1y2.part.nc").write_bytes(b"\x89HDF")  # left by a killed run
    longer = SimulationConfig(**{**SHORT, "years": 4 / 365})
    simulate(longer, folder)
    simulate(longer, tmp_path / "whole")
    assert not list(folder.rglob("*.part*")) and not (folder / "snapshots").exists()
    with xr.open_dataset(tmp_path / "whole" / "output.nc") as a, xr.open_dataset(folder / "output.nc") as b:
        assert a.sizes["time"] == b.sizes["time"] == 5  # day 0 … day 4
        for name in ("psi", "q", "z500", "energy", "enstrophy", "time"):
            np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy())
    other = SimulationConfig(**{**SHORT, "years": 1 / 365, "dt_seconds": 1800.0})
    simulate(other, folder, restart=True)
    with xr.open_dataset(folder / "output.nc") as data:
        assert data.sizes["time"] == 2 and '"dt_seconds": 1800.0' in data.simulation_config


def test_a_blow_up_is_an_error_naming_the_model_day(tmp_path):
    from blocking.qg3.run import SimulationDiverged
    from sparse_core.infra.errors import ConfigError

    config = SimulationConfig(years=30 / 365, dt_seconds=43200.0, checkpoint_every_days=1.0)
    with pytest.raises(SimulationDiverged, match=r"non-finite at model day [0-9.]+ .*smaller --dt") as error:
        simulate(config, tmp_path)
    assert isinstance(error.value, ConfigError)
    assert not list(tmp_path.rglob("*.part*")) and not (tmp_path / "output.nc").exists()


def test_a_checkpoint_from_before_presets_counts_as_the_default_physics():
    from blocking.qg3.runfiles import settings_differences

    assert settings_differences({"years": 1.0}, {"years": 1.0, "preset": "default"}) == []
    (difference,) = settings_differences({"years": 1.0}, {"years": 1.0, "preset": "lucarini2020"})
    assert difference[0] == "preset" and "lucarini2020" in difference[1]
