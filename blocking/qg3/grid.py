"""The Gaussian grid and the normalised associated Legendre functions of a T21 model.

Conventions (used throughout :mod:`blocking.qg3`):

- latitudes run north to south (``lat[0] > 0``), longitudes east from 0°;
- ``mu = sin(latitude)`` are the Gauss–Legendre nodes of
  :func:`numpy.polynomial.legendre.leggauss`, in decreasing order;
- the associated Legendre functions carry the *complex* normalisation without the
  Condon–Shortley phase, ``∫₋₁¹ P̄ₗᵐ(μ)² dμ = 2`` (the convention of pyshtools'
  ``cnorm=1, csphase=1`` used by pyshqg 1.0.1), so that a real field is
  ``x(λ, μ) = Σₗ Σₘ₌₋ₗˡ cₗᵐ P̄ₗ|ᵐ|(μ) e^{imλ}`` with ``cₗ₋ₘ = conj(cₗᵐ)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GaussianGrid", "gaussian_grid", "legendre_tables"]


@dataclass(frozen=True, eq=False)
class GaussianGrid:
    """A Gaussian grid: ``nlat`` Gauss–Legendre latitudes × ``nlon`` equally spaced longitudes.

    Attributes:
        lat: latitudes in degrees north, decreasing. Shape ``(nlat,)``.
        lon: longitudes in degrees east, from 0. Shape ``(nlon,)``.
        mu: ``sin(lat)``, the Gauss nodes. Shape ``(nlat,)``.
        weights: Gauss weights (sum 2). Shape ``(nlat,)``.
    """

    lat: np.ndarray
    lon: np.ndarray
    mu: np.ndarray
    weights: np.ndarray

    @property
    def nlat(self) -> int:
        return self.lat.size

    @property
    def nlon(self) -> int:
        return self.lon.size

    @property
    def coslat(self) -> np.ndarray:
        """``cos(lat)`` = ``sqrt(1 - mu²)``, shape ``(nlat,)``."""
        return np.sqrt(1.0 - self.mu**2)


def gaussian_grid(nlat: int = 32) -> GaussianGrid:
    """The ``nlat × 2·nlat`` Gaussian grid (32 × 64 for T21).

    Args:
        nlat: number of Gauss–Legendre latitudes.

    Returns:
        The grid, latitudes north to south, longitudes from 0° east.
    """
    nodes, weights = np.polynomial.legendre.leggauss(nlat)
    mu = nodes[::-1].copy()
    lat = np.degrees(np.arcsin(mu))
    lon = np.arange(2 * nlat) * (360.0 / (2 * nlat))
    return GaussianGrid(lat=lat, lon=lon, mu=mu, weights=weights[::-1].copy())


def legendre_tables(mu: np.ndarray, truncation: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised associated Legendre functions P̄ₗᵐ(μ) and ``(1 − μ²) dP̄ₗᵐ/dμ``.

    Standard three-term recurrences for fully normalised functions (e.g. Holmes &
    Featherstone 2002, J. Geodesy 76, eqs. 11–13), with the complex normalisation
    ``∫ P̄² dμ = 2``; the derivative uses
    ``(1 − μ²) dP̄ₗᵐ/dμ = −l μ P̄ₗᵐ + sqrt((l² − m²)(2l + 1)/(2l − 1)) P̄ₗ₋₁ᵐ``.

    Args:
        mu: the nodes ``sin(latitude)``, all strictly inside (−1, 1).
        truncation: the triangular truncation T.

    Returns:
        ``(p, h)``, each of shape ``(len(mu), T + 1, T + 1)`` indexed ``[i, l, m]``, zero
        for ``m > l``; ``h = (1 − μ²) dp/dμ = cos(lat) ∂p/∂lat``.
    """
    mu = np.asarray(mu, dtype=np.float64)
    size = truncation + 1
    p = np.zeros((mu.size, size, size))
    h = np.zeros_like(p)
    sine = np.sqrt(1.0 - mu**2)
    p[:, 0, 0] = 1.0
    for m in range(1, size):
        p[:, m, m] = np.sqrt((2 * m + 1) / (2 * m)) * sine * p[:, m - 1, m - 1]
    for m in range(size - 1):
        p[:, m + 1, m] = np.sqrt(2 * m + 3) * mu * p[:, m, m]
    for m in range(size):
        for l in range(m + 2, size):
            a = np.sqrt((4 * l * l - 1) / (l * l - m * m))
            b = np.sqrt(((l - 1) ** 2 - m * m) / (4 * (l - 1) ** 2 - 1))
            p[:, l, m] = a * (mu * p[:, l - 1, m] - b * p[:, l - 2, m])
    for m in range(size):
        for l in range(m, size):
            h[:, l, m] = -l * mu * p[:, l, m]
            if l > m:
                h[:, l, m] += np.sqrt((l * l - m * m) * (2 * l + 1) / (2 * l - 1)) * p[:, l - 1, m]
    return p, h
