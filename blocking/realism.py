"""How realistic the blocking of a QG3 run is: frequencies, low-frequency variability, onsets, mean state.

For each run (``output.nc`` of ``blocking simulate``):

- blocking frequency by longitude for Tibaldi & Molteni (1990) (GHGS > 0 and GHGN < −10 m
  per degree latitude around 60°N ± δ, :func:`blocking.events.tibaldi_molteni`) and for
  the simple reversal z500(65°N) > z500(50°N) (:func:`reversal_blocking`), with the
  largest frequency over the Euro-Atlantic longitudes (60°W–30°E) and where it is;
- the standard deviation of non-overlapping 10-day and 90-day means of z500 over the
  Euro-Atlantic sector (:func:`block_mean_std`);
- the onsets per 1,000 days of the Atlantic box index Z_B at M = 100 m and the percentile
  of Z_B that M is (:func:`blocking.events.find_events`, Zhang et al. 2024);
- the pattern correlation of the time-mean z500 with the NCEP/NCAR DJF climatology
  (Kalnay et al. 1996) regridded to the model grid, over the sector: of the sector
  anomalies from the zonal mean (each map minus its mean along each latitude circle of
  the sector: the ridges and troughs), and, less strict, of each map minus its area mean
  (the meridional gradient included) (:func:`pattern_correlation`).

Observed winter values for comparison: Euro-Atlantic Tibaldi–Molteni frequencies of about
10% of winter days (Tibaldi & Molteni 1990; Barriopedro et al. 2006); the model of Lucarini & Gritsun (2020) used by Zhang et al. (2024) gives about 71 onsets
per 1,000 days at M = 100 m.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from blocking.anomalies import AnomalyFields, qg3_fields
from blocking.events import (
    blocking_frequency,
    box_index,
    box_mask,
    find_events,
    interpolate_lat,
    lon_in_range,
    percentile_of_threshold,
)
from blocking.realism_config import RealismConfig
from sparse_core.infra.errors import InputError

__all__ = [
    "RealismConfig",
    "block_mean_std",
    "pattern_correlation",
    "realism_metrics",
    "reference_mean_z500",
    "reversal_blocking",
    "run_realism",
]

log = logging.getLogger(__name__)


def reversal_blocking(z500: np.ndarray, lat: np.ndarray, north: float = 65.0, south: float = 50.0) -> np.ndarray:
    """The simple meridional reversal: blocked where z500(north) > z500(south) (linear in latitude).

    Shapes:
        z500: full Z500 in metres, ``(..., lat, lon)`` → blocked, bool ``(..., lon)``.

    Raises:
        InputError: a latitude outside the grid.
    """
    z = interpolate_lat(np.asarray(z500, dtype=np.float64), lat, (north, south))
    return z[..., 0, :] > z[..., 1, :]


def _weights(lat: np.ndarray) -> np.ndarray:
    return np.cos(np.radians(np.asarray(lat, dtype=np.float64)))


def _sector(values: np.ndarray, lat: np.ndarray, lon: np.ndarray, sector) -> tuple[np.ndarray, np.ndarray]:
    """The values inside the sector ``(..., lat_in, lon_in)`` and the latitudes kept."""
    lat_in, lon_in = box_mask(lat, lon, sector)
    return values[..., lat_in, :][..., lon_in], np.asarray(lat)[lat_in]


def block_mean_std(
    z: np.ndarray, lat: np.ndarray, lon: np.ndarray, segment_start: np.ndarray, days: int, sector
) -> float:
    """Standard deviation of non-overlapping ``days``-day means of ``z`` over a sector, in the units of ``z``.

    Within each member and contiguous segment, consecutive days are averaged in blocks of
    ``days`` (an incomplete last block is dropped); each member's mean is removed; the
    variance over all blocks is taken at each grid point (no degrees-of-freedom
    correction) and the result is the square root of its cos(latitude)-weighted mean over
    the sector (the rms standard deviation of the sector).

    Shapes:
        z: ``(member, time, lat, lon)``; segment_start: ``(time,)``.

    Raises:
        InputError: no segment holds a whole block of ``days`` days.
    """
    inside, kept_lat = _sector(np.asarray(z, dtype=np.float64), lat, lon, sector)
    starts = np.flatnonzero(np.asarray(segment_start, dtype=bool))
    ends = np.append(starts[1:], inside.shape[1])
    means = []
    for start, end in zip(starts, ends):
        blocks = (end - start) // days
        if blocks:
            part = inside[:, start : start + blocks * days]
            means.append(part.reshape(part.shape[0], blocks, days, *part.shape[2:]).mean(axis=2))
    if not means:
        raise InputError(f"no stretch of the input is {days} days long: cannot form {days}-day means")
    block_means = np.concatenate(means, axis=1)  # (member, block, lat, lon)
    anomalies = block_means - block_means.mean(axis=1, keepdims=True)
    variance = (anomalies**2).mean(axis=(0, 1))  # (lat, lon)
    weights = _weights(kept_lat)[:, None] * np.ones_like(variance)
    return float(np.sqrt((variance * weights).sum() / weights.sum()))


def pattern_correlation(model: np.ndarray, reference: np.ndarray, lat: np.ndarray, centre: str = "sector") -> float:
    """cos(latitude)-weighted, centred pattern correlation of two maps on the same grid.

    Args:
        model, reference: ``(lat, lon)`` maps (e.g. the time-mean z500 over a sector).
        lat: their latitudes in degrees.
        centre: ``"sector"``: each map minus its area mean (the sector anomaly);
            ``"zonal"``: each map minus its zonal mean at every latitude (the eddies:
            ridges and troughs only).

    Returns:
        The correlation in [−1, 1].
    """
    weights = _weights(lat)[:, None] * np.ones(np.shape(model))

    def centred(field: np.ndarray) -> np.ndarray:
        field = np.asarray(field, dtype=np.float64)
        if centre == "zonal":
            return field - field.mean(axis=-1, keepdims=True)
        if centre == "sector":
            return field - (field * weights).sum() / weights.sum()
        raise ValueError(f"centre must be 'sector' or 'zonal', got {centre!r}")

    a, b = centred(model), centred(reference)
    covariance = (weights * a * b).sum()
    return float(covariance / np.sqrt((weights * a * a).sum() * (weights * b * b).sum()))


def reference_mean_z500(path: Path | None, nlat: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The time mean of an observed z500 file, bilinearly regridded to the model's Gaussian grid.

    Args:
        path: a reanalysis NetCDF (read by :func:`blocking.reanalysis.read_geopotential_height`);
            None: the NCEP/NCAR DJF means 1948–2012 (dataset ``ncep_z500_djf``, fetched
            into the data cache on first use).
        nlat: Gaussian latitudes of the model grid.

    Returns:
        ``(mean, lat, lon)``: the mean in metres ``(lat, lon)`` on the part of the model grid
        the file covers (:func:`blocking.reanalysis.regrid_to_gaussian`), its latitudes and
        longitudes.

    Raises:
        InputError: the file is missing or not a geopotential height file (named).
    """
    from blocking.reanalysis import read_geopotential_height, regrid_to_gaussian

    if path is None:
        from sparse_core.infra.io import fetch

        path = fetch("ncep_z500_djf").path / "hgt_djf.nc"
    gridded = regrid_to_gaussian(read_geopotential_height([Path(path)], levels_hpa=(500.0,)), nlat)
    mean = gridded.isel(level=0).mean(dim=("member", "time")).transpose("lat", "lon")
    return mean.to_numpy(), gridded["lat"].to_numpy(), gridded["lon"].to_numpy()


