"""CF-conventions NetCDF output of QG3 runs (netCDF4), written so that no file is ever half-written.

Dimensions ``(member, time, level, lat, lon)``; ``time`` is unlimited and counted in days
since the start of the saved run (after spin-up). A run writes the snapshots of each
checkpoint interval into a snapshot file of its own (each one complete: written under a
temporary name and renamed, ``sparse_core.infra.files.atomic_path``); at the end
:func:`merge_output` writes ``output.nc`` the same way from the snapshots already in the
old ``output.nc`` (a run extended with more ``--years``) and the snapshot files. Snapshots
carry explicit indices, so a resumed run writes exactly what an uninterrupted run writes.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from blocking.qg3.grid import GaussianGrid

__all__ = ["GRAVITY", "OutputWriter", "REFERENCE_F0", "merge_output"]

GRAVITY = 9.80665
"""Standard gravity g in m/s²."""
REFERENCE_F0 = 2.0 * 7.292e-5 * np.sin(np.radians(45.0))
"""f0 = 2Ω sin 45° ≈ 1.031e-4 1/s, the constant Coriolis parameter in ``z500 = f0 ψ500 / g``."""

VARIABLES = {
    "psi": dict(
        dims=("member", "time", "level", "lat", "lon"),
        units="m2 s-1",
        long_name="quasi-geostrophic streamfunction",
        standard_name="atmosphere_horizontal_streamfunction",
    ),
    "q": dict(
        dims=("member", "time", "level", "lat", "lon"), units="s-1", long_name="quasi-geostrophic potential vorticity"
    ),
    "z500": dict(
        dims=("member", "time", "lat", "lon"),
        units="m",
        long_name="500 hPa geopotential height anomaly, f0 psi500 / g (f0 = 2 Omega sin 45 deg)",
        standard_name="geopotential_height",
    ),
    "energy": dict(
        dims=("member", "time"),
        units="m2 s-2",
        long_name="total (kinetic + available potential) energy per unit mass, global mean",
    ),
    "enstrophy": dict(
        dims=("member", "time"), units="s-2", long_name="potential enstrophy of q - f(1 + h/H0), global mean"
    ),
}


class OutputWriter:
    """Create a QG3 output file and write snapshots into it.

    Args:
        path: the NetCDF file (write it under a temporary name: ``atomic_path``).
        grid: the model grid.
        members: the member numbers held by this file.
        levels_hpa: pressure levels.
        attributes: global attributes (title, source, ...) added to the CF ones.
        first_index: the number of the file's first snapshot in the whole run (a
            snapshot file of one checkpoint interval); stored as ``first_snapshot``.
    """

    def __init__(
        self, path: Path, grid: GaussianGrid, members, levels_hpa, attributes: dict | None = None, first_index: int = 0
    ) -> None:
        import netCDF4

        self.path = Path(path)
        self.first_index = int(first_index)
        data = netCDF4.Dataset(self.path, "w", format="NETCDF4")
        data.Conventions = "CF-1.8"
        data.title = "Marshall-Molteni three-level quasi-geostrophic model (T21)"
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        data.history = f"{stamp} created by blocking.qg3 (SparseWorks)"
        for key, value in (attributes or {}).items():
            setattr(data, key, value)
        data.first_snapshot = np.int64(self.first_index)
        data.createDimension("member", len(members))
        data.createDimension("time", None)
        data.createDimension("level", len(levels_hpa))
        data.createDimension("lat", grid.nlat)
        data.createDimension("lon", grid.nlon)
        coords = {
            "member": (np.asarray(members, dtype=np.int32), dict(long_name="ensemble member")),
            "level": (
                np.asarray(levels_hpa, dtype=np.float64),
                dict(units="hPa", standard_name="air_pressure", long_name="pressure level", positive="down"),
            ),
            "lat": (grid.lat, dict(units="degrees_north", standard_name="latitude", long_name="latitude")),
            "lon": (grid.lon, dict(units="degrees_east", standard_name="longitude", long_name="longitude")),
        }
        for name, (values, attrs) in coords.items():
            variable = data.createVariable(name, values.dtype, (name,))
            variable[:] = values
            variable.setncatts(attrs)
        time = data.createVariable("time", "f8", ("time",))
        time.setncatts(
            dict(
                units="days since 2000-01-01 00:00:00",
                calendar="noleap",
                standard_name="time",
                long_name="model time after spin-up",
            )
        )
        chunks = {
            "psi": (1, 1, 3, grid.nlat, grid.nlon),
            "q": (1, 1, 3, grid.nlat, grid.nlon),
            "z500": (1, 1, grid.nlat, grid.nlon),
        }
        for name, spec in VARIABLES.items():
            variable = data.createVariable(
                name, "f4", spec["dims"], zlib=True, complevel=1, chunksizes=chunks.get(name)
            )
            variable.setncatts({k: v for k, v in spec.items() if k != "dims"})
        self.dataset = data

    def write(self, index: int, time_days: float, fields: dict[str, np.ndarray]) -> None:
        """Write snapshot ``index`` of the run: ``psi``, ``q`` ``(member, level, lat, lon)``, ``z500``, ``energy``, ``enstrophy``."""
        local = index - self.first_index
        self.dataset["time"][local] = time_days
        for name, values in fields.items():
            self.dataset[name][:, local] = values

    def write_block(self, start: int, times: np.ndarray, fields: dict[str, np.ndarray], members: slice) -> None:
        """Write snapshots ``start … start + len(times) − 1`` of some members (fields ``(member, time, ...)``)."""
        local = slice(start - self.first_index, start - self.first_index + len(times))
        self.dataset["time"][local] = times
        for name, values in fields.items():
            self.dataset[name][members, local] = values

    def close(self) -> None:
        self.dataset.close()


def read_snapshots(path: Path, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Members, times and fields ``(member, time, ...)`` of snapshots ``start … stop − 1`` (file positions)."""
    import netCDF4

    with netCDF4.Dataset(path, "r") as data:
        members = np.asarray(data["member"][:])
        times = np.asarray(data["time"][start:stop], dtype=np.float64)
        fields = {name: np.asarray(data[name][:, start:stop]) for name in VARIABLES}
    return members, times, fields


