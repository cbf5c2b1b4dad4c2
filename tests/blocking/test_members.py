"""Members over Dask workers: every part writes its members into the one output file, bit for bit as one process."""

import numpy as np
import pytest
import xarray as xr

from blocking.qg3.run import SimulationConfig, simulate, simulate_members
from blocking.qg3.runfiles import run_settings, split_members

pytestmark = pytest.mark.network
SHORT = dict(
    years=3 / 365,
    members=3,  # split 2 + 1 over two workers
    dt_seconds=3600.0,
    scheme="rk3",
    output_every_days=1.0,
    checkpoint_every_days=1.0,
    spinup_days=1.0,
)
FIELDS = ("psi", "q", "z500", "energy", "enstrophy", "time")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes, reached by the scheduler's address (as a cluster would be)."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one-process")
    simulate(SimulationConfig(**SHORT), folder)
    return folder


def _assert_same_output(expected, folder):
    with xr.open_dataset(expected / "output.nc") as a, xr.open_dataset(folder / "output.nc") as b:
        assert a.sizes == b.sizes and a.sizes["member"] == SHORT["members"]
        for name in FIELDS:
            np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy(), err_msg=name)
        assert a.simulation_config == b.simulation_config


def _names(folder):
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.slow  # a local cluster of its own: ~10 s; the same split runs by address below
def test_two_local_workers_write_the_output_of_one_process_bit_for_bit(tmp_path, one_process):
    simulate(SimulationConfig(**SHORT), tmp_path, workers=2)
    _assert_same_output(one_process, tmp_path)
    assert _names(tmp_path) == ["checkpoint.npz", "output.nc"]  # no part files, nothing left to merge


def test_a_scheduler_address_runs_the_same_code(tmp_path, one_process, cluster):
    simulate(SimulationConfig(**SHORT), tmp_path, workers=2, scheduler=cluster)
    _assert_same_output(one_process, tmp_path)
    assert _names(tmp_path) == ["checkpoint.npz", "output.nc"]


def test_a_part_killed_midway_resumes_bit_for_bit(tmp_path, one_process, cluster):
    from sparse_core.infra.errors import ConfigError

    config = SimulationConfig(**SHORT)
    parts, settings = split_members(config.members, 2), run_settings(config)
    assert simulate_members(config, parts[0], tmp_path, settings=settings)["completed"]
    stopped = simulate_members(config, parts[1], tmp_path, settings=settings, stop_after_steps=40)  # in day 2
    assert not stopped["completed"]
    assert not (tmp_path / "output.nc").exists() and (tmp_path / "output.incomplete.nc").exists()
    with pytest.raises(ConfigError, match="--workers 2"):
        simulate(config, tmp_path)  # the parts' checkpoints belong to a split over two workers
    simulate(config, tmp_path, workers=2, scheduler=cluster)
    _assert_same_output(one_process, tmp_path)
    assert _names(tmp_path) == ["checkpoint.npz", "output.nc"]


def test_a_run_extended_on_two_workers_matches_the_longer_run(tmp_path, cluster):
    simulate(SimulationConfig(**{**SHORT, "years": 1 / 365}), tmp_path / "extended")  # one process
    longer = SimulationConfig(**SHORT)
    simulate(longer, tmp_path / "extended", workers=2, scheduler=cluster)
    simulate(longer, tmp_path / "whole")
    _assert_same_output(tmp_path / "whole", tmp_path / "extended")


def test_killed_after_the_rename_finishes_on_the_next_run(tmp_path, one_process, cluster, monkeypatch):
    import blocking.qg3.run as run

    save = run.save_checkpoint

    def killed_before_the_whole_checkpoint(path, checkpoint):
        if path.name == "checkpoint.npz":
            raise KeyboardInterrupt
        save(path, checkpoint)

    monkeypatch.setattr(run, "save_checkpoint", killed_before_the_whole_checkpoint)  # this process only
    with pytest.raises(KeyboardInterrupt):
        simulate(SimulationConfig(**SHORT), tmp_path, workers=2, scheduler=cluster)
    assert _names(tmp_path) == ["checkpoint_part0.npz", "checkpoint_part1.npz", "output.nc"]
    monkeypatch.undo()
    simulate(SimulationConfig(**SHORT), tmp_path, workers=2, scheduler=cluster)
    _assert_same_output(one_process, tmp_path)
    assert _names(tmp_path) == ["checkpoint.npz", "output.nc"]


