"""Capacity and noise robustness of one mac storing random sparse patterns.

N random patterns (``active`` of ``inputs`` bits on) are stored one by one, single
trial; at every N of a log grid a sample of the stored patterns is recalled with a
fraction of its active bits moved to random off positions (0-40 % noise). A recall is
correct when the recognised code equals the stored one in at least ``match_fraction`` of
the CMs. Bits stored per synapse = (correctly recalled items at zero noise) × Q·log2 K
(the information of a code) / (number of U synapses).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from memory.config import CSAConfig, LevelConfig
from memory.experiments import CapacityConfig
from memory.level import Level

__all__ = ["CapacityConfig", "add_noise", "random_patterns", "run_capacity"]


def random_patterns(count: int, inputs: int, active: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` binary patterns with exactly ``active`` on bits each. (count, inputs) bool"""
    order = rng.random((count, inputs)).argsort(axis=1)[:, :active]
    patterns = np.zeros((count, inputs), dtype=bool)
    np.put_along_axis(patterns, order, True, axis=1)
    return patterns


def add_noise(pattern: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Move ``round(fraction · active)`` on bits to random off positions (keeps the count)."""
    on, off = np.flatnonzero(pattern), np.flatnonzero(~pattern)
    moved = int(round(fraction * on.size))
    noisy = pattern.copy()
    noisy[rng.choice(on, moved, replace=False)] = False
    noisy[rng.choice(off, moved, replace=False)] = True
    return noisy


def run_capacity(config: CapacityConfig, folder: Path | None = None, *, seed: int = 0, progress: bool = False) -> dict:
    """Store up to max(sizes) patterns; recall samples at each size and noise level.

    With ``folder``, also plots recall against N into ``folder/capacity.png``.

    Returns:
        ``sizes``, ``noise``, ``recall`` (len(sizes) × len(noise) accuracies),
        ``bits_per_synapse`` (per size), ``fill`` (fraction of U weights set, per size).
    """
    rng = np.random.default_rng(seed)
    csa = CSAConfig(cms=config.cms, cells_per_cm=config.cells_per_cm, freeze_fraction=1.0,
                    normalise=config.normalise, sigmoid_center=config.sigmoid_center)
    level = Level(LevelConfig(grid=(1, 1), rf=(1, config.inputs), csa=csa), np.arange(config.inputs)[None, :])
    sizes = list(config.sizes)
    patterns = random_patterns(sizes[-1], config.inputs, config.active, rng)
    codes = np.zeros((sizes[-1], config.cms), dtype=np.int16)
    recall = np.zeros((len(sizes), len(config.noise)))
    bits, fill = [], []
    stored = 0
    for row, size in enumerate(tqdm(sizes, disable=not progress, desc="capacity")):
        for item in range(stored, size):
            codes[item] = level.step(patterns[item], learn=True, rng=rng).codes[0]
        stored = size
        sample = rng.choice(size, min(config.queries, size), replace=False)
        for column, fraction in enumerate(config.noise):
            hits = 0
            for item in sample:
                got = level.step(add_noise(patterns[item], fraction, rng), learn=False, rng=rng).codes[0]
                hits += (got == codes[item]).mean() >= config.match_fraction
            recall[row, column] = hits / sample.size
        synapses = level.weights["u"].size
        bits.append(recall[row, 0] * size * config.cms * np.log2(config.cells_per_cm) / synapses)
        fill.append(float(level.weights["u"].mean()))
    metrics = {
        "sizes": sizes,
        "noise": list(config.noise),
        "recall": recall.tolist(),
        "bits_per_synapse": [float(b) for b in bits],
        "max_bits_per_synapse": float(max(bits)),
        "fill": fill,
        "synapses": int(level.weights["u"].size),
    }
    if folder is not None:
        from memory.plots import plot_capacity

        plot_capacity(metrics, Path(folder) / "capacity.png")
    return metrics
