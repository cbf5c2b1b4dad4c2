"""Geopotential-height anomalies Z′ of QG3 runs and reanalyses: the input of every blocking step.

Following Zhang et al. (2024) and the authors' protocol (hzhang-math/BlockingSHAPTL,
``MM_dataprepare.py``): Z = ψ f0 / g with f0 = 2Ω sin 60° (or, optionally, the local
Coriolis parameter); Z′ = Z − its time mean (model) or − a day-of-year climatology over a
31-day running window (reanalyses); then an optional Butterworth low-pass of order 2 and a
3-day cut-off period, run forward and backward (``scipy.signal.filtfilt``). Every
operation along time stays inside one member and one contiguous segment (a gap in time,
such as the months between two winters, starts a new segment).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from blocking.config import LEVELS_HPA, IndexConfig, ReanalysisConfig
from sparse_core.infra.errors import InputError

__all__ = [
    "GRAVITY",
    "OMEGA",
    "AnomalyFields",
    "coriolis_parameter",
    "day_of_year_climatology",
    "geopotential_height",
    "load_fields",
    "lowpass",
    "qg3_fields",
    "segment_starts",
]

log = logging.getLogger(__name__)

GRAVITY = 9.80665
"""Standard gravity g in m s⁻²."""
OMEGA = 7.292e-5
"""Earth's rotation rate Ω in s⁻¹ (the QG3 model's value)."""
_SIN_LATITUDE = re.compile(r"sin\s*\(?\s*([0-9.]+)\s*(?:deg|°)", re.IGNORECASE)


@dataclass(frozen=True)
class AnomalyFields:
    """Z′ of one data source on its grid, with what the index and the dataset need.

    Attributes:
        zprime: Z′ in metres (after the low-pass), ``(member, time, level, lat, lon)``.
        z500: Z at 500 hPa in metres, unfiltered and not an anomaly (for Tibaldi–Molteni),
            ``(member, time, lat, lon)``.
        lat: latitudes in degrees north, in the data's order, ``(lat,)``.
        lon: longitudes in degrees east, ``(lon,)``.
        levels_hpa: pressure levels of ``zprime``, ``(level,)``.
        time: days (float, model) or ``datetime64[ns]`` (reanalysis), ``(time,)``.
        members: member numbers, ``(member,)``.
        segment_start: True on the first day of each contiguous segment, ``(time,)``.
        attrs: how the fields were made (f0, anomaly, filter, source), for output files.
    """

    zprime: np.ndarray
    z500: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    levels_hpa: np.ndarray
    time: np.ndarray
    members: np.ndarray
    segment_start: np.ndarray
    attrs: dict = field(default_factory=dict)

    @property
    def level500(self) -> int:
        """Index of the 500 hPa level in ``zprime``."""
        found = np.flatnonzero(np.isclose(self.levels_hpa, 500.0))
        if not found.size:
            raise InputError(f"the fields hold no 500 hPa level (levels {list(self.levels_hpa)})")
        return int(found[0])

    @property
    def dated(self) -> bool:
        """Whether ``time`` holds calendar dates (a reanalysis) rather than model days."""
        return np.issubdtype(self.time.dtype, np.datetime64)


def coriolis_parameter(lat_deg) -> np.ndarray:
    """f = 2Ω sin φ in s⁻¹ at latitude φ (degrees north)."""
    return 2.0 * OMEGA * np.sin(np.radians(np.asarray(lat_deg, dtype=np.float64)))


def geopotential_height(
    psi: np.ndarray, lat_deg: np.ndarray, coriolis: str = "reference", f0_latitude: float = 60.0
) -> np.ndarray:
    """Z = ψ f / g in metres from the streamfunction ψ in m² s⁻¹ (Zhang et al. 2024).

    Args:
        psi: streamfunction, shape ``(..., lat, lon)``.
        lat_deg: the latitudes of ``psi``, shape ``(lat,)``.
        coriolis: ``"reference"``: f = f0 = 2Ω sin(``f0_latitude``), the authors' choice
            (60°N); ``"local"``: f = 2Ω sin φ at each latitude.

    Returns:
        Z in metres, the shape of ``psi``.
    """
    if coriolis == "reference":
        f = coriolis_parameter(f0_latitude)
    elif coriolis == "local":
        f = coriolis_parameter(lat_deg)[:, None]
    else:
        raise ValueError(f"coriolis must be 'reference' or 'local', got {coriolis!r}")
    return np.asarray(psi, dtype=np.float64) * f / GRAVITY


def _f0_description(coriolis: str, f0_latitude: float) -> dict:
    if coriolis == "local":
        return {"coriolis": "local", "comment": "Z = psi f / g with the local Coriolis parameter f = 2 Omega sin(lat)"}
    f0 = float(coriolis_parameter(f0_latitude))
    return {
        "coriolis": "reference",
        "f0_per_s": f0,
        "f0_latitude_deg": float(f0_latitude),
        "comment": f"Z = psi f0 / g with f0 = 2 Omega sin {f0_latitude:g} deg = {f0:.6e} s-1",
    }


def _stored_coriolis(variable, path: Path) -> tuple[str, float | None]:
    """How a stored Z (e.g. QG3's ``z500``) was made from ψ: ``("reference", f0)`` or ``("local", None)``."""
    attrs = variable.attrs
    if str(attrs.get("coriolis", "")).lower() == "local":
        return "local", None
    if "f0_per_s" in attrs:
        return "reference", float(attrs["f0_per_s"])
    if "f0_latitude_deg" in attrs:
        return "reference", float(coriolis_parameter(float(attrs["f0_latitude_deg"])))
    match = _SIN_LATITUDE.search(str(attrs.get("long_name", "")) + " " + str(attrs.get("comment", "")))
    if match:
        return "reference", float(coriolis_parameter(float(match.group(1))))
    raise InputError(
        f"{path}: variable {variable.name!r} does not say how it was made from psi (no 'coriolis', "
        "'f0_per_s' or 'f0_latitude_deg' attribute, no 'sin <lat> deg' in long_name); "
        "use a file with psi"
    )


def segment_starts(time: np.ndarray) -> np.ndarray:
    """True where a new contiguous daily segment starts: the first day and after every gap.

    Args:
        time: model days (float) or ``datetime64`` dates, increasing, shape ``(time,)``.

    Raises:
        InputError: the times are not increasing or not daily.
    """
    time = np.asarray(time)
    days = (time - time[0]) / np.timedelta64(1, "D") if np.issubdtype(time.dtype, np.datetime64) else time
    days = np.asarray(days, dtype=np.float64)
    steps = np.diff(days)
    if np.any(steps <= 0):
        raise InputError("times must increase strictly (sort them and drop duplicates first)")
    if steps.size and not np.isclose(np.min(steps), 1.0, atol=1e-6):
        raise InputError(
            f"blocking needs daily fields; the smallest time step is {np.min(steps):g} days "
            "(write QG3 snapshots with output_every_days=1 or read daily means)"
        )
    return np.concatenate([[True], steps > 1.0 + 1e-6])


def _segments(segment_start: np.ndarray) -> list[slice]:
    starts = np.flatnonzero(segment_start)
    ends = np.append(starts[1:], segment_start.size)
    return [slice(int(a), int(b)) for a, b in zip(starts, ends)]


def lowpass(
    values: np.ndarray, segment_start: np.ndarray, period_days: float, order: int = 2, axis: int = 1
) -> np.ndarray:
    """Butterworth low-pass with cut-off period ``period_days``, forward and backward, per segment.

    As in the authors' ``butter_lowpass_filter``: ``scipy.signal.butter(order, 2 / period_days)``
    (the cut-off frequency relative to the Nyquist frequency of daily data), applied with
    ``scipy.signal.filtfilt`` (zero phase). Segments shorter than the filter's padding use
    a shorter padding; one-day segments are left as they are.

    Shapes:
        values: ``(..., time, ...)`` with time on ``axis``; ``segment_start``: ``(time,)``.
    """
    from scipy.signal import butter, filtfilt

    if period_days <= 0:
        return values
    b, a = butter(order, 2.0 / period_days, btype="low")
    out = np.array(values, dtype=np.float64, copy=True)
    moved = np.moveaxis(out, axis, 0)
    default_pad = 3 * max(len(a), len(b))
    for part in _segments(np.asarray(segment_start, dtype=bool)):
        length = part.stop - part.start
        if length < 2:
            continue
        moved[part] = filtfilt(b, a, moved[part], axis=0, padlen=min(default_pad, length - 1))
    return out


def _noleap_day_index(time: np.ndarray) -> np.ndarray:
    """Day of a 365-day year (0 … 364) of each date; 29 February counts as 28 February."""
    import pandas as pd

    dates = pd.DatetimeIndex(time)
    cumulative = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])
    day = np.minimum(dates.day.to_numpy(), np.where(dates.month.to_numpy() == 2, 28, 31))
    return cumulative[dates.month.to_numpy() - 1] + day - 1


