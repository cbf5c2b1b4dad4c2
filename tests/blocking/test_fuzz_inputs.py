"""The QG3 readers of user files: gridded inputs normalised by coordinates and units; fuzzing allows only InputError.

The readers are :func:`blocking.qg3.inputs.read_forcing_file` (``simulate --forcing``,
``forcing --compare``) and :func:`blocking.qg3.roads.open_climatology` (``forcing
--climatology``). Malformed inputs are made by mutating valid files: their metadata
(units, coordinates, dimensions, values, types) and then their bytes (truncation, flipped
bytes, inserted garbage, gzip).
"""

import gzip
import itertools
import zipfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocking.qg3.grid import gaussian_grid
from blocking.qg3.inputs import InputError, read_forcing_file
from blocking.qg3.roads import open_climatology

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

GRID = gaussian_grid(32)
LEVELS = [200.0, 500.0, 800.0]
_names = itertools.count()


def forcing_dataset(values=None) -> xr.Dataset:
    values = np.random.default_rng(1).standard_normal((3, GRID.nlat, GRID.nlon)) * 1e-10 if values is None else values
    return xr.Dataset(
        {"forcing": (("level", "lat", "lon"), values, {"units": "s-2"})},
        coords=dict(
            level=("level", LEVELS, {"units": "hPa", "standard_name": "air_pressure"}),
            lat=("lat", GRID.lat, {"units": "degrees_north", "standard_name": "latitude"}),
            lon=("lon", GRID.lon, {"units": "degrees_east", "standard_name": "longitude"}),
        ),
    )


def climatology_dataset(times: int = 3) -> xr.Dataset:
    psi = np.random.default_rng(2).standard_normal((1, times, 3, GRID.nlat, GRID.nlon)) * 1e7
    return xr.Dataset(
        {"psi": (("member", "time", "level", "lat", "lon"), psi, {"units": "m2 s-1"})},
        coords=dict(
            time=("time", np.arange(times, dtype=float), {"units": "days since 2000-01-01", "axis": "T"}),
            level=("level", LEVELS, {"units": "hPa"}),
            lat=("lat", GRID.lat, {"units": "degrees_north"}),
            lon=("lon", GRID.lon, {"units": "degrees_east"}),
        ),
    )


def read_climatology_values(path: Path, skip_days: int = 0) -> np.ndarray:
    with open_climatology(path, GRID, skip_days=skip_days) as climatology:
        return np.concatenate(list(climatology.blocks(chunk=2)))


# --------------------------------------------------------------------------- what is normalised


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.isel(lat=slice(None, None, -1)),  # stored south to north
        lambda d: d.assign_coords(lon=("lon", (d.lon.values + 180) % 360 - 180, d.lon.attrs)).sortby(
            "lon"
        ),  # from -180°
        lambda d: d.isel(level=[2, 1, 0]),  # levels stored 800 / 500 / 200
        lambda d: d.assign_coords(level=("level", d.level.values * 100, {"units": "Pa"})),
        lambda d: d.transpose("lon", "lat", "level"),
        lambda d: d.assign_coords(lat=("lat", np.radians(d.lat.values), {"units": "radians"})),
        lambda d: d.rename(lat="y", lon="x", level="plev"),  # other names; the CF attributes say what they are
        lambda d: d.assign(forcing=(d.forcing * 86400.0**2).assign_attrs(units="day-2")),
        lambda d: d.expand_dims("time"),  # a length-1 time
    ],
    ids=[
        "south-to-north",
        "lon-from-180",
        "levels-800-first",
        "levels-in-pa",
        "transposed",
        "lat-in-radians",
        "other-names",
        "units-day-2",
        "time-of-one",
    ],
)
def test_a_forcing_is_found_by_its_coordinates_and_units(tmp_path, change):
    expected = forcing_dataset()
    expected.to_netcdf(tmp_path / "plain.nc")
    change(forcing_dataset()).to_netcdf(tmp_path / "changed.nc")
    np.testing.assert_allclose(
        read_forcing_file(tmp_path / "changed.nc", GRID),
        read_forcing_file(tmp_path / "plain.nc", GRID),
        rtol=1e-12,
        atol=0,
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.isel(lat=slice(None, None, -1)),
        lambda d: d.isel(level=[2, 1, 0], time=[2, 1, 0]),  # time order too: skip_days drops the earliest
        lambda d: d.assign(psi=(d.psi / 1e6).assign_attrs(units="km2 s-1")),
        lambda d: d.transpose("lat", "lon", "level", "time", "member"),
    ],
    ids=["south-to-north", "levels-and-times-reversed", "psi-in-km2-s-1", "transposed"],
)
def test_a_climatology_is_found_by_its_coordinates_and_units(tmp_path, change):
    climatology_dataset().to_netcdf(tmp_path / "plain.nc")
    change(climatology_dataset()).to_netcdf(tmp_path / "changed.nc")
    np.testing.assert_allclose(
        read_climatology_values(tmp_path / "changed.nc", skip_days=1),
        read_climatology_values(tmp_path / "plain.nc", skip_days=1),
        rtol=1e-6,
    )


