"""Global energy and enstrophy of QG3 states (spectral, Parseval on the sphere)."""

from __future__ import annotations

import numpy as np

from blocking.qg3.operators import coupling_matrix

__all__ = ["energy", "enstrophy", "sphere_mean_square"]


def sphere_mean_square(spec: np.ndarray) -> np.ndarray:
    """Global mean of ``x²`` from coefficients: ``Σₗ Σₘ (2 − δₘ₀) |cₗᵐ|²`` (shape ``(...)`` from ``(..., l, m)``)."""
    weight = np.full(spec.shape[-1], 2.0)
    weight[0] = 1.0
    return np.einsum("...lm,m->...", np.abs(spec) ** 2, weight)


def energy(model, spec_psi: np.ndarray) -> np.ndarray:
    """Total energy per unit mass ``−½ ⟨ψ (∇² + C) ψ⟩`` summed over levels, shape ``spec_psi.shape[:-3]``."""
    laplacian = model.transform.laplacian_eigenvalues[:, None]
    stretched = np.einsum("ij,...jlm->...ilm", coupling_matrix(model.config.rossby_radii_m), spec_psi)
    weight = np.full(spec_psi.shape[-1], 2.0)
    weight[0] = 1.0
    product = np.real(np.conj(spec_psi) * (laplacian * spec_psi + stretched))
    return -0.5 * np.einsum("...klm,m->...", product, weight)


def enstrophy(model, spec_q: np.ndarray) -> np.ndarray:
    """``½ ⟨(q − f(1 + δ₃h/H0))²⟩`` summed over levels, shape ``spec_q.shape[:-3]``."""
    return 0.5 * sphere_mean_square(spec_q - model.spec_planetary).sum(axis=-1)