def day_of_year_climatology(values: np.ndarray, time: np.ndarray, window_days: int = 31) -> np.ndarray:
    """The mean of each calendar day over all years and members, over a running window.

    For calendar day d (of a 365-day year, 29 February merged into 28 February), the
    climatology is the mean of every value whose calendar day lies within
    ``± window_days // 2`` of d (circularly), pooled over years and members.

    Shapes:
        values: ``(member, time, ...)``; time: ``(time,)`` ``datetime64``.

    Returns:
        The climatology of each time, ``(time, ...)``.
    """
    day = _noleap_day_index(time)
    values = np.asarray(values, dtype=np.float64)
    totals = np.zeros((365,) + values.shape[2:])
    counts = np.zeros(365)
    np.add.at(totals, day, values.sum(axis=0))
    np.add.at(counts, day, values.shape[0])
    half = window_days // 2
    shifts = range(-half, half + 1)
    window_totals = sum(np.roll(totals, s, axis=0) for s in shifts)
    window_counts = sum(np.roll(counts, s) for s in shifts)
    return (window_totals / np.maximum(window_counts, 1)[(...,) + (None,) * (values.ndim - 2)])[day]


def _anomaly_method(config: IndexConfig, dated: bool) -> str:
    if config.anomaly == "auto":
        return "climatology" if dated else "time_mean"
    if config.anomaly == "climatology" and not dated:
        raise InputError(
            "a day-of-year climatology needs calendar dates; model output has none (use anomaly time_mean)"
        )
    return config.anomaly


