"""The code selection algorithm (CSA) as pure functions, vectorised over macs.

After Rinkus (2010, Frontiers in Neuroanatomy 4:17, Fig. 2, steps 1-8; 2014, Frontiers
in Computational Neuroscience 8:160, Table 1): normalised input sums → cell familiarity
V → global familiarity G → expansivity η → choice weights μ → one winner per CM.

Arrays carry leading "mac" dimensions; the last two are (Q CMs, K cells).
"""

from __future__ import annotations

import numpy as np

from memory.config import CSAConfig

__all__ = [
    "best_winners",
    "choice_weights",
    "expansivity",
    "familiarity",
    "global_familiarity",
    "input_sums",
    "pack_weights",
    "sample_winners",
    "unpack_weights",
]

_RUN = 255  # rows summed at once in the byte lanes of a 64-bit word (no carry below 256)


def input_sums(active: np.ndarray, weights: np.ndarray, cells: int | None = None) -> np.ndarray:
    """Raw input sums: for every cell, how many active inputs reach it through set weights.

    Rinkus (2014) Table 1, step 1 (U, H and D sums alike). Only the active inputs' weight
    rows are read, so the cost is (active inputs) × (cells), whatever is stored. The
    weights are either boolean or packed bits (:func:`pack_weights`: eight cells per byte,
    ``cells`` given); packed rows are unpacked after they are gathered. When the number of
    cells is a multiple of 8, eight weights are added at once as the bytes of one 64-bit
    word ("SIMD within a register"): a byte cannot carry into its neighbour while at most
    255 rows are added, so rows are summed in runs of 255.

    Args:
        active: which inputs of each mac's receptive field are on.
        weights: binary weights from RF inputs to the mac's cells, bool or packed uint8.
        cells: the number of cells, for packed weights.

    Returns:
        The sums, int32.

    Shapes:
        active: (macs, rf); weights: (macs, rf, cells) bool or (macs, rf, ceil(cells / 8))
        uint8 → (macs, cells).
    """
    packed = weights.dtype == np.uint8
    if packed and cells is None:
        raise ValueError("input_sums: packed weights need the number of cells")
    macs = weights.shape[0]
    cells = cells if packed else weights.shape[2]
    mac_index, input_index = np.nonzero(active)
    sums = np.zeros((macs, cells), dtype=np.int32)
    if mac_index.size == 0:
        return sums
    rows = weights[mac_index, input_index]
    if packed:
        rows = np.unpackbits(rows, axis=-1, count=cells, bitorder="little")
    position = np.arange(mac_index.size)
    first = np.r_[True, mac_index[1:] != mac_index[:-1]]
    run_start = np.maximum.accumulate(np.where(first, position, 0))
    starts = np.flatnonzero(first | ((position - run_start) % _RUN == 0))
    lanes = cells % 8 == 0
    words = rows.view(np.uint64) if lanes else rows
    for start, stop in zip(starts, np.r_[starts[1:], mac_index.size], strict=True):
        if lanes:
            sums[mac_index[start]] += words[start:stop].sum(axis=0, dtype=np.uint64).view(np.uint8)
        else:
            sums[mac_index[start]] += np.count_nonzero(words[start:stop], axis=0).astype(np.int32)
    return sums


def pack_weights(weights: np.ndarray) -> np.ndarray:
    """Boolean weights as packed bits, eight cells a byte (cell c: byte c // 8, bit c % 8).

    Shapes:
        weights: (..., cells) bool → (..., ceil(cells / 8)) uint8.
    """
    return np.packbits(np.asarray(weights, dtype=bool), axis=-1, bitorder="little")


def unpack_weights(packed: np.ndarray, cells: int) -> np.ndarray:
    """The inverse of :func:`pack_weights`. (..., ceil(cells / 8)) uint8 → (..., cells) bool."""
    return np.unpackbits(packed, axis=-1, count=cells, bitorder="little").astype(bool)


def familiarity(terms: list[np.ndarray]) -> np.ndarray:
    """Cell familiarity V: the product of the normalised U, H and D sums present.

    Rinkus (2014) Table 1, step 4: V_i = u_i · h_i · d_i, each term in [0, 1].

    Shapes:
        each term: (..., Q, K) → (..., Q, K).
    """
    result = terms[0].astype(np.float64, copy=True)
    for term in terms[1:]:
        result *= term
    return result


def global_familiarity(v: np.ndarray) -> np.ndarray:
    """G: the mean over CMs of each CM's largest V (Rinkus 2014, Table 1, step 5).

    Shapes:
        v: (..., Q, K) → (...,).
    """
    return v.max(axis=-1).mean(axis=-1)


def expansivity(g: np.ndarray, config: CSAConfig) -> np.ndarray:
    """η = 1 + max(0, (G − G⁻)/(1 − G⁻))^γ · χ · K (Rinkus 2014, Table 1, step 6).

    Shapes:
        g: (...,) → (...,).
    """
    rise = np.clip((np.asarray(g, dtype=np.float64) - config.g_minus) / (1.0 - config.g_minus), 0.0, None)
    return 1.0 + rise**config.gamma * config.chi * config.cells_per_cm


def choice_weights(v: np.ndarray, eta: np.ndarray, config: CSAConfig) -> np.ndarray:
    """μ = η / (1 + exp(−λ(V − c))), floored at 1 (Rinkus 2014, Table 1, step 7).

    With G near 0, η ≈ 1 and every μ is 1: the code is drawn uniformly (a novel input
    gets a near-random code). With G near 1, the most familiar cells dominate.

    Shapes:
        v: (..., Q, K); eta: (...,) → (..., Q, K).
    """
    sigmoid = 1.0 / (1.0 + np.exp(-config.sigmoid_lambda * (v - config.sigmoid_center)))
    return np.maximum(np.asarray(eta)[..., None, None] * sigmoid, 1.0)


def sample_winners(mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One winner per CM drawn from μ normalised within the CM (step 8, learning).

    Shapes:
        mu: (..., Q, K) → (..., Q) int16.
    """
    cumulative = np.cumsum(mu, axis=-1)
    draws = rng.random(mu.shape[:-1]) * cumulative[..., -1]
    winners = (cumulative <= draws[..., None]).sum(axis=-1)
    return np.minimum(winners, mu.shape[-1] - 1).astype(np.int16)


def best_winners(v: np.ndarray) -> np.ndarray:
    """The cell of largest V in each CM (recognition; ties go to the lowest index).

    Shapes:
        v: (..., Q, K) → (..., Q) int16.
    """
    return v.argmax(axis=-1).astype(np.int16)
