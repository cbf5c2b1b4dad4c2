"""Reanalysis geopotential height (ERA5 and others): reading, daily means, regridding, seasons.

ERA5 comes from the Copernicus Climate Data Store in two layouts: the old one
(``time``, ``level``, ``expver`` as a dimension when final and preliminary ERA5T data
meet) and the new one (``valid_time``, ``pressure_level``, ``number``, ``expver`` as a
coordinate along time; downloads may be a ZIP holding NetCDF files). Geopotential ``z``
is in m² s⁻², divided by g = 9.80665 m s⁻² for metres; latitudes run 90 → −90. Other
reanalyses are read by a variable / coordinate mapping. Coordinates are found with
``cf_xarray`` (CF attributes, then usual names) and units converted with ``pint``
and cf_xarray's CF unit registry (docs/style.md, rule 12).

Everything is normalised to ``z (member, time, level, lat, lon)`` in metres with times
sorted and unique, levels in hPa, latitudes ascending and longitudes in [0, 360). Files
that cannot be normalised raise :class:`~sparse_core.infra.errors.InputError` naming the
file and what is wrong.
"""

from __future__ import annotations

import logging
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from blocking.anomalies import GRAVITY
from blocking.config import LEVELS_HPA, ReanalysisConfig
from sparse_core.infra.errors import InputError

__all__ = [
    "FINAL_EXPVER",
    "daily_means",
    "open_netcdf_or_zip",
    "read_geopotential_height",
    "regrid_to_gaussian",
    "season_mask",
]

log = logging.getLogger(__name__)
FINAL_EXPVER = 1
"""ERA5's ``expver`` of final data (``1`` / ``"0001"``); preliminary ERA5T is 5 (``"0005"``)."""
VARIABLE_NAMES = ("z", "hgt", "zg", "geopotential", "gh", "geopotential_height")
STANDARD_NAMES = ("geopotential_height", "geopotential")
FALLBACK_NAMES = {
    "time": ("time", "valid_time", "date", "t"),
    "level": ("pressure_level", "level", "plev", "lev", "isobaricInhPa", "pressure"),
    "lat": ("latitude", "lat", "y"),
    "lon": ("longitude", "lon", "x"),
    "member": ("number", "member", "realization", "ensemble"),
}
CF_ROLES = {"time": ("time", "T"), "level": ("vertical", "Z"), "lat": ("latitude", "Y"), "lon": ("longitude", "X")}
_LEVEL_IN_NAME = re.compile(r"(\d{2,4})$")


# What the NetCDF backends raise on damaged bytes is open-ended: OSError / ValueError, the
# scipy backend a TypeError or a KeyError from its file cache, netCDF4 a RuntimeError from
# the C library, the CF decoders an IndexError, OverflowError or LookupError (a damaged
# "_Encoding" attribute), a damaged dimension length a MemoryError. Only the backends' own
# decoding runs inside the two handlers that catch Exception below, so whatever they raise
# is the file's fault.


def _expver_codes(values, where) -> list[int]:
    """ERA5's experiment versions (1 final, 5 preliminary, stored as numbers or as '0001')."""
    try:
        return [int(str(v).strip()) for v in np.atleast_1d(values)]
    except ValueError:
        raise InputError(
            f"{where}: expver values {list(np.atleast_1d(values))[:5]} are not ERA5 experiment versions"
        ) from None


