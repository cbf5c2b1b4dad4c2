"""Gridded NetCDF inputs identified by their coordinates and units, never by position.

A field read from a user's file (the ψ of a climatology, a forcing) is found by its name
(or CF ``standard_name``), and its axes by their CF attributes with cf_xarray
(``standard_name``, ``units``, ``axis``; the usual names ``lat`` / ``lon`` / ``level`` when
a file has no attributes). Each axis is then normalised to the model's conventions:

- latitudes in the order of the model grid (north to south), whatever the file's order;
- longitudes from 0° east (a file stored from −180° or 180° is rolled);
- pressure levels in the order 200, 500, 800 hPa by their values, converted from any
  pressure unit (Pa, mbar) with pint;
- values converted to the model's units with pint and cf_xarray's UDUNITS registry
  (``km2 s-1`` → ``m2 s-1``; ``day-2`` → ``s-2``).

What cannot be normalised (another grid, other levels, a temperature where ψ is expected,
no units, non-finite values) is an :class:`InputError` naming the file, the variable and
what is wrong. Files are opened by their content: gzip-compressed NetCDF is read
transparently whatever its name, and every decoding failure of the NetCDF libraries is an
:class:`InputError` naming the file.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparse_core.infra.errors import InputError as SuiteInputError

__all__ = ["GriddedField", "InputError", "check_field", "locate_field", "open_netcdf"]

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
GRID_TOLERANCE_DEGREES = 1e-3
LEVEL_TOLERANCE = 1e-6  # relative, on the values in hPa


class InputError(SuiteInputError):
    """A model input file is missing, malformed or holds non-finite values."""


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text.split(". ")[0] or type(error).__name__)[:300]


@contextlib.contextmanager
def open_netcdf(path: Path, what: str) -> Iterator:
    """``xarray.open_dataset`` of ``path`` (times left undecoded), gzip read transparently.

    Args:
        what: what the file should be, for the messages ("forcing file").

    Raises:
        InputError: the file is missing, a folder, empty, a zip archive, a broken gzip
            stream or not a readable NetCDF file.
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a NetCDF {what}")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if not magic:
        raise InputError(f"{path}: empty file, expected a NetCDF {what}")
    if magic == ZIP_MAGIC:
        raise InputError(f"{path}: a zip archive, expected a NetCDF {what}; unzip it first")
    with contextlib.ExitStack() as stack:
        source = path
        if magic[:2] == GZIP_MAGIC:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qg3-gunzip-")))
            source = folder / "decompressed.nc"
            try:
                with gzip.open(path, "rb") as packed, source.open("wb") as plain:
                    shutil.copyfileobj(packed, plain, 1 << 20)
            except (OSError, EOFError, zlib.error) as error:
                raise InputError(f"{path}: a gzip file that does not decompress ({_reason(error)})") from None
            if source.stat().st_size == 0:
                raise InputError(f"{path}: a gzip file holding nothing, expected a NetCDF {what}")
        with source.open("rb") as handle:
            signature = handle.read(4)
        # classic NetCDF through scipy: the netCDF C library reads a truncated classic file as zeros
        engine = "scipy" if signature in (b"CDF\x01", b"CDF\x02") else None
        try:
            data = xr.open_dataset(source, decode_times=False, engine=engine)
        except Exception as error:  # noqa: BLE001 - any failure to decode a user's file is that file's fault
            raise InputError(f"{path}: not a readable NetCDF {what} ({_reason(error)})") from None
        stack.callback(data.close)
        if signature == b"CDF\x05" and source.stat().st_size < _stored_bytes(data):
            raise InputError(
                f"{path}: a truncated NetCDF {what} ({source.stat().st_size} bytes, its variables "
                f"alone need {_stored_bytes(data)})"
            )
        yield data


def _stored_bytes(data) -> int:
    """The bytes the variables of a dataset occupy on disk, uncompressed (a lower bound of a classic file's size)."""
    total = 0
    for variable in data.variables.values():
        dtype = np.dtype(variable.encoding.get("dtype", variable.dtype))
        total += int(variable.size) * (dtype.itemsize if dtype.kind != "O" else 1)
    return total


