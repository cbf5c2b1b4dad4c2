"""A memory of random sparse patterns: one mac, or a two-level hierarchy, of one grid size.

Capacity and timing (:mod:`memory.capacity`, :mod:`memory.timing`) store and recall the
same kind of items through this one class: random binary patterns with exactly
``active`` of ``inputs`` bits on, a code per item (one winner per CM of every mac), and a
recall that counts as correct when the recognised code equals the stored one in at least
a fraction of the CMs.
"""

from __future__ import annotations

import numpy as np

from memory.config import CSASettings, HierarchyConfig, LevelConfig
from memory.experiments import MemorySize
from memory.hierarchy import Hierarchy
from memory.level import Level
from memory.readout import cell_indices
from sparse_core.infra.runtime import config_to_dict

__all__ = ["PatternMemory", "add_noise", "code_matches", "dense", "random_patterns"]


def random_patterns(count: int, inputs: int, active: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random binary patterns with exactly ``active`` of ``inputs`` bits on, as their on bits.

    Patterns are kept as the indices of their on bits (10^5 patterns of 8,192 bits take
    6 MB so, not 800 MB); :func:`dense` gives one as booleans.

    Returns:
        (count, active) int32, each row sorted.
    """
    on = np.empty((count, active), dtype=np.int32)
    block = max(1, 2**21 // inputs)  # rows drawn at once: bounded temporary memory
    for start in range(0, count, block):
        rows = min(block, count - start)
        on[start : start + rows] = np.sort(rng.random((rows, inputs)).argpartition(active - 1, axis=1)[:, :active])
    return on


def dense(on: np.ndarray, inputs: int) -> np.ndarray:
    """A pattern's on bits as a boolean vector. (active,) → (inputs,) bool"""
    pattern = np.zeros(inputs, dtype=bool)
    pattern[on] = True
    return pattern


def add_noise(pattern: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Move ``round(fraction · active)`` on bits to random off positions (keeps the count)."""
    on, off = np.flatnonzero(pattern), np.flatnonzero(~pattern)
    moved = int(round(fraction * on.size))
    noisy = pattern.copy()
    if moved:
        noisy[rng.choice(on, moved, replace=False)] = False
        noisy[rng.choice(off, moved, replace=False)] = True
    return noisy


def code_matches(recalled: np.ndarray, stored: np.ndarray, match_fraction: float) -> bool:
    """Whether a recalled code equals the stored one in at least ``match_fraction`` of the CMs."""
    return bool((recalled == stored).mean() >= match_fraction)


class PatternMemory:
    """Store and recall random patterns in a memory of one :class:`~memory.experiments.MemorySize`.

    One mac (``size.macs == 1``) has an RF over all inputs. A hierarchy has ``size.macs``
    level-0 macs, each over an equal slice of the inputs, and one level-1 mac over all of
    their cells; every mac has Q = ``size.cms`` modules of K = ``size.cells_per_cm`` cells.

    Args:
        size: the memory's size.
        csa: the shared code selection settings.
        seed: seed of the memory's generator (code sampling while learning).
    """

    def __init__(self, size: MemorySize, csa: CSASettings, seed: int = 0) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        mac = csa.mac(size.cms, size.cells_per_cm)
        if size.macs == 1:
            self.level = Level(LevelConfig(grid=(1, 1), rf=(1, size.inputs), csa=mac), np.arange(size.inputs)[None, :])
            self.levels = [self.level]
            self.hierarchy = None
        else:
            levels = (
                LevelConfig(grid=(1, size.macs), rf=(1, size.inputs // size.macs), csa=mac),
                LevelConfig(grid=(1, 1), rf=(1, size.macs), csa=mac),
            )
            self.hierarchy = Hierarchy(HierarchyConfig(input_shape=(1, size.inputs), levels=levels), seed=seed)
            self.hierarchy.rng = self.rng
            self.levels = self.hierarchy.levels
        self._offsets = np.arange(size.cms) * size.cells_per_cm

    def _code(self, pattern: np.ndarray, learn: bool) -> np.ndarray:
        if self.hierarchy is None:
            return self.level.step(pattern, learn=learn, rng=self.rng).codes[0].astype(np.int64)
        self.hierarchy.reset()
        steps = self.hierarchy.present(pattern[None, :], learn=learn)
        return np.concatenate([step.codes.ravel() for step in steps]).astype(np.int64)

    def store(self, pattern: np.ndarray) -> np.ndarray:
        """Learn one pattern (single trial); returns its code, one winner per CM of every mac. (CMs,) int"""
        return self._code(pattern, learn=True)

    def recall(self, pattern: np.ndarray) -> np.ndarray:
        """The recognised code of a (noisy) pattern. (CMs,) int"""
        return self._code(pattern, learn=False)

    def cells(self, code: np.ndarray) -> np.ndarray:
        """A code as global active-cell indices, for a read-out over all levels (-1: silent). (CMs,) int"""
        if self.hierarchy is None:
            return np.where(code >= 0, code + self._offsets, -1)
        k = self.size.cells_per_cm
        parts, start = [], 0
        for level in self.levels:
            width = level.config.n_macs * self.size.cms
            parts.append(code[start : start + width].reshape(1, level.config.n_macs, self.size.cms))
            start += width
        return cell_indices(parts, [k] * len(parts))[0]

    @property
    def n_cells(self) -> int:
        """Cells of all levels (the read-out's inputs)."""
        return sum(level.config.n_macs * level.csa.cells for level in self.levels)

    @property
    def synapses(self) -> int:
        """U synapses of all levels."""
        return sum(level.synapses for level in self.levels)

    @property
    def weight_bytes(self) -> int:
        """Bytes of the packed weights of all levels."""
        return sum(level.weight_bytes for level in self.levels)

    def fill(self) -> float:
        """Fraction of all U synapses that are set."""
        return float(sum(level.set_count.sum() for level in self.levels) / self.synapses)

    @property
    def frozen(self) -> bool:
        """Whether any mac has stopped learning (its fill reached the freeze fraction)."""
        return bool(any(level.frozen.any() for level in self.levels))

    def csa_configs(self) -> list[dict]:
        """The full CSA configuration of each level (for the metrics)."""
        return [config_to_dict(level.csa) for level in self.levels]
