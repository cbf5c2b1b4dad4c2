"""The Atlantic blocking index, its onsets and durations, Tibaldi–Molteni, frequencies, a catalogue.

The index of Zhang et al. (2024) (the authors' protocol, hzhang-math/BlockingSHAPTL,
``MM_utilblocking.compute_T``): Z_B(t) is the mean of Z′500 over a box (60–64°N,
4°W–4°E), here weighted by cos(latitude). A block is a run of consecutive days with
Z_B ≥ M; its onset is its first day, which must follow a day with Z_B < M in the same
member and segment, and its duration is the length of the run. A run still going on the
last day of a segment has an unknown (right-censored) duration.

Tibaldi & Molteni (1990, Tellus 42A): at each longitude, GHGS = (Z(φ0) − Z(φS)) / (φ0 − φS)
and GHGN = (Z(φN) − Z(φ0)) / (φN − φ0) with φN = 80°N + Δ, φ0 = 60°N + Δ, φS = 40°N + Δ,
Δ ∈ {−δ, 0, +δ}; blocked when GHGS > 0 and GHGN < −10 m per degree for some Δ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blocking.anomalies import AnomalyFields, load_fields
from blocking.config import EventsConfig
from sparse_core.infra.errors import InputError

__all__ = [
    "EventTable",
    "blocking_frequency",
    "box_index",
    "box_mask",
    "find_events",
    "interpolate_lat",
    "lon_in_range",
    "percentile_of_threshold",
    "resolve_threshold",
    "run_events",
    "threshold_at_percentile",
    "tibaldi_molteni",
]

log = logging.getLogger(__name__)
CATALOGUE_COLUMNS = (
    "member",
    "onset",
    "end",
    "duration_days",
    "censored",
    "peak_m",
    "onset_value_m",
    "centroid_lat",
    "centroid_lon",
    "onset_time",
    "end_time",
)


def lon_in_range(lon: np.ndarray, west: float, east: float) -> np.ndarray:
    """Longitudes within [west, east] going east, whatever the grid's convention (0–360 or ±180)."""
    width = 360.0 if east - west >= 360.0 else (east - west) % 360.0
    return ((np.asarray(lon, dtype=np.float64) - west) % 360.0) <= width + 1e-9


def box_mask(lat: np.ndarray, lon: np.ndarray, box) -> tuple[np.ndarray, np.ndarray]:
    """Which latitudes and longitudes fall in ``box`` = (south, north, west, east) degrees.

    Coordinates may be in any order; longitudes on 0–360 or −180–180; a box whose west
    edge exceeds its east edge, or that crosses 0° on a 0–360 grid, wraps around.

    Raises:
        InputError: the box holds no grid point.
    """
    south, north, west, east = box
    lat_in = (np.asarray(lat) >= south - 1e-9) & (np.asarray(lat) <= north + 1e-9)
    lon_in = lon_in_range(lon, west, east)
    if not lat_in.any() or not lon_in.any():
        raise InputError(
            f"the box {south:g}-{north:g}N, {west:g}-{east:g}E holds no grid point (latitudes "
            f"{np.min(lat):.2f} … {np.max(lat):.2f}, {len(lon)} longitudes); widen it"
        )
    return lat_in, lon_in


def box_index(zprime500: np.ndarray, lat: np.ndarray, lon: np.ndarray, box) -> np.ndarray:
    """Z_B: the cos(latitude)-weighted mean of Z′500 over the box.

    Shapes:
        zprime500: ``(..., lat, lon)`` → ``(...)``.
    """
    lat_in, lon_in = box_mask(lat, lon, box)
    weights = np.cos(np.radians(np.asarray(lat, dtype=np.float64)[lat_in]))
    inside = zprime500[..., lat_in, :][..., lon_in]
    return (inside.mean(axis=-1) * weights).sum(axis=-1) / weights.sum()


def threshold_at_percentile(index: np.ndarray, percentile: float) -> float:
    """The threshold M with ``percentile`` % of the index values below it (the inverse of the next).

    M is the smallest index value with at least ``percentile`` % of the values below it,
    so that ``percentile_of_threshold(index, threshold_at_percentile(index, p)) ≥ p`` (equal
    up to one value's share) and the days with Z_B ≥ M are the same as for the M in metres
    whose percentile was asked for.
    """
    values = np.sort(np.asarray(index, dtype=np.float64).ravel())
    below = int(np.ceil(percentile / 100.0 * values.size - 1e-9))
    if below >= values.size:  # every value below M: any M above the largest value
        return float(np.nextafter(values[-1], np.inf))
    return float(values[below])