def check_field(array: np.ndarray, expected_shape: tuple[int, ...], *, path, variable: str) -> np.ndarray:
    """Fail with a message naming ``path`` and ``variable`` unless the array has the shape and is finite."""
    array = np.asarray(array, dtype=np.float64)
    if array.shape != tuple(expected_shape):
        raise InputError(
            f"{path}: variable {variable!r} has shape {array.shape}, expected "
            f"{tuple(expected_shape)} (the T21 model grid: level × 32 lat × 64 lon)"
        )
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise InputError(
            f"{path}: variable {variable!r} holds {bad} NaN or infinite values; fill or mask them before using the file"
        )
    return array


def _registry():
    import cf_xarray.units

    return cf_xarray.units.units


@dataclass(frozen=True)
class GriddedField:
    """A field of a file, its axes identified, ready to be read in blocks on the model grid.

    Attributes:
        path: the file.
        name: the variable's name in the file.
        variable: the lazy variable, dimensions ``(*lead, level, lat, lon)`` (file order).
        lead_dims: the sample dimensions (e.g. ``member``, ``time``; the time axis last).
        time_dim: the time dimension, if the field has one.
        level_index, lat_index, lon_index: positions in the file of the model's levels
            (200, 500, 800 hPa), latitudes (north to south) and longitudes (from 0°).
        factor: multiplies the stored values into the model's units.
    """

    path: Path
    name: str
    variable: object
    lead_dims: tuple[str, ...]
    time_dim: str | None
    level_index: np.ndarray
    lat_index: np.ndarray
    lon_index: np.ndarray
    factor: float

    @property
    def lead_shape(self) -> tuple[int, ...]:
        return tuple(int(self.variable.sizes[d]) for d in self.lead_dims)

    def block(self, index: dict[str, object]) -> np.ndarray:
        """The values selected by ``index`` (``isel`` on lead dimensions), on the model grid, in model units.

        Returns:
            ``(*remaining lead, 3, nlat, nlon)`` float64, finite.

        Raises:
            InputError: the values cannot be read (a damaged file) or are not finite.
        """
        try:
            values = np.asarray(self.variable.isel(index).to_numpy(), dtype=np.float64)
        except Exception as error:  # noqa: BLE001 - a damaged file fails in the NetCDF / HDF5 libraries
            raise InputError(f"{self.path}: the values of {self.name!r} cannot be read ({_reason(error)})") from None
        values = values[..., self.level_index, :, :][..., self.lat_index, :][..., self.lon_index] * self.factor
        return check_field(
            values,
            values.shape[:-3] + (3, self.lat_index.size, self.lon_index.size),
            path=self.path,
            variable=self.name,
        )


