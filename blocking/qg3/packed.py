"""The packed spectral layout of the fast QG3 kernel: m-major, members and levels as the batch.

The natural layout of this package is complex ``(..., levels, T + 1, T + 1)`` indexed
``[l, m]``. The fast kernel (:mod:`blocking.qg3.fast`) keeps its state in a real array

``(chunks, m, re/im, levels, members_per_chunk, T + 1)``

whose last axis is ``k = l − m`` (slots with ``l > T`` are zero) and whose ``m`` axis lists
the even orders first, then the odd ones (:attr:`PackedLayout.orders`). In this layout each
Legendre sum is one stacked matrix product over ``m`` with the members, levels and fields
of a chunk as the batch, and the Fourier sums of the even and of the odd orders are two
plain matrix products — no transposes between the spectral and the grid steps.

Members are split into chunks of at most ``chunk`` members so that each chunk's grid
fields stay in cache; a last, incomplete chunk is filled with copies of the first member
(their results are dropped by :meth:`PackedLayout.unpack`). Packing and unpacking only
copy numbers, so ``unpack(pack(x)) == x`` bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["PackedLayout"]


class PackedLayout:
    """Index maps between the natural and the packed spectral layouts.

    Args:
        truncation: the triangular truncation T.

    Attributes:
        orders: ``m`` of each row of the packed ``m`` axis: even orders, then odd ones.
        degree: ``l`` of each slot ``(T + 1, T + 1)`` = ``(m row, k)`` (0 where invalid).
        valid: whether the slot holds a coefficient (``l ≤ T``), ``(T + 1, T + 1)``.
    """

    def __init__(self, truncation: int = 21) -> None:
        self.truncation = truncation
        self.size = truncation + 1
        self.orders = np.concatenate([np.arange(0, self.size, 2), np.arange(1, self.size, 2)])
        order, k = np.meshgrid(self.orders, np.arange(self.size), indexing="ij")
        degree = order + k
        self.valid = degree <= truncation
        self.degree = np.where(self.valid, degree, 0)
        self.order = order

    def slot_values(self, per_degree: np.ndarray) -> np.ndarray:
        """A per-degree table ``(..., T + 1)`` spread over the slots → ``(..., T + 1, T + 1)`` (0 where invalid)."""
        return np.where(self.valid, np.asarray(per_degree)[..., self.degree], 0.0)

    def chunking(self, members: int, chunk: int) -> tuple[int, int]:
        """``(chunks, members_per_chunk)`` for ``members`` split into chunks of at most ``chunk``."""
        chunks = math.ceil(members / max(1, chunk))
        return chunks, math.ceil(members / chunks)

    def pack(self, spec: np.ndarray, chunk: int = 8, dtype=np.float64) -> np.ndarray:
        """Natural ``(members, levels, T + 1, T + 1)`` complex → packed real array.

        Args:
            spec: spectral fields; imaginary parts of ``m = 0`` are expected to be zero.
            chunk: the most members per chunk.
            dtype: real dtype of the packed array.

        Returns:
            ``(chunks, T + 1, 2, levels, per_chunk, T + 1)``.
        """
        spec = np.asarray(spec)
        if spec.ndim != 4 or spec.shape[-2:] != (self.size, self.size):
            raise ValueError(f"expected spectral fields (members, levels, {self.size}, {self.size}), got {spec.shape}")
        members, levels = spec.shape[:2]
        chunks, per_chunk = self.chunking(members, chunk)
        gathered = np.where(self.valid, spec[..., self.degree, self.order], 0.0)  # (B, L, M, K)
        padding = chunks * per_chunk - members
        if padding:
            gathered = np.concatenate([gathered, np.repeat(gathered[:1], padding, axis=0)])
        real = np.stack([gathered.real, gathered.imag], axis=-1).astype(dtype)  # (B, L, M, K, 2)
        real = real.reshape(chunks, per_chunk, levels, self.size, self.size, 2)
        return np.ascontiguousarray(real.transpose(0, 3, 5, 2, 1, 4))

    def unpack(self, packed: np.ndarray, members: int | None = None) -> np.ndarray:
        """Packed real array → natural ``(members, levels, T + 1, T + 1)`` complex (first ``members``)."""
        chunks, _, _, levels, per_chunk, _ = packed.shape
        real = packed.transpose(0, 4, 3, 1, 5, 2).reshape(chunks * per_chunk, levels, self.size, self.size, 2)
        complex_dtype = np.result_type(packed.dtype, np.complex64)
        values = (real[..., 0] + 1j * real[..., 1]).astype(complex_dtype)
        if members is not None:
            values = values[:members]
        spec = np.zeros((values.shape[0], levels, self.size, self.size), dtype=complex_dtype)
        spec[..., self.degree[self.valid], self.order[self.valid]] = values[..., self.valid]
        return spec

    def pack_constant(self, spec: np.ndarray, dtype=np.float64) -> np.ndarray:
        """A member-independent field ``(levels, T + 1, T + 1)`` → ``(T + 1, 2, levels, 1, T + 1)``."""
        return self.pack(np.asarray(spec)[None], chunk=1, dtype=dtype)[0]
