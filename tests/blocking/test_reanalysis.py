"""Reading reanalyses: both CDS layouts, expver, ZIP, units, latitude order, bad files, regridding, seasons."""

import zipfile

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from blocking.config import Era5RequestConfig, IndexConfig, ReanalysisConfig
from blocking.era5_request import era5_requests, run_era5_request
from blocking.reanalysis import (
    daily_means,
    read_geopotential_height,
    regrid_to_gaussian,
    season_mask,
)
from sparse_core.infra.errors import ConfigError, InputError

G = 9.80665
LAT = np.arange(90.0, -91.0, -15.0)  # descending, as ERA5
LON = np.arange(0.0, 360.0, 20.0)
LEVELS = np.array([200.0, 500.0, 800.0])
TIMES = pd.date_range("2000-12-30", periods=12, freq="6h")


def heights(times=TIMES):
    """Geopotential height in metres, (time, level, lat, lon), with a known pattern."""
    t = np.arange(len(times))[:, None, None, None]
    level = np.array([11800.0, 5500.0, 1900.0])[None, :, None, None]
    lat = LAT[None, None, :, None]
    lon = LON[None, None, None, :]
    return level + 100.0 * np.cos(np.radians(lat)) * np.sin(np.radians(lon)) + 3.0 * t


def new_layout(path, z_m=None, times=TIMES, expver=None, levels=LEVELS, units="m**2 s**-2", scale=G):
    z_m = heights(times) if z_m is None else z_m
    data = xr.Dataset(
        {
            "z": (
                ("valid_time", "pressure_level", "latitude", "longitude"),
                z_m * scale,
                {"units": units, "standard_name": "geopotential", "long_name": "Geopotential"},
            )
        },
        coords={
            "valid_time": ("valid_time", times, {"standard_name": "time"}),
            "pressure_level": ("pressure_level", levels, {"units": "hPa", "standard_name": "air_pressure"}),
            "latitude": ("latitude", LAT, {"units": "degrees_north", "standard_name": "latitude"}),
            "longitude": ("longitude", LON, {"units": "degrees_east", "standard_name": "longitude"}),
            "number": 0,
            "expver": ("valid_time", np.array(expver or ["0001"] * len(times))),
        },
    )
    data.to_netcdf(path)
    return path


