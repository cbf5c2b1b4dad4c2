"""CF-conventions NetCDF output of QG3 runs: one file that every part of a run writes its members into.

Dimensions ``(member, time, level, lat, lon)``, ``time`` counted in days since the start
of the saved run (after spin-up). The file is in the CDF-5 format (NetCDF's "64-bit data"
classic format; Unidata, *The NetCDF File Format Specifications*, "The Format in
Detail"), its dimensions fixed when it is made and its variables stored uncompressed: each
variable is one contiguous big-endian array at an offset written in the header, and one
member's snapshots are one contiguous run of bytes in it. So the parts of a run (this
process or Dask workers, :mod:`blocking.qg3.run`) write their own members' snapshots in
place (:class:`OutputWriter`, positioned writes) at the same time, and the finished file
needs no merging: every reader (xarray, netCDF4, ``blocking events``/``dataset``/``forcing``)
reads it as any NetCDF file.

:func:`create_output` makes the file with its coordinates and times (under a temporary name
first: ``sparse_core.infra.files.atomic_path``); the snapshots that are not written yet
read as zeros. Separate byte ranges of one file are written by separate processes, which
needs a file system that keeps them apart (a local disk; on a cluster, a shared file
system with POSIX write semantics).
"""

from __future__ import annotations

import datetime as _dt
import os
import struct
from pathlib import Path

import numpy as np

from blocking.qg3.grid import GaussianGrid
from blocking.qg3.gridded import InputError

__all__ = ["GRAVITY", "OutputWriter", "REFERENCE_F0", "copy_snapshots", "create_output", "snapshot_count"]

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
STORED = np.dtype(">f4")
"""How the fields are stored: float32, big-endian (the byte order of every classic NetCDF format)."""


def create_output(
    path: Path, grid: GaussianGrid, members, levels_hpa, times_days: np.ndarray, attributes: dict | None = None
) -> None:
    """Make a QG3 output file for ``len(times_days)`` snapshots of ``members``, its fields still to be written.

    Args:
        path: the file (write it under a temporary name: ``atomic_path``).
        members: the member numbers (the ``member`` coordinate), ascending.
        times_days: the time of each snapshot, days after the spin-up.
        attributes: global attributes (source, simulation_config, ...) added to the CF ones.
    """
    import netCDF4

    path = Path(path)
    with netCDF4.Dataset(path, "w", format="NETCDF3_64BIT_DATA") as data:
        data.set_fill_off()  # the fields are written by the run's parts; unwritten bytes read as zeros
        data.Conventions = "CF-1.8"
        data.title = "Marshall-Molteni three-level quasi-geostrophic model (T21)"
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        data.history = f"{stamp} created by blocking.qg3 (SparseWorks)"
        for key, value in (attributes or {}).items():
            setattr(data, key, value)
        times_days = np.asarray(times_days, dtype=np.float64)
        sizes = dict(member=len(members), time=len(times_days), level=len(levels_hpa), lat=grid.nlat, lon=grid.nlon)
        for name, size in sizes.items():
            data.createDimension(name, size)
        coords = {
            "member": (np.asarray(members, dtype=np.int32), dict(long_name="ensemble member")),
            "time": (
                times_days,
                dict(
                    units="days since 2000-01-01 00:00:00",
                    calendar="noleap",
                    standard_name="time",
                    long_name="model time after spin-up",
                ),
            ),
            "level": (
                np.asarray(levels_hpa, dtype=np.float64),
                dict(units="hPa", standard_name="air_pressure", long_name="pressure level", positive="down"),
            ),
            "lat": (grid.lat, dict(units="degrees_north", standard_name="latitude", long_name="latitude")),
            "lon": (grid.lon, dict(units="degrees_east", standard_name="longitude", long_name="longitude")),
        }
        variables = {}
        for name, (values, attrs) in coords.items():  # the whole header first: no data moves afterwards
            variables[name] = data.createVariable(name, values.dtype, (name,))
            variables[name].setncatts(attrs)
        for name, spec in VARIABLES.items():
            data.createVariable(name, "f4", spec["dims"]).setncatts({k: v for k, v in spec.items() if k != "dims"})
        for name, (values, _) in coords.items():
            variables[name][:] = values
    end = max(begin + size for begin, size in _layout(path)[1].values())
    if path.stat().st_size < end:
        os.truncate(path, end)  # the unwritten fields: a sparse run of zeros, not a short file


