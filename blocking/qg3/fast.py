"""The fast QG3 tendency: packed m-major spectral state, Legendre and Fourier sums as GEMMs.

Computes the tendency of :meth:`blocking.qg3.model.QG3Model.terms` (Marshall & Molteni
1993, eqs. 1–8) on the packed layout of :mod:`blocking.qg3.packed`, chunk by chunk of
members. For one chunk every step is one NumPy call over the whole chunk, in a memory
layout chosen so that no step transposes:

1. ψ from ``r = q − f(1 + δ₃h/H0)`` in the vertical normal modes of the stretching
   operator ``C = V Λ Vᵀ``: ``(∇² + C)⁻¹ = V diag(1/(λₖ − l(l+1)/a²)) Vᵀ`` (``l ≥ 1``; the
   singular ``l = 0`` is set as in :func:`~blocking.qg3.operators.inversion_matrices`).
2. Two stacked products over ``m`` on ``[ψ, q, ∇²ψ₃]``: ``H̄/(a cos φ)`` (northward
   gradients; ``H̄ = (1 − μ²) dP̄/dμ``) and ``P̄/(a cos φ)`` (values over ``a cos φ``).
3. Fourier sums as matrix products with the DFT matrix (``∂/∂λ`` folded into a second
   one for the eastward gradients), split by the parity of m
   (``e^{im(λ+π)} = (−1)ᵐ e^{imλ}``: half the longitudes, then sum and difference).
4. ``−J(ψ, q) = ψ_y q_x − ψ_x q_y`` and the Ekman drag ``k ζ₃ + ∇k·∇ψ₃`` on the grid, the
   Fourier analysis (again split by parity) and one stacked Gauss–Legendre product back.
5. The forcing ``S`` (transformed once) and ``−L(l) r`` with
   ``L(l) = (l(l+1)/(T(T+1)))⁴/τ_H · I + (C/τ_R)(∇² + C)⁻¹``, diagonal in the same modes:
   ∇⁸ diffusion and thermal relaxation in one step.

Grid fields inside the kernel are ordered ``(lon, ..., lat)`` (:func:`to_kernel_grid`).
"""

from __future__ import annotations

import numpy as np

from blocking.qg3.grid import legendre_tables
from blocking.qg3.operators import coupling_matrix, inversion_matrices
from blocking.qg3.packed import PackedLayout
from blocking.qg3.physics import selective_spectrum, thermal_matrix

__all__ = ["FastTendency", "to_kernel_grid"]

LEVELS = 3
FIELDS = 2 * LEVELS + 1  # ψ and q of each level, ∇²ψ₃