def make_anomalies(z: np.ndarray, time: np.ndarray, config: IndexConfig, dated: bool) -> tuple[np.ndarray, dict]:
    """Z′ = Z − time mean (per member) or − the day-of-year climatology; then the low-pass.

    Shapes:
        z: ``(member, time, level, lat, lon)``.

    Returns:
        ``(zprime, attrs)``: Z′ the shape of ``z`` and a description of what was done.
    """
    method = _anomaly_method(config, dated)
    if method == "time_mean":
        zprime = z - z.mean(axis=1, keepdims=True)
        described = "Z minus its time mean (per member)"
    else:
        zprime = z - day_of_year_climatology(z, time, config.climatology_window_days)[None]
        described = f"Z minus its day-of-year climatology ({config.climatology_window_days}-day running window)"
    starts = segment_starts(time)
    zprime = lowpass(zprime, starts, config.lowpass_days, config.lowpass_order, axis=1)
    if config.lowpass_days > 0:
        described += (
            f"; Butterworth low-pass (order {config.lowpass_order}, {config.lowpass_days:g}-day cut-off), "
            "forward-backward, per segment"
        )
    return zprime, {"anomaly": method, "processing": described}


def _open(path: Path, decode_times: bool):
    import xarray as xr

    if not path.exists():
        raise InputError(f"{path}: input file not found")
    try:
        return xr.open_dataset(path, decode_times=decode_times)
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a readable NetCDF file ({error})") from None


def is_qg3_output(path: Path) -> bool:
    """Whether ``path`` looks like ``blocking simulate`` output (``psi`` or a QG3 ``source``)."""
    if path.suffix.lower() == ".zip":
        return False
    with _open(path, decode_times=False) as data:
        return "psi" in data or str(data.attrs.get("source", "")).startswith("blocking.qg3")


