"""Conversion from the layout of pyshqg 1.0.1's test store to this package's conventions.

pyshqg's spectral arrays are real ``(..., 2, l, m)`` (real / imaginary parts) for the
synthesis ``x = Σ Re[aₗᵐ e^{−imλ'}] (2 − δₘ₀) P̄ₗᵐ(μ')`` on a grid whose physical
coordinates are latitude ``−asin μ'`` and longitude ``λ' + 180°`` (its ``lats`` ascending,
``lons`` from 180°, see ``core/spectral_transformations.py``; the coordinate labels saved
in ``test_t21_t31.zarr`` do not carry this). With ``μ = −μ'`` and ``λ = λ' + π`` our
coefficients are ``cₗᵐ = (−1)ˡ conj(aₗᵐ)`` and our grid (north first, from 0° east) is the
reference grid flipped in latitude and rolled by half a turn in longitude. The physical
fields themselves (q, ψ, tendencies) agree in sign.
"""

from __future__ import annotations

import numpy as np

__all__ = ["from_reference_grid", "from_reference_spectral", "to_reference_spectral"]


def from_reference_spectral(array: np.ndarray) -> np.ndarray:
    """``(..., 2, l, m)`` real reference coefficients → complex ``(..., l, m)`` ours."""
    array = np.asarray(array)
    sign = (-1.0) ** np.arange(array.shape[-2])[:, None]
    return sign * (array[..., 0, :, :] - 1j * array[..., 1, :, :])


def to_reference_spectral(spec: np.ndarray) -> np.ndarray:
    """Inverse of :func:`from_reference_spectral`."""
    sign = (-1.0) ** np.arange(spec.shape[-2])[:, None]
    flipped = sign * np.conj(spec)
    return np.stack([flipped.real, flipped.imag], axis=-3)


def from_reference_grid(array: np.ndarray) -> np.ndarray:
    """Reference grid ``(..., lat, lon)`` → ours (flip latitude, roll longitude by half a turn)."""
    array = np.asarray(array)
    return np.roll(array[..., ::-1, :], array.shape[-1] // 2, axis=-1)
