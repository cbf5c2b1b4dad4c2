"""kill -9 in the middle of `blocking simulate` and `blocking forcing`: no half-written file, and a rerun finishes.

A SIGKILL cannot be cleaned up after by the killed process: it may leave the temporary
``.NAME.*.part*`` file of a write in progress (never a file under its final name that is
only partly written). The next command on the folder removes such leftovers.
"""

import json
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = [pytest.mark.network, pytest.mark.slow]
PARTIAL = re.compile(r"^\..+\.part(\.\w+)?$")
SIMULATE = [
    "--years",
    "0.03",
    "--members",
    "2",
    "--dt",
    "3600",
    "--scheme",
    "rk3",
    "--checkpoint-every-days",
    "1",
    "--no-figures",
]  # 11 daily snapshots; a checkpoint every day


def _command(*args):
    return [sys.executable, "-m", "sparseworks", "blocking", *args]


def _wait_for(path: Path, process: subprocess.Popen, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(
                f"the command ended (exit {process.returncode}) before {path.name} appeared: "
                f"{process.stderr.read()[-2000:] if process.stderr else ''}"
            )
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{path} did not appear in {timeout_s} s")
        time.sleep(0.01)


def _kill(process: subprocess.Popen) -> None:
    assert process.poll() is None, "the command finished before it could be killed; make the run longer"
    process.kill()
    process.wait(timeout=60)
    assert process.returncode == -9


def _assert_complete_or_temporary(folder: Path) -> list[Path]:
    """Every file under its final name loads; returns the temporary ``.part`` files."""
    import netCDF4

    from blocking.qg3.runfiles import load_checkpoint

    partial = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if PARTIAL.match(path.name):
            partial.append(path)
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".npz":
            assert load_checkpoint(path).step > 0
        elif path.suffix == ".nc":
            with netCDF4.Dataset(path) as data:
                assert data.dimensions["time"].size > 0 if "time" in data.dimensions else "forcing" in data.variables
                for name in ("psi", "forcing"):
                    if name in data.variables:
                        assert np.isfinite(data[name][:]).all()
        else:
            raise AssertionError(f"unexpected file {path}")
    return partial


def test_simulate_killed_after_a_checkpoint_resumes_to_the_uninterrupted_output(tmp_path):
    import xarray as xr

    from blocking.qg3.run import SimulationConfig, simulate

    folder = tmp_path / "killed"
    process = subprocess.Popen(
        _command("simulate", *SIMULATE, "--out", str(folder)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(folder / "checkpoint.npz", process)
        time.sleep(0.3)  # well inside the run: the rest takes seconds
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert not (folder / "output.nc").exists()  # renamed from output.incomplete.nc only at the end
    _assert_complete_or_temporary(folder)
    assert json.loads((folder / "run.json").read_text())["status"] == "running"
    whole = tmp_path / "whole"  # the uninterrupted run, in this process (the same code and seed)
    simulate(SimulationConfig(years=0.03, members=2, dt_seconds=3600.0, scheme="rk3", checkpoint_every_days=1.0), whole)
    rerun = subprocess.run(
        _command("simulate", *SIMULATE, "--out", str(folder), "--json"), capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _assert_complete_or_temporary(folder) == []
    assert not (folder / "output.incomplete.nc").exists()
    assert json.loads((folder / "run.json").read_text())["status"] == "complete"
    with xr.open_dataset(whole / "output.nc") as a, xr.open_dataset(folder / "output.nc") as b:
        assert a.sizes["time"] == b.sizes["time"] == 11
        for name in ("psi", "q", "z500", "energy", "enstrophy", "time"):
            np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy())


def test_simulate_on_two_workers_killed_resumes_to_the_output_of_one_process(tmp_path):
    """kill -9 of the command takes its Dask workers down too; a rerun finishes the shared output file."""
    import psutil
    import xarray as xr

    from blocking.qg3.run import SimulationConfig, simulate

    folder = tmp_path / "killed"
    process = subprocess.Popen(
        _command("simulate", *SIMULATE, "--workers", "2", "--out", str(folder)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(folder / "checkpoint_part1.npz", process)
        workers = psutil.Process(process.pid).children(recursive=True)
        time.sleep(0.3)
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    _, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive, f"Dask processes outlived the killed command: {alive}"
    assert not (folder / "output.nc").exists() and (folder / "output.incomplete.nc").exists()
    _assert_complete_or_temporary(folder)
    whole = tmp_path / "whole"
    simulate(SimulationConfig(years=0.03, members=2, dt_seconds=3600.0, scheme="rk3", checkpoint_every_days=1.0), whole)
    rerun = subprocess.run(
        _command("simulate", *SIMULATE, "--workers", "2", "--out", str(folder), "--json"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _assert_complete_or_temporary(folder) == []
    assert not list(folder.glob("checkpoint_part*")) and not (folder / "output.incomplete.nc").exists()
    with xr.open_dataset(whole / "output.nc") as a, xr.open_dataset(folder / "output.nc") as b:
        assert a.sizes["time"] == b.sizes["time"] == 11
        for name in ("psi", "q", "z500", "energy", "enstrophy", "time"):
            np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy())


SLOW_WRITE = """
import os, pathlib, sys, time
import xarray
marker = pathlib.Path(sys.argv[1])
write = xarray.Dataset.to_netcdf
def slow_write(self, path=None, *args, **kwargs):
    result = write(self, path, *args, **kwargs)
    marker.with_suffix(".tmp").write_text(str(path))
    os.replace(marker.with_suffix(".tmp"), marker)  # the marker appears whole: written, not yet renamed: kill now
    time.sleep(600)
    return result
xarray.Dataset.to_netcdf = slow_write
from sparseworks.cli import main
sys.argv = ["sparseworks", *sys.argv[2:]]
main()
"""


def test_forcing_killed_while_writing_leaves_no_forcing_file_and_a_rerun_succeeds(tmp_path):
    import xarray as xr

    from blocking.qg3.grid import gaussian_grid
    from blocking.qg3.inputs import read_forcing_file

    grid = gaussian_grid(32)
    climatology = tmp_path / "climatology.nc"
    psi = np.random.default_rng(0).standard_normal((1, 3, 3, grid.nlat, grid.nlon)) * 1e6
    xr.Dataset(
        {"psi": (("member", "time", "level", "lat", "lon"), psi, {"units": "m2 s-1"})},
        coords=dict(
            level=("level", [200.0, 500.0, 800.0], {"units": "hPa"}),
            lat=("lat", grid.lat, {"units": "degrees_north"}),
            lon=("lon", grid.lon, {"units": "degrees_east"}),
        ),
    ).to_netcdf(climatology)
    folder, marker = tmp_path / "forcing", tmp_path / "writing"
    args = ["blocking", "forcing", "--climatology", str(climatology), "--out", str(folder)]
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITE, str(marker), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(marker, process)
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    written = Path(marker.read_text())
    assert written.parent == folder and PARTIAL.match(written.name)  # the forcing went to a temporary name
    assert not (folder / "forcing.nc").exists()
    assert _assert_complete_or_temporary(folder) == [written]
    rerun = subprocess.run(
        [sys.executable, "-m", "sparseworks", *args, "--json"], capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _assert_complete_or_temporary(folder) == []  # the leftover is gone
    assert read_forcing_file(folder / "forcing.nc", grid).shape == (3, grid.nlat, grid.nlon)
