"""Subprocess tests of `sparseworks blocking ...` at tiny scale: runs, replays, bad settings."""

import json
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.network
TINY = ["--years", "0.006", "--dt", "3600", "--scheme", "rk3", "--checkpoint-every-days", "1"]
WALL_CLOCK = ("wall_seconds", "member_years_per_wall_minute")


def run_cli(*args):
    result = subprocess.run(
        [sys.executable, "-m", "sparseworks", "blocking", *args, "--json"], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_simulate_then_forcing(tmp_path):
    metrics = run_cli("simulate", *TINY, "--members", "2", "--out", str(tmp_path / "sim"))
    assert metrics["finite"] is True
    assert metrics["model_years"] == pytest.approx(0.006)
    assert metrics["member_years_per_wall_minute"] > 0
    assert metrics["z500_mean_std"] == "z500_mean_std.png" and (tmp_path / "sim" / "z500_mean_std.png").exists()
    forcing = run_cli("forcing", "--climatology", str(tmp_path / "sim" / "output.nc"), "--out", str(tmp_path / "f"))
    assert forcing["samples"] == 2 * 3  # day 0, 1, 2 of two members
    assert forcing["forcing"] == "forcing.nc"
    assert "climatology" in (tmp_path / "f" / "config.toml").read_text()
    again = run_cli(
        "simulate",
        *TINY,
        "--forcing",
        str(tmp_path / "f" / "forcing.nc"),
        "--no-figures",
        "--out",
        str(tmp_path / "s2"),
    )
    assert again["finite"] is True


def test_simulate_replays_from_its_config(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    first = run_cli("simulate", "--years", "0.02", "--members", "1", "--no-figures", "--out", str(a))
    replay = run_cli("simulate", "--config", str(a / "config.toml"), "--out", str(b))
    assert (b / "config.toml").read_text() == (a / "config.toml").read_text()
    saved = [json.loads((folder / "metrics.json").read_text()) for folder in (a, b)]
    for metrics in (first, replay, *saved):
        for key in WALL_CLOCK:
            metrics.pop(key)
    assert saved[0] == saved[1] == first == replay
    import xarray as xr

    with xr.open_dataset(a / "output.nc") as one, xr.open_dataset(b / "output.nc") as two:
        assert one.sizes["time"] == 8  # day 0 ... day 7 of 7.3 days
        np.testing.assert_array_equal(one.psi.to_numpy(), two.psi.to_numpy())


@pytest.mark.parametrize(
    "option, value",
    [("--years", "nan"), ("--years", "0"), ("--years", "-1"), ("--dt", "0"), ("--members", "0"), ("--scheme", "rk2")],
)
def test_bad_setting_exits_2_naming_the_option(tmp_path, option, value):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "sparseworks", "blocking", "simulate", option, value, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and option in result.stderr
    assert not out.exists()


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
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparseworks",
            "blocking",
            "simulate",
            *TINY,
            "--forcing",
            str(bad),
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 2
    assert "bad.nc" in result.stderr and "'forcing' missing" in result.stderr
    assert not (tmp_path / "run").exists()


def test_climatology_that_is_not_netcdf_is_a_clear_error(tmp_path):
    text = tmp_path / "notes.nc"
    text.write_text("not a NetCDF file\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparseworks",
            "blocking",
            "forcing",
            "--climatology",
            str(text),
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 2
    assert "notes.nc: not a readable NetCDF climatology file" in result.stderr
    assert not (tmp_path / "run").exists()
