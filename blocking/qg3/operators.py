"""Linear and bilinear operators of the QG3 model: vertical coupling, PV inversion, Jacobian."""

from __future__ import annotations

import numpy as np

__all__ = ["coupling_matrix", "inversion_matrices", "invert_pv", "jacobian"]


def coupling_matrix(rossby_radii_m: tuple[float, ...]) -> np.ndarray:
    """The vertical stretching operator C of ``q = ∇²ψ + Cψ + ...``.

    Marshall & Molteni (1993), eq. 2: ``(Cψ)₁ = −R₁⁻²(ψ₁ − ψ₂)``,
    ``(Cψ)₂ = R₁⁻²(ψ₁ − ψ₂) − R₂⁻²(ψ₂ − ψ₃)``, ``(Cψ)₃ = R₂⁻²(ψ₂ − ψ₃)``.

    Args:
        rossby_radii_m: the Rossby radii of the interfaces, top to bottom.

    Returns:
        C, shape ``(levels, levels)``; symmetric, negative semi-definite.
    """
    levels = len(rossby_radii_m) + 1
    matrix = np.zeros((levels, levels))
    for k, radius in enumerate(rossby_radii_m):
        matrix[k : k + 2, k : k + 2] -= np.array([[1.0, -1.0], [-1.0, 1.0]]) / radius**2
    return matrix


def inversion_matrices(laplacian_eigenvalues: np.ndarray, coupling: np.ndarray) -> np.ndarray:
    """Per-degree inverses of ``∇² + C``, which map ``q − f(1 + h/H0)`` to ψ.

    For ``l = 0`` the operator is singular (the global mean of ψ is arbitrary): as in
    pyshqg 1.0.1 (``QGPoissonSolver.precompute_q_to_psi_coupling``) the top-level row and
    column are zero and the lower 2 × 2 block is ``inv(C[1:, 1:])``.

    Args:
        laplacian_eigenvalues: ``−l(l + 1)/a²``, shape ``(T + 1,)``.
        coupling: C from :func:`coupling_matrix`, shape ``(levels, levels)``.

    Returns:
        Shape ``(T + 1, levels, levels)``.
    """
    levels = coupling.shape[0]
    result = np.zeros((laplacian_eigenvalues.size, levels, levels))
    result[0, 1:, 1:] = np.linalg.inv(coupling[1:, 1:])
    for degree in range(1, laplacian_eigenvalues.size):
        result[degree] = np.linalg.inv(laplacian_eigenvalues[degree] * np.eye(levels) + coupling)
    return result


def invert_pv(spec_q_minus_planetary: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """ψ from ``q − f(1 + h/H0)`` (level-mixing per degree l).

    Shapes:
        spec_q_minus_planetary: ``(..., levels, T + 1, T + 1)``; inverse:
        ``(T + 1, levels, levels)``; returns like the first.
    """
    return np.einsum("lij,...jlm->...ilm", inverse, spec_q_minus_planetary)


def jacobian(dpsi_dlon, dpsi_dlat, dq_dlon, dq_dlat):
    """``J(ψ, q) = ψ_x q_y − ψ_y q_x`` from the gradients on the sphere.

    With ``x`` the eastward and ``y`` the northward derivative
    (``(1/(a cos φ)) ∂/∂λ`` and ``(1/a) ∂/∂φ``); the advection tendency is ``−J(ψ, q)``
    (Marshall & Molteni 1993, eq. 1).
    """
    return dpsi_dlon * dq_dlat - dpsi_dlat * dq_dlon
