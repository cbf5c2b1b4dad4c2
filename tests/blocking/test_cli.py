"""Subprocess smoke tests of `sparseworks blocking ...` at tiny scale."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.network
TINY = ["--years", "0.006", "--dt", "3600", "--scheme", "rk3", "--checkpoint-every-days", "1"]


def run_cli(*args):
    result = subprocess.run([sys.executable, "-m", "sparseworks", "blocking", *args, "--json"],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_simulate_then_forcing(tmp_path):
    metrics = run_cli("simulate", *TINY, "--members", "2", "--out", str(tmp_path / "sim"))
    assert metrics["finite"] is True
    assert metrics["model_years"] == pytest.approx(0.006)
    assert metrics["member_years_per_wall_minute"] > 0
    assert (tmp_path / "sim" / "z500_mean_std.png").exists()
    forcing = run_cli("forcing", "--climatology", str(tmp_path / "sim" / "output.nc"), "--out", str(tmp_path / "f"))
    assert forcing["samples"] == 2 * 3  # day 0, 1, 2 of two members
    again = run_cli("simulate", *TINY, "--forcing", forcing["forcing"], "--no-figures", "--out", str(tmp_path / "s2"))
    assert again["finite"] is True


def test_two_dask_workers(tmp_path):
    metrics = run_cli("simulate", *TINY, "--members", "2", "--workers", "2", "--no-figures", "--out", str(tmp_path))
    assert metrics["finite"] is True
    import xarray as xr

    with xr.open_dataset(tmp_path / "output.nc") as data:
        assert data.sizes["member"] == 2 and list(data.member.values) == [0, 1]


def test_bad_forcing_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.nc"
    import xarray as xr

    xr.Dataset({"wrong": ("x", [1.0])}).to_netcdf(bad)
    result = subprocess.run([sys.executable, "-m", "sparseworks", "blocking", "simulate", *TINY, "--forcing", str(bad),
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=240)
    assert result.returncode == 2
    assert "bad.nc" in result.stderr and "'forcing' missing" in result.stderr