def percentile_of_threshold(index: np.ndarray, threshold_m: float) -> float:
    """The percentile of M: the share of index values below M, in % (inverse of the above)."""
    return float(100.0 * np.mean(np.asarray(index) < threshold_m))


def resolve_threshold(index: np.ndarray, threshold_m: float, threshold_percentile: float | None) -> float:
    """M in metres: ``threshold_m``, or the index's ``threshold_percentile`` when one is given."""
    if threshold_percentile is None:
        return float(threshold_m)
    return threshold_at_percentile(index, threshold_percentile)


@dataclass(frozen=True)
class EventTable:
    """Blocking events, one row per run of days with Z_B ≥ M (left-censored runs excluded).

    Attributes:
        member: member position (0 … members−1), ``(event,)``.
        onset: time index of the first day, ``(event,)``.
        end: time index of the last day, ``(event,)``.
        duration: days with Z_B ≥ M, ``(event,)``.
        censored: the run reaches the end of its segment (its true duration may be longer).
        peak: largest Z_B during the event in metres, ``(event,)``.
        threshold_m: M.
    """

    member: np.ndarray
    onset: np.ndarray
    end: np.ndarray
    duration: np.ndarray
    censored: np.ndarray
    peak: np.ndarray
    threshold_m: float

    def __len__(self) -> int:
        return int(self.onset.size)

    def persistent(self, persistence_days: int) -> np.ndarray:
        """Label of each event: lasts at least D days (a censored run shorter than D has no label: −1)."""
        label = (self.duration >= persistence_days).astype(np.int64)
        label[self.censored & (self.duration < persistence_days)] = -1
        return label


def find_events(index: np.ndarray, threshold_m: float, segment_start: np.ndarray) -> EventTable:
    """Onsets and durations of runs of Z_B ≥ M, per member and segment.

    An onset is a day with Z_B ≥ M after a day with Z_B < M of the same member and segment
    (a run that begins on a segment's first day has no observed onset and is left out).

    Shapes:
        index: ``(member, time)``; segment_start: ``(time,)``.
    """
    index = np.atleast_2d(np.asarray(index, dtype=np.float64))
    segment_start = np.asarray(segment_start, dtype=bool)
    segment_end = np.append(segment_start[1:], True)
    rows = {name: [] for name in ("member", "onset", "end", "duration", "censored", "peak")}
    for member, series in enumerate(index):
        above = series >= threshold_m
        previous_below = np.concatenate([[False], ~above[:-1]]) & ~segment_start
        onsets = np.flatnonzero(above & previous_below)
        # the run ends at the first day below M or at the segment's end, whichever comes first
        stops = np.flatnonzero(~above | segment_end)
        for onset in onsets:
            stop = stops[np.searchsorted(stops, onset)]
            end = stop if (above[stop] and segment_end[stop]) else stop - 1
            rows["member"].append(member)
            rows["onset"].append(onset)
            rows["end"].append(end)
            rows["duration"].append(end - onset + 1)
            rows["censored"].append(bool(above[stop] and segment_end[stop]))
            rows["peak"].append(series[onset : end + 1].max())
    as_int = {k: np.asarray(rows[k], dtype=np.int64) for k in ("member", "onset", "end", "duration")}
    return EventTable(
        **as_int,
        censored=np.asarray(rows["censored"], dtype=bool),
        peak=np.asarray(rows["peak"], dtype=np.float64),
        threshold_m=float(threshold_m),
    )


def interpolate_lat(z: np.ndarray, lat: np.ndarray, targets) -> np.ndarray:
    """Z linearly interpolated in latitude, ``(..., lat, lon)`` → ``(..., target, lon)``."""
    order = np.argsort(lat)
    lat_sorted = np.asarray(lat, dtype=np.float64)[order]
    z_sorted = np.take(z, order, axis=-2)
    out = []
    for target in targets:
        if not lat_sorted[0] <= target <= lat_sorted[-1]:
            raise InputError(
                f"Tibaldi-Molteni needs latitude {target:g}N, outside the grid "
                f"({lat_sorted[0]:.2f} … {lat_sorted[-1]:.2f})"
            )
        upper = int(np.clip(np.searchsorted(lat_sorted, target), 1, lat_sorted.size - 1))
        weight = (target - lat_sorted[upper - 1]) / (lat_sorted[upper] - lat_sorted[upper - 1])
        out.append((1 - weight) * z_sorted[..., upper - 1, :] + weight * z_sorted[..., upper, :])
    return np.stack(out, axis=-2)