@pytest.mark.network
def test_the_forcing_of_a_south_to_north_climatology_is_the_same_forcing(tmp_path):
    from blocking.qg3.forcing_io import roads_forcing_file

    climatology_dataset().to_netcdf(tmp_path / "plain.nc")
    climatology_dataset().isel(lat=slice(None, None, -1), level=[2, 1, 0]).to_netcdf(tmp_path / "flipped.nc")
    roads_forcing_file(tmp_path / "plain.nc", tmp_path / "a.nc")
    roads_forcing_file(tmp_path / "flipped.nc", tmp_path / "b.nc")
    np.testing.assert_array_equal(
        read_forcing_file(tmp_path / "a.nc", GRID), read_forcing_file(tmp_path / "b.nc", GRID)
    )


def test_gzip_is_read_by_its_magic_bytes_whatever_the_name(tmp_path):
    forcing_dataset().to_netcdf(tmp_path / "plain.nc")
    (tmp_path / "packed.nc").write_bytes(gzip.compress((tmp_path / "plain.nc").read_bytes()))
    np.testing.assert_array_equal(
        read_forcing_file(tmp_path / "packed.nc", GRID), read_forcing_file(tmp_path / "plain.nc", GRID)
    )


# --------------------------------------------------------------------------- what is refused, by name


def _corrupt_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8:400] = bytes(range(256)) + bytes(136)
    path.write_bytes(bytes(data))


BAD_FORCINGS = {
    "no-units": (lambda d: d.assign(forcing=d.forcing.assign_attrs(units="")), "no units"),
    "kelvin": (lambda d: d.assign(forcing=d.forcing.assign_attrs(units="K")), "'K'"),
    "other-levels": (
        lambda d: d.assign_coords(level=("level", [100.0, 500.0, 900.0], {"units": "hPa"})),
        "200, 500, 800 hPa",
    ),
    "level-in-metres": (lambda d: d.assign_coords(level=("level", LEVELS, {"units": "m"})), "a pressure"),
    "no-level": (lambda d: d.drop_vars("level"), "no pressure-level coordinate"),
    "no-latitude": (lambda d: d.drop_vars("lat"), "no latitude coordinate"),
    "half-the-latitudes": (lambda d: d.isel(lat=slice(0, 16)), "T21 model grid"),
    "shifted-longitudes": (lambda d: d.assign_coords(lon=("lon", d.lon.values + 2.0, d.lon.attrs)), "T21 model grid"),
    "duplicated-latitude": (
        lambda d: d.assign_coords(lat=("lat", np.r_[d.lat.values[:-1], d.lat.values[-2]], d.lat.attrs)),
        "T21 model grid",
    ),
    "infinite": (lambda d: d.assign(forcing=d.forcing.where(d.lat < 80, np.inf)), "NaN or infinite"),
    "two-times": (lambda d: xr.concat([d, d], dim="time"), "beyond level, lat and lon"),
    "integers-as-text": (lambda d: d.assign(forcing=d.forcing.astype(str)), "expected real numbers"),
    "renamed": (lambda d: d.rename(forcing="source"), "'forcing' missing"),
}


