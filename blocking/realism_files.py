"""The files of ``blocking realism``: the realism table, frequencies by longitude, the figure.

Written atomically (:mod:`sparse_core.infra.files`) from the measures of
:func:`blocking.realism.realism_metrics`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from sparse_core.infra.files import atomic_write, save_figure

__all__ = ["TABLE_COLUMNS", "plot_frequency", "write_tables"]

TABLE_COLUMNS = (
    "label",
    "tm_max_frequency",
    "tm_max_lon",
    "reversal_max_frequency",
    "reversal_max_lon",
    "std_10day_mean_m",
    "std_90day_mean_m",
    "onsets_per_1000_days",
    "threshold_m",
    "threshold_percentile",
    "pattern_correlation",
    "pattern_correlation_with_zonal_mean",
    "onsets",
    "days",
)
"""The columns of ``realism.csv``, in order (``std_<n>day_mean_m`` columns of other lengths follow)."""


def _csv_text(header, rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _format(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def write_tables(folder: Path, runs: dict[str, dict], lon: np.ndarray, by_longitude: dict[str, dict]) -> list[str]:
    """Write ``realism.csv`` (one row per run) and ``frequency_by_longitude.csv`` into ``folder``."""
    columns = [c for c in TABLE_COLUMNS if c == "label" or any(c in m for m in runs.values())]
    extra = sorted({k for m in runs.values() for k in m if k.startswith("std_") and k not in columns})
    columns += extra
    rows = [[label] + [_format(metrics.get(c, "")) for c in columns[1:]] for label, metrics in runs.items()]
    with atomic_write(Path(folder) / "realism.csv", "w") as handle:
        handle.write(_csv_text(columns, rows))
    header = ["lon"] + [f"{label}_{kind}" for label in by_longitude for kind in ("tm", "reversal", "box")]
    table = [
        [_format(float(lon[k]))]
        + [_format(float(by_longitude[label][kind][k])) for label in by_longitude for kind in ("tm", "reversal", "box")]
        for k in range(lon.size)
    ]
    with atomic_write(Path(folder) / "frequency_by_longitude.csv", "w") as handle:
        handle.write(_csv_text(header, table))
    return ["realism.csv", "frequency_by_longitude.csv"]


def plot_frequency(path: Path, lon: np.ndarray, by_longitude: dict[str, dict], frequency_lon) -> Path:
    """Blocking frequency (% of days) against longitude, Tibaldi–Molteni and reversal, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    east = (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0
    order = np.argsort(east)
    figure, axes = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, constrained_layout=True)
    titles = {"tm": "Tibaldi-Molteni (GHGS > 0, GHGN < -10 m/deg)", "reversal": "reversal z500(65N) > z500(50N)"}
    for axis, kind in zip(axes, ("tm", "reversal")):
        for label, frequency in by_longitude.items():
            axis.plot(east[order], 100.0 * np.asarray(frequency[kind])[order], label=label)
        axis.axvspan(*frequency_lon, color="0.9", zorder=0)
        axis.set_ylabel("blocked days (%)")
        axis.set_title(titles[kind], fontsize=10)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("longitude (degrees east)")
    axes[-1].set_xlim(-180.0, 180.0)
    save_figure(figure, path, dpi=120)
    plt.close(figure)
    return Path(path)