def tibaldi_molteni(
    z500: np.ndarray,
    lat: np.ndarray,
    delta_deg: float = 4.0,
    gradient_m_per_deg: float = -10.0,
    central_lat: float = 60.0,
) -> np.ndarray:
    """Instantaneous Tibaldi–Molteni blocking at each longitude (Tibaldi & Molteni 1990).

    Shapes:
        z500: full (not anomaly) Z500 in metres, ``(..., lat, lon)`` → blocked, bool ``(..., lon)``.
    """
    blocked = None
    for shift in (-delta_deg, 0.0, delta_deg):
        north, centre, south = central_lat + 20.0 + shift, central_lat + shift, central_lat - 20.0 + shift
        z = interpolate_lat(z500, lat, (north, centre, south))
        ghgs = (z[..., 1, :] - z[..., 2, :]) / (centre - south)
        ghgn = (z[..., 0, :] - z[..., 1, :]) / (north - centre)
        now = (ghgs > 0.0) & (ghgn < gradient_m_per_deg)
        blocked = now if blocked is None else blocked | now
    return blocked


def _run_lengths(flags: np.ndarray, segment_start: np.ndarray) -> np.ndarray:
    """Length of the run of True each day belongs to (0 where False); runs are cut at segment starts.

    Shapes:
        flags: ``(member, time, ...)`` bool → the same shape, int.
    """
    moved = np.moveaxis(np.asarray(flags, dtype=bool), 1, -1)
    series = moved.reshape(-1, moved.shape[-1])
    previous = np.zeros_like(series)
    previous[:, 1:] = series[:, :-1]
    previous[:, np.asarray(segment_start, dtype=bool)] = False
    run = np.where(series, np.cumsum((series & ~previous).ravel()).reshape(series.shape), 0)
    lengths = np.where(series, np.bincount(run.ravel())[run], 0)
    return np.moveaxis(lengths.reshape(moved.shape), -1, 1)


def blocking_frequency(
    fields: AnomalyFields,
    threshold_m: float,
    box,
    persistence_days: int,
    delta_deg: float = 4.0,
    gradient_m_per_deg: float = -10.0,
) -> dict[str, np.ndarray]:
    """Blocking frequency by longitude for the box index and for Tibaldi–Molteni.

    The box index is evaluated with the box's longitudes shifted so that it is centred on
    each grid longitude. Frequencies are the share of days (all members) that are
    blocked, and (``persistent_*``) that belong to a blocked run of at least D days.

    Returns:
        dict of ``(lon,)`` arrays: ``box``, ``persistent_box``, ``tm``, ``persistent_tm``.
    """
    south, north, west, east = box
    half_width = ((east - west) % 360.0) / 2.0
    zprime500 = fields.zprime[:, :, fields.level500]
    lat_in, _ = box_mask(fields.lat, fields.lon, box)
    weights = np.cos(np.radians(fields.lat[lat_in]))
    rows = (zprime500[..., lat_in, :] * weights[:, None]).sum(axis=-2) / weights.sum()  # (member, time, lon)
    shifted = np.stack(
        [rows[..., lon_in_range(fields.lon, lon - half_width, lon + half_width)].mean(axis=-1) for lon in fields.lon],
        axis=-1,
    )
    above = shifted >= threshold_m
    tm = tibaldi_molteni(fields.z500, fields.lat, delta_deg, gradient_m_per_deg)
    return {
        "box": above.mean(axis=(0, 1)),
        "persistent_box": (_run_lengths(above, fields.segment_start) >= persistence_days).mean(axis=(0, 1)),
        "tm": tm.mean(axis=(0, 1)),
        "persistent_tm": (_run_lengths(tm, fields.segment_start) >= persistence_days).mean(axis=(0, 1)),
    }