def snapshot_count(path: Path) -> tuple[int, np.ndarray]:
    """How many snapshots a QG3 NetCDF file holds, and its member numbers.

    Raises:
        InputError: the file cannot be read as QG3 output.
    """
    import netCDF4

    from blocking.qg3.gridded import InputError

    try:
        with netCDF4.Dataset(path, "r") as data:
            return int(data.dimensions["time"].size), np.asarray(data["member"][:])
    except Exception as error:  # noqa: BLE001 - a damaged or foreign file
        raise InputError(
            f"{path}: not a readable QG3 output file ({error}); give --restart to start the run over"
        ) from None


def merge_output(
    path: Path,
    grid: GaussianGrid,
    members,
    levels_hpa,
    attributes: dict,
    base: int,
    sources: list[tuple[slice, list[Path]]],
    block: int = 64,
) -> None:
    """Write ``path`` atomically: snapshots ``0 … base − 1`` of the old ``path``, then those of the snapshot files.

    Args:
        members: every member of the run.
        base: how many snapshots of the existing ``path`` to keep (0: a new file).
        sources: for each part, its members' slice of ``members`` and its snapshot files
            in order (contiguous from snapshot ``base``; all parts cover the same snapshots).
        block: snapshots copied at a time from the old file.
    """
    from sparse_core.infra.files import atomic_path

    path = Path(path)
    with atomic_path(path) as temporary:
        writer = OutputWriter(temporary, grid, members, levels_hpa, attributes=attributes)
        try:
            for start in range(0, base, block):
                _, times, fields = read_snapshots(path, start, min(base, start + block))
                writer.write_block(start, times, fields, slice(None))
            for where, files in sources:
                for file in files:
                    _, times, fields = read_snapshots(file)
                    first = int(_first_snapshot(file))
                    writer.write_block(first, times, fields, where)
        finally:
            writer.close()


def _first_snapshot(path: Path) -> int:
    import netCDF4

    with netCDF4.Dataset(path, "r") as data:
        return int(data.first_snapshot)
