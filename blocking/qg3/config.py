"""The frozen configurations of the QG3 model, of a simulation and of the ``blocking`` commands.

:class:`QG3Config` holds the constants of Marshall & Molteni (1993) as in pyshqg 1.0.1;
:class:`SimulationConfig` what one run simulates; :class:`SimulateConfig` and
:class:`ForcingConfig` are the settings of ``sparseworks blocking simulate`` and
``forcing`` (``docs/architecture.md``, "Configs and commands"). The module imports
nothing numerical, so that ``--help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, setting

__all__ = [
    "DAYS_PER_YEAR",
    "PRESETS",
    "SECONDS_PER_DAY",
    "ForcingConfig",
    "QG3Config",
    "SimulateConfig",
    "SimulationConfig",
]

SECONDS_PER_DAY = 86400.0
DAYS_PER_YEAR = 365.0
SCHEMES = ("rk3", "rk4")

PRESETS: dict[str, dict[str, float]] = {
    "default": {},
    "lucarini2020": {
        "tau_ekman_s": 1.5 * SECONDS_PER_DAY,
        "tau_thermal_s": 25.0 * SECONDS_PER_DAY,
        "tau_selective_s": 0.4 * SECONDS_PER_DAY,
        "orography_scale_m": 8000.0,
    },
    "weak-damping": {"tau_ekman_s": 5.0 * SECONDS_PER_DAY, "tau_selective_s": 0.4 * SECONDS_PER_DAY},
}
"""Named sets of :class:`QG3Config` physics overrides (``simulate --preset NAME``).

``default``: the constants of pyshqg 1.0.1 (τ_E 3 d, τ_R 25 d, τ_H 0.1 d, H0 9 km).
``lucarini2020``: the Marshall–Molteni model of Lucarini & Gritsun (2020, Clim. Dyn. 54,
§2), the one Zhang et al. (2024) used: Ekman damping τ_E 1.5 d, thermal relaxation τ_R
25 d, ∇⁸ damping τ_H 0.4 d at the truncation wavenumber, orography scale H0 8 km.
``weak-damping``: τ_E 5 d and τ_H 0.4 d (the rest default), the configuration of the
realism study that blocks most (its mean state drifts a little): with its Roads forcing from
a 10-year default run, Tibaldi–Molteni blocking on up to 2.0% of days over the Atlantic
(default 0.05%; observed about 10%), standard deviation of 90-day means of z500 28 m
(default 11 m), pattern correlation with the NCEP DJF mean 0.83 (default 0.93). Each
preset needs its own Roads forcing (the forcing depends on the model's operators):
``blocking forcing --preset NAME --climatology RUN/output.nc``, then ``blocking simulate
--preset NAME --forcing FORCING.nc``. The realism of each is measured by ``blocking realism``.
"""


@dataclass(frozen=True)
class QG3Config:
    """Physical and numerical constants of the three-level QG model.

    Defaults follow Marshall & Molteni (1993, QJRMS 119, §2) with the values of the
    reference implementation pyshqg 1.0.1 (its ``test_t21_t31`` configuration).

    Attributes:
        truncation: triangular truncation T.
        nlat: Gaussian latitudes (``nlon = 2·nlat``).
        radius_m: planet radius a.
        omega_per_s: rotation rate Ω.
        rossby_radii_m: Rossby radii of the 200–500 and 500–800 hPa interfaces.
        orography_scale_m: H0 in ``f (1 + h / H0)`` of the lowest level.
        tau_ekman_s: Ekman damping time over the sea (3 days).
        ekman_weight_land_sea_mask: weight of the land–sea mask in the drag.
        ekman_weight_orography: weight of ``1 − exp(−h / ekman_orography_scale_m)``.
        ekman_orography_scale_m: orography scale in the drag (1000 m).
        tau_thermal_s: thermal relaxation time (25 days).
        tau_selective_s: ∇⁸ damping time at the truncation wavenumber (8640 s in pyshqg).
        dt_seconds: time step.
        scheme: ``"rk4"`` (reference) or ``"rk3"`` (three stages, stable at 3600 s).
        dtype: ``"float64"`` or ``"float32"``.
        chunk_members: the most members the fast kernel advances in one block (cache
            blocking; results do not depend on it beyond round-off).
    """

    truncation: int = 21
    nlat: int = 32
    radius_m: float = 6.371e6
    omega_per_s: float = 7.292e-5
    rossby_radii_m: tuple[float, float] = (700e3, 450e3)
    orography_scale_m: float = 9000.0
    tau_ekman_s: float = 259200.0
    ekman_weight_land_sea_mask: float = 0.5
    ekman_weight_orography: float = 0.5
    ekman_orography_scale_m: float = 1000.0
    tau_thermal_s: float = 2160000.0
    tau_selective_s: float = 8640.0
    dt_seconds: float = 1800.0
    scheme: str = "rk4"
    dtype: str = "float64"
    chunk_members: int = 4

    def __post_init__(self) -> None:
        if self.scheme not in ("rk4", "rk3"):
            raise ValueError(f"scheme must be 'rk4' or 'rk3', got {self.scheme!r}")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")
        if self.chunk_members < 1:
            raise ValueError(f"chunk_members must be ≥ 1, got {self.chunk_members}")
        if self.dt_seconds <= 0:
            raise ValueError(f"dt_seconds must be positive, got {self.dt_seconds}")


@config
class SimulationConfig:
    """What to simulate. Years are 365-day model years (perpetual winter: no seasonal cycle).

    Attributes:
        years: saved model years per member (365-day years), after the spin-up.
        members: ensemble members, batched in one array.
        spinup_days: days run before the first saved snapshot.
        dt_seconds: time step in seconds. Kutta's RK3 at 3600 s (the default) keeps a
            20-year run finite; the reference configuration (pyshqg) is rk4 at 1800 s.
        scheme: time stepping: rk3 (three tendencies per step) or rk4 (four; the
            reference, with a 1800 s step).
        float32: single precision (float32 fields) instead of double.
        output_every_days: interval between saved snapshots, in days (a whole number of steps).
        checkpoint_every_days: interval between checkpoints, in days (a whole number of
            steps); a run started again on its folder resumes from the last one.
        perturbation: relative amplitude of the random PV perturbation of each member's
            initial state.
        preset: the model's physics: default (pyshqg 1.0.1), lucarini2020 (Lucarini &
            Gritsun 2020: tau_E 1.5 d, tau_H 0.4 d, H0 8 km) or weak-damping (tau_E 5 d,
            tau_H 0.4 d: more blocking); give a preset its own Roads forcing.
        seed: members draw their perturbation from ``default_rng([seed, member])``.
        forcing_file: forcing NetCDF written by `sparseworks blocking forcing`, or any file with
            forcing (level, lat, lon) in a unit of s-2 on the T21 grid, its axes found by their
            coordinates and units (default: the reference forcing).
    """

    years: float = setting(1.0, gt=0.0)
    members: int = setting(1, ge=1)
    spinup_days: float = setting(0.0, ge=0.0)
    dt_seconds: float = setting(3600.0, gt=0.0, cli="--dt")
    scheme: str = setting("rk3", choices=SCHEMES)
    float32: bool = setting(False)
    output_every_days: float = setting(1.0, gt=0.0)
    checkpoint_every_days: float = setting(30.0, gt=0.0)
    perturbation: float = setting(0.01, ge=0.0)
    preset: str = setting("default", choices=tuple(PRESETS))
    seed: int = 0
    forcing_file: str | None = setting(None, cli="--forcing")

    def __post_init__(self) -> None:
        if self.years * DAYS_PER_YEAR < self.output_every_days * (1 - 1e-9):
            raise ConfigError(
                f"SimulationConfig.years ({self.years:g}, {self.years * DAYS_PER_YEAR:g} days) must "
                f"hold at least one snapshot interval ({self.output_every_days:g} days)",
                field="years",
            )
        for name in ("output_every_days", "checkpoint_every_days"):
            steps = getattr(self, name) * SECONDS_PER_DAY / self.dt_seconds
            if steps < 1 or abs(steps - round(steps)) > 1e-9:
                raise ConfigError(
                    f"SimulationConfig.{name} ({getattr(self, name):g} days) must be a whole number "
                    f"of {self.dt_seconds:g} s steps",
                    field=name,
                )

    @property
    def dtype(self) -> str:
        """The floating-point type of the fields: ``"float32"`` or ``"float64"``."""
        return "float32" if self.float32 else "float64"

    def model_config(self) -> QG3Config:
        """The model's constants: the preset's physics, this run's time step, scheme and precision."""
        return QG3Config(dt_seconds=self.dt_seconds, scheme=self.scheme, dtype=self.dtype, **PRESETS[self.preset])

    def steps(self, days: float) -> int:
        """The number of time steps in ``days`` model days (rounded)."""
        return int(round(days * SECONDS_PER_DAY / self.dt_seconds))