def to_kernel_grid(field: np.ndarray) -> np.ndarray:
    """A grid field ``(..., nlat, nlon)`` → the kernel's order ``(nlon, ..., nlat)``."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(field), -1, 0))


class _Work:
    """Work arrays and member-expanded constants of one chunk size (reused between calls)."""

    def __init__(self, kernel: FastTendency, b: int) -> None:
        size, nlat, nlon, dtype = kernel.size, kernel.nlat, kernel.nlon, kernel.dtype
        spectral = (size, 2, LEVELS, b, size)

        def expand(array, shape):
            return np.ascontiguousarray(np.broadcast_to(array, shape), dtype=dtype)

        self.planetary = expand(kernel.planetary, spectral)
        self.forcing = expand(kernel.forcing, spectral)
        self.inverse_modes = expand(kernel.inverse_modes, spectral).reshape(2 * size, LEVELS, -1)
        self.linear_modes = expand(kernel.linear_modes, spectral).reshape(2 * size, LEVELS, -1)
        self.laplacian = expand(kernel.laplacian, (size, 2, b, size))
        grid = (nlon, b, nlat)
        self.drag = [expand(array, grid) for array in kernel.drag]
        self.relative = np.empty(spectral, dtype)
        self.modes = np.empty((2 * size, LEVELS, b * size), dtype)
        self.scaled = np.empty_like(self.modes)
        self.linear = np.empty_like(self.modes)
        self.spectral = np.empty((size, 2, FIELDS, b, size), dtype)
        self.fh = np.empty((size, 2 * FIELDS * b, nlat), dtype)
        self.fp = np.empty_like(self.fh)
        half = nlon // 2
        self.even = np.empty((half, 2 * LEVELS * b * nlat), dtype)
        self.odd = np.empty_like(self.even)
        self.gy = np.empty((nlon, 2 * LEVELS * b * nlat), dtype)
        self.gx = np.empty_like(self.gy)
        self.gz = np.empty((nlon, b * nlat), dtype)
        self.tendency = np.empty((nlon, LEVELS, b, nlat), dtype)
        self.product = np.empty_like(self.tendency)
        self.drag_total = np.empty((nlon, b, nlat), dtype)
        self.drag_term = np.empty_like(self.drag_total)
        self.folded = np.empty((2, half, LEVELS * b * nlat), dtype)
        self.fourier = np.empty((size, 2 * LEVELS * b, nlat), dtype)
        self.coefficients = np.empty((size, 2 * LEVELS * b, size), dtype)


class FastTendency:
    """∂q/∂t of a :class:`~blocking.qg3.model.QG3Model` on packed, chunked states.

    Args:
        model: the model (constants, inputs, dtype, forcing).
        chunk: the most members per chunk (cache blocking; 8 suits T21).

    Shapes:
        packed state: ``(chunks, T + 1, 2, 3, per_chunk, T + 1)`` (:class:`PackedLayout`).
    """

    def __init__(self, model, chunk: int = 8) -> None:
        config, transform = model.config, model.transform
        self.chunk = chunk
        self.layout = layout = PackedLayout(config.truncation)
        self.dtype = dtype = np.dtype(config.dtype)
        grid = transform.grid
        self.size, self.nlat, self.nlon = layout.size, grid.nlat, grid.nlon
        if self.nlon % 2:
            raise ValueError(f"the fast kernel needs an even number of longitudes, got {self.nlon}")
        radius = config.radius_m
        p, h = legendre_tables(grid.mu, config.truncation)  # (nlat, l, m)
        valid = layout.valid[..., None]
        p_slots = np.where(valid, np.moveaxis(p[:, layout.degree, layout.order], 0, -1), 0.0)  # (m, k, lat)
        h_slots = np.where(valid, np.moveaxis(h[:, layout.degree, layout.order], 0, -1), 0.0)
        inverse_a_coslat = 1.0 / (radius * grid.coslat)
        self.synthesis_p = (p_slots * inverse_a_coslat).astype(dtype)
        self.synthesis_h = (h_slots * inverse_a_coslat).astype(dtype)
        self.analysis = np.ascontiguousarray(np.swapaxes(p_slots * (0.5 * grid.weights), -1, -2)).astype(dtype)
        self._fourier_tables(layout.orders)
        degrees = transform.laplacian_eigenvalues  # −l(l+1)/a²
        self.laplacian = layout.slot_values(degrees)[:, None, None, :]
        coupling = coupling_matrix(config.rossby_radii_m)
        eigenvalues, vectors = np.linalg.eigh(coupling)
        self.vectors, self.vectors_t = vectors.astype(dtype), np.ascontiguousarray(vectors.T).astype(dtype)
        denominator = eigenvalues[:, None] + degrees[None, :]  # (mode, l)
        inverse = np.divide(1.0, denominator, out=np.zeros_like(denominator), where=np.arange(degrees.size) > 0)
        selective = selective_spectrum(transform, config.tau_selective_s)
        linear = selective[None, :] + eigenvalues[:, None] / config.tau_thermal_s * inverse
        self.inverse_modes = np.moveaxis(layout.slot_values(inverse), 0, 1)[:, None, :, None, :]  # (m, 1, mode, 1, k)
        self.linear_modes = np.moveaxis(layout.slot_values(linear), 0, 1)[:, None, :, None, :]
        inverse_0 = inversion_matrices(degrees[:1], coupling)[0]
        self.inverse_0 = inverse_0.astype(dtype)  # l = 0 (m = 0, k = 0)
        self.linear_0 = (thermal_matrix(config) @ inverse_0).astype(dtype)
        self.planetary = layout.pack_constant(model.spec_planetary)
        coslat = grid.coslat[:, None]
        self.drag = [
            to_kernel_grid(model.ekman.rate * radius * coslat)[:, None],
            to_kernel_grid(model.ekman.rate_dlon)[:, None],
            to_kernel_grid(model.ekman.rate_dlat)[:, None],
        ]
        self._transform = transform
        self._work: dict[int, _Work] = {}
        self.set_forcing(model.forcing)

    def _fourier_tables(self, orders: np.ndarray) -> None:
        half, nlon = self.nlon // 2, self.nlon
        self.n_even = int(np.sum(orders % 2 == 0))
        angle = np.outer(2.0 * np.pi * np.arange(half) / nlon, orders)  # (lon < π, m row)
        factor = np.where(orders == 0, 1.0, 2.0)
        value = np.stack([factor * np.cos(angle), -factor * np.sin(angle)], axis=-1).reshape(half, -1)
        slope = -factor * orders  # ∂/∂λ of the synthesis: −f m (a sin mλ + b cos mλ)
        dlon = np.stack([slope * np.sin(angle), slope * np.cos(angle)], axis=-1).reshape(half, -1)
        analysis = np.stack([np.cos(angle).T, -np.sin(angle).T], axis=1).reshape(-1, half) / nlon
        split = 2 * self.n_even

        def columns(table):
            return tuple(np.ascontiguousarray(part).astype(self.dtype) for part in (table[:, :split], table[:, split:]))

        self.synthesis_value, self.synthesis_dlon = columns(value), columns(dlon)
        self.analysis_even = np.ascontiguousarray(analysis[:split]).astype(self.dtype)
        self.analysis_odd = np.ascontiguousarray(analysis[split:]).astype(self.dtype)

    def set_forcing(self, forcing: np.ndarray) -> None:
        """Use the grid forcing ``(3, nlat, nlon)`` (transformed once to spectral space)."""
        spec = self._transform.to_spectral(np.asarray(forcing, dtype=np.float64))
        self.forcing = self.layout.pack_constant(spec)
        self._work = {}

    def pack(self, spec_q: np.ndarray) -> np.ndarray:
        """Natural ``(members, 3, T + 1, T + 1)`` → packed state of this kernel's dtype and chunk size."""
        return self.layout.pack(spec_q, self.chunk, self.dtype)

    def unpack(self, packed: np.ndarray, members: int | None = None) -> np.ndarray:
        """Packed state → natural ``(members, 3, T + 1, T + 1)`` complex."""
        return self.layout.unpack(packed, members)

    def __call__(self, packed: np.ndarray) -> np.ndarray:
        """∂q/∂t of a packed state (same shape and dtype)."""
        result = np.empty_like(packed)
        for index in range(packed.shape[0]):
            self._chunk(packed[index], result[index])
        return result

    def work(self, members: int) -> _Work:
        if members not in self._work:
            self._work[members] = _Work(self, members)
        return self._work[members]

    def _fourier_to_grid(self, fourier: np.ndarray, columns: slice, tables, grid: np.ndarray, work: _Work) -> None:
        """Grid values (``nlon`` rows) of the given columns of Fourier coefficients ``(T + 1, 2, ...)``."""
        rows, half = 2 * self.n_even, self.nlon // 2
        flat = fourier.reshape(2 * self.size, -1)[:, columns]
        count = flat.shape[1]
        even = np.matmul(tables[0], flat[:rows], out=work.even[:, :count])
        odd = np.matmul(tables[1], flat[rows:], out=work.odd[:, :count])
        np.add(even, odd, out=grid[:half])
        np.subtract(even, odd, out=grid[half:])

    def _chunk(self, q: np.ndarray, out: np.ndarray) -> None:
        size, nlat, nlon = self.size, self.nlat, self.nlon
        b = q.shape[-2]
        work = self.work(b)
        # 1. PV inversion in the vertical modes, into the spectral input [ψ, q, ∇²ψ₃]
        relative = np.subtract(q, work.planetary, out=work.relative)
        modes = np.matmul(self.vectors_t, relative.reshape(2 * size, LEVELS, -1), out=work.modes)
        spectral = work.spectral
        flat = spectral.reshape(2 * size, FIELDS, -1)
        np.matmul(self.vectors, np.multiply(modes, work.inverse_modes, out=work.scaled), out=flat[:, :LEVELS])
        spectral[0, :, :LEVELS, :, 0] = np.matmul(self.inverse_0, relative[0, :, :, :, 0])
        flat[:, LEVELS : 2 * LEVELS] = q.reshape(2 * size, LEVELS, -1)
        np.multiply(spectral[:, :, LEVELS - 1], work.laplacian, out=spectral[:, :, 2 * LEVELS])
        # 2. Legendre sums: H̄/(a cos φ) (northward gradients), P̄/(a cos φ) (values)
        fh = np.matmul(spectral.reshape(size, -1, size), self.synthesis_h, out=work.fh)
        fp = np.matmul(spectral.reshape(size, -1, size), self.synthesis_p, out=work.fp)
        # 3. Fourier sums: northward gradients, eastward gradients (i m in the DFT), ζ₃/(a cos φ)
        gradients = slice(0, 2 * LEVELS * b * nlat)
        self._fourier_to_grid(fh, gradients, self.synthesis_value, work.gy, work)
        self._fourier_to_grid(fp, gradients, self.synthesis_dlon, work.gx, work)
        self._fourier_to_grid(fp, slice(gradients.stop, None), self.synthesis_value, work.gz, work)
        gy = work.gy.reshape(nlon, 2 * LEVELS, b, nlat)
        gx = work.gx.reshape(nlon, 2 * LEVELS, b, nlat)
        psi_y, q_y, psi_x, q_x = gy[:, :LEVELS], gy[:, LEVELS:], gx[:, :LEVELS], gx[:, LEVELS:]
        # 4. −J(ψ, q) = ψ_y q_x − ψ_x q_y, minus the Ekman drag on the lowest level
        tendency = np.multiply(psi_y, q_x, out=work.tendency)
        tendency -= np.multiply(psi_x, q_y, out=work.product)
        drag = np.multiply(work.gz.reshape(nlon, b, nlat), work.drag[0], out=work.drag_total)
        drag += np.multiply(psi_x[:, LEVELS - 1], work.drag[1], out=work.drag_term)
        drag += np.multiply(psi_y[:, LEVELS - 1], work.drag[2], out=work.drag_term)
        tendency[:, LEVELS - 1] -= drag
        half, rows = nlon // 2, 2 * self.n_even
        flat_t = tendency.reshape(nlon, -1)
        folded = work.folded
        np.add(flat_t[:half], flat_t[half:], out=folded[0])
        np.subtract(flat_t[:half], flat_t[half:], out=folded[1])
        fourier = work.fourier.reshape(2 * size, -1)
        np.matmul(self.analysis_even, folded[0], out=fourier[:rows])
        np.matmul(self.analysis_odd, folded[1], out=fourier[rows:])
        coefficients = np.matmul(work.fourier, self.analysis, out=work.coefficients)
        # 5. forcing and the linear terms (∇⁸ diffusion + thermal relaxation)
        linear = np.matmul(self.vectors, np.multiply(modes, work.linear_modes, out=work.scaled), out=work.linear)
        linear = linear.reshape(out.shape)
        linear[0, :, :, :, 0] = np.matmul(self.linear_0, relative[0, :, :, :, 0])
        np.add(coefficients.reshape(out.shape), work.forcing, out=out)
        out -= linear
