"""The Marshall–Molteni three-level quasi-geostrophic model: tendencies of batched members.

State: the potential vorticity ``q`` in spectral space, complex
``(..., 3, T + 1, T + 1)`` (any leading member dimensions), levels 200, 500, 800 hPa.

Equations (Marshall & Molteni 1993, QJRMS 119, eqs. 1–8)::

    q = ∇²ψ + Cψ + f (1 + δ₃ h / H0)
    ∂q/∂t = −J(ψ, q) − D(ψ) + S
    D = δ₃ ∇·(k ∇ψ₃) + C ψ / τ_R ... (thermal, sign so that it relaxes Cψ)
        + (l(l+1)/(T(T+1)))⁴ / τ_H · (q − f(1 + δ₃ h/H0))   (∇⁸, spectral)

written after the reference implementation pyshqg 1.0.1 (``core/model.py``), which this
module reproduces to round-off on its own test store (see ``tests/blocking``).
:meth:`QG3Model.terms` is the term-by-term path; :meth:`QG3Model.tendency` and the runs use
the packed kernel :class:`~blocking.qg3.fast.FastTendency` (same tendency, ~3–9× faster).
"""

from __future__ import annotations

import numpy as np

from blocking.qg3.config import QG3Config
from blocking.qg3.fast import FastTendency
from blocking.qg3.operators import coupling_matrix, inversion_matrices, invert_pv, jacobian
from blocking.qg3.physics import EkmanDrag, ekman_rate, selective_spectrum, thermal_matrix
from blocking.qg3.transforms import SpectralTransform

__all__ = ["QG3Model"]

LEVELS_HPA = (200, 500, 800)