def test_a_blow_up_in_a_worker_names_its_field(tmp_path, cluster):
    from blocking.qg3.run import SimulationDiverged

    config = SimulationConfig(years=30 / 365, members=2, dt_seconds=43200.0, checkpoint_every_days=1.0)
    with pytest.raises(SimulationDiverged, match="non-finite at model day") as error:
        simulate(config, tmp_path, workers=2, scheduler=cluster)
    assert error.value.field == "dt_seconds"
    assert not (tmp_path / "output.nc").exists()


def test_parts_given_the_inputs_read_no_reference_files(tmp_path, monkeypatch):
    import blocking.qg3.run as run

    config = SimulationConfig(**{**SHORT, "years": 1 / 365, "members": 1})
    inputs = run.model_inputs(config)

    def no_reading(*args, **kwargs):
        raise AssertionError("a part read the reference inputs again")

    monkeypatch.setattr(run, "load_t63_inputs", no_reading)
    result = simulate_members(config, split_members(1, 0)[0], tmp_path, inputs=inputs)
    assert result["completed"] and result["steps"] == 48


def test_an_output_removed_by_hand_is_an_error_naming_the_files(tmp_path):
    from sparse_core.infra.errors import InputError

    config = SimulationConfig(**{**SHORT, "members": 1})
    simulate_members(config, split_members(1, 0)[0], tmp_path, stop_after_steps=60)  # checkpoint of day 2
    (tmp_path / "output.incomplete.nc").unlink()
    with pytest.raises(InputError, match=r"count 2 snapshots as written.*output\.incomplete\.nc.*--restart"):
        simulate(config, tmp_path)
    simulate(config, tmp_path, restart=True)
    assert _names(tmp_path) == ["checkpoint.npz", "output.nc"]


def test_writers_of_separate_members_fill_one_cdf5_file(tmp_path):
    import netCDF4

    from blocking.qg3.grid import gaussian_grid
    from blocking.qg3.output import OutputWriter, create_output
    from sparse_core.infra.errors import InputError

    grid, path = gaussian_grid(32), tmp_path / "out.nc"
    create_output(path, grid, range(3), [200, 500, 800], np.arange(4) * 0.5, dict(source="blocking.qg3"))
    rng = np.random.default_rng(0)
    shapes = dict(psi=(3, 4, 3, 32, 64), q=(3, 4, 3, 32, 64), z500=(3, 4, 32, 64), energy=(3, 4), enstrophy=(3, 4))
    truth = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
    with OutputWriter(path, [2]) as last, OutputWriter(path, [0, 1]) as first:  # open together, as two workers
        for index in (3, 0, 2, 1):
            first.write(index, {name: values[:2, index] for name, values in truth.items()})
            last.write(index, {name: values[2:, index] for name, values in truth.items()})
        with pytest.raises(ValueError, match="do not fit 4 snapshots"):
            first.write(4, {"energy": truth["energy"][:2, 0]})
    with netCDF4.Dataset(path) as data:
        assert data.data_model == "NETCDF3_64BIT_DATA" and data.source == "blocking.qg3"
    with xr.open_dataset(path, decode_times=False) as data:
        assert data.psi.dims == ("member", "time", "level", "lat", "lon") and data.psi.units == "m2 s-1"
        np.testing.assert_array_equal(data.time, [0.0, 0.5, 1.0, 1.5])
        for name, values in truth.items():
            np.testing.assert_array_equal(data[name].to_numpy(), values)
    xr.Dataset({"psi": (("member",), np.zeros(3))}).to_netcdf(tmp_path / "other.nc")  # NetCDF-4 (HDF5)
    with pytest.raises(InputError, match=r"other\.nc: not a QG3 output file"):
        OutputWriter(tmp_path / "other.nc", [0])
    with pytest.raises(InputError, match=r"out\.nc: holds no member 5"):
        OutputWriter(path, [5])
