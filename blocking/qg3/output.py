"""CF-conventions NetCDF output of QG3 runs, written snapshot by snapshot (netCDF4).

Dimensions ``(member, time, level, lat, lon)``; ``time`` is unlimited and counted in days
since the start of the saved run (after spin-up). Snapshots are written at explicit
indices, so a resumed run rewrites exactly what an uninterrupted run writes.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from blocking.qg3.grid import GaussianGrid

__all__ = ["GRAVITY", "OutputWriter", "REFERENCE_F0"]

GRAVITY = 9.80665
"""Standard gravity g in m/s²."""
REFERENCE_F0 = 2.0 * 7.292e-5 * np.sin(np.radians(45.0))
"""f0 = 2Ω sin 45° ≈ 1.031e-4 1/s, the constant Coriolis parameter in ``z500 = f0 ψ500 / g``."""

VARIABLES = {
    "psi": dict(dims=("member", "time", "level", "lat", "lon"), units="m2 s-1",
                long_name="quasi-geostrophic streamfunction", standard_name="atmosphere_horizontal_streamfunction"),
    "q": dict(dims=("member", "time", "level", "lat", "lon"), units="s-1",
              long_name="quasi-geostrophic potential vorticity"),
    "z500": dict(dims=("member", "time", "lat", "lon"), units="m",
                 long_name="500 hPa geopotential height anomaly, f0 psi500 / g (f0 = 2 Omega sin 45 deg)",
                 standard_name="geopotential_height"),
    "energy": dict(dims=("member", "time"), units="m2 s-2",
                   long_name="total (kinetic + available potential) energy per unit mass, global mean"),
    "enstrophy": dict(dims=("member", "time"), units="s-2",
                      long_name="potential enstrophy of q - f(1 + h/H0), global mean"),
}


class OutputWriter:
    """Create or reopen a QG3 output file and write snapshots into it.

    Args:
        path: the NetCDF file.
        grid: the model grid.
        members: the member numbers held by this file.
        levels_hpa: pressure levels.
        attributes: global attributes (title, source, ...) added to the CF ones.
        resume: reopen an existing file instead of creating it.
    """

    def __init__(self, path: Path, grid: GaussianGrid, members, levels_hpa, attributes: dict | None = None,
                 resume: bool = False) -> None:
        import netCDF4

        self.path = Path(path)
        if resume and self.path.exists():
            self.dataset = netCDF4.Dataset(self.path, "a")
            return
        data = netCDF4.Dataset(self.path, "w", format="NETCDF4")
        data.Conventions = "CF-1.8"
        data.title = "Marshall-Molteni three-level quasi-geostrophic model (T21)"
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        data.history = f"{stamp} created by blocking.qg3 (SparseWorks)"
        for key, value in (attributes or {}).items():
            setattr(data, key, value)
        data.createDimension("member", len(members))
        data.createDimension("time", None)
        data.createDimension("level", len(levels_hpa))
        data.createDimension("lat", grid.nlat)
        data.createDimension("lon", grid.nlon)
        coords = {
            "member": (np.asarray(members, dtype=np.int32), dict(long_name="ensemble member")),
            "level": (np.asarray(levels_hpa, dtype=np.float64),
                      dict(units="hPa", standard_name="air_pressure", long_name="pressure level", positive="down")),
            "lat": (grid.lat, dict(units="degrees_north", standard_name="latitude", long_name="latitude")),
            "lon": (grid.lon, dict(units="degrees_east", standard_name="longitude", long_name="longitude")),
        }
        for name, (values, attrs) in coords.items():
            variable = data.createVariable(name, values.dtype, (name,))
            variable[:] = values
            variable.setncatts(attrs)
        time = data.createVariable("time", "f8", ("time",))
        time.setncatts(dict(units="days since 2000-01-01 00:00:00", calendar="noleap",
                            standard_name="time", long_name="model time after spin-up"))
        chunks = {"psi": (1, 1, 3, grid.nlat, grid.nlon), "q": (1, 1, 3, grid.nlat, grid.nlon),
                  "z500": (1, 1, grid.nlat, grid.nlon)}
        for name, spec in VARIABLES.items():
            variable = data.createVariable(name, "f4", spec["dims"], zlib=True, complevel=1,
                                           chunksizes=chunks.get(name))
            variable.setncatts({k: v for k, v in spec.items() if k != "dims"})
        self.dataset = data

    def write(self, index: int, time_days: float, fields: dict[str, np.ndarray]) -> None:
        """Write snapshot ``index``: ``psi``, ``q`` ``(member, level, lat, lon)``, ``z500``, ``energy``, ``enstrophy``."""
        self.dataset["time"][index] = time_days
        for name, values in fields.items():
            self.dataset[name][:, index] = values

    def sync(self) -> None:
        self.dataset.sync()

    def close(self) -> None:
        self.dataset.close()
