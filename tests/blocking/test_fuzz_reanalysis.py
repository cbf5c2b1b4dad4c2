"""Fuzzing the reanalysis reader: malformed ERA5-like files raise only InputError, naming the file.

The reader is :func:`blocking.reanalysis.read_geopotential_height` (``blocking transfer
--target`` with the user's ERA5 files), followed by what every run does with its result
(daily means and regridding to the model grid). Malformed inputs start from valid files
in both CDS layouts (``valid_time`` / ``pressure_level`` with ``number`` and ``expver``
coordinates; ``time`` / ``level`` with ``expver`` as a dimension), then their metadata,
dimensions and values are mutated, then their bytes (truncation, flipped bytes, gzip, a
ZIP around the NetCDF).
"""

import itertools
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from blocking.reanalysis import daily_means, read_geopotential_height, regrid_to_gaussian
from sparse_core.infra.errors import InputError
from tests.blocking.test_fuzz_inputs import FUZZ, _mutate_bytes, _mutate_dataset, _write

G = 9.80665
LAT = np.arange(90.0, -91.0, -30.0)  # descending, as ERA5
LON = np.arange(0.0, 360.0, 30.0)
LEVELS = np.array([200.0, 500.0, 800.0])
TIMES = pd.date_range("2000-12-31", periods=6, freq="12h")
_names = itertools.count()


def _geopotential(shape_extra=()) -> np.ndarray:
    level = np.array([11800.0, 5500.0, 1900.0])[:, None, None]
    pattern = 100.0 * np.cos(np.radians(LAT))[None, :, None] * np.sin(np.radians(LON))[None, None, :]
    z = (level + pattern)[None] + 3.0 * np.arange(len(TIMES))[:, None, None, None]
    return (z * G).reshape(*z.shape[:1], *shape_extra, *z.shape[1:]) if shape_extra else z * G


def new_layout() -> xr.Dataset:
    """The new CDS layout: valid_time, pressure_level, number and expver coordinates."""
    return xr.Dataset(
        {"z": (("valid_time", "pressure_level", "latitude", "longitude"), _geopotential(), {"units": "m**2 s**-2"})},
        coords={
            "valid_time": ("valid_time", TIMES, {"standard_name": "time"}),
            "pressure_level": ("pressure_level", LEVELS, {"units": "hPa", "standard_name": "air_pressure"}),
            "latitude": ("latitude", LAT, {"units": "degrees_north", "standard_name": "latitude"}),
            "longitude": ("longitude", LON, {"units": "degrees_east", "standard_name": "longitude"}),
            "number": 0,
            "expver": ("valid_time", np.array(["0001"] * len(TIMES))),
        },
    )


def old_layout() -> xr.Dataset:
    """The old CDS layout: time, level, and expver as a dimension (final 1, preliminary 5)."""
    final = _geopotential()
    preliminary = final.copy()
    final[3:] = np.nan
    preliminary[:3] = np.nan
    return xr.Dataset(
        {
            "z": (
                ("time", "expver", "level", "latitude", "longitude"),
                np.stack([final, preliminary], axis=1),
                {"units": "m**2 s**-2"},
            )
        },
        coords={
            "time": TIMES,
            "expver": [1, 5],
            "level": ("level", LEVELS.astype(np.int32), {"units": "millibars"}),
            "latitude": LAT,
            "longitude": LON,
        },
    )


@pytest.mark.parametrize("layout", [new_layout, old_layout])
def test_the_unmutated_layouts_are_read(tmp_path, layout):
    path = tmp_path / "z.nc"
    layout().to_netcdf(path)
    z = read_geopotential_height([path])
    assert z.dims == ("member", "time", "level", "lat", "lon") and z.sizes["time"] == len(TIMES)
    np.testing.assert_allclose(z.isel(member=0, time=0, level=1).to_numpy(), _geopotential()[0, 1, ::-1] / G)


def _malformed_file(folder: Path, draw) -> Path:
    path = folder / f"era5_{next(_names)}.nc"
    base = draw(st.sampled_from([new_layout, old_layout]))()
    data = _mutate_dataset(base.copy(deep=True), "z", draw)
    if not _write(data, path, draw):
        base.to_netcdf(path)
    _mutate_bytes(path, draw)
    if draw(st.booleans()) and draw(st.booleans()):  # the new CDS sometimes returns a ZIP
        archive_path = path.with_suffix(".zip")
        with zipfile.ZipFile(archive_path, "w") as archive:
            archive.write(path, draw(st.sampled_from(["data.nc", "data_stream-oper.nc", "readme.txt"])))
        path.unlink()
        path = archive_path
    return path


def _check_reader(folder: Path, draw) -> None:
    path = _malformed_file(folder, draw)
    try:
        z = regrid_to_gaussian(daily_means(read_geopotential_height([path])))
    except InputError as error:
        message = str(error)
        # the reader names the file; regridding works on data already read, whose file is named upstream
        assert str(path) in message or "reanalysis" in message, message
        return
    finally:
        path.unlink()
    assert z.dims == ("member", "time", "level", "lat", "lon") and np.isfinite(z.to_numpy()).all()
    assert z.attrs.get("units") == "m"


@settings(max_examples=40, derandomize=True, **FUZZ)  # the default suite: the same 40 files every run
@given(data=st.data())
def test_fuzzed_reanalysis_files_raise_only_input_error(tmp_path, data):
    _check_reader(tmp_path, data.draw)


@pytest.mark.slow
@settings(max_examples=1000, **FUZZ)
@given(data=st.data())
def test_many_fuzzed_reanalysis_files_raise_only_input_error(tmp_path, data):
    _check_reader(tmp_path, data.draw)
