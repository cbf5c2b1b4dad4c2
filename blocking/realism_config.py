"""The settings of ``sparseworks blocking realism`` (torch-free, so that ``--help`` stays fast).

:class:`RealismConfig` is consumed by :func:`blocking.realism.run_realism`, which measures
how realistic the blocking of one or more QG3 runs is (``docs/architecture.md``, "Configs
and commands"). The module imports nothing numerical.
"""

from __future__ import annotations

from pathlib import Path

from blocking.config import IndexConfig, check_box
from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting

__all__ = ["ATLANTIC_SECTOR", "RealismConfig"]

ATLANTIC_SECTOR = (20.0, 90.0, -80.0, 40.0)
"""The Euro-Atlantic sector 20-90N x 80W-40E as (south, north, west, east) degrees: the
domain of the NCEP/NCAR DJF z500 climatology (``ncep_z500_djf`` in data/sources.toml)."""


@config
class RealismConfig:
    """What ``blocking realism`` measures: blocking frequencies, low-frequency variability, onsets, mean state.

    Attributes:
        inputs: QG3 output.nc files (psi or z500), one per run, comma-separated.
        labels: names of the runs in the table and the figure, comma-separated (default:
            each input's folder name).
        index: the anomaly and index settings (the same as blocking events).
        sector: sector south,north,west,east in degrees for the variability and the pattern
            correlation (the NCEP climatology's 20-90N, 80W-40E).
        frequency_lon: west,east longitudes in degrees where the largest blocking frequency
            is looked for (the Euro-Atlantic 60W-30E).
        reversal_lat: north,south latitudes in degrees of the simple reversal index: blocked
            where z500(north) > z500(south).
        mean_days: lengths in days of the non-overlapping means whose standard deviation is
            reported.
        persistence_days: D of the persistent-blocking frequencies (runs of >= D days).
        reference: NetCDF of observed z500 whose time mean the model's mean is compared with
            (default: the cached NCEP/NCAR DJF means 1948-2012, dataset ncep_z500_djf).
        figure: write the blocking-frequency-by-longitude figure.
    """

    inputs: tuple[str, ...] = setting()
    labels: tuple[str, ...] = setting(())
    index: IndexConfig = setting(factory=IndexConfig)
    sector: tuple[float, ...] = setting(ATLANTIC_SECTOR, ge=-360.0, le=360.0)
    frequency_lon: tuple[float, ...] = setting((-60.0, 30.0), ge=-360.0, le=360.0)
    reversal_lat: tuple[float, ...] = setting((65.0, 50.0), ge=-90.0, le=90.0)
    mean_days: tuple[int, ...] = setting((10, 90), ge=1)
    persistence_days: int = setting(5, ge=1)
    reference: Path | None = None
    figure: bool = setting(True)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ConfigError("RealismConfig.inputs: give at least one QG3 output.nc", field="inputs")
        if self.labels and len(self.labels) != len(self.inputs):
            raise ConfigError(
                f"RealismConfig.labels: give one label per input ({len(self.inputs)} inputs, "
                f"{len(self.labels)} labels)",
                field="labels",
            )
        if len(set(self.labels)) != len(self.labels):
            raise ConfigError(f"RealismConfig.labels must differ from each other, got {self.labels}", field="labels")
        check_box(self.sector, "sector", "RealismConfig")
        if len(self.frequency_lon) != 2:
            raise ConfigError(
                f"RealismConfig.frequency_lon must be 2 numbers west,east (degrees); got {self.frequency_lon}",
                field="frequency_lon",
            )
        if len(self.reversal_lat) != 2 or not self.reversal_lat[0] > self.reversal_lat[1]:
            raise ConfigError(
                f"RealismConfig.reversal_lat must be 2 latitudes north,south with north > south; "
                f"got {self.reversal_lat}",
                field="reversal_lat",
            )
        if not self.mean_days:
            raise ConfigError("RealismConfig.mean_days: give at least one length in days", field="mean_days")