def qg3_fields(path: Path, config: IndexConfig) -> AnomalyFields:
    """Z′ at 200, 500 and 800 hPa of a QG3 run (``output.nc`` of ``blocking simulate``).

    Z is computed from ``psi (member, time, level, lat, lon)`` with the Coriolis choice of
    ``config``; a file with only ``z500`` is converted to that choice using the f0 its
    attributes name (then only the 500 hPa level is available). A model run's anomaly is
    taken per member (its time mean), so the file is read one member at a time: the peak
    memory is Z′ and Z500 of the whole run plus one member's fields, not several copies of
    the run (a 274-year run's ψ alone is 7 GB).

    Raises:
        InputError: missing variables, non-daily or unsorted times, NaNs.
    """
    path = Path(path)
    with _open(path, decode_times=False) as data:
        if "psi" in data:
            variable = data["psi"]
            if "member" not in variable.dims:
                variable = variable.expand_dims("member")
            variable = variable.transpose("member", "time", "level", "lat", "lon")
            levels = variable["level"].to_numpy().astype(np.float64)
            lat = variable["lat"].to_numpy().astype(np.float64)

            def member_z(m: int) -> np.ndarray:
                psi = variable.isel(member=m).to_numpy()  # one member: xarray caches no whole-run copy
                return geopotential_height(psi, lat, config.coriolis, config.f0_latitude)

        elif "z500" in data:
            variable = data["z500"]
            if "member" not in variable.dims:
                variable = variable.expand_dims("member")
            variable = variable.transpose("member", "time", "lat", "lon")
            lat = variable["lat"].to_numpy().astype(np.float64)
            kind, f0 = _stored_coriolis(variable, path)
            levels = np.array([500.0])

            def member_z(m: int) -> np.ndarray:
                stored = variable.isel(member=m).to_numpy().astype(np.float64)
                psi = stored * GRAVITY / (f0 if kind == "reference" else coriolis_parameter(lat)[:, None])
                return geopotential_height(psi, lat, config.coriolis, config.f0_latitude)[:, None]

        else:
            raise InputError(
                f"{path}: neither 'psi' nor 'z500' found (variables {sorted(data.data_vars)}); "
                "expected the output.nc of blocking simulate"
            )
        time = data["time"].to_numpy().astype(np.float64)
        count = variable.sizes["member"]
        members = data["member"].to_numpy() if "member" in data.coords else np.arange(count)
        lon = variable["lon"].to_numpy().astype(np.float64)
        time, keep = _skip_and_check_time(time, config)
        level500 = _level500(levels)
        zprime = z500 = None
        described: dict = {}
        for m in range(count):
            z = member_z(m)[keep][None]  # (1, time, level, lat, lon)
            bad = int(z.size - np.count_nonzero(np.isfinite(z)))
            if bad:
                raise InputError(
                    f"{path}: {bad} NaN or infinite values in the fields of member {members[m]} (a diverged run?)"
                )
            anomaly, described = make_anomalies(z, time, config, dated=False)
            if zprime is None:
                zprime = np.empty((count,) + anomaly.shape[1:])
                z500 = np.empty((count,) + anomaly.shape[1:2] + anomaly.shape[3:])
            zprime[m] = anomaly[0]
            z500[m] = z[0, :, level500]
    attrs = {"source": str(path), "grid_nlat": int(lat.size), **_f0_description(config.coriolis, config.f0_latitude)}
    return AnomalyFields(
        zprime=zprime,
        z500=z500,
        lat=np.asarray(lat),
        lon=np.asarray(lon),
        levels_hpa=np.asarray(levels, dtype=np.float64),
        time=np.asarray(time),
        members=np.asarray(members),
        segment_start=segment_starts(time),
        attrs={**attrs, **described},
    )


