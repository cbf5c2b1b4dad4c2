"""Roads' forcing from a climatology file to a forcing file (the library side of ``blocking forcing``)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from blocking.qg3.config import ForcingConfig
from blocking.qg3.inputs import read_forcing_file
from blocking.qg3.model import LEVELS_HPA
from blocking.qg3.roads import read_climatology, roads_forcing
from blocking.qg3.run import SimulationConfig, build_model

__all__ = ["FORCING_NAME", "ForcingConfig", "roads_forcing_file", "run_forcing", "write_forcing"]

FORCING_NAME = "forcing.nc"


def write_forcing(path: Path, forcing: np.ndarray, grid, source: str) -> Path:
    """Write ``forcing (level, lat, lon)`` as CF NetCDF, readable by ``simulate --forcing``."""
    import xarray as xr

    data = xr.Dataset(
        {"forcing": (("level", "lat", "lon"), forcing,
                     dict(units="s-2", long_name="time-independent potential vorticity source (Roads 1987)"))},
        coords=dict(level=("level", np.asarray(LEVELS_HPA, dtype=float), dict(units="hPa", standard_name="air_pressure")),
                    lat=("lat", grid.lat, dict(units="degrees_north", standard_name="latitude")),
                    lon=("lon", grid.lon, dict(units="degrees_east", standard_name="longitude"))),
        attrs=dict(Conventions="CF-1.8", source=source,
                   history=f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} blocking.qg3 Roads forcing"),
    )
    data.to_netcdf(path)
    return Path(path)


def roads_forcing_file(climatology: Path, out: Path, skip_days: int = 0, compare: Path | None = None) -> dict:
    """Compute Roads' forcing from ``climatology`` (ψ samples), write it to ``out``, compare it.

    Returns:
        Metrics: ``samples``, ``forcing`` (path), ``relative_rms_vs_reference`` — the relative
        rms difference between the T21 projections of the new forcing and of the comparison
        forcing (``compare`` or the reference forcing of data_t63).
    """
    model, _ = build_model(SimulationConfig())
    grid = model.transform.grid
    count = 0

    def chunks():
        nonlocal count
        for chunk in read_climatology(Path(climatology), model, skip_days=skip_days):
            count += chunk.shape[0]
            yield chunk

    forcing = roads_forcing(model, chunks())
    write_forcing(out, forcing, grid, source=f"Roads forcing from {climatology}")
    target = read_forcing_file(compare, grid) if compare else model.forcing.astype(np.float64)
    projected = model.transform.to_grid(model.transform.to_spectral(target))
    rms = float(np.sqrt(np.mean((forcing - projected) ** 2)) / np.sqrt(np.mean(projected**2)))
    return dict(samples=count, forcing=str(out), relative_rms_vs_reference=rms)


def run_forcing(config: ForcingConfig, folder: Path) -> dict:
    """``blocking forcing``: Roads' forcing from ``config.climatology`` into ``folder/forcing.nc``.

    Returns:
        The metrics of :func:`roads_forcing_file`, with ``forcing`` named relative to ``folder``.

    Raises:
        InputError: a climatology or comparison file that is missing or malformed (named).
    """
    metrics = roads_forcing_file(config.climatology, Path(folder) / FORCING_NAME, skip_days=config.skip_days,
                                 compare=config.compare)
    return {**metrics, "forcing": FORCING_NAME}