class OutputWriter:
    """Write the snapshots of some members into a file made by :func:`create_output`, in place.

    Several writers (processes) may write the same file at once as long as their members
    differ: each write is a positioned write (``os.pwrite``) of one member's bytes.

    Args:
        path: the file.
        members: the member numbers this writer writes, in the order of the rows of
            the fields given to :meth:`write`.

    Raises:
        InputError: the file is not a QG3 output file of this layout, or lacks a member.
    """

    def __init__(self, path: Path, members) -> None:
        self.path = Path(path)
        self.members = [int(m) for m in members]
        self.descriptor = os.open(self.path, os.O_RDWR)
        try:
            sizes, self.places = _layout(self.path, self.descriptor)
            self.snapshots = sizes["time"]
            begin, _ = self.places["member"]
            stored = np.frombuffer(os.pread(self.descriptor, 4 * sizes["member"], begin), dtype=">i4")
            self.row_of = {int(member): row for row, member in enumerate(stored)}
            missing = [m for m in self.members if m not in self.row_of]
            if missing:
                raise InputError(f"{self.path}: holds no member {missing[0]} (members {stored.tolist()[:8]}…)")
            self.row_bytes = {name: self.places[name][1] // sizes["member"] for name in VARIABLES}
        except BaseException:
            os.close(self.descriptor)
            raise

    def write(self, index: int, fields: dict[str, np.ndarray]) -> None:
        """Write snapshot ``index`` of this writer's members.

        Shapes:
            psi, q: ``(members, level, lat, lon)``; z500: ``(members, lat, lon)``;
            energy, enstrophy: ``(members,)``.
        """
        self.write_block(index, {name: np.asarray(values)[:, None] for name, values in fields.items()})

    def write_block(self, start: int, fields: dict[str, np.ndarray], members=None) -> None:
        """Write snapshots ``start … start + t − 1`` (fields ``(member, t, ...)``) of ``members`` (default: the writer's)."""
        members = self.members if members is None else [int(m) for m in members]
        for name, values in fields.items():
            values = np.ascontiguousarray(values, dtype=STORED)
            count = values.shape[1]
            if start < 0 or start + count > self.snapshots or values.shape[0] != len(members):
                raise ValueError(
                    f"{self.path}: {name} snapshots {start}…{start + count - 1} of {values.shape[0]} members "
                    f"do not fit {self.snapshots} snapshots of {len(members)} members"
                )
            begin, _ = self.places[name]
            snapshot_bytes = self.row_bytes[name] // self.snapshots
            for member, member_values in zip(members, values):
                offset = begin + self.row_of[member] * self.row_bytes[name] + start * snapshot_bytes
                view = memoryview(member_values).cast("B")
                while view:  # pwrite may write fewer bytes than asked
                    written = os.pwrite(self.descriptor, view, offset)
                    view, offset = view[written:], offset + written

    def sync(self) -> None:
        """Flush what was written to the disk (before a checkpoint counts it as written)."""
        os.fsync(self.descriptor)

    def close(self) -> None:
        if self.descriptor >= 0:
            os.close(self.descriptor)
            self.descriptor = -1

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def snapshot_count(path: Path) -> tuple[int, np.ndarray]:
    """How many snapshots a QG3 NetCDF file holds, and its member numbers.

    Raises:
        InputError: the file cannot be read as QG3 output.
    """
    import netCDF4

    try:
        with netCDF4.Dataset(path, "r") as data:
            return int(data.dimensions["time"].size), np.asarray(data["member"][:])
    except Exception as error:  # noqa: BLE001 - a damaged or foreign file
        raise InputError(
            f"{path}: not a readable QG3 output file ({error}); give --restart to start the run over"
        ) from None


def copy_snapshots(source: Path, writer: OutputWriter, counts: dict[int, int], block: int = 64) -> None:
    """Copy the first ``counts[member]`` snapshots of each member from ``source`` (any QG3 NetCDF file).

    Used only when a run's output file is made anew: a run extended by a longer ``--years``.

    Args:
        writer: writes the new file (its members include those of ``counts``).
        counts: member number → how many of its snapshots to copy.
        block: snapshots read at a time.
    """
    import netCDF4

    with netCDF4.Dataset(source, "r") as data:
        data.set_auto_mask(False)
        rows = {int(member): row for row, member in enumerate(np.asarray(data["member"][:]))}
        for member, count in counts.items():
            row = rows[member]
            for start in range(0, count, block):
                stop = min(count, start + block)
                fields = {name: np.asarray(data[name][row : row + 1, start:stop]) for name in VARIABLES}
                writer.write_block(start, fields, members=[member])


_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
"""Bytes of each classic NetCDF external type (NC_BYTE = 1 … NC_UINT64 = 11)."""


def _layout(path: Path, descriptor: int | None = None) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """The dimension sizes and each variable's ``(begin, vsize)`` in bytes, read from a CDF-5 header.

    The header grammar of the CDF-5 format (Unidata, *The NetCDF File Format
    Specifications*): ``magic numrecs dim_list gatt_list var_list``, with 64-bit counts,
    dimension lengths, dimension ids, sizes and offsets, names and values padded to 4 bytes.

    Raises:
        InputError: not a CDF-5 file with the variables of QG3 output, each of 4-byte floats.
    """
    own = descriptor is None
    descriptor = os.open(path, os.O_RDONLY) if own else descriptor
    try:
        header = os.pread(descriptor, 1 << 20, 0)
    finally:
        if own:
            os.close(descriptor)
    position = 0

    def take(fmt: str):
        nonlocal position
        values = struct.unpack_from(fmt, header, position)
        position += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def name() -> str:
        nonlocal position
        length = take(">q")
        text = header[position : position + length].decode("utf-8")
        position += -(-length // 4) * 4
        return text

    def attributes() -> None:
        nonlocal position
        _, count = take(">iq")
        for _ in range(count):
            name()
            kind, values = take(">iq")
            position += -(-values * _TYPE_SIZES[kind] // 4) * 4

    try:
        if header[:4] != b"CDF\x05":
            raise ValueError("not the CDF-5 format")
        position = 12  # magic, numrecs
        _, count = take(">iq")
        dims = [(name(), take(">q")) for _ in range(count)]
        attributes()
        _, count = take(">iq")
        places = {}
        for _ in range(count):
            variable = name()
            ids = [take(">q") for _ in range(take(">q"))]
            attributes()
            kind, size, begin = take(">iqq")
            places[variable] = (begin, size, kind, tuple(dims[i][0] for i in ids))
    except (ValueError, KeyError, IndexError, struct.error, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a QG3 output file of this version ({error}); give --restart") from None
    sizes = dict(dims)
    for variable, spec in VARIABLES.items():
        begin, size, kind, shape = places.get(variable, (0, 0, 0, ()))
        if shape != spec["dims"] or kind != 5 or size != 4 * int(np.prod([sizes[d] for d in shape])):
            raise InputError(f"{path}: variable {variable!r} is not {spec['dims']} float32; give --restart")
    return sizes, {variable: (begin, size) for variable, (begin, size, _, _) in places.items()}