def event_centroids(fields: AnomalyFields, events: EventTable, box, window_deg=(15.0, 30.0)) -> np.ndarray:
    """Mean position of each event's high: the Z′-weighted centroid of Z′500 ≥ M near the box.

    On each day of the event, the centroid of the grid points within ``window_deg``
    (latitude, longitude) of the box centre where Z′500 ≥ M, weighted by Z′ cos(lat)
    (longitudes averaged as angles); then the mean over the event's days.

    Returns:
        ``(event, 2)``: latitude, longitude in degrees (NaN when no point qualifies).
    """
    south, north, west, east = box
    centre_lat = 0.5 * (south + north)
    centre_lon = west + ((east - west) % 360.0) / 2.0
    lat_near = np.abs(fields.lat - centre_lat) <= window_deg[0]
    lon_near = lon_in_range(fields.lon, centre_lon - window_deg[1], centre_lon + window_deg[1])
    lat = fields.lat[lat_near]
    angle = np.radians(fields.lon[lon_near])
    out = np.full((len(events), 2), np.nan)
    zprime500 = fields.zprime[:, :, fields.level500][:, :, lat_near][..., lon_near]
    for k in range(len(events)):
        days = zprime500[events.member[k], events.onset[k] : events.end[k] + 1]
        weight = np.where(days >= events.threshold_m, days, 0.0) * np.cos(np.radians(lat))[:, None]
        total = weight.sum(axis=(1, 2))
        good = total > 0
        if not good.any():
            continue
        lat_c = (weight.sum(axis=2) @ lat)[good] / total[good]
        x = (weight.sum(axis=1) @ np.cos(angle))[good]
        y = (weight.sum(axis=1) @ np.sin(angle))[good]
        out[k] = lat_c.mean(), np.degrees(np.arctan2(y.sum(), x.sum())) % 360.0
    return out


def _time_strings(time: np.ndarray) -> np.ndarray:
    if np.issubdtype(time.dtype, np.datetime64):
        return np.datetime_as_string(time, unit="D")
    return np.array([f"{t:g}" for t in time])


def catalogue_rows(fields: AnomalyFields, events: EventTable, index: np.ndarray, box) -> dict[str, np.ndarray]:
    """The event catalogue as columns (see ``CATALOGUE_COLUMNS``)."""
    centroid = event_centroids(fields, events, box)
    times = _time_strings(fields.time)
    return {
        "member": fields.members[events.member],
        "onset": events.onset,
        "end": events.end,
        "duration_days": events.duration,
        "censored": events.censored,
        "peak_m": events.peak,
        "onset_value_m": index[events.member, events.onset] if len(events) else np.zeros(0),
        "centroid_lat": centroid[:, 0],
        "centroid_lon": centroid[:, 1],
        "onset_time": times[events.onset],
        "end_time": times[events.end],
    }


def write_catalogue(folder: Path, rows: dict[str, np.ndarray], attrs: dict, netcdf: bool) -> list[str]:
    """``events.csv`` (and ``events.nc``) of the catalogue; returns the file names."""
    import csv

    from sparse_core.infra.files import atomic_write

    with atomic_write(folder / "events.csv", "w") as handle:
        writer = csv.writer(handle)
        writer.writerow(CATALOGUE_COLUMNS)
        for values in zip(*(rows[c] for c in CATALOGUE_COLUMNS)):
            writer.writerow([f"{v:.6g}" if isinstance(v, (float, np.floating)) else v for v in values])
    names = ["events.csv"]
    if netcdf:
        import xarray as xr

        units = {
            "duration_days": "days",
            "peak_m": "m",
            "onset_value_m": "m",
            "centroid_lat": "degrees_north",
            "centroid_lon": "degrees_east",
        }
        data = xr.Dataset(
            {
                c: (
                    ("event",),
                    np.asarray(rows[c]).astype(str)
                    if c.endswith("_time")
                    else np.asarray(rows[c]).astype(np.int8)
                    if c == "censored"
                    else np.asarray(rows[c]),
                    {"units": units[c]} if c in units else {},
                )
                for c in CATALOGUE_COLUMNS
            },
            attrs={"Conventions": "CF-1.8", "title": "Atlantic blocking events (box index)", **attrs},
        )
        data.to_netcdf(folder / "events.nc")
        names.append("events.nc")
    return names