def open_netcdf_or_zip(path: Path):
    """The dataset in a NetCDF file, or the merged NetCDF files inside a ZIP (new CDS downloads).

    Raises:
        InputError: a missing file, an unreadable NetCDF, a ZIP without NetCDF files.
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: reanalysis file not found")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if m.lower().endswith((".nc", ".nc4", ".netcdf"))]
                if not members:
                    raise InputError(f"{path}: the ZIP holds no NetCDF file (members: {archive.namelist()[:10]})")
                contents = {m: archive.read(m) for m in members}
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, NotImplementedError) as error:
            raise InputError(f"{path}: a damaged ZIP archive ({error})") from None
        parts = [_open_bytes(content, f"{path}:{m}") for m, content in contents.items()]
        try:
            return xr.merge(parts, compat="no_conflicts", join="outer")
        except (ValueError, xr.MergeError) as error:
            raise InputError(f"{path}: the NetCDF files in the ZIP do not fit together ({error})") from None
    try:
        return xr.open_dataset(path).load()
    except Exception as error:  # see the comment above open_netcdf_or_zip
        raise InputError(f"{path}: not a readable NetCDF file ({error})") from None


def _open_bytes(content: bytes, where: str):
    import netCDF4
    import xarray as xr

    try:
        handle = netCDF4.Dataset("inmemory.nc", memory=content)
        return xr.open_dataset(xr.backends.NetCDF4DataStore(handle)).load()
    except Exception as error:  # see the comment above open_netcdf_or_zip
        raise InputError(f"{where}: not a readable NetCDF file ({error})") from None


def _find_variable(data, path: Path, name: str | None):
    if name is not None:
        if name not in data:
            raise InputError(f"{path}: variable {name!r} not found (variables {sorted(data.data_vars)})")
        return name
    for standard in STANDARD_NAMES:
        found = [v for v in data.data_vars if data[v].attrs.get("standard_name") == standard]
        if found:
            return found[0]
    for candidate in VARIABLE_NAMES:
        if candidate in data.data_vars:
            return candidate
    numbered = [v for v in data.data_vars if re.fullmatch(r"(z|hgt|zg)\d{3}", str(v))]
    if numbered:
        return numbered[0]
    raise InputError(
        f"{path}: no geopotential variable found (looked for standard_name geopotential(_height) "
        f"and names {', '.join(VARIABLE_NAMES)}; variables {sorted(data.data_vars)}); "
        "name it with --reanalysis-variable"
    )


def _coordinate(variable, role: str, mapping: dict[str, str]) -> str | None:
    """The name of the coordinate playing ``role`` (time, level, lat, lon, member), or None."""
    present = set(variable.coords) | set(variable.dims)
    if role in mapping:
        return mapping[role] if mapping[role] in present else None
    if role in CF_ROLES:
        key, axis = CF_ROLES[role]
        for found in (variable.cf.coordinates.get(key, []), variable.cf.axes.get(axis, [])):
            found = [name for name in found if name in present]
            if found:
                return found[0]
    for name in FALLBACK_NAMES[role]:
        if name in present:
            return name
    return None


def _to_metres(variable, path: Path, units_override: str | None):
    """Geopotential (m² s⁻²) divided by g, or geopotential height converted to metres (pint)."""
    from cf_xarray.units import units as registry

    units = units_override or variable.attrs.get("units")
    standard = variable.attrs.get("standard_name")
    if not units:
        if standard == "geopotential_height":
            units = "m"  # the canonical units of the CF standard name
        elif standard == "geopotential":
            units = "m2 s-2"
        else:
            raise InputError(
                f"{path}: variable {variable.name!r} has no units; give them with --reanalysis-units "
                "(m, gpm, dam or m2 s-2)"
            )
    try:
        quantity = registry.Quantity(1.0, str(units))
    except Exception:  # pint raises several unrelated types for unparsable strings
        raise InputError(f"{path}: variable {variable.name!r} has units {units!r}, which are not CF units") from None
    length, geopotential = registry.Quantity(1.0, "m").dimensionality, registry.Quantity(1.0, "m2 s-2").dimensionality
    # Both are multiplicative units: pint gives the factor; the coordinates' own units attributes
    # (read elsewhere) play no part here.
    if quantity.dimensionality == geopotential:
        metres = variable * (float(quantity.to("m2 s-2").magnitude) / GRAVITY)
        converted_from = f"geopotential ({units}) divided by g = {GRAVITY} m s-2"
    elif quantity.dimensionality == length:
        metres = variable * float(quantity.to("m").magnitude)
        converted_from = f"geopotential height ({units})"
    else:
        raise InputError(
            f"{path}: variable {variable.name!r} has units {units!r}; expected geopotential "
            "(m2 s-2) or geopotential height (m, gpm, dam)"
        )
    typical = float(np.nanmedian(np.abs(metres.to_numpy()))) if metres.size else 0.0
    if typical > 30000.0:
        raise InputError(
            f"{path}: variable {variable.name!r} has a median of {typical:.0f} m after conversion "
            f"from {units!r}: these look like geopotential in m2 s-2 labelled as metres; "
            "fix the units (--reanalysis-units m2 s-2)"
        )
    metres.attrs = {"units": "m", "standard_name": "geopotential_height", "comment": converted_from}
    return metres


def _combine_expver(variable, path: Path):
    """Final ERA5 data where they exist, else preliminary ERA5T (never summed); drops ``expver``."""
    if "expver" not in variable.dims:
        return variable
    codes = _expver_codes(variable["expver"].to_numpy(), path)
    order = sorted(range(len(codes)), key=lambda k: (codes[k] != FINAL_EXPVER, codes[k]))
    combined = variable.isel(expver=order[0], drop=True)
    for k in order[1:]:
        combined = combined.combine_first(variable.isel(expver=k, drop=True))
    log.info("%s: merged expver %s, final data first", path, [codes[k] for k in order])
    return combined


def _normalise(data, path: Path, reader: ReanalysisConfig):
    """One file's variable as ``z (member, time, level, lat, lon)`` in metres, with an ``expver`` per time.

    xarray refuses coordinates that contradict each other (a dimension that is also a
    scalar coordinate, a rename onto an existing name, ...) with ValueError / KeyError:
    such a file is reported as the user's error, naming it.
    """
    try:
        return _normalise_variable(data, path, reader)
    except InputError:
        raise
    except (ValueError, KeyError, IndexError) as error:
        raise InputError(f"{path}: the coordinates of the geopotential do not fit together ({error})") from None


def _normalise_variable(data, path: Path, reader: ReanalysisConfig):
    import cf_xarray  # noqa: F401 - registers the .cf accessor

    mapping = reader.coordinate_names
    name = _find_variable(data, path, reader.variable)
    variable = data.cf.guess_coord_axis()[name]
    roles = {role: _coordinate(variable, role, mapping) for role in FALLBACK_NAMES}
    for role in ("time", "lat", "lon"):
        if roles[role] is None:
            raise InputError(
                f"{path}: variable {name!r} has no {role} coordinate (dims {variable.dims}); "
                f"name it with --reanalysis-coordinates {role}=NAME"
            )
    variable = _combine_expver(variable, path)
    rename = {roles[r]: r for r in roles if roles[r] is not None and roles[r] != r}
    variable = variable.rename(rename)
    variable = _levels(variable, path, name, reader.level_hpa)
    if "member" in variable.dims:
        if variable.sizes["member"] == 1:
            variable = variable.isel(member=0, drop=True)
    elif "member" in variable.coords:
        variable = variable.drop_vars("member")
    if "member" not in variable.dims:
        variable = variable.expand_dims(member=[0])
    extra = [d for d in variable.dims if d not in ("member", "time", "level", "lat", "lon")]
    if extra:
        raise InputError(f"{path}: variable {name!r} has dimensions {extra} besides time, level, lat, lon")
    keep = {"member", "time", "level", "lat", "lon", "expver"}
    variable = variable.drop_vars([c for c in variable.coords if c not in keep])
    if "expver" in variable.coords and variable["expver"].dims != ("time",):
        variable = variable.drop_vars("expver")
    if not np.issubdtype(variable["time"].dtype, np.datetime64):
        raise InputError(
            f"{path}: the time coordinate could not be decoded as dates (dtype "
            f"{variable['time'].dtype}); reanalyses need CF time units"
        )
    variable = _to_metres(variable, path, reader.units)
    variable = variable.assign_coords(
        lon=_longitude_0_360(variable["lon"].to_numpy().astype(np.float64)),
        lat=variable["lat"].to_numpy().astype(np.float64),
    )
    for role in ("time", "level", "lat", "lon"):
        if variable.sizes[role] == 0:
            raise InputError(f"{path}: variable {name!r} holds no {role} values")
    for role in ("lat", "lon", "level"):
        values = variable[role].to_numpy().astype(np.float64)
        if not np.isfinite(values).all():
            raise InputError(f"{path}: the {role} coordinate has non-finite values")
    if not np.all(np.abs(variable["lat"].to_numpy()) <= 90.0):
        raise InputError(f"{path}: latitudes outside -90..90 degrees")
    variable = variable.sortby("lat").sortby("lon")
    lat = variable["lat"].to_numpy()
    if np.any(lat[1:] == lat[:-1]):
        raise InputError(f"{path}: latitude {lat[1:][lat[1:] == lat[:-1]][0]:g} appears twice")
    _, unique_lon = np.unique(variable["lon"].to_numpy(), return_index=True)
    variable = variable.isel(lon=np.sort(unique_lon))  # 0° and 360° both given
    return variable.transpose("member", "time", "level", "lat", "lon")


def _longitude_0_360(lon: np.ndarray) -> np.ndarray:
    """Longitudes in [0, 360): ``np.mod`` of a tiny negative value rounds to exactly 360."""
    lon = np.mod(lon, 360.0)
    return np.where(lon >= 360.0, lon - 360.0, lon)


def _levels(variable, path: Path, name: str, level_hpa: float | None):
    if "level" in variable.coords or "level" in variable.dims:
        values = np.atleast_1d(variable["level"].to_numpy()).astype(np.float64)
        units = str(variable["level"].attrs.get("units", "")).lower()
        if units in ("pa", "pascal", "pascals") or (not units and values.max() > 1100.0):
            values = values / 100.0
        if "level" not in variable.dims:
            variable = variable.drop_vars("level").expand_dims(level=values)
        else:
            variable = variable.assign_coords(level=values)
        return variable
    if level_hpa is None:
        match = _LEVEL_IN_NAME.search(str(name))
        if not match:
            raise InputError(
                f"{path}: variable {name!r} has no vertical coordinate; give its level with --reanalysis-level-hpa"
            )
        level_hpa = float(match.group(1))
    return variable.expand_dims(level=[float(level_hpa)])


def _unique_times(variable, where: str):
    """Times sorted; duplicates resolved by expver (final first) or dropped when equal, else an error."""
    variable = variable.sortby("time")
    time = variable["time"].to_numpy()
    if time.size < 2 or np.all(time[1:] != time[:-1]):
        return variable.drop_vars("expver", errors="ignore")
    if "expver" in variable.coords:
        codes = np.array(_expver_codes(variable["expver"].to_numpy(), where))
        rank = np.where(codes == FINAL_EXPVER, 0, 1)
        order = np.lexsort((rank, time.astype("datetime64[ns]").astype(np.int64)))
        variable = variable.isel(time=order)
        time = variable["time"].to_numpy()
        first = np.concatenate([[True], time[1:] != time[:-1]])
        log.info("%s: %d duplicated times resolved by expver (final data kept)", where, int((~first).sum()))
        return variable.isel(time=np.flatnonzero(first)).drop_vars("expver")
    first = np.concatenate([[True], time[1:] != time[:-1]])
    values = variable.to_numpy()
    for k in np.flatnonzero(~first):
        if not np.allclose(values[:, k], values[:, k - 1], equal_nan=True):
            raise InputError(
                f"{where}: time {np.datetime_as_string(time[k], unit='h')} appears twice with "
                "different values and no expver to say which is final"
            )
    return variable.isel(time=np.flatnonzero(first))


def read_geopotential_height(paths, reader: ReanalysisConfig | None = None, levels_hpa=LEVELS_HPA):
    """Geopotential height in metres from one or more reanalysis files (NetCDF or ZIP).

    Files may split the data by time (one file per year) and / or by level (one file per
    level); they are joined, times sorted and de-duplicated (final ERA5 data win over
    preliminary ERA5T), and the requested levels selected (a file with fewer levels
    gives fewer, see Raises).

    Args:
        paths: the files.
        reader: variable name, units, coordinate names, level of a level-less file.
        levels_hpa: the levels wanted; those the files lack are an error unless the files
            hold a single level (then that level is returned, e.g. z500 for the index).

    Returns:
        ``xarray.DataArray`` ``z (member, time, level, lat, lon)`` in metres.

    Raises:
        InputError: missing variable or coordinates, wrong units, NaNs, undecodable or
            conflicting duplicated times, files on different grids, missing levels.
    """
    import xarray as xr

    reader = reader or ReanalysisConfig()
    paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    if not paths:
        raise InputError("no reanalysis file given")
    by_levels: dict[tuple, list] = {}
    reference = None
    for path in paths:
        variable = _normalise(open_netcdf_or_zip(path), path, reader)
        if reference is None:
            reference = (path, variable["lat"].to_numpy(), variable["lon"].to_numpy())
        elif (
            variable.sizes["lat"] != reference[1].size
            or variable.sizes["lon"] != reference[2].size
            or not np.allclose(variable["lat"], reference[1])
            or not np.allclose(variable["lon"], reference[2])
        ):
            raise InputError(
                f"{path}: on another grid than {reference[0]} ({variable.sizes['lat']} x "
                f"{variable.sizes['lon']} vs {reference[1].size} x {reference[2].size} points)"
            )
        by_levels.setdefault(tuple(variable["level"].to_numpy()), []).append(variable)
    where = ", ".join(map(str, paths))
    groups = []
    for parts in by_levels.values():
        joined = (
            parts[0]
            if len(parts) == 1
            else xr.concat(parts, dim="time", coords="minimal", compat="override", join="exact")
        )
        groups.append(_unique_times(joined, where))
    if len(groups) > 1:
        times = groups[0]["time"].to_numpy()
        for group in groups[1:]:
            if group.sizes["time"] != times.size or np.any(group["time"].to_numpy() != times):
                raise InputError(f"{where}: the files of different levels cover different times")
    z = xr.concat(groups, dim="level", join="exact").sortby("level") if len(groups) > 1 else groups[0]
    available = z["level"].to_numpy()
    wanted = [lv for lv in levels_hpa if np.isclose(available, lv).any()]
    if available.size > 1 or len(wanted) == len(levels_hpa):
        missing = [lv for lv in levels_hpa if lv not in wanted]
        if missing:
            raise InputError(
                f"{where}: levels {[float(v) for v in missing]} hPa missing (the files hold "
                f"{[float(v) for v in available]} hPa)"
            )
        z = z.isel(level=[int(np.flatnonzero(np.isclose(available, lv))[0]) for lv in levels_hpa])
    bad = int(z.size - np.count_nonzero(np.isfinite(z.to_numpy())))
    if bad:
        raise InputError(f"{where}: {bad} NaN or missing values in the geopotential; fill or cut them out first")
    return z


def daily_means(z):
    """Daily means of sub-daily data (days with data only: no gap is filled); daily data unchanged."""
    time = z["time"].to_numpy()
    days = time.astype("datetime64[D]")
    if np.unique(days).size == time.size:
        return z.assign_coords(time=days.astype("datetime64[ns]"))
    grouped = z.assign_coords(day=("time", days.astype("datetime64[ns]"))).groupby("day").mean()
    return grouped.rename(day="time").transpose("member", "time", "level", "lat", "lon")


def season_mask(time: np.ndarray, season: str) -> np.ndarray:
    """True on the days of ``season`` (``"DJF"``: December, January, February; ``"all"``)."""
    if season == "all":
        return np.ones(len(time), dtype=bool)
    months = (np.asarray(time).astype("datetime64[M]").astype(np.int64) % 12) + 1
    return np.isin(months, {"DJF": (12, 1, 2)}[season])


def regrid_to_gaussian(z, nlat: int = 32):
    """Bilinear interpolation to the model's Gaussian grid (``blocking.qg3.grid``).

    Longitudes wrap around when the data cover the globe. Grid rows and columns outside
    a regional file's coverage are dropped (the result is then a regional Gaussian grid).

    Returns:
        ``z (member, time, level, lat, lon)`` on the Gaussian latitudes (north to south)
        and longitudes of the grid.
    """
    import xarray as xr

    from blocking.qg3.grid import gaussian_grid

    grid = gaussian_grid(nlat)
    lon = z["lon"].to_numpy()  # sorted, in [0, 360)
    gaps = np.append(np.diff(lon), 360.0 - (lon[-1] - lon[0]))
    spacing = float(np.median(gaps)) if lon.size > 1 else 360.0
    widest = int(np.argmax(gaps))
    if lon.size > 2 and gaps[widest] <= 1.5 * spacing + 1e-6:  # global: wrap one column each side
        z = xr.concat(
            [
                z.isel(lon=[-1]).assign_coords(lon=[lon[-1] - 360.0]),
                z,
                z.isel(lon=[0]).assign_coords(lon=[lon[0] + 360.0]),
            ],
            dim="lon",
        )
        target_lon = grid.lon
    else:  # regional: make the sector contiguous (it may cross 0°), from its western edge
        west = lon[(widest + 1) % lon.size]
        z = z.assign_coords(lon=west + np.mod(lon - west, 360.0)).sortby("lon")
        target_lon = np.sort(west + np.mod(grid.lon - west, 360.0))
    from pandas.errors import InvalidIndexError

    try:
        out = z.interp(lat=grid.lat, lon=target_lon, method="linear")
    except (ValueError, KeyError, IndexError, InvalidIndexError) as error:  # e.g. coordinates that repeat
        raise InputError(f"the reanalysis grid cannot be interpolated to the model grid ({error})") from None
    out = out.dropna("lat", how="all").dropna("lon", how="all")
    out = out.assign_coords(lon=np.mod(out["lon"].to_numpy(), 360.0))
    if out.sizes["lat"] == 0 or out.sizes["lon"] == 0:
        raise InputError("the reanalysis grid does not overlap the model grid")
    if not np.isfinite(out.to_numpy()).all():
        raise InputError("regridding left gaps: the reanalysis does not cover a rectangle of the model grid")
    out.attrs = {
        **z.attrs,
        "comment": f"bilinear interpolation to the T{nlat * 2 // 3 - 1} Gaussian grid"
        if nlat == 32
        else f"bilinear interpolation to the {nlat}-latitude Gaussian grid",
    }
    return out