def _on_reference_grid(field: np.ndarray, lat: np.ndarray, lon: np.ndarray, ref_lat, ref_lon) -> np.ndarray:
    """``field (lat, lon)`` at the reference grid's points (a subset of the model grid)."""
    rows = [int(np.flatnonzero(np.isclose(lat, value, atol=1e-6))[0]) for value in ref_lat]
    columns = [int(np.flatnonzero(np.isclose(np.mod(lon, 360.0), np.mod(v, 360.0), atol=1e-6))[0]) for v in ref_lon]
    return field[np.ix_(rows, columns)]


def _largest(frequency: np.ndarray, lon: np.ndarray, west: float, east: float) -> tuple[float, float]:
    """The largest frequency over longitudes west…east and its longitude in −180…180 degrees east."""
    inside = np.flatnonzero(lon_in_range(lon, west, east))
    best = inside[int(np.argmax(frequency[inside]))]
    return float(frequency[best]), float((lon[best] + 180.0) % 360.0 - 180.0)


def realism_metrics(fields: AnomalyFields, config: RealismConfig, reference=None) -> tuple[dict, dict]:
    """The realism measures of one run's fields.

    Args:
        fields: Z′ and Z500 of the run (:func:`blocking.anomalies.qg3_fields`).
        config: what to measure.
        reference: ``(mean, lat, lon)`` of :func:`reference_mean_z500`, or None (no
            pattern correlation).

    Returns:
        ``(metrics, by_longitude)``: the scalar measures (``tm_max_frequency``, ``tm_max_lon``,
        ``reversal_max_frequency``, ``reversal_max_lon``, ``std_<n>day_mean_m``,
        ``onsets_per_1000_days``, ``threshold_m``, ``threshold_percentile``,
        ``pattern_correlation`` (anomalies from the sector's zonal mean),
        ``pattern_correlation_with_zonal_mean`` (anomalies from the area mean), ``days``, ``members``;
        frequencies as fractions of days, longitudes in degrees east) and the frequencies
        by longitude (``tm``, ``reversal``, ``box``, ``persistent_tm``, shape ``(lon,)``).
    """
    index_config = config.index
    threshold = index_config.threshold_m
    frequency = blocking_frequency(
        fields,
        threshold,
        index_config.box,
        config.persistence_days,
        index_config.tm_delta,
        index_config.tm_gradient,
    )
    north, south = config.reversal_lat
    reversal = reversal_blocking(fields.z500, fields.lat, north, south).mean(axis=(0, 1))
    west, east = config.frequency_lon
    tm_max, tm_lon = _largest(frequency["tm"], fields.lon, west, east)
    reversal_max, reversal_lon = _largest(reversal, fields.lon, west, east)
    index = box_index(fields.zprime[:, :, fields.level500], fields.lat, fields.lon, index_config.box)
    events = find_events(index, threshold, fields.segment_start)
    metrics = {
        "tm_max_frequency": tm_max,
        "tm_max_lon": tm_lon,
        "reversal_max_frequency": reversal_max,
        "reversal_max_lon": reversal_lon,
    }
    for days in config.mean_days:
        metrics[f"std_{days}day_mean_m"] = block_mean_std(
            fields.z500, fields.lat, fields.lon, fields.segment_start, days, config.sector
        )
    metrics.update(
        onsets_per_1000_days=1000.0 * len(events) / index.size,
        onsets=len(events),
        threshold_m=float(threshold),
        threshold_percentile=percentile_of_threshold(index, threshold),
        days=int(index.size),
        members=int(index.shape[0]),
    )
    if reference is not None:
        ref_mean, ref_lat, ref_lon = reference
        model_mean = _on_reference_grid(fields.z500.mean(axis=(0, 1)), fields.lat, fields.lon, ref_lat, ref_lon)
        model_sector, kept_lat = _sector(model_mean, ref_lat, ref_lon, config.sector)
        ref_sector, _ = _sector(ref_mean, ref_lat, ref_lon, config.sector)
        metrics["pattern_correlation"] = pattern_correlation(model_sector, ref_sector, kept_lat, "zonal")
        metrics["pattern_correlation_with_zonal_mean"] = pattern_correlation(
            model_sector, ref_sector, kept_lat, "sector"
        )
    by_longitude = {"tm": frequency["tm"], "reversal": reversal, "box": frequency["box"]}
    by_longitude["persistent_tm"] = frequency["persistent_tm"]
    return metrics, by_longitude


