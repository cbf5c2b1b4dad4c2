"""Roads' (1987) time-independent forcing from a climatology of streamfunction samples.

For a stationary climate ``0 = −J(ψ̄, q̄) − ⟨J(ψ′, q′)⟩ − D(ψ̄) + S``; since the unforced
tendency ``F₀(q) = −J(ψ, q) − D(ψ)`` is quadratic + linear in the state,
``S = J(ψ̄, q̄) + ⟨J(ψ′, q′)⟩ + D(ψ̄) = −⟨F₀(q)⟩`` — the sample mean of the model's own
unforced tendency (Roads 1987, J. Atmos. Sci. 44; as used by QG3.jl with ERA5 DJF).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blocking.qg3.gridded import GriddedField, InputError, locate_field, open_netcdf
from blocking.qg3.model import QG3Model

__all__ = ["Climatology", "open_climatology", "read_climatology", "roads_forcing"]


def roads_forcing(model: QG3Model, spec_psi_samples, chunk: int = 256) -> np.ndarray:
    """S on the model grid from samples of ψ.

    Args:
        model: a model (its own forcing is ignored).
        spec_psi_samples: iterable of spectral ψ arrays ``(samples, 3, T + 1, T + 1)``.
        chunk: unused when an iterable of chunks is given (kept for arrays, split by it).

    Returns:
        The forcing, shape ``(3, nlat, nlon)`` in 1/s².
    """
    if isinstance(spec_psi_samples, np.ndarray):
        spec_psi_samples = [spec_psi_samples[i : i + chunk] for i in range(0, len(spec_psi_samples), chunk)]
    total, count = 0.0, 0
    saved = model.forcing
    model.forcing = np.zeros_like(saved)
    try:
        for spec_psi in spec_psi_samples:
            spec_q = model.q_from_streamfunction(spec_psi)
            total = total + model.tendency(spec_q.astype(model.transform.complex_dtype)).sum(axis=0)
            count += spec_psi.shape[0]
    finally:
        model.forcing = saved
    if count == 0:
        raise ValueError("no samples given")
    return model.transform.to_grid(-total / count)


@dataclass(frozen=True)
class Climatology:
    """The ψ samples of a climatology file, located and checked, read in blocks on the model grid.

    Attributes:
        field: ψ with its axes identified (:func:`blocking.qg3.gridded.locate_field`).
        skip: leading time steps of each series dropped (the spin-up).
        time_order: the time steps in increasing time (None: already in order).
    """

    field: GriddedField
    skip: int
    time_order: np.ndarray | None

    @property
    def samples(self) -> int:
        """The number of ψ samples (every leading dimension counted, the skipped times left out)."""
        lead = self.field.lead_shape
        if not lead:
            return 1
        return int(np.prod(lead[:-1], dtype=np.int64)) * max(0, lead[-1] - self.skip)

    def blocks(self, chunk: int = 365) -> Iterator[np.ndarray]:
        """ψ on the model grid in m² s⁻¹, ``chunk`` samples at most per block, shape ``(n, 3, nlat, nlon)``."""
        field = self.field
        lead = field.lead_shape
        if not lead:
            yield field.block({})[None]
            return
        outer_dims, last = field.lead_dims[:-1], field.lead_dims[-1]
        for outer in np.ndindex(*lead[:-1]):
            for start in range(self.skip, lead[-1], chunk):
                stop = min(start + chunk, lead[-1])
                steps = slice(start, stop) if self.time_order is None else self.time_order[start:stop]
                block = field.block({**dict(zip(outer_dims, outer)), last: steps})
                yield block.reshape(-1, *block.shape[-3:])


@contextlib.contextmanager
def open_climatology(path: Path, grid, skip_days: int = 0) -> Iterator[Climatology]:
    """Open ``psi (…, time, level, lat, lon)`` of a NetCDF file, its axes found by coordinates and units.

    Any dimensions besides level, lat and lon (e.g. ``member``, ``time``) are samples;
    ``skip_days`` leading steps of the time axis (in increasing time) are dropped. ψ is
    converted to m² s⁻¹ from its ``units`` (e.g. ``km2 s-1``); latitudes, longitudes and
    levels are put in the model's order by their values.

    Raises:
        InputError: missing file / variable, another grid or levels, no or wrong units, no
            time axis to skip days along, no samples left (named).
    """
    from blocking.qg3.model import LEVELS_HPA

    path = Path(path)
    with open_netcdf(path, "climatology file") as data:
        field = locate_field(
            data, path, "psi", "m2 s-1", grid, LEVELS_HPA, standard_name="atmosphere_horizontal_streamfunction"
        )
        time_order = None
        if field.time_dim is not None and field.time_dim in data.coords:
            try:
                times = np.asarray(data[field.time_dim].to_numpy(), dtype=np.float64)
            except Exception:  # noqa: BLE001 - a time coordinate that is not numbers: keep the stored order
                times = None
            if times is not None and times.size > 1 and not (np.diff(times) > 0).all():
                if not np.isfinite(times).all():
                    raise InputError(f"{path}: the time coordinate {field.time_dim!r} holds NaN or infinite values")
                time_order = np.argsort(times, kind="stable")
        if skip_days and field.time_dim is None:
            raise InputError(f"{path}: variable {field.name!r} has no time axis to skip {skip_days} days along")
        climatology = Climatology(field=field, skip=int(skip_days), time_order=time_order)
        if climatology.samples == 0:
            raise InputError(
                f"{path}: no samples of {field.name!r} left after skipping {skip_days} days "
                f"(the file holds {field.lead_shape[-1] if field.lead_shape else 1} time steps)"
            )
        yield climatology


def read_climatology(path: Path, model: QG3Model, chunk: int = 365, skip_days: int = 0):
    """Yield spectral ψ chunks from ``psi (…, time, level, lat, lon)`` in a NetCDF file (:func:`open_climatology`).

    Raises:
        InputError: missing file / variable, wrong grid, units or levels, non-finite values (named).
    """
    with open_climatology(path, model.transform.grid, skip_days=skip_days) as climatology:
        for block in climatology.blocks(chunk):
            yield model.transform.to_spectral(block)