def locate_field(
    data, path: Path, name: str, units: str, grid, levels_hpa, *, standard_name: str | None = None
) -> GriddedField:
    """Find ``name`` in ``data`` and map its axes onto the model grid, by coordinates and units.

    Args:
        data: the open dataset (:func:`open_netcdf`).
        name: the variable's name; if absent, the one variable whose ``standard_name`` is
            ``standard_name``.
        units: the model's units of the field (``"m2 s-1"``, ``"s-2"``).
        grid: the model's Gaussian grid.
        levels_hpa: the model's pressure levels, in the model's order.

    Raises:
        InputError: naming the file, the variable and what does not fit.
    """
    variable = _find_variable(data, path, name, units, standard_name)
    name = str(variable.name)
    where = f"{path}: variable {name!r}"
    if not np.issubdtype(variable.dtype, np.number) or np.issubdtype(variable.dtype, np.complexfloating):
        raise InputError(f"{where} holds {variable.dtype} values, expected real numbers")
    factor = _unit_factor(variable.attrs.get("units"), units, f"{where}")
    axes = {}
    for kind in ("latitude", "longitude", "vertical"):
        axes[kind] = _coordinate(data, variable, kind, where)
    dims = {kind: coordinate.dims[0] for kind, coordinate in axes.items()}
    if len(set(dims.values())) < 3:
        raise InputError(
            f"{where}: its latitude, longitude and level coordinates must lie along three different "
            f"dimensions; found {dims}"
        )
    lat_index = _match(
        _degrees(axes["latitude"], "latitude", where),
        grid.lat,
        GRID_TOLERANCE_DEGREES,
        f"{where} is not on the T21 model grid: its latitude coordinate {axes['latitude'].name!r}",
        f"the {grid.nlat} Gaussian latitudes {grid.lat[0]:.2f} … {grid.lat[-1]:.2f}",
    )
    lon = np.mod(_degrees(axes["longitude"], "longitude", where), 360.0)
    lon[np.isclose(lon, 360.0, atol=GRID_TOLERANCE_DEGREES)] = 0.0
    lon_index = _match(
        lon,
        grid.lon,
        GRID_TOLERANCE_DEGREES,
        f"{where} is not on the T21 model grid: its longitude coordinate {axes['longitude'].name!r}",
        f"the {grid.nlon} longitudes 0, {grid.lon[1]:g}, … {grid.lon[-1]:g}° east",
    )
    levels = np.asarray(levels_hpa, dtype=np.float64)
    level_values = _pressure_hpa(axes["vertical"], where, levels)
    level_index = _match(
        level_values,
        levels,
        LEVEL_TOLERANCE * levels.max(),
        f"{where}: its level coordinate {axes['vertical'].name!r}",
        "the pressure levels " + ", ".join(f"{v:g}" for v in levels) + " hPa",
    )
    time_dim = None
    with contextlib.suppress(InputError):
        time_dim = _coordinate(data, variable, "time", where).dims[0]
    if time_dim is None and "time" in variable.dims:
        time_dim = "time"
    if time_dim in dims.values():
        time_dim = None
    lead = [d for d in variable.dims if d not in dims.values() and d != time_dim]
    if time_dim is not None:
        lead.append(time_dim)
    variable = variable.transpose(*lead, dims["vertical"], dims["latitude"], dims["longitude"])
    return GriddedField(
        path=Path(path),
        name=name,
        variable=variable,
        lead_dims=tuple(lead),
        time_dim=time_dim,
        level_index=level_index,
        lat_index=lat_index,
        lon_index=lon_index,
        factor=factor,
    )


def _find_variable(data, path: Path, name: str, units: str, standard_name: str | None):
    if name in data.data_vars:
        return data[name]
    if standard_name is not None:
        found = [v for v in data.data_vars if data[v].attrs.get("standard_name") == standard_name]
        if len(found) == 1:
            return data[found[0]]
    also = f", or one variable with standard_name {standard_name!r}" if standard_name else ""
    raise InputError(
        f"{path}: variable {name!r} missing (expected in {units}, dims ... level lat lon{also}); "
        f"found {sorted(map(str, data.data_vars))}"
    )


def _unit_factor(stored, wanted: str, where: str) -> float:
    """The factor taking values in ``stored`` units to ``wanted`` units (pint, UDUNITS spellings)."""
    if stored is None or not str(stored).strip():
        raise InputError(f"{where} has no units attribute; expected {wanted!r} (or units convertible to it)")
    registry = _registry()
    try:
        quantity = registry.Quantity(1.0, str(stored))
        factor = float(quantity.to(wanted).magnitude)
    except Exception:  # noqa: BLE001 - pint raises several types for unknown or incompatible units
        raise InputError(f"{where} has units {stored!r}, which cannot be converted to {wanted!r}") from None
    if not np.isfinite(factor) or factor == 0.0:
        raise InputError(f"{where} has units {stored!r}, which cannot be converted to {wanted!r}")
    return factor


_KIND_AXIS = {"latitude": "Y", "longitude": "X", "vertical": "Z", "time": "T"}


def _candidates(data, variable, kind: str) -> list:
    names: set[str] = set()
    with contextlib.suppress(Exception):  # cf_xarray on odd attributes: then nothing found that way
        names |= set(data.cf.coordinates.get(kind, []))
        names |= set(data.cf.axes.get(_KIND_AXIS[kind], []))
    found = [data[n] for n in sorted(names) if n in data.coords or n in data.variables]
    return [c for c in found if c.ndim == 1 and c.dims[0] in variable.dims]


