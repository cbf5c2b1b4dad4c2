"""Roads' (1987) time-independent forcing from a climatology of streamfunction samples.

For a stationary climate ``0 = −J(ψ̄, q̄) − ⟨J(ψ′, q′)⟩ − D(ψ̄) + S``; since the unforced
tendency ``F₀(q) = −J(ψ, q) − D(ψ)`` is quadratic + linear in the state,
``S = J(ψ̄, q̄) + ⟨J(ψ′, q′)⟩ + D(ψ̄) = −⟨F₀(q)⟩`` — the sample mean of the model's own
unforced tendency (Roads 1987, J. Atmos. Sci. 44; as used by QG3.jl with ERA5 DJF).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blocking.qg3.inputs import InputError, check_field, open_netcdf
from blocking.qg3.model import QG3Model

__all__ = ["read_climatology", "roads_forcing"]


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


def read_climatology(path: Path, model: QG3Model, chunk: int = 365, skip_days: int = 0):
    """Yield spectral ψ chunks from ``psi (…, time, level, lat, lon)`` in a NetCDF file.

    Any leading dimensions (e.g. ``member``) are treated as more samples.

    Raises:
        InputError: missing file / variable, wrong grid or non-finite values (named).
    """
    path = Path(path)
    data = open_netcdf(path, "climatology file")
    if "psi" not in data:
        data.close()
        raise InputError(f"{path}: variable 'psi' (streamfunction, m2 s-1, dims ... level lat lon) missing; "
                         f"found {sorted(data.data_vars)}")
    psi = data["psi"]
    if skip_days and "time" in psi.dims:
        psi = psi.isel(time=slice(skip_days, None))
    grid = model.transform.grid
    expected = (3, grid.nlat, grid.nlon)
    if tuple(psi.shape[-3:]) != expected:
        data.close()
        raise InputError(f"{path}: variable 'psi' has trailing shape {tuple(psi.shape[-3:])}, expected {expected} "
                         "(3 levels on the T21 32 × 64 Gaussian grid)")
    values = psi.to_numpy().reshape(-1, *expected)
    data.close()
    if len(values) == 0:
        raise InputError(f"{path}: no samples of 'psi' left after skipping {skip_days} days")
    for start in range(0, len(values), chunk):
        block = check_field(values[start : start + chunk], (min(chunk, len(values) - start), *expected),
                            path=path, variable="psi")
        yield model.transform.to_spectral(block)