@config
class SimulateConfig:
    """What ``blocking simulate`` runs: the simulation, where its members run, its figures.

    Attributes:
        simulation: the model run.
        workers: Dask workers that share the members (0: all in this process).
        scheduler: address of an existing Dask scheduler to run the members on (instead
            of a local cluster).
        figures: write the energy / enstrophy and z500 mean / standard deviation figures.
        restart: start over in a run folder that already holds a run (its checkpoint,
            snapshots, output and figures are removed); without it, a folder's run is
            resumed, and only under the settings it was made with (--years may grow).
    """

    simulation: SimulationConfig = setting(factory=SimulationConfig)
    workers: int = setting(0, ge=0)
    scheduler: str | None = None
    figures: bool = setting(True)
    restart: bool = setting(False)


@config
class ForcingConfig:
    """What ``blocking forcing`` computes: Roads' forcing from a climatology.

    Attributes:
        climatology: NetCDF with psi (..., time, level, lat, lon) on the T21 grid, e.g. the
            output.nc of a long `sparseworks blocking simulate` run; its axes are found by their
            coordinates and units (any order; psi in any unit of m2 s-1; gzip read as is).
        skip_days: leading snapshots (days) of each member to drop (the spin-up).
        compare: forcing file to compare the new forcing with (default: the reference forcing).
        preset: the model physics the forcing is for, the --preset of the runs that will use it
            (default, lucarini2020, weak-damping); the forcing depends on the model's operators.
    """

    climatology: Path = setting()
    skip_days: int = setting(0, ge=0)
    compare: Path | None = None
    preset: str = setting("default", choices=tuple(PRESETS))
