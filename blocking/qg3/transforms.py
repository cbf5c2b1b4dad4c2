"""Spherical-harmonic transforms on the Gaussian grid: Gauss–Legendre quadrature + real FFT.

Spectral fields are complex arrays ``(..., T + 1, T + 1)`` indexed ``[l, m]`` (zero for
``m > l``); grid fields are real arrays ``(..., nlat, nlon)`` on
:func:`blocking.qg3.grid.gaussian_grid`. The Legendre sums of all members, levels and
fields are done as one stacked matrix product per call (one matrix per zonal wavenumber
``m``), the Fourier sums by :func:`numpy.fft.rfft` / :func:`numpy.fft.irfft`.
"""

from __future__ import annotations

import math

import numpy as np

from blocking.qg3.grid import GaussianGrid, gaussian_grid, legendre_tables

__all__ = ["SpectralTransform"]


class SpectralTransform:
    """Synthesis (spectral → grid), analysis (grid → spectral) and horizontal gradients.

    Args:
        truncation: triangular truncation T (21).
        nlat: Gaussian latitudes (32; ``nlon = 2·nlat``). Quadratic terms are alias free
            when ``nlat ≥ (3T + 1)/2``.
        radius: planet radius in metres.
        dtype: ``numpy.float64`` (default) or ``numpy.float32``.

    Shapes:
        spectral: ``(..., T + 1, T + 1)`` complex; grid: ``(..., nlat, nlon)`` real.
    """

    def __init__(self, truncation: int = 21, nlat: int = 32, radius: float = 6.371e6, dtype: type = np.float64) -> None:
        self.truncation = truncation
        self.radius = radius
        self.real_dtype = np.dtype(dtype)
        self.complex_dtype = np.result_type(self.real_dtype, np.complex64)
        self.grid: GaussianGrid = gaussian_grid(nlat)
        nlon = self.grid.nlon
        p, h = legendre_tables(self.grid.mu, truncation)
        coslat = self.grid.coslat
        # synthesis tables [m, i, l]
        self._p = np.ascontiguousarray(p.transpose(2, 0, 1), dtype=self.real_dtype)
        dlat = h / (coslat[:, None, None] * radius)  # (1/a) ∂P/∂lat
        self._dlat = np.ascontiguousarray(dlat.transpose(2, 0, 1), dtype=self.real_dtype)
        # analysis table [m, l, i]: Gauss weights, ½ for the ∫ P̄² dμ = 2 normalisation
        weights = 0.5 * self.grid.weights[:, None, None] * p
        self._analysis = np.ascontiguousarray(weights.transpose(2, 1, 0), dtype=self.real_dtype)
        self._p_and_dlat = np.ascontiguousarray(
            np.stack([self._p, self._dlat], axis=1).reshape(truncation + 1, 2 * self.grid.nlat, truncation + 1)
        )
        m_over = np.arange(truncation + 1)[:, None] / (radius * coslat[None, :])
        self._m_over_a_coslat = m_over.astype(self.real_dtype)  # (m, i)
        # Fourier matrices: rows (m, re/im) → longitudes, and back
        size = truncation + 1
        angle = np.outer(np.arange(size), 2.0 * np.pi * np.arange(nlon) / nlon)  # (m, k)
        factor = np.where(np.arange(size) == 0, 1.0, 2.0)[:, None]
        synthesis = np.stack([factor * np.cos(angle), -factor * np.sin(angle)], axis=1)
        self._fourier_synthesis = synthesis.reshape(2 * size, nlon).astype(self.real_dtype)
        analysis = np.stack([np.cos(angle), -np.sin(angle)], axis=1) / nlon
        self._fourier_analysis = np.ascontiguousarray(analysis.reshape(2 * size, nlon).T, dtype=self.real_dtype)
        self._inverse_a_coslat = (1.0 / (radius * coslat))[:, None].astype(self.real_dtype)
        self._i_m = (1j * np.arange(truncation + 1)).astype(self.complex_dtype)
        degree = np.arange(truncation + 1, dtype=np.float64)
        self.laplacian_eigenvalues = -degree * (degree + 1) / radius**2
        """Eigenvalues ``−l(l + 1)/a²`` of ∇², shape ``(T + 1,)`` (indexed by l)."""

    @property
    def shape_spectral(self) -> tuple[int, int]:
        return (self.truncation + 1, self.truncation + 1)

    @property
    def shape_grid(self) -> tuple[int, int]:
        return (self.grid.nlat, self.grid.nlon)

    def _legendre_to_grid(self, spec: np.ndarray, table: np.ndarray) -> np.ndarray:
        batch = spec.shape[:-2]
        count = math.prod(batch)
        size = self.truncation + 1
        coeffs = np.ascontiguousarray(
            spec.reshape(count, size, size).transpose(2, 1, 0), dtype=self.complex_dtype
        ).view(self.real_dtype)  # (m, l, 2·count)
        nlat = self.grid.nlat
        fourier = (table @ coeffs).reshape(size, nlat, count, 2)  # (m, i, member, re/im)
        rows = np.ascontiguousarray(fourier.transpose(2, 1, 0, 3)).reshape(count * nlat, 2 * size)
        grid = rows @ self._fourier_synthesis
        return grid.reshape(*batch, *self.shape_grid)

    def to_grid(self, spec: np.ndarray) -> np.ndarray:
        """Synthesis ``x(λ, μ) = Σ cₗᵐ P̄ₗᵐ(μ) e^{imλ}`` (+ conjugates)."""
        return self._legendre_to_grid(spec, self._p)

    def dlon_to_grid(self, spec: np.ndarray) -> np.ndarray:
        """``(1 / (a cos φ)) ∂x/∂λ`` on the grid (eastward derivative, 1/m)."""
        return self._legendre_to_grid(spec * self._i_m, self._p) * self._inverse_a_coslat

    def dlat_to_grid(self, spec: np.ndarray) -> np.ndarray:
        """``(1 / a) ∂x/∂φ`` on the grid (northward derivative, 1/m)."""
        return self._legendre_to_grid(spec, self._dlat)

    def gradients_to_grid(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both gradient components of the same fields in two stacked transforms."""
        return self.dlon_to_grid(spec), self.dlat_to_grid(spec)

    def legendre_gradients(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fourier coefficients of ``(1/(a cos φ)) ∂x/∂λ`` and ``(1/a) ∂x/∂φ`` (one Legendre sum).

        Returns:
            Two real arrays ``(T + 1, nlat, *batch, 2)`` (m, latitude, ..., re/im) for
            :meth:`fourier_to_grid`. The λ-derivative is taken after the Legendre sum.

        Shapes:
            spec: ``(*batch, T + 1, T + 1)`` complex.
        """
        batch = spec.shape[:-2]
        count = math.prod(batch)
        size, nlat = self.truncation + 1, self.grid.nlat
        coeffs = np.ascontiguousarray(
            spec.reshape(count, size, size).transpose(2, 1, 0), dtype=self.complex_dtype
        ).view(self.real_dtype)
        both = (self._p_and_dlat @ coeffs).reshape(size, 2, nlat, *batch, 2)
        values, dlat = both[:, 0], both[:, 1]
        dlon = np.empty_like(values)
        factor = self._m_over_a_coslat.reshape(size, nlat, *([1] * len(batch)))
        dlon[..., 0] = -factor * values[..., 1]
        dlon[..., 1] = factor * values[..., 0]
        return dlon, dlat

    def fourier_to_grid(self, fourier: np.ndarray) -> np.ndarray:
        """Grid values from Fourier coefficients ``(T + 1, nlat, *batch, 2)`` → ``(*batch, nlat, nlon)``."""
        size, nlat = fourier.shape[:2]
        batch = fourier.shape[2:-1]
        order = (*range(2, 2 + len(batch)), 1, 0, 2 + len(batch))
        rows = np.ascontiguousarray(fourier.transpose(order)).reshape(-1, 2 * size)
        return (rows @ self._fourier_synthesis).reshape(*batch, nlat, self.grid.nlon)

    def to_spectral(self, grid: np.ndarray) -> np.ndarray:
        """Analysis by Gauss–Legendre quadrature; exact inverse of :meth:`to_grid` on T21 fields."""
        batch = grid.shape[:-2]
        count = math.prod(batch)
        size = self.truncation + 1
        nlat = self.grid.nlat
        rows = np.asarray(grid, dtype=self.real_dtype).reshape(count * nlat, self.grid.nlon)
        fourier = (rows @ self._fourier_analysis).reshape(count, nlat, size, 2)
        fourier = np.ascontiguousarray(fourier.transpose(2, 1, 0, 3)).reshape(size, nlat, 2 * count)
        coeffs = (self._analysis @ fourier).view(self.complex_dtype)  # (m, l, member)
        return np.ascontiguousarray(coeffs.transpose(2, 1, 0)).reshape(*batch, size, size)
