"""``sparseworks blocking realism``: how realistic the blocking of QG3 runs is.

The config is :class:`blocking.realism_config.RealismConfig`, the library function
:func:`blocking.realism.run_realism`; the body here only calls it and formats the printed
summary (``docs/architecture.md``, "Configs and commands"). :func:`register` adds the
command to the ``blocking`` app. Nothing numerical is imported until the command runs.
"""

from __future__ import annotations

import typer

from blocking.realism_config import RealismConfig
from sparse_core.infra.clikit import Run, config_command

__all__ = ["register"]

APP_NAME = "blocking"


def register(app: typer.Typer) -> None:
    """Add the ``realism`` command to ``app`` (the ``sparseworks blocking`` app)."""

    @config_command(app, RealismConfig, app_name=APP_NAME, threads_default=1, uses_torch=False)  # numpy only
    def realism(config: RealismConfig, run: Run) -> tuple[dict, str]:
        """Blocking frequencies, low-frequency variability, onsets and mean state of QG3 runs, side by side.

        For each run: Tibaldi-Molteni and reversal (z500 65N > 50N) blocking frequency by
        longitude and their largest value over 60W-30E; the standard deviation of 10- and
        90-day means of z500 over 20-90N, 80W-40E; onsets of the box index per 1,000 days
        at M (--threshold-m) and the percentile M is; the pattern correlation of the
        time-mean z500 with the NCEP/NCAR DJF climatology (anomalies from the sector's
        zonal mean; with_zonal_mean: from its area mean). Writes realism.csv,
        frequency_by_longitude.csv and blocking_frequency.png into the run folder.

        Examples:

          sparseworks blocking realism --inputs runs/qg3/output.nc

          sparseworks blocking realism --inputs runs/qg3/output.nc,runs/qg3-lucarini/output.nc --labels default,lucarini2020 --out runs/realism

          sparseworks blocking realism --inputs runs/qg3/output.nc --skip-days 365 --threshold-m 150 --json
        """
        from blocking.realism import run_realism

        metrics = run_realism(config, run.folder, progress=run.progress)
        lines = [
            f"{label}: TM max {100 * m['tm_max_frequency']:.1f}% at {m['tm_max_lon']:g}E, reversal max "
            f"{100 * m['reversal_max_frequency']:.1f}% at {m['reversal_max_lon']:g}E, "
            + ", ".join(f"std {d}-day means {m[f'std_{d}day_mean_m']:.1f} m" for d in config.mean_days)
            + f", {m['onsets_per_1000_days']:.1f} onsets per 1000 days at M = {m['threshold_m']:g} m "
            f"({m['threshold_percentile']:.1f}th percentile), pattern correlation {m['pattern_correlation']:.3f}"
            for label, m in metrics["runs"].items()
        ]
        return metrics, "\n".join(lines)
