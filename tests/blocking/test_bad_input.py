"""Bad settings and bad files through the real command line: one line ``error: ...``, exit 2, nothing left behind.

Every case runs ``python -m sparseworks blocking ...`` in a subprocess; the cases run
concurrently (a module fixture). Settings and --config cases fail before any numerical
import; the file cases are the costly ones (each starts the numerical stack), so the
malformed-file variants beyond these (empty, zip, another grid, other levels, no units,
corrupt headers, ...) are checked on the readers directly (``test_fuzz_inputs.py``).
"""

import gzip
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = [pytest.mark.network, pytest.mark.slow]
TINY = ["--years", "0.006", "--dt", "3600", "--checkpoint-every-days", "1", "--no-figures"]


def _forcing_file(path: Path, values=None, **changes):
    """A forcing file on the T21 grid, with some of its metadata changed."""
    import xarray as xr

    from blocking.qg3.grid import gaussian_grid

    grid = gaussian_grid(32)
    values = np.zeros((3, grid.nlat, grid.nlon)) if values is None else values
    data = xr.Dataset(
        {"forcing": (("level", "lat", "lon"), values, {"units": changes.get("units", "s-2")})},
        coords=dict(
            level=("level", changes.get("level", [200.0, 500.0, 800.0]), {"units": "hPa"}),
            lat=("lat", changes.get("lat", grid.lat), {"units": "degrees_north"}),
            lon=("lon", changes.get("lon", grid.lon), {"units": "degrees_east"}),
        ),
    )
    data.to_netcdf(path)
    return path


def _climatology_file(path: Path, times=2, units="m2 s-1", lat=None, values=None):
    import xarray as xr

    from blocking.qg3.grid import gaussian_grid

    grid = gaussian_grid(32)
    lat = grid.lat if lat is None else lat
    psi = (
        np.random.default_rng(0).standard_normal((1, times, 3, lat.size, grid.nlon)) * 1e6 if values is None else values
    )
    xr.Dataset(
        {"psi": (("member", "time", "level", "lat", "lon"), psi, {"units": units})},
        coords=dict(
            time=("time", np.arange(times, dtype=float), {"units": "days since 2000-01-01"}),
            level=("level", [200.0, 500.0, 800.0], {"units": "hPa"}),
            lat=("lat", lat, {"units": "degrees_north"}),
            lon=("lon", grid.lon, {"units": "degrees_east"}),
        ),
    ).to_netcdf(path)
    return path


