"""Receptive-field geometry: which units of the level below (or beside, or above) feed a mac.

Macs of a level sit on a grid; each one's receptive field (RF) is a rectangle of the grid
below, placed so that the RFs span it evenly (Rinkus 2014, Fig. 3: a hierarchy of macs
with overlapping local RFs). Index arrays of unequal length are padded with ``pad``, the
index of an always-off unit appended to the source vector.
"""

from __future__ import annotations

import numpy as np

__all__ = ["covering_macs", "neighbour_macs", "rf_offsets", "rf_units", "unit_cells"]


def rf_offsets(grid: int, rf: int, below: int) -> np.ndarray:
    """Start of each RF along one axis: ``grid`` windows of ``rf`` spread over ``below``."""
    if grid == 1:
        return np.array([(below - rf) // 2])
    return np.round(np.linspace(0, below - rf, grid)).astype(int)


def rf_units(grid: tuple[int, int], rf: tuple[int, int], below: tuple[int, int]) -> np.ndarray:
    """Flat indices of the units of the grid below inside every mac's RF.

    Returns:
        (macs, rf_rows·rf_cols) int, macs in row-major order.
    """
    rows = rf_offsets(grid[0], rf[0], below[0])
    cols = rf_offsets(grid[1], rf[1], below[1])
    window = (np.arange(rf[0])[:, None] * below[1] + np.arange(rf[1])[None, :]).ravel()
    starts = (rows[:, None] * below[1] + cols[None, :]).ravel()
    return starts[:, None] + window[None, :]


def unit_cells(units: np.ndarray, cells_per_unit: int) -> np.ndarray:
    """Expand unit (mac) indices into the indices of all their cells, keeping padding.

    Shapes:
        units: (macs, n) → (macs, n·cells_per_unit).
    """
    cells = units[..., None] * cells_per_unit + np.arange(cells_per_unit)
    return cells.reshape(units.shape[0], -1)


def _pad(lists: list[list[int]], pad: int) -> np.ndarray:
    width = max(1, max(len(item) for item in lists))
    return np.array([item + [pad] * (width - len(item)) for item in lists], dtype=np.intp)


def neighbour_macs(grid: tuple[int, int], radius: int) -> np.ndarray:
    """For every mac, the macs of its own level within Chebyshev ``radius`` (itself included).

    Padding is ``macs`` (an always-off unit). Returns (macs, max_neighbours) int.
    """
    rows, cols = np.divmod(np.arange(grid[0] * grid[1]), grid[1])
    near = (np.abs(rows[:, None] - rows[None, :]) <= radius) & (np.abs(cols[:, None] - cols[None, :]) <= radius)
    return _pad([list(np.flatnonzero(row)) for row in near], pad=grid[0] * grid[1])


def covering_macs(above_units: np.ndarray, below_macs: int) -> np.ndarray:
    """For every mac below, the macs above whose RF contains it (for top-down inputs).

    Args:
        above_units: :func:`rf_units` of the level above (its RFs over this level's macs).
        below_macs: number of macs of this level.

    Returns:
        (below_macs, max_cover) int, padded with the number of macs above.
    """
    lists: list[list[int]] = [[] for _ in range(below_macs)]
    for above, units in enumerate(above_units):
        for unit in units:
            lists[unit].append(above)
    return _pad(lists, pad=above_units.shape[0])