def _labels(config: RealismConfig) -> list[str]:
    if config.labels:
        return list(config.labels)
    labels = [Path(p).resolve().parent.name or Path(p).stem for p in config.inputs]
    if len(set(labels)) != len(labels):  # two runs in folders of the same name: number them
        labels = [f"{label}-{k}" for k, label in enumerate(labels)]
    return labels


def run_realism(config: RealismConfig, folder: Path, progress: bool = False) -> dict:
    """``blocking realism``: the realism measures of each input run, a table and a figure.

    Writes ``realism.csv`` (one row per run: the measures of :func:`realism_metrics`),
    ``frequency_by_longitude.csv`` (Tibaldi–Molteni, reversal and box-index frequencies
    of each run) and, with ``config.figure``, ``blocking_frequency.png`` into ``folder``.

    Returns:
        Metrics: ``runs`` (label -> the measures of :func:`realism_metrics`),
        ``reference`` (the observed climatology compared with) and ``files``.

    Raises:
        InputError: an input that is not QG3 output, or on another grid than the first.
    """
    from tqdm.auto import tqdm

    folder = Path(folder)
    labels = _labels(config)
    reference, reference_lon = None, None
    runs, by_longitude = {}, {}
    for label, path in tqdm(list(zip(labels, config.inputs)), disable=not progress, desc="realism", unit="run"):
        fields = qg3_fields(Path(path), config.index)
        if reference is None:
            reference = reference_mean_z500(config.reference, fields.lat.size)
            reference_lon = fields.lon
        elif fields.lon.size != reference_lon.size or not np.allclose(fields.lon, reference_lon):
            raise InputError(f"{path}: on another grid than {config.inputs[0]} ({fields.lon.size} longitudes)")
        runs[label], by_longitude[label] = realism_metrics(fields, config, reference)
        log.info("%s: %s", label, runs[label])
        del fields
    from blocking.realism_files import plot_frequency, write_tables

    files = write_tables(folder, runs, reference_lon, by_longitude)
    if config.figure:
        plot_frequency(folder / "blocking_frequency.png", reference_lon, by_longitude, config.frequency_lon)
        files.append("blocking_frequency.png")
    source = str(config.reference) if config.reference else "ncep_z500_djf (NCEP/NCAR DJF means 1948-2012)"
    return {"runs": runs, "reference": source, "files": files}
