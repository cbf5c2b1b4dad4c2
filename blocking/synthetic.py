"""Synthetic QG3-layout runs with planted blocks whose persistence has a known precursor.

For tests, demos and smoke runs of the blocking pipeline at seconds' scale (the real
pipeline runs on ``blocking simulate`` output). The fields are red noise (AR(1) in time,
smoothed in space) plus planted highs over the index box (60–64°N, 0°E). A block lasts
long when a precursor high sits over the western Atlantic (45°N, 70°W) on its onset day
and short otherwise, with a given probability of exceptions; so a network that learns
the precursor predicts persistence, and its SHAP composite points at the precursor.
The file has the layout of :class:`blocking.qg3.output.OutputWriter`: ``psi (member,
time, level, lat, lon)`` in m² s⁻¹ on the T21 Gaussian grid, time in days.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blocking.anomalies import GRAVITY, coriolis_parameter

__all__ = ["PRECURSOR", "synthetic_qg3_file", "synthetic_z"]

PRECURSOR = (45.0, 290.0)
"""Latitude and longitude (degrees) of the planted precursor of long blocks."""
BLOCK = (62.0, 0.0)


def _bump(lat: np.ndarray, lon: np.ndarray, centre: tuple[float, float], width_deg: float) -> np.ndarray:
    """A Gaussian bump of height 1 around ``centre`` on the grid, ``(lat, lon)``."""
    dlon = (lon[None, :] - centre[1] + 180.0) % 360.0 - 180.0
    dlat = lat[:, None] - centre[0]
    return np.exp(-(dlat**2 + (dlon * np.cos(np.radians(centre[0]))) ** 2) / (2 * width_deg**2))


def synthetic_z(
    days: int,
    members: int,
    rng: np.random.Generator,
    lat: np.ndarray,
    lon: np.ndarray,
    noise_m: float = 40.0,
    block_m: float = 170.0,
    precursor_m: float = 150.0,
    onset_rate_per_day: float = 0.06,
    exceptions: float = 0.1,
) -> tuple[np.ndarray, list[dict]]:
    """Z in metres at 3 levels with planted blocks, and the list of planted blocks.

    Returns:
        ``(z (member, time, 3, lat, lon), blocks)``; each block has ``member``, ``onset``,
        ``days``, ``precursor``.
    """
    from scipy.ndimage import gaussian_filter
    from scipy.signal import lfilter

    shape = (members, days, 3, lat.size, lon.size)
    z = np.empty(shape, dtype=np.float32)
    high = _bump(lat, lon, BLOCK, 6.0)
    precursor = _bump(lat, lon, PRECURSOR, 7.0)
    level_scale = np.array([1.3, 1.0, 0.7])[:, None, None]
    blocks = []
    for member in range(members):
        shocks = gaussian_filter(
            rng.standard_normal(shape[1:]), sigma=(0, 0, 1.5, 2.0), mode=("nearest", "nearest", "nearest", "wrap")
        )
        z[member] = noise_m * 4.0 * lfilter([1.0], [1.0, -0.8], shocks, axis=0)  # AR(1), lag-1 correlation 0.8
        day = int(rng.integers(5, 15))
        while day < days - 15:
            has_precursor = bool(rng.random() < 0.35)
            long = has_precursor != bool(rng.random() < exceptions)
            length = int(rng.integers(8, 13)) if long else int(rng.integers(1, 3))
            envelope = np.ones(length)
            z[member, day : day + length] += block_m * envelope[:, None, None, None] * level_scale * high
            if has_precursor:
                z[member, day - 2 : day + 2] += precursor_m * level_scale * precursor
            blocks.append({"member": member, "onset": day, "days": length, "precursor": has_precursor})
            day += length + 3 + int(rng.exponential(1.0 / onset_rate_per_day))
    return z + 5500.0, blocks


def synthetic_qg3_file(
    path: Path, days: int = 600, members: int = 1, seed: int = 0, f0_latitude: float = 60.0, **kwargs
) -> list[dict]:
    """Write a synthetic run in the QG3 output layout (``psi`` with f0 at ``f0_latitude``).

    Returns:
        The planted blocks (see :func:`synthetic_z`).
    """
    import xarray as xr

    from blocking.qg3.grid import gaussian_grid

    grid = gaussian_grid(32)
    z, blocks = synthetic_z(days, members, np.random.default_rng(seed), grid.lat, grid.lon, **kwargs)
    psi = (z * (GRAVITY / coriolis_parameter(f0_latitude))).astype(np.float32)
    data = xr.Dataset(
        {
            "psi": (
                ("member", "time", "level", "lat", "lon"),
                psi,
                {"units": "m2 s-1", "standard_name": "atmosphere_horizontal_streamfunction"},
            )
        },
        coords={
            "member": np.arange(members, dtype=np.int32),
            "time": ("time", np.arange(days, dtype=np.float64), {"units": "days"}),
            "level": ("level", np.array([200.0, 500.0, 800.0]), {"units": "hPa"}),
            "lat": ("lat", grid.lat, {"units": "degrees_north"}),
            "lon": ("lon", grid.lon, {"units": "degrees_east"}),
        },
        attrs={"Conventions": "CF-1.8", "source": "blocking.qg3 (synthetic: blocking.synthetic)"},
    )
    data.to_netcdf(path)
    return blocks