def _files(root: Path) -> dict[str, Path]:
    """The bad files every case may name, made once."""
    files = {}

    def keep(name, path):
        files[name] = path
        return path

    def text(name, content):
        path = root / name
        path.write_text(content)
        return keep(name, path)

    text("a_file", "I am a file, not a folder\n")
    text("not_toml.toml", "years = = 1 [[\n")
    text("unknown_key.toml", "banana = 3\n[simulation]\nyears = 1.0\n")
    text("forcing_config.toml", 'climatology = "runs/qg3/output.nc"\nskip_days = 0\n[run]\nseed = 0\n')
    text("notes.nc", "not a NetCDF file\n")
    (root / "binary.toml").write_bytes(b"\xff\xfe\x00\x01" * 10)
    keep("binary.toml", root / "binary.toml")
    good = _forcing_file(root / "good.nc")
    whole = good.read_bytes()
    (root / "truncated.nc").write_bytes(whole[: len(whole) // 3])
    keep("truncated.nc", root / "truncated.nc")
    nan = np.zeros((3, 32, 64))
    nan[1, 2, 3] = np.nan
    keep("nan.nc", _forcing_file(root / "nan.nc", nan))
    keep("kelvin.nc", _forcing_file(root / "kelvin.nc", units="K"))
    (root / "nan_gzip.nc").write_bytes(gzip.compress((root / "nan.nc").read_bytes()))  # gzip, named .nc
    keep("nan_gzip.nc", root / "nan_gzip.nc")
    keep("clim_kelvin.nc", _climatology_file(root / "clim_kelvin.nc", units="K"))
    keep("clim_short.nc", _climatology_file(root / "clim_short.nc", times=2))
    return files


# (id, command and options, texts the error must contain); "{name}" is the path of a file of _files,
# "{missing}" a path that does not exist.
CASES = [
    # settings: rejected by the config before the run folder exists
    ("years-nan", ["simulate", "--years", "nan"], ["--years", "finite"]),
    ("years-inf", ["simulate", "--years", "inf"], ["--years", "finite"]),
    ("years-negative", ["simulate", "--years", "-1"], ["--years"]),
    ("years-below-one-snapshot", ["simulate", "--years", "0.001"], ["--years", "snapshot"]),
    ("dt-zero", ["simulate", "--dt", "0"], ["--dt"]),
    ("dt-negative", ["simulate", "--dt", "-3600"], ["--dt"]),
    ("dt-not-dividing-a-day", ["simulate", "--dt", "7000"], ["--output-every-days", "whole number"]),
    ("members-zero", ["simulate", "--members", "0"], ["--members"]),
    ("scheme-unknown", ["simulate", "--scheme", "rk2"], ["--scheme", "rk3"]),
    ("perturbation-negative", ["simulate", "--perturbation", "-0.1"], ["--perturbation"]),
    ("perturbation-nan", ["simulate", "--perturbation", "nan"], ["--perturbation", "finite"]),
    ("spinup-negative", ["simulate", "--spinup-days", "-1"], ["--spinup-days"]),
    ("checkpoint-zero", ["simulate", "--checkpoint-every-days", "0"], ["--checkpoint-every-days"]),
    ("output-every-inf", ["simulate", "--output-every-days", "inf"], ["--output-every-days", "finite"]),
    ("workers-negative", ["simulate", "--workers", "-1"], ["--workers"]),
    ("skip-days-negative", ["forcing", "--climatology", "{clim_short.nc}", "--skip-days", "-1"], ["--skip-days"]),
    ("forcing-without-climatology", ["forcing"], ["--climatology"]),
    # run folders and --config
    ("out-is-a-file", ["simulate", *TINY, "--out", "{a_file}"], ["a_file"]),
    ("out-under-a-file", ["simulate", *TINY, "--out", "{a_file}/sub"], ["a_file"]),
    ("config-missing", ["simulate", "--config", "{missing}"], ["missing"]),
    ("config-not-toml", ["simulate", "--config", "{not_toml.toml}"], ["not_toml.toml", "TOML"]),
    ("config-binary", ["simulate", "--config", "{binary.toml}"], ["binary.toml"]),
    ("config-unknown-key", ["simulate", "--config", "{unknown_key.toml}"], ["banana"]),
    ("config-of-forcing", ["simulate", "--config", "{forcing_config.toml}"], ["forcing_config.toml", "climatology"]),
    # the user's forcing file (simulate --forcing)
    ("forcing-missing", ["simulate", *TINY, "--forcing", "{missing}"], ["missing", "not found"]),
    ("forcing-truncated", ["simulate", *TINY, "--forcing", "{truncated.nc}"], ["truncated.nc", "not a readable"]),
    ("forcing-nan", ["simulate", *TINY, "--forcing", "{nan.nc}"], ["nan.nc", "1 NaN"]),
    ("forcing-in-kelvin", ["simulate", *TINY, "--forcing", "{kelvin.nc}"], ["kelvin.nc", "'K'", "s-2"]),
    ("forcing-gzip-named-nc", ["simulate", *TINY, "--forcing", "{nan_gzip.nc}"], ["nan_gzip.nc", "1 NaN"]),
    # the user's climatology (forcing --climatology)
    ("climatology-text", ["forcing", "--climatology", "{notes.nc}"], ["notes.nc", "not a readable NetCDF"]),
    ("climatology-in-kelvin", ["forcing", "--climatology", "{clim_kelvin.nc}"], ["clim_kelvin.nc", "'psi'", "'K'"]),
    (
        "climatology-all-skipped",
        ["forcing", "--climatology", "{clim_short.nc}", "--skip-days", "10"],
        ["clim_short.nc", "no samples", "10 days"],
    ),
    (
        "compare-missing",
        ["forcing", "--climatology", "{clim_short.nc}", "--compare", "{missing}"],
        ["missing", "not found"],
    ),
    # a simulation that blows up
    (
        "blow-up",
        ["simulate", "--years", "0.1", "--dt", "43200", "--checkpoint-every-days", "1", "--no-figures", "--json"],
        ["non-finite at model day", "--dt"],
    ),
]


def _expand(items, files, root):
    def one(item):
        for name, path in files.items():
            item = item.replace("{" + name + "}", str(path))
        return item.replace("{missing}", str(root / "missing.nc"))

    return [one(item) for item in items]


def _run(args, out):
    command = [sys.executable, "-m", "sparseworks", "blocking", *args]
    if "--out" not in args:
        command += ["--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    files = _files(root)
    jobs = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for case_id, args, expected in CASES:
            out = root / "runs" / case_id
            jobs[case_id] = (pool.submit(_run, _expand(args, files, root), out), out, _expand(expected, files, root))
        return {case_id: (future.result(), out, expected) for case_id, (future, out, expected) in jobs.items()}


@pytest.mark.parametrize("case_id", [case[0] for case in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_no_run_folder(outcomes, case_id):
    result, out, expected = outcomes[case_id]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    if out.name == case_id:
        assert not out.exists(), list(out.iterdir())


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25


def test_resume_under_another_dt_fails_and_changes_nothing_but_the_run_record(tmp_path):
    folder = tmp_path / "run"
    first = _run(["simulate", *TINY, "--json"], folder)
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    again = _run(["simulate", *TINY, "--dt", "1800"], folder)
    assert again.returncode == 2 and again.stderr.startswith("error: "), again.stderr
    assert "--dt 3600.0 in the checkpoint, 1800.0 now" in again.stderr and "--restart" in again.stderr
    after = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert set(after) == set(before)  # no new file, none removed, no *.part
    for name in ("output.nc", "checkpoint.npz", "metrics.json"):
        assert after[name] == before[name]
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "failed" and "--dt" in run["error"]


def test_restart_is_an_option_recorded_in_the_config(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sparseworks", "blocking", "simulate", "--restart", "--print-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "restart = true" in result.stdout