def write_frequency(folder: Path, lon: np.ndarray, frequency: dict[str, np.ndarray], netcdf: bool) -> list[str]:
    """``frequency.csv`` (and ``frequency.nc``): blocking frequency by longitude."""
    from sparse_core.infra.files import atomic_write

    columns = ("box", "persistent_box", "tm", "persistent_tm")
    with atomic_write(folder / "frequency.csv", "w") as handle:
        handle.write("lon," + ",".join(columns) + "\n")
        for k, value in enumerate(lon):
            handle.write(f"{value:.4f}," + ",".join(f"{frequency[c][k]:.6f}" for c in columns) + "\n")
    names = ["frequency.csv"]
    if netcdf:
        import xarray as xr

        data = xr.Dataset(
            {
                c: (("lon",), frequency[c], {"units": "1", "long_name": f"blocked fraction of days ({c})"})
                for c in columns
            },
            coords={"lon": ("lon", lon, {"units": "degrees_east"})},
            attrs={"Conventions": "CF-1.8", "title": "Blocking frequency by longitude"},
        )
        data.to_netcdf(folder / "frequency.nc")
        names.append("frequency.nc")
    return names


def run_events(config: EventsConfig, folder: Path, progress: bool = False) -> dict:
    """``blocking events``: Z′, the box index, the events and both frequencies of the inputs.

    Writes ``events.csv`` / ``events.nc`` (the catalogue), ``frequency.csv`` /
    ``frequency.nc`` (blocking frequency by longitude, box index and Tibaldi–Molteni) and
    ``index.nc`` (Z_B per member and day) into ``folder``.

    Returns:
        Metrics: ``threshold_m``, ``threshold_percentile`` (the percentile of M),
        ``percentile_of_100m``, ``events``, ``persistent_events`` (≥ D days),
        ``persistent_fraction``, ``mean_duration_days``, ``censored_events``, ``days``,
        ``members``, ``max_frequency_box`` / ``max_frequency_tm`` with their longitudes.
    """
    folder = Path(folder)
    fields = load_fields(config.inputs, config.source, config.index, config.reanalysis)
    index = box_index(fields.zprime[:, :, fields.level500], fields.lat, fields.lon, config.index.box)
    threshold = resolve_threshold(index, config.index.threshold_m, config.index.threshold_percentile)
    events = find_events(index, threshold, fields.segment_start)
    rows = catalogue_rows(fields, events, index, config.index.box)
    attrs = {k: (str(v) if not isinstance(v, (int, float)) else v) for k, v in fields.attrs.items()}
    attrs["threshold_m"] = threshold
    files = write_catalogue(folder, rows, attrs, config.netcdf)
    frequency = blocking_frequency(
        fields, threshold, config.index.box, config.persistence_days, config.index.tm_delta, config.index.tm_gradient
    )
    files += write_frequency(folder, fields.lon, frequency, config.netcdf)
    _write_index(folder / "index.nc", index, fields, threshold)
    files.append("index.nc")
    labels = events.persistent(config.persistence_days)
    labelled = labels >= 0
    return {
        "threshold_m": threshold,
        "threshold_percentile": percentile_of_threshold(index, threshold),
        "percentile_of_100m": percentile_of_threshold(index, 100.0),
        "events": len(events),
        "persistent_events": int((labels == 1).sum()),
        "persistent_fraction": float((labels == 1).sum() / max(int(labelled.sum()), 1)),
        "mean_duration_days": float(events.duration.mean()) if len(events) else 0.0,
        "censored_events": int(events.censored.sum()),
        "days": int(index.size),
        "members": int(index.shape[0]),
        "max_frequency_box": float(frequency["box"].max()),
        "lon_max_frequency_box": float(fields.lon[int(np.argmax(frequency["box"]))]),
        "max_frequency_tm": float(frequency["tm"].max()),
        "lon_max_frequency_tm": float(fields.lon[int(np.argmax(frequency["tm"]))]),
        "files": files,
    }


def _write_index(path: Path, index: np.ndarray, fields: AnomalyFields, threshold: float) -> None:
    import xarray as xr

    time = fields.time
    time_attrs = {} if fields.dated else {"units": "days", "long_name": "model time after spin-up"}
    data = xr.Dataset(
        {
            "index": (
                ("member", "time"),
                index,
                {
                    "units": "m",
                    "standard_name": "geopotential_height_anomaly",
                    "long_name": "box mean of the 500 hPa geopotential height anomaly Z_B",
                },
            )
        },
        coords={"member": fields.members, "time": ("time", time, time_attrs)},
        attrs={
            "Conventions": "CF-1.8",
            "threshold_m": threshold,
            **{k: (str(v) if not isinstance(v, (int, float)) else v) for k, v in fields.attrs.items()},
        },
    )
    data.to_netcdf(path)