@pytest.mark.parametrize("case", sorted(BAD_FORCINGS))
def test_a_malformed_forcing_is_refused_naming_the_file_and_what_is_wrong(tmp_path, case):
    change, expected = BAD_FORCINGS[case]
    path = tmp_path / f"{case}.nc"
    change(forcing_dataset()).to_netcdf(path)
    with pytest.raises(InputError, match=str(path).replace(".", r"\.")) as error:
        read_forcing_file(path, GRID)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    "case, make, expected",
    [
        ("folder", lambda p: p.mkdir(), "is a folder"),
        ("empty", lambda p: p.write_bytes(b""), "empty file"),
        ("header-corrupt", lambda p: (forcing_dataset().to_netcdf(p), _corrupt_header(p)), "not a readable NetCDF"),
        (
            "gzip-truncated",
            lambda p: (forcing_dataset().to_netcdf(p), p.write_bytes(gzip.compress(p.read_bytes())[:2000])),
            "gzip",
        ),
        ("zip", lambda p: zipfile.ZipFile(p, "w").close() or p.write_bytes(b"PK\x03\x04" + bytes(30)), "zip"),
        (
            "netcdf3-truncated",
            lambda p: (forcing_dataset().to_netcdf(p, format="NETCDF3_64BIT"), p.write_bytes(p.read_bytes()[:5000])),
            "not a readable NetCDF",
        ),
    ],
)
def test_a_file_that_is_not_netcdf_is_refused(tmp_path, case, make, expected):
    path = tmp_path / "input.nc"
    make(path)
    for read in (lambda: read_forcing_file(path, GRID), lambda: read_climatology_values(path)):
        with pytest.raises(InputError, match=expected):
            read()


def test_a_climatology_without_a_time_axis_cannot_skip_days(tmp_path):
    climatology_dataset().isel(time=0).drop_vars("time").to_netcdf(tmp_path / "one.nc")
    assert read_climatology_values(tmp_path / "one.nc").shape == (1, 3, GRID.nlat, GRID.nlon)
    with pytest.raises(InputError, match="no time axis to skip 2 days along"):
        read_climatology_values(tmp_path / "one.nc", skip_days=2)


# --------------------------------------------------------------------------- fuzzing

UNITS = [
    "K",
    "km2 s-1",
    "m2 s-1",
    "s-2",
    "day-2",
    "Pa",
    "hPa",
    "mbar",
    "m",
    "",
    "1",
    "garbage!!",
    "degrees_north",
    "degrees_east",
    "radians",
    "degrees",
    "10^6 m2 s-1",
    "m**2/s",
    "%",
    "days since 2000-01-01",
    "s-1 s-1",
    "meter^2 second^-1",
    "1e6",
]
SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, 1e-300]


def _mutate_dataset(data: xr.Dataset, name: str, draw) -> xr.Dataset:
    """Apply a few random changes to the metadata, dimensions and values of a dataset."""
    for _ in range(draw(st.integers(0, 3))):
        names = sorted(map(str, data.variables))
        if not names:
            break
        target = draw(st.sampled_from(names))
        dims = list(data[target].dims)
        action = draw(
            st.sampled_from(
                [
                    "units",
                    "drop-attr",
                    "attr-garbage",
                    "reverse",
                    "shrink",
                    "drop",
                    "coord-values",
                    "special-values",
                    "cast",
                    "rename-dim",
                    "rename",
                    "extra-dim",
                    "transpose",
                    "garbage-variable",
                ]
            )
        )
        try:
            if action == "units":
                data[target].attrs["units"] = draw(st.sampled_from(UNITS) | st.text(max_size=12))
            elif action == "drop-attr":
                data[target].attrs.clear()
            elif action == "attr-garbage":
                key = draw(st.sampled_from(["units", "standard_name", "axis", "positive"]))
                data[target].attrs[key] = draw(st.sampled_from([5, 2.5, "Y", "X", "Z", "T", "latitude", "up", "x"]))
            elif action == "reverse" and dims:
                data = data.isel({dims[0]: slice(None, None, -1)})
            elif action == "shrink" and dims:
                size = data.sizes[dims[0]]
                stop = draw(st.integers(0, max(size - 1, 0)))
                data = data.isel({dims[0]: slice(0, stop)})
            elif action == "drop" and target != name:
                data = data.drop_vars(target)
            elif action == "coord-values" and target in data.coords and data[target].ndim == 1:
                size = data[target].size
                values = draw(
                    st.lists(
                        st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(SPECIAL),
                        min_size=size,
                        max_size=size,
                    )
                )
                data = data.assign_coords(
                    {target: (data[target].dims, np.asarray(values, dtype=float), data[target].attrs)}
                )
            elif action == "special-values" and target == name and data[name].size:
                values = data[name].values.copy()
                flat = values.reshape(-1)
                for position in draw(st.lists(st.integers(0, flat.size - 1), min_size=1, max_size=4)):
                    flat[position] = draw(st.sampled_from(SPECIAL))
                data[name].values = values
            elif action == "cast" and target == name:
                data[name] = data[name].astype(draw(st.sampled_from(["float32", "int16", "int64", "int8"])))
            elif action == "rename-dim" and dims:
                new = draw(st.sampled_from(["x", "y", "z", "t", "member", "latitude", "plev"]))
                if new not in data.dims and new not in data.variables:
                    data = data.rename_dims({dims[0]: new})
            elif action == "rename" and target != name:
                new = draw(st.sampled_from(["x", "y", "latitude", "lon2", "lev", "level2"]))
                if new not in data.variables and new not in data.dims:
                    data = data.rename_vars({target: new})
            elif action == "extra-dim" and target == name:
                data[name] = data[name].expand_dims(extra=draw(st.integers(1, 2)))
            elif action == "transpose" and target == name:
                data[name] = data[name].transpose(*draw(st.permutations(dims)))
            elif action == "garbage-variable":
                data["junk"] = ("junk_dim", np.arange(draw(st.integers(0, 3))), {"units": "K"})
        except (ValueError, KeyError, IndexError, TypeError):
            continue  # a change xarray itself refuses: skip it
    return data