class QG3Model:
    """Tendencies, PV inversion and diagnostics of the QG3 model.

    Args:
        config: the constants (:class:`QG3Config`).
        orography_m: surface height on the model grid, shape ``(nlat, nlon)``.
        land_sea_mask: land fraction on the model grid (0 sea … 1 land), ``(nlat, nlon)``.
        forcing: the time-independent PV source S in 1/s², shape ``(3, nlat, nlon)``.

    Shapes:
        spec_q: ``(..., 3, T + 1, T + 1)`` complex; grid fields ``(..., 3, nlat, nlon)``.
    """

    def __init__(
        self, config: QG3Config, orography_m: np.ndarray, land_sea_mask: np.ndarray, forcing: np.ndarray
    ) -> None:
        self.config = config
        dtype = np.dtype(config.dtype)
        self.transform = SpectralTransform(config.truncation, config.nlat, config.radius_m, dtype)
        grid_shape = self.transform.shape_grid
        for name, array, shape in (
            ("orography", orography_m, grid_shape),
            ("land_sea_mask", land_sea_mask, grid_shape),
            ("forcing", forcing, (len(LEVELS_HPA), *grid_shape)),
        ):
            if np.shape(array) != shape:
                raise ValueError(f"{name}: expected shape {shape} on the model grid, got {np.shape(array)}")
        self.orography_m = np.asarray(orography_m, dtype=np.float64)
        self.land_sea_mask = np.asarray(land_sea_mask, dtype=np.float64)
        self._forcing = np.asarray(forcing).astype(dtype)
        self.fast: FastTendency | None = None
        coupling = coupling_matrix(config.rossby_radii_m)
        self.inverse = inversion_matrices(self.transform.laplacian_eigenvalues, coupling).astype(dtype)
        coriolis = 2.0 * config.omega_per_s * self.transform.grid.mu[:, None] * np.ones(grid_shape)
        planetary = np.repeat(coriolis[None], len(LEVELS_HPA), axis=0)
        planetary[-1] *= 1.0 + self.orography_m / config.orography_scale_m
        self.spec_planetary = self.transform.to_spectral(planetary)
        """``f (1 + δ₃ h/H0)`` in spectral space, shape ``(3, T + 1, T + 1)``."""
        self.ekman = EkmanDrag(ekman_rate(self.land_sea_mask, self.orography_m, config), self.transform)
        self.selective = selective_spectrum(self.transform, config.tau_selective_s)[:, None].astype(dtype)
        self.thermal = thermal_matrix(config).astype(dtype)
        self.laplacian = self.transform.laplacian_eigenvalues[:, None].astype(dtype)
        self.fast = FastTendency(self, config.chunk_members)
        """The fast kernel on packed states (:mod:`blocking.qg3.fast`), used by :meth:`tendency` and the runs."""

    @property
    def forcing(self) -> np.ndarray:
        """The time-independent PV source S on the grid, ``(3, nlat, nlon)`` in 1/s² (settable)."""
        return self._forcing

    @forcing.setter
    def forcing(self, value: np.ndarray) -> None:
        self._forcing = np.asarray(value).astype(self.transform.real_dtype)
        if self.fast is not None:
            self.fast.set_forcing(self._forcing)

    # ------------------------------------------------------------------ diagnostics
    def streamfunction(self, spec_q: np.ndarray) -> np.ndarray:
        """ψ (spectral, m²/s) by PV inversion of ``q − f(1 + δ₃h/H0)``."""
        return invert_pv(spec_q - self.spec_planetary, self.inverse)

    def q_from_streamfunction(self, spec_psi: np.ndarray) -> np.ndarray:
        """``q = ∇²ψ + Cψ + f(1 + δ₃h/H0)`` (spectral), the inverse of :meth:`streamfunction`."""
        coupling = coupling_matrix(self.config.rossby_radii_m)
        stretched = np.einsum("ij,...jlm->...ilm", coupling, spec_psi)
        return self.laplacian * spec_psi + stretched + self.spec_planetary

    # ------------------------------------------------------------------ tendencies
    def terms(self, spec_q: np.ndarray) -> dict[str, np.ndarray]:
        """Every term of the tendency, for diagnostics and the parity tests.

        Returns:
            dict with ``spec_psi`` (spectral ψ), ``advection`` (grid, ``−J(ψ, q)``),
            ``ekman`` (grid, the drag D_E, nonzero on the lowest level only),
            ``spec_selective`` and ``spec_thermal`` (spectral dissipation, positive
            operators subtracted from the tendency) and ``spec_tendency`` (∂q/∂t).
        """
        spec_rel = spec_q - self.spec_planetary
        spec_psi = invert_pv(spec_rel, self.inverse)
        levels = spec_q.shape[-3]
        stacked = np.concatenate([spec_psi, spec_q], axis=-3)
        dlon, dlat = self.transform.gradients_to_grid(stacked)
        vorticity = self.transform.to_grid(self.laplacian * spec_psi[..., -1, :, :])
        advection = -jacobian(
            dlon[..., :levels, :, :], dlat[..., :levels, :, :], dlon[..., levels:, :, :], dlat[..., levels:, :, :]
        )
        drag = self.ekman(vorticity, dlon[..., levels - 1, :, :], dlat[..., levels - 1, :, :])
        ekman = np.zeros_like(advection)
        ekman[..., -1, :, :] = drag
        spec_selective = self.selective * spec_rel
        spec_thermal = np.einsum("ij,...jlm->...ilm", self.thermal, spec_psi)
        grid_tendency = advection + self.forcing - ekman
        spec_tendency = self.transform.to_spectral(grid_tendency) - spec_selective - spec_thermal
        return dict(
            spec_psi=spec_psi,
            advection=advection,
            ekman=ekman,
            spec_selective=spec_selective,
            spec_thermal=spec_thermal,
            spec_tendency=spec_tendency,
        )

    def tendency(self, spec_q: np.ndarray) -> np.ndarray:
        """∂q/∂t in spectral space by the fast kernel (packs, evaluates, unpacks).

        Shapes:
            spec_q: ``(..., 3, T + 1, T + 1)`` complex; returns the same shape.
        """
        spec_q = np.asarray(spec_q)
        batch = spec_q.shape[:-3]
        flat = spec_q.reshape(-1, *spec_q.shape[-3:])
        packed = self.fast.pack(flat)
        result = self.fast.unpack(self.fast(packed), flat.shape[0])
        return result.reshape(*batch, *result.shape[1:])

    def direct_tendency(self, spec_q: np.ndarray) -> np.ndarray:
        """∂q/∂t on the natural layout without the packed kernel (the earlier implementation).

        Kept as an independent cross-check of :class:`~blocking.qg3.fast.FastTendency` and as
        the same-run baseline of ``benchmarks/qg3_speed.py``.
        """
        spec_rel = spec_q - self.spec_planetary
        spec_psi = invert_pv(spec_rel, self.inverse)
        levels = spec_q.shape[-3]
        stacked = np.concatenate([spec_psi, spec_q], axis=-3)
        fourier_dlon, fourier_dlat = self.transform.legendre_gradients(stacked)
        dlon = self.transform.fourier_to_grid(fourier_dlon)
        dlat = self.transform.fourier_to_grid(fourier_dlat)
        vorticity = self.transform.to_grid(self.laplacian * spec_psi[..., -1, :, :])
        grid_tendency = jacobian(
            dlon[..., levels:, :, :], dlat[..., levels:, :, :], dlon[..., :levels, :, :], dlat[..., :levels, :, :]
        )  # = −J(ψ, q)
        grid_tendency += self.forcing
        grid_tendency[..., -1, :, :] -= self.ekman(vorticity, dlon[..., levels - 1, :, :], dlat[..., levels - 1, :, :])
        spec_tendency = self.transform.to_spectral(grid_tendency)
        spec_tendency -= self.selective * spec_rel
        spec_tendency -= np.einsum("ij,...jlm->...ilm", self.thermal, spec_psi)
        return spec_tendency