def _coordinate(data, variable, kind: str, where: str):
    """The one 1-D coordinate of ``variable`` that CF attributes (else the usual names) mark as ``kind``."""
    found = _candidates(data, variable, kind)
    if not found:
        with contextlib.suppress(Exception):
            found = _candidates(data.cf.guess_coord_axis(), variable, kind)
    if len(found) > 1:
        own = [c for c in found if c.name == c.dims[0]]
        found = own if len(own) == 1 else found
    label = {"vertical": "pressure-level"}.get(kind, kind)
    if not found:
        raise InputError(
            f"{where} has no {label} coordinate (a 1-D coordinate with CF standard_name, units or "
            f"axis marking it, or named as usual, e.g. "
            f"{ {'latitude': 'lat', 'longitude': 'lon', 'vertical': 'level', 'time': 'time'}[kind]!r})"
        )
    if len(found) > 1:
        raise InputError(f"{where} has several {label} coordinates: {sorted(str(c.name) for c in found)}")
    return found[0]


def _values(coordinate, where: str) -> np.ndarray:
    try:
        values = np.asarray(coordinate.to_numpy(), dtype=np.float64)
    except Exception as error:  # noqa: BLE001 - strings, dates or an unreadable coordinate
        raise InputError(f"{where}: coordinate {coordinate.name!r} is not numeric ({_reason(error)})") from None
    if not np.isfinite(values).all():
        raise InputError(f"{where}: coordinate {coordinate.name!r} holds NaN or infinite values")
    return values


def _degrees(coordinate, kind: str, where: str) -> np.ndarray:
    """A latitude or longitude coordinate in degrees (``degrees_north`` / ``_east``, ``degrees`` or radians)."""
    values = _values(coordinate, where)
    units = coordinate.attrs.get("units")
    if units is None:
        return values
    expected = "degrees_north" if kind == "latitude" else "degrees_east"
    try:
        parsed = str(_registry().Unit(str(units)))
    except Exception:  # noqa: BLE001 - an unknown unit string
        parsed = None
    if parsed == "radian":
        return np.degrees(values)
    if parsed not in (expected, "degree", "degrees"):
        raise InputError(f"{where}: {kind} coordinate {coordinate.name!r} has units {units!r}, expected {expected!r}")
    if kind == "latitude" and np.abs(values).max(initial=0.0) > 90.0:
        raise InputError(f"{where}: latitude coordinate {coordinate.name!r} holds values beyond ±90°")
    return values


def _pressure_hpa(coordinate, where: str, levels: np.ndarray) -> np.ndarray:
    """A vertical coordinate in hPa (from any pressure unit); one without units only if it holds the levels."""
    values = _values(coordinate, where)
    units = coordinate.attrs.get("units")
    if units is None or not str(units).strip():
        if values.size == levels.size and np.allclose(np.sort(values), np.sort(levels), rtol=LEVEL_TOLERANCE):
            return values
        raise InputError(
            f"{where}: level coordinate {coordinate.name!r} has no units and holds "
            f"{values.tolist()[:6]}; give it units (e.g. 'hPa')"
        )
    registry = _registry()
    try:
        quantity = registry.Quantity(values, str(units))
        return np.asarray(quantity.to("hPa").magnitude, dtype=np.float64)
    except Exception:  # noqa: BLE001 - an unknown unit, or one that is not a pressure
        raise InputError(
            f"{where}: level coordinate {coordinate.name!r} has units {units!r}, expected a pressure (hPa, Pa, mbar)"
        ) from None


def _match(values: np.ndarray, target: np.ndarray, tolerance: float, what: str, expected: str) -> np.ndarray:
    """Indices ``i`` such that ``values[i] ≈ target`` (each target found once), else an InputError."""
    values = np.asarray(values, dtype=np.float64)
    if values.size != target.size:
        raise InputError(f"{what} holds {values.size} values, expected {expected}")
    order_values, order_target = np.argsort(values, kind="stable"), np.argsort(target, kind="stable")
    if not np.allclose(values[order_values], target[order_target], rtol=0.0, atol=tolerance):
        raise InputError(f"{what} holds {_preview(values)}, expected {expected}")
    index = np.empty(target.size, dtype=np.intp)
    index[order_target] = order_values
    return index


def _preview(values: np.ndarray) -> str:
    shown = ", ".join(f"{v:.4g}" for v in values[:3])
    return f"{shown}{', …' if values.size > 3 else ''}" if values.size else "nothing"
