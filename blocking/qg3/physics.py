"""Dissipation of the QG3 model: Ekman drag, thermal relaxation, scale-selective ∇⁸ diffusion.

Marshall & Molteni (1993), eqs. 5–8; constants and the orography / land–sea modulation
of the drag as in pyshqg 1.0.1 (``core/dissipation.py``, ``preprocessing/orography.py``).
"""

from __future__ import annotations

import numpy as np

from blocking.qg3.config import QG3Config
from blocking.qg3.operators import coupling_matrix
from blocking.qg3.transforms import SpectralTransform

__all__ = ["EkmanDrag", "ekman_rate", "selective_spectrum", "thermal_matrix"]


def ekman_rate(land_sea_mask: np.ndarray, orography_m: np.ndarray, config: QG3Config) -> np.ndarray:
    """The drag coefficient ``k = τ_E⁻¹ (1 + w_L·LSM + w_h·(1 − e^(−max(h, 0)/h₀)))`` in 1/s.

    Shapes:
        land_sea_mask, orography_m: ``(nlat, nlon)``; returns the same.
    """
    relief = 1.0 - np.exp(-np.maximum(0.0, orography_m / config.ekman_orography_scale_m))
    return (
        1.0 + config.ekman_weight_land_sea_mask * land_sea_mask + config.ekman_weight_orography * relief
    ) / config.tau_ekman_s


class EkmanDrag:
    """Ekman drag on the lowest level, ``E = ∇·(k ∇ψ₃) = k ∇²ψ₃ + ∇k·∇ψ₃``.

    The gradient of k is taken spectrally (T21-truncated k), as in the reference.

    Args:
        rate: k on the grid, shape ``(nlat, nlon)``, from :func:`ekman_rate`.
        transform: the model's :class:`SpectralTransform`.
    """

    def __init__(self, rate: np.ndarray, transform: SpectralTransform) -> None:
        dtype = transform.real_dtype
        self.rate = rate.astype(dtype)
        spec_rate = transform.to_spectral(rate.astype(np.float64))
        self.rate_dlon = transform.dlon_to_grid(spec_rate).astype(dtype)
        self.rate_dlat = transform.dlat_to_grid(spec_rate).astype(dtype)

    def __call__(self, vorticity, dpsi_dlon, dpsi_dlat):
        """E on the grid from ``ζ₃ = ∇²ψ₃`` and the gradient of ψ₃ (shapes ``(..., nlat, nlon)``)."""
        return self.rate * vorticity + self.rate_dlon * dpsi_dlon + self.rate_dlat * dpsi_dlat


def selective_spectrum(transform: SpectralTransform, tau_s: float) -> np.ndarray:
    """Damping rates ``(l(l+1) / (T(T+1)))⁴ / τ`` of the ∇⁸ diffusion, shape ``(T + 1,)``.

    Applied to ``q − f(1 + h/H0)``; the rate at the truncation wavenumber is ``1/τ``.
    """
    truncation = transform.truncation
    scaled = transform.radius**2 * transform.laplacian_eigenvalues / (truncation * (truncation + 1))
    return scaled**4 / tau_s


def thermal_matrix(config: QG3Config) -> np.ndarray:
    """``C / τ_R``: relaxation of the interface (stretching) terms, shape ``(levels, levels)``."""
    return coupling_matrix(config.rossby_radii_m) / config.tau_thermal_s
