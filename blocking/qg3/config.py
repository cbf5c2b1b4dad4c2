"""The frozen configuration of the QG3 model (constants of Marshall & Molteni 1993 as in pyshqg 1.0.1)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["QG3Config"]


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
