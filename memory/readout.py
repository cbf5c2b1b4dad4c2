"""Read-outs over codes: a Hebbian class read-out and the exact nearest stored code.

A code is one winner per CM; across levels and macs it is flattened to the indices of
its active cells (:func:`cell_indices`), -1 marking the CMs of silent macs.

- :class:`HebbianReadout` (Rinkus 2017, "Superposed Episodic and Semantic Memory via
  Sparse Distributed Representation", arXiv:1710.07829, §3: labels are associated to
  the cells of a code): each active cell's count for the item's class is incremented;
  a query sums its active cells' counts. Its cost is (active cells) × (classes) per query,
  independent of how many items are stored.
- :class:`NearestCode`: the stored code of largest intersection with the query
  (exact, O(N · CMs) per query): the baseline.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HebbianReadout", "NearestCode", "cell_indices"]


def cell_indices(codes: list[np.ndarray], cells_per_cm: list[int]) -> np.ndarray:
    """Global indices of the active cells of each item's codes at the given levels.

    Args:
        codes: per level, (n, macs, Q) winners (-1: silent).
        cells_per_cm: per level, K.

    Returns:
        (n, Σ macs·Q) int64, -1 where a mac was silent.
    """
    parts, offset = [], 0
    for level_codes, k in zip(codes, cells_per_cm, strict=True):
        n, macs, q = level_codes.shape
        base = offset + (np.arange(macs * q) * k).reshape(macs, q)
        parts.append(np.where(level_codes >= 0, base + level_codes, -1).reshape(n, -1))
        offset += macs * q * k
    return np.concatenate(parts, axis=1).astype(np.int64)


def _total_cells(codes: list[np.ndarray], cells_per_cm: list[int]) -> int:
    return int(sum(c.shape[1] * c.shape[2] * k for c, k in zip(codes, cells_per_cm, strict=True)))


class HebbianReadout:
    """Codes → class counts; predicts the class whose cells' counts are largest.

    Args:
        n_cells: the number of cells codes index into.
        n_classes: the number of classes.
        normalise: divide each class's score by how many items of the class were stored.
    """

    def __init__(self, n_cells: int, n_classes: int, normalise: bool = True) -> None:
        self.n_cells = n_cells
        self.n_classes = n_classes
        self.normalise = normalise
        self.counts_ = np.zeros((n_cells + 1, n_classes), dtype=np.int32)  # last row: silent
        self.class_totals_ = np.zeros(n_classes, dtype=np.int64)

    def _rows(self, cells: np.ndarray) -> np.ndarray:
        cells = np.asarray(cells)
        if cells.size and (cells.max() >= self.n_cells or cells.min() < -1):
            raise ValueError(
                f"cell indices: expected values in [-1, {self.n_cells}), found {cells.min()}..{cells.max()}"
            )
        return np.where(cells < 0, self.n_cells, cells)

    def fit(self, cells: np.ndarray, labels: np.ndarray) -> HebbianReadout:
        """Add items: ``cells`` (n, active) from :func:`cell_indices`, ``labels`` (n,) int."""
        labels = np.asarray(labels, dtype=np.intp)
        if labels.shape[0] != np.shape(cells)[0]:
            raise ValueError(f"labels: expected {np.shape(cells)[0]} labels (one per item), found {labels.shape[0]}")
        rows = self._rows(cells)
        np.add.at(self.counts_, (rows, np.broadcast_to(labels[:, None], rows.shape)), 1)
        self.counts_[self.n_cells] = 0
        self.class_totals_ += np.bincount(labels, minlength=self.n_classes)
        return self

    def scores(self, cells: np.ndarray) -> np.ndarray:
        """Class scores of each query: Σ over its active cells of the class counts. (n, classes)"""
        rows = self._rows(cells)
        scores = self.counts_[rows].sum(axis=-2, dtype=np.float64)
        if self.normalise:
            scores = scores / np.maximum(self.class_totals_, 1)
        return scores

    def predict(self, cells: np.ndarray) -> np.ndarray:
        """The class of largest score for each query. (n,)"""
        return self.scores(cells).argmax(axis=-1)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts_.copy(), "class_totals": self.class_totals_.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`.

        Raises:
            KeyError: a missing array.
            ValueError: counts of the wrong shape or type, or negative.
        """
        counts, totals = np.asarray(state["counts"]), np.asarray(state["class_totals"])
        for name, value, shape in (
            ("counts", counts, self.counts_.shape),
            ("class_totals", totals, self.class_totals_.shape),
        ):
            if value.shape != shape or value.dtype.kind not in "iu":
                raise ValueError(
                    f"read-out {name}: expected integers of shape {shape}, found {value.dtype} {value.shape}"
                )
            if value.size and value.min() < 0:
                raise ValueError(f"read-out {name}: expected counts >= 0, found {value.min()}")
        if counts.max(initial=0) > np.iinfo(np.int32).max:
            raise ValueError("read-out counts: larger than int32 holds")
        self.counts_ = counts.astype(np.int32)
        self.class_totals_ = totals.astype(np.int64)


class NearestCode:
    """Exact nearest stored code by intersection size (winners in common); the baseline."""

    def __init__(self) -> None:
        self.codes_: np.ndarray | None = None
        self.labels_: np.ndarray | None = None

    def fit(self, cells: np.ndarray, labels: np.ndarray) -> NearestCode:
        """Store items: ``cells`` (n, active) from :func:`cell_indices`, ``labels`` (n,)."""
        cells = np.asarray(cells)
        if cells.ndim != 2 or cells.shape[0] == 0:
            raise ValueError(f"codes: expected a non-empty (n, active) array, found shape {cells.shape}")
        self.codes_ = cells if self.codes_ is None else np.concatenate([self.codes_, cells])
        labels = np.asarray(labels)
        self.labels_ = labels if self.labels_ is None else np.concatenate([self.labels_, labels])
        return self

    def intersections(self, cell: np.ndarray) -> np.ndarray:
        """Winners in common between one query (active,) and every stored code. (N,)"""
        return ((self.codes_ == cell[None, :]) & (cell[None, :] >= 0)).sum(axis=1)

    def nearest(self, cell: np.ndarray) -> int:
        """Index of the stored code with the largest intersection (first on ties)."""
        return int(self.intersections(cell).argmax())

    def predict(self, cells: np.ndarray) -> np.ndarray:
        """The label of each query's nearest stored code. (n,)"""
        return np.array([self.labels_[self.nearest(cell)] for cell in np.asarray(cells)])