def _skip_and_check_time(time: np.ndarray, config: IndexConfig) -> tuple[np.ndarray, slice]:
    """The times after ``config.skip_days`` and the slice that keeps them; unsorted times refused."""
    if config.skip_days and config.skip_days >= time.shape[0]:
        raise InputError(f"skip_days {config.skip_days} drops all {time.shape[0]} days of the input")
    keep = slice(config.skip_days, None)
    time = time[keep]
    order = np.argsort(time, kind="stable")
    if np.any(order != np.arange(order.size)):
        raise InputError("the times of the input are not sorted; sort them (e.g. xarray sortby('time'))")
    return time, keep


def _level500(levels: np.ndarray) -> int:
    level500 = np.flatnonzero(np.isclose(levels, 500.0))
    if not level500.size:
        raise InputError(f"the input holds no 500 hPa level (levels {list(levels)}); the index needs Z500")
    return int(level500[0])


def _finish(z, time, lat, lon, levels, members, config: IndexConfig, dated: bool, attrs: dict) -> AnomalyFields:
    time, keep = _skip_and_check_time(time, config)
    z = z[:, keep]
    starts = segment_starts(time)
    zprime, described = make_anomalies(z, time, config, dated)
    level500 = _level500(levels)
    return AnomalyFields(
        zprime=zprime,
        z500=z[:, :, level500],
        lat=np.asarray(lat),
        lon=np.asarray(lon),
        levels_hpa=np.asarray(levels, dtype=np.float64),
        time=np.asarray(time),
        members=np.asarray(members),
        segment_start=starts,
        attrs={**attrs, **described},
    )


def reanalysis_fields(paths, config: IndexConfig, reader: ReanalysisConfig, levels_hpa=LEVELS_HPA) -> AnomalyFields:
    """Z′ of reanalysis files on the model's Gaussian grid, in the chosen season.

    Reads the files (:func:`blocking.reanalysis.read_geopotential_height`), forms daily
    means, regrids to the T21 Gaussian grid, subtracts the day-of-year climatology of all
    days read (or the time mean), low-passes each contiguous stretch, then keeps the
    season (DJF by default; each winter is its own segment).
    """
    from blocking import reanalysis

    z = reanalysis.read_geopotential_height(paths, reader, levels_hpa=levels_hpa)
    z = reanalysis.daily_means(z)
    z = reanalysis.regrid_to_gaussian(z, reader.grid_nlat)
    values = z.transpose("member", "time", "level", "lat", "lon").to_numpy()
    time = z["time"].to_numpy()
    dated = True
    fields = _finish(
        values,
        time,
        z["lat"].to_numpy(),
        z["lon"].to_numpy(),
        z["level"].to_numpy(),
        z["member"].to_numpy(),
        config,
        dated,
        attrs={
            "source": ", ".join(str(p) for p in paths),
            "coriolis": "none",
            "grid_nlat": reader.grid_nlat,
            "comment": "geopotential height from the reanalysis (z / g)",
        },
    )
    if reader.season == "all":
        return fields
    keep = reanalysis.season_mask(fields.time, reader.season)
    if not keep.any():
        raise InputError(f"no {reader.season} days in {', '.join(str(p) for p in paths)}")
    time = fields.time[keep]
    return replace(
        fields,
        zprime=fields.zprime[:, keep],
        z500=fields.z500[:, keep],
        time=time,
        segment_start=segment_starts(time),
        attrs={**fields.attrs, "season": reader.season},
    )


def load_fields(inputs, source: str, config: IndexConfig, reader: ReanalysisConfig) -> AnomalyFields:
    """Z′ of the inputs: one QG3 output file, or one or more reanalysis files.

    Args:
        inputs: file paths.
        source: ``"qg3"``, ``"reanalysis"`` or ``"auto"`` (QG3 when the first file has ``psi``
            or a QG3 ``source`` attribute).
    """
    paths = [Path(p) for p in inputs]
    if source == "auto":
        source = "qg3" if is_qg3_output(paths[0]) else "reanalysis"
    if source == "qg3":
        if len(paths) != 1:
            raise InputError(f"give one QG3 output file, got {len(paths)}: {', '.join(map(str, paths))}")
        return qg3_fields(paths[0], config)
    return reanalysis_fields(paths, config, reader)
