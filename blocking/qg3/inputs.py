"""Model inputs: the pyshqg 1.0.1 data stores, quintic interpolation to the model grid, forcing files.

The stores are zarr v2 (read with ``zarr_format=2``, consolidated metadata):
``data_t63.zarr`` holds ``forcing (level, lat, lon)``, ``initial_q``, ``land_sea_mask`` and
``orography`` on a T63 Gaussian grid with latitudes ascending and longitudes starting at
180°. As in pyshqg (``preprocessing/reference_data.py``), each field is padded with one row
at each pole holding the zonal mean of the nearest row, then interpolated by quintic
splines (``k = 5``, not-a-knot ends), first in longitude then in latitude.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blocking.qg3.grid import GaussianGrid
from blocking.qg3.gridded import InputError, check_field, open_netcdf

__all__ = [
    "InputError",
    "check_field",
    "load_t63_inputs",
    "open_netcdf",
    "quintic_to_grid",
    "read_forcing_file",
    "reference_folder",
]

T63_VARIABLES = ("forcing", "initial_q", "land_sea_mask", "orography")


def reference_folder() -> Path:
    """The folder holding pyshqg's ``data_t63.zarr`` and ``test_t21_t31.zarr`` (fetched and cached)."""
    from sparse_core.infra.io import fetch

    return Path(fetch("qg3").path)


def quintic_to_grid(
    field: np.ndarray, lat: np.ndarray, lon: np.ndarray, grid: GaussianGrid, periodic_longitude: bool = False
) -> np.ndarray:
    """Interpolate ``field(..., lat, lon)`` to the model grid with quintic splines.

    Args:
        field: source values, shape ``(..., len(lat), len(lon))``.
        lat: source latitudes in degrees (any order, inside (−90, 90)).
        lon: source longitudes in degrees (any order, within [0, 360)).
        grid: the target grid.
        periodic_longitude: wrap three columns at each end before the longitude spline
            (off by default: the reference does not, and parity needs it off).

    Returns:
        Values on the grid, shape ``(..., nlat, nlon)``.
    """
    from scipy.interpolate import make_interp_spline

    field = np.asarray(field, dtype=np.float64)
    lat_order = np.argsort(lat)
    lon = np.mod(np.asarray(lon, dtype=np.float64), 360.0)
    lon_order = np.argsort(lon)
    values = field[..., lat_order, :][..., lon_order]
    lat_sorted, lon_sorted = np.asarray(lat, dtype=np.float64)[lat_order], lon[lon_order]
    # polar rows: the zonal mean of the nearest row (pyshqg's `_add_padding`)
    south = values[..., :1, :].mean(axis=-1, keepdims=True) * np.ones_like(values[..., :1, :])
    north = values[..., -1:, :].mean(axis=-1, keepdims=True) * np.ones_like(values[..., -1:, :])
    values = np.concatenate([south, values, north], axis=-2)
    lat_padded = np.concatenate([[-90.0], lat_sorted, [90.0]])
    if periodic_longitude:
        wrap = 3
        values = np.concatenate([values[..., -wrap:], values, values[..., :wrap]], axis=-1)
        lon_sorted = np.concatenate([lon_sorted[-wrap:] - 360.0, lon_sorted, lon_sorted[:wrap] + 360.0])
    along_lon = make_interp_spline(lon_sorted, values, k=5, axis=-1)(grid.lon)
    return make_interp_spline(lat_padded, along_lon, k=5, axis=-2)(grid.lat)


def load_t63_inputs(
    grid: GaussianGrid, folder: Path | None = None, periodic_longitude: bool = False
) -> dict[str, np.ndarray]:
    """Orography, land–sea mask, forcing and initial PV from ``data_t63.zarr``, on ``grid``.

    Returns:
        dict with ``orography`` and ``land_sea_mask`` ``(nlat, nlon)``, ``forcing`` and
        ``initial_q`` ``(3, nlat, nlon)``.
    """
    import xarray as xr

    path = Path(folder if folder is not None else reference_folder()) / "data_t63.zarr"
    if not path.exists():
        raise InputError(f"{path}: store not found (run `sparseworks data fetch qg3`)")
    data = xr.open_zarr(path, zarr_format=2, consolidated=True).load()
    result = {}
    for name in T63_VARIABLES:
        if name not in data:
            raise InputError(f"{path}: variable {name!r} missing; expected {T63_VARIABLES}")
        values = data[name].to_numpy()
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise InputError(f"{path}: variable {name!r} holds {bad} NaN or infinite values")
        result[name] = quintic_to_grid(
            values, data.lat.to_numpy(), data.lon.to_numpy(), grid, periodic_longitude=periodic_longitude
        )
    return result


def read_forcing_file(path: Path, grid: GaussianGrid) -> np.ndarray:
    """Read ``forcing (level, lat, lon)`` (a PV source in s⁻²) from a NetCDF file, e.g. one of ``blocking forcing``.

    The axes are found by their coordinates and units and normalised to the model's
    (:mod:`blocking.qg3.gridded`): latitudes in any order, longitudes from −180° or 0°,
    levels 200 / 500 / 800 hPa in any order and any pressure unit, values in any unit
    convertible to s⁻² (e.g. ``day-2``); dimensions of length 1 (a time) are dropped.

    Returns:
        The forcing on ``grid``, shape ``(3, nlat, nlon)``, float64.

    Raises:
        InputError: the file is missing, unreadable or gzip-damaged, lacks the variable,
            is on another grid or other levels, has no or wrong units, or holds NaNs.
    """
    from blocking.qg3.gridded import locate_field
    from blocking.qg3.model import LEVELS_HPA

    path = Path(path)
    with open_netcdf(path, "forcing file") as data:
        field = locate_field(data, path, "forcing", "s-2", grid, LEVELS_HPA)
        extra = {d: n for d, n in zip(field.lead_dims, field.lead_shape) if n != 1}
        if extra:
            raise InputError(
                f"{path}: variable {field.name!r} has dimensions {extra} beyond level, lat and lon; "
                "a forcing is one time-independent field"
            )
        return field.block({d: 0 for d in field.lead_dims})