def _write(data: xr.Dataset, path: Path, draw) -> bool:
    for file_format in (draw(st.sampled_from(["NETCDF4", "NETCDF3_64BIT", "NETCDF4_CLASSIC"])), "NETCDF4"):
        try:
            data.to_netcdf(path, format=file_format)
            return True
        except Exception:  # noqa: BLE001 - a dataset this format cannot hold: try the next
            path.unlink(missing_ok=True)
    return False


def _mutate_bytes(path: Path, draw) -> None:
    data = bytearray(path.read_bytes())
    action = draw(
        st.sampled_from(["none", "none", "truncate", "flip", "insert", "gzip", "gzip-truncate", "empty", "prefix"])
    )
    if action == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif action == "flip":
        for _ in range(draw(st.integers(1, 16))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif action == "insert":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=64))
    elif action == "gzip":
        data = bytearray(gzip.compress(bytes(data)))
    elif action == "gzip-truncate":
        packed = gzip.compress(bytes(data))
        data = bytearray(packed[: draw(st.integers(1, len(packed) - 1))])
    elif action == "empty":
        data = bytearray()
    elif action == "prefix":
        data[0:0] = draw(st.binary(min_size=1, max_size=16))
    path.write_bytes(bytes(data))


def _malformed_file(folder: Path, base: xr.Dataset, name: str, draw) -> Path:
    path = folder / f"input{next(_names)}.nc"
    data = _mutate_dataset(base.copy(deep=True), name, draw)
    if not _write(data, path, draw):
        base.to_netcdf(path)
    _mutate_bytes(path, draw)
    return path


def _check_forcing_reader(folder: Path, draw) -> None:
    path = _malformed_file(folder, forcing_dataset(), "forcing", draw)
    try:
        forcing = read_forcing_file(path, GRID)
    except InputError as error:
        assert str(path) in str(error)
        return
    finally:
        path.unlink()
    assert forcing.shape == (3, GRID.nlat, GRID.nlon) and np.isfinite(forcing).all()


def _check_climatology_reader(folder: Path, draw) -> None:
    path = _malformed_file(folder, climatology_dataset(), "psi", draw)
    skip = draw(st.integers(0, 4))
    try:
        values = read_climatology_values(path, skip_days=skip)
    except InputError as error:
        assert str(path) in str(error)
        return
    finally:
        path.unlink()
    assert values.ndim == 4 and values.shape[1:] == (3, GRID.nlat, GRID.nlon) and np.isfinite(values).all()


FUZZ = dict(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], database=None
)


@settings(max_examples=40, **FUZZ)
@given(data=st.data())
def test_fuzzed_forcing_files_raise_only_input_error(tmp_path, data):
    _check_forcing_reader(tmp_path, data.draw)


@settings(max_examples=40, **FUZZ)
@given(data=st.data())
def test_fuzzed_climatologies_raise_only_input_error(tmp_path, data):
    _check_climatology_reader(tmp_path, data.draw)


@pytest.mark.slow
@settings(max_examples=1000, **FUZZ)
@given(data=st.data())
def test_many_fuzzed_forcing_files_raise_only_input_error(tmp_path, data):
    _check_forcing_reader(tmp_path, data.draw)


@pytest.mark.slow
@settings(max_examples=1000, **FUZZ)
@given(data=st.data())
def test_many_fuzzed_climatologies_raise_only_input_error(tmp_path, data):
    _check_climatology_reader(tmp_path, data.draw)