def old_layout(path, final_until=6):
    """expver as a dimension: final (1) data up to a time, preliminary (5) after it, NaN elsewhere."""
    z = heights() * G
    final, preliminary = z.copy(), z.copy()
    final[final_until:] = np.nan
    preliminary[:final_until] = np.nan
    data = xr.Dataset(
        {
            "z": (
                ("time", "expver", "level", "latitude", "longitude"),
                np.stack([final, preliminary], axis=1),
                {"units": "m**2 s**-2", "long_name": "Geopotential"},
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
    data.to_netcdf(path)
    return path


def expected():
    return heights()[:, :, ::-1]  # latitudes ascending after reading


def test_both_cds_layouts_read_the_same_metres(tmp_path):
    new = read_geopotential_height([new_layout(tmp_path / "new.nc")])
    old = read_geopotential_height([old_layout(tmp_path / "old.nc")])
    assert new.dims == ("member", "time", "level", "lat", "lon") and new.attrs["units"] == "m"
    np.testing.assert_allclose(new.isel(member=0).to_numpy(), expected(), rtol=1e-12)
    np.testing.assert_allclose(old.to_numpy(), new.to_numpy(), rtol=1e-12)
    assert new["lat"].to_numpy().tolist() == sorted(LAT.tolist())
    assert new["level"].to_numpy().tolist() == [200.0, 500.0, 800.0]


def test_final_data_win_over_preliminary_and_nothing_is_summed(tmp_path):
    z = heights() * G
    preliminary = z.copy()
    preliminary[3] += 1000.0  # ERA5T differs from the final data at one time
    data = xr.Dataset(
        {
            "z": (
                ("time", "expver", "level", "latitude", "longitude"),
                np.stack([z, preliminary], 1),
                {"units": "m**2 s**-2"},
            )
        },
        coords={"time": TIMES, "expver": ["0005", "0001"][::-1], "level": LEVELS, "latitude": LAT, "longitude": LON},
    )
    data.to_netcdf(tmp_path / "both.nc")
    read = read_geopotential_height([tmp_path / "both.nc"])
    np.testing.assert_allclose(read.isel(member=0).to_numpy(), expected(), rtol=1e-12)
    # new layout: the same time in two files, once final and once preliminary
    early = new_layout(tmp_path / "a.nc", times=TIMES[:8], z_m=heights()[:8])
    late_z = heights()[6:] + np.where(np.arange(6)[:, None, None, None] < 2, 500.0, 0.0)
    late = new_layout(tmp_path / "b.nc", times=TIMES[6:], z_m=late_z, expver=["0005"] * 6)
    joined = read_geopotential_height([late, early])
    assert joined.sizes["time"] == 12
    np.testing.assert_allclose(joined.isel(member=0).to_numpy(), expected(), rtol=1e-12)


def test_a_netcdf_inside_a_zip(tmp_path):
    path = new_layout(tmp_path / "data.nc")
    with zipfile.ZipFile(tmp_path / "download.zip", "w") as archive:
        archive.write(path, "data_stream-oper_stepType-instant.nc")
    np.testing.assert_allclose(read_geopotential_height([tmp_path / "download.zip"]).isel(member=0), expected())
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as archive:
        archive.writestr("readme.txt", "nothing")
    with pytest.raises(InputError, match="holds no NetCDF"):
        read_geopotential_height([tmp_path / "empty.zip"])


@pytest.mark.parametrize("units, scale", [("m", 1.0), ("gpm", 1.0), ("dam", 0.1), ("m2 s-2", G)])
def test_units_are_converted_to_metres(tmp_path, units, scale):
    path = new_layout(tmp_path / "z.nc", units=units, scale=scale)
    np.testing.assert_allclose(read_geopotential_height([path]).isel(member=0), expected(), rtol=1e-12)


def test_latitude_order_and_longitude_convention_do_not_matter(tmp_path):
    reference = read_geopotential_height([new_layout(tmp_path / "a.nc")])
    data = xr.open_dataset(tmp_path / "a.nc").load()
    flipped = data.isel(latitude=slice(None, None, -1))
    flipped = flipped.assign_coords(longitude=(flipped.longitude + 180.0) % 360.0 - 180.0).sortby("longitude")
    flipped.to_netcdf(tmp_path / "b.nc")
    np.testing.assert_allclose(read_geopotential_height([tmp_path / "b.nc"]), reference)


def test_single_levels_as_scalar_dimension_or_name(tmp_path):
    z = heights()[:, 1:2]
    dim = new_layout(tmp_path / "dim.nc", z_m=z, levels=np.array([500.0]))
    data = xr.open_dataset(dim).load()
    data.squeeze("pressure_level").to_netcdf(tmp_path / "scalar.nc")  # pressure_level stays as a scalar
    data.squeeze("pressure_level", drop=True).rename(z="z500").to_netcdf(tmp_path / "named.nc")
    for name in ("dim.nc", "scalar.nc", "named.nc"):
        read = read_geopotential_height([tmp_path / name], levels_hpa=(500.0,))
        assert read["level"].to_numpy().tolist() == [500.0], name
        np.testing.assert_allclose(read.isel(member=0, level=0), expected()[:, 1], err_msg=name)
    pa = data.assign_coords(pressure_level=("pressure_level", [50000.0], {"units": "Pa"}))
    pa.to_netcdf(tmp_path / "pa.nc")
    assert read_geopotential_height([tmp_path / "pa.nc"], levels_hpa=(500.0,))["level"].item() == 500.0
    with pytest.raises(InputError, match=r"levels \[200.0\] hPa missing \(the files hold \[500.0, 800.0\] hPa\)"):
        read_geopotential_height([new_layout(tmp_path / "two.nc", z_m=heights()[:, 1:], levels=LEVELS[1:])])


def test_files_split_by_level_are_joined(tmp_path):
    paths = [
        new_layout(tmp_path / f"z{int(lv)}.nc", z_m=heights()[:, k : k + 1], levels=np.array([lv]))
        for k, lv in enumerate(LEVELS)
    ]
    np.testing.assert_allclose(read_geopotential_height(paths[::-1]).isel(member=0), expected())


def test_other_reanalyses_through_a_mapping(tmp_path):
    data = xr.Dataset(
        {"height": (("date", "p", "y", "x"), heights(), {"units": "m"})},
        coords={"date": TIMES, "p": LEVELS, "y": LAT, "x": LON},
    )
    data.to_netcdf(tmp_path / "other.nc")
    reader = ReanalysisConfig(variable="height", coordinates=("time=date", "level=p", "lat=y", "lon=x"))
    np.testing.assert_allclose(read_geopotential_height([tmp_path / "other.nc"], reader).isel(member=0), expected())
    with pytest.raises(InputError, match="no level coordinate|no vertical coordinate"):
        read_geopotential_height(
            [tmp_path / "other.nc"], ReanalysisConfig(variable="height", coordinates=("time=date", "lat=y", "lon=x"))
        )
    with pytest.raises(ConfigError):
        ReanalysisConfig(coordinates=("depth=z",))


def test_bad_files_say_what_is_wrong(tmp_path):
    good = xr.open_dataset(new_layout(tmp_path / "good.nc")).load()
    good.rename(z="t").assign(t=good.z.assign_attrs(standard_name="air_temperature")).to_netcdf(tmp_path / "noz.nc")
    with pytest.raises(InputError, match=r"noz\.nc: no geopotential variable"):
        read_geopotential_height([tmp_path / "noz.nc"])
    good.assign(z=good.z.assign_attrs(units="K")).to_netcdf(tmp_path / "kelvin.nc")
    with pytest.raises(InputError, match=r"kelvin\.nc.*units 'K'"):
        read_geopotential_height([tmp_path / "kelvin.nc"])
    good.assign(z=good.z.assign_attrs(units="m")).to_netcdf(tmp_path / "mislabelled.nc")
    with pytest.raises(InputError, match="look like geopotential"):
        read_geopotential_height([tmp_path / "mislabelled.nc"])
    nan = good.copy(deep=True)
    nan["z"][2, 1, 3, 4] = np.nan
    nan.to_netcdf(tmp_path / "nan.nc")
    with pytest.raises(InputError, match="1 NaN"):
        read_geopotential_height([tmp_path / "nan.nc"])
    twice = xr.concat([good, good.isel(valid_time=[3]).assign(z=good.z.isel(valid_time=[3]) + 5.0)], "valid_time")
    twice.drop_vars("expver").to_netcdf(tmp_path / "twice.nc")
    with pytest.raises(InputError, match="appears twice with different values"):
        read_geopotential_height([tmp_path / "twice.nc"])
    shuffled = good.isel(valid_time=np.random.default_rng(0).permutation(12))
    shuffled.to_netcdf(tmp_path / "shuffled.nc")  # unsorted times are sorted
    np.testing.assert_allclose(read_geopotential_height([tmp_path / "shuffled.nc"]).isel(member=0), expected())
    (tmp_path / "junk.nc").write_text("not netcdf")
    with pytest.raises(InputError, match="not a readable NetCDF"):
        read_geopotential_height([tmp_path / "junk.nc"])
    with pytest.raises(InputError, match="not found"):
        read_geopotential_height([tmp_path / "missing.nc"])
    coarse = good.isel(latitude=slice(None, None, 2))
    coarse.to_netcdf(tmp_path / "coarse.nc")
    with pytest.raises(InputError, match="another grid"):
        read_geopotential_height([tmp_path / "good.nc", tmp_path / "coarse.nc"])


def test_daily_means_regridding_and_winters(tmp_path):
    z = read_geopotential_height([new_layout(tmp_path / "z.nc")])
    daily = daily_means(z)
    assert daily.sizes["time"] == 3 and str(daily["time"].to_numpy()[0])[:10] == "2000-12-30"
    np.testing.assert_allclose(daily.isel(time=0), z.isel(time=slice(0, 4)).mean("time"))
    gaussian = regrid_to_gaussian(daily, 32)
    assert gaussian.sizes["lat"] == 32 and gaussian.sizes["lon"] == 64
    from blocking.qg3.grid import gaussian_grid

    grid = gaussian_grid(32)
    pattern = 100.0 * np.cos(np.radians(grid.lat))[:, None] * np.sin(np.radians(grid.lon))[None, :]
    np.testing.assert_allclose(gaussian.isel(member=0, time=0, level=1) - (5500.0 + 4.5), pattern, atol=12.0)
    months = season_mask(pd.date_range("2000-11-30", periods=95, freq="D").to_numpy(), "DJF")
    assert months.sum() == 90 and not months[0] and months[1]


def test_reanalysis_fields_use_a_climatology_and_keep_winters_apart(tmp_path):
    from blocking.anomalies import reanalysis_fields

    times = pd.date_range("2000-11-01", "2002-03-31", freq="D")
    times = times[np.isin(times.month, (11, 12, 1, 2, 3))]
    seasonal = 30.0 * np.cos(2 * np.pi * times.day_of_year.to_numpy() / 365.0)
    anomaly = np.zeros(len(times))
    anomaly[times.get_loc(pd.Timestamp("2001-01-15"))] = 120.0
    z = heights(times)[:, :, :, :] * 0 + 5500.0 + (seasonal + anomaly)[:, None, None, None]
    path = new_layout(tmp_path / "winters.nc", z_m=z, times=times)
    fields = reanalysis_fields([path], IndexConfig(lowpass_days=0, climatology_window_days=1), ReanalysisConfig())
    assert fields.dated and fields.zprime.shape[1] == 31 + 31 + 28 + 31 + 31 + 28  # DJF 2000/01 and 2001/02
    assert fields.segment_start.sum() == 2  # Dec 2000-Feb 2001 and Dec 2001-Feb 2002
    day = np.flatnonzero(fields.time == np.datetime64("2001-01-15"))[0]
    # the single-day climatology of 15 January is the mean of two years: 5500 + seasonal + 60
    np.testing.assert_allclose(fields.zprime[0, day, 1], 60.0, atol=1e-6)


def test_cds_requests_and_script(tmp_path):
    config = Era5RequestConfig(first_year=2000, last_year=2002, months=(12, 1, 2), levels_hpa=(500,))
    requests = era5_requests(config)
    assert len(requests) == 3 and requests[0]["dataset"] == "reanalysis-era5-pressure-levels"
    first = requests[0]["request"]
    assert first["variable"] == ["geopotential"] and first["month"] == ["01", "02", "12"]
    assert first["pressure_level"] == ["500"] and first["data_format"] == "netcdf" and first["year"] == ["2000"]
    metrics = run_era5_request(config, tmp_path)
    assert metrics["requests"] == 3 and metrics["downloaded"] == []
    script = (tmp_path / "download_era5.py").read_text()
    compile(script, "download_era5.py", "exec")
    assert "cdsapi.Client()" in script
    with pytest.raises(ConfigError):
        Era5RequestConfig(first_year=2010, last_year=2000)


@pytest.mark.network
def test_the_real_ncep_djf_mean_file():
    """NCEP/NCAR DJF-mean z500 1948-2012 over the North Atlantic sector (the eofs 2.0.0 example data)."""
    from sparse_core.infra.io import fetch, load_sources

    if "ncep_z500_djf" not in load_sources():
        pytest.skip("ncep_z500_djf is not in data/sources.toml yet")
    path = fetch("ncep_z500_djf").path / "hgt_djf.nc"
    z = read_geopotential_height([path], levels_hpa=(500.0,))  # units absent: CF's geopotential_height means m
    assert z.shape == (1, 65, 1, 29, 49) and z["time"].dt.year.values[[0, -1]].tolist() == [1948, 2012]
    assert 5300.0 < float(z.mean()) < 5450.0
    gaussian = regrid_to_gaussian(z, 32)  # a sector crossing 0 degrees: kept contiguous, west to east
    assert gaussian.sizes["lat"] == 12 and gaussian["lon"].to_numpy()[[0, -1]].tolist() == [281.25, 39.375]
