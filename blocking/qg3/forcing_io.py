"""Roads' forcing from a climatology file to a forcing file (the library side of ``blocking forcing``)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from blocking.qg3.config import ForcingConfig
from blocking.qg3.grid import gaussian_grid
from blocking.qg3.inputs import InputError, read_forcing_file
from blocking.qg3.model import LEVELS_HPA
from blocking.qg3.roads import open_climatology, roads_forcing
from blocking.qg3.run import SimulationConfig, build_model
from blocking.qg3.runfiles import remove_partial_files
from sparse_core.infra.files import atomic_path

__all__ = ["FORCING_NAME", "ForcingConfig", "roads_forcing_file", "run_forcing", "write_forcing"]

FORCING_NAME = "forcing.nc"


def write_forcing(path: Path, forcing: np.ndarray, grid, source: str) -> Path:
    """Write ``forcing (level, lat, lon)`` as CF NetCDF, readable by ``simulate --forcing`` (atomically)."""
    import xarray as xr

    data = xr.Dataset(
        {
            "forcing": (
                ("level", "lat", "lon"),
                forcing,
                dict(units="s-2", long_name="time-independent potential vorticity source (Roads 1987)"),
            )
        },
        coords=dict(
            level=("level", np.asarray(LEVELS_HPA, dtype=float), dict(units="hPa", standard_name="air_pressure")),
            lat=("lat", grid.lat, dict(units="degrees_north", standard_name="latitude")),
            lon=("lon", grid.lon, dict(units="degrees_east", standard_name="longitude")),
        ),
        attrs=dict(
            Conventions="CF-1.8",
            source=source,
            history=f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} blocking.qg3 Roads forcing",
        ),
    )
    with atomic_path(path) as temporary:
        data.to_netcdf(temporary)
    return Path(path)


def roads_forcing_file(
    climatology: Path, out: Path, skip_days: int = 0, compare: Path | None = None, preset: str = "default"
) -> dict:
    """Compute Roads' forcing from ``climatology`` (ψ samples) for the model of ``preset``, write it to ``out``.

    The forcing depends on the model's operators (dissipation, orography scale), so each
    physics preset (:data:`blocking.qg3.config.PRESETS`) needs its own.

    Both input files are checked (coordinates, units, levels) before the model is built;
    ``out`` is written atomically (a reader never sees a part of it).

    Returns:
        Metrics: ``samples``, ``forcing`` (path), ``relative_rms_vs_reference`` — the relative
        rms difference between the T21 projections of the new forcing and of the comparison
        forcing (``compare`` or the reference forcing of data_t63).

    Raises:
        InputError: a climatology or comparison file that is missing or malformed (named),
            or a climatology whose forcing is not finite.
    """
    simulation = SimulationConfig(preset=preset)
    grid = gaussian_grid(simulation.model_config().nlat)
    with open_climatology(Path(climatology), grid, skip_days=skip_days) as samples:
        target = read_forcing_file(compare, grid) if compare else None
        model, _ = build_model(simulation)
        forcing = roads_forcing(model, (model.transform.to_spectral(block) for block in samples.blocks()))
        count = samples.samples
    bad = int(forcing.size - np.count_nonzero(np.isfinite(forcing)))
    if bad:
        raise InputError(
            f"{climatology}: the forcing of these psi samples has {bad} non-finite values "
            "(psi far outside the model's range?)"
        )
    write_forcing(out, forcing, grid, source=f"Roads forcing from {climatology} for the {preset} preset")
    if target is None:
        target = model.forcing.astype(np.float64)
    projected = model.transform.to_grid(model.transform.to_spectral(target))
    rms = float(np.sqrt(np.mean((forcing - projected) ** 2)) / np.sqrt(np.mean(projected**2)))
    return dict(samples=count, forcing=str(out), relative_rms_vs_reference=rms)


def run_forcing(config: ForcingConfig, folder: Path) -> dict:
    """``blocking forcing``: Roads' forcing from ``config.climatology`` into ``folder/forcing.nc``.

    Temporary files left in ``folder`` by a killed run are removed first.

    Returns:
        The metrics of :func:`roads_forcing_file`, with ``forcing`` named relative to ``folder``.

    Raises:
        InputError: a climatology or comparison file that is missing or malformed (named).
    """
    remove_partial_files(Path(folder))
    metrics = roads_forcing_file(
        config.climatology,
        Path(folder) / FORCING_NAME,
        skip_days=config.skip_days,
        compare=config.compare,
        preset=config.preset,
    )
    return {**metrics, "forcing": FORCING_NAME}
