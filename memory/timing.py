"""Store and retrieve time per item as the number of stored items N grows.

Three memories hold the same random sparse patterns:

- this memory: one mac; storing is one CSA learning step, retrieving is one CSA
  recognition step plus the Hebbian read-out (fixed cost: it reads the active inputs'
  weight rows and the winners' class counts, whatever N is);
- exact nearest stored code: the code of the query is compared with all N stored codes;
- modern Hopfield retrieval (Ramsauer et al. 2021, eq. 1): softmax(β X ξ) over the N
  stored patterns, then the weighted sum of the patterns, O(N · inputs).

Times are medians over ``queries`` single-item calls, in seconds. The headline ratio
``retrieve_ratio_100k_vs_1k`` is this memory's retrieve time at N = 10^5 over its time
at N = 10^3 and is reported only when both sizes are on the grid (the default grid);
``retrieve_ratio_largest_vs_smallest`` (with ``ratio_sizes``) is always reported.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from memory.capacity import random_patterns
from memory.config import CSAConfig, LevelConfig
from memory.experiments import TimingConfig
from memory.level import Level
from memory.readout import HebbianReadout, NearestCode

__all__ = ["TimingConfig", "hopfield_retrieve", "run_timing"]


def hopfield_retrieve(stored: np.ndarray, query: np.ndarray, beta: float) -> np.ndarray:
    """One modern-Hopfield update ξ' = Xᵀ softmax(β X ξ). stored: (N, d); query: (d,) → (d,)."""
    scores = beta * (stored @ query)
    scores -= scores.max()
    weights = np.exp(scores)
    return (weights / weights.sum()) @ stored


def _median_seconds(function, items) -> float:
    times = []
    for item in items:
        start = time.perf_counter()
        function(item)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run_timing(config: TimingConfig, folder: Path | None = None, *, seed: int = 0, progress: bool = False) -> dict:
    """Grow the three memories to each N and time storing and retrieving one item.

    With ``folder``, also plots the times against N into ``folder/timing.png``.

    Returns:
        ``sizes`` and, in seconds per item, ``store_memory``, ``retrieve_memory``,
        ``retrieve_nearest``, ``retrieve_hopfield``, ``store_hopfield``; this memory's
        ``retrieve_ratio_largest_vs_smallest`` with ``ratio_sizes`` [smallest, largest],
        and ``retrieve_ratio_100k_vs_1k`` (N = 10^5 over N = 10^3) when both are on the grid.
    """
    rng = np.random.default_rng(seed)
    sizes = list(config.sizes)
    csa = CSAConfig(cms=config.cms, cells_per_cm=config.cells_per_cm)
    level = Level(LevelConfig(grid=(1, 1), rf=(1, config.inputs), csa=csa), np.arange(config.inputs)[None, :])
    k = config.cells_per_cm
    readout = HebbianReadout(config.cms * k, config.classes)
    patterns = random_patterns(sizes[-1], config.inputs, config.active, rng)
    labels = rng.integers(0, config.classes, sizes[-1])
    cell_offset = np.arange(config.cms) * k
    codes = np.zeros((sizes[-1], config.cms), dtype=np.int64)
    hopfield = np.zeros((sizes[-1], config.inputs), dtype=np.float32)
    result: dict[str, list[float]] = {key: [] for key in ("store_memory", "store_hopfield", "retrieve_memory", "retrieve_nearest", "retrieve_hopfield")}
    stored = 0

    def store(item: int) -> None:
        codes[item] = level.step(patterns[item], learn=True, rng=rng).codes[0] + cell_offset
        readout.fit(codes[item][None], labels[item : item + 1])

    def retrieve(pattern: np.ndarray) -> int:
        code = level.step(pattern, learn=False, rng=rng).codes[0] + cell_offset
        return int(readout.predict(code[None])[0])

    for pattern in patterns[:20]:  # warm-up: first calls pay for allocation and caches
        level.step(pattern, learn=False, rng=rng)
    for size in tqdm(sizes, disable=not progress, desc="timing"):
        new = range(stored, size)
        store_times = []
        for item in new:
            start = time.perf_counter()
            store(item)
            store_times.append(time.perf_counter() - start)
        result["store_memory"].append(float(np.median(store_times)))
        start = time.perf_counter()
        hopfield[stored:size] = patterns[stored:size]
        result["store_hopfield"].append((time.perf_counter() - start) / max(1, size - stored))
        stored = size
        queries = rng.choice(size, min(config.queries, size), replace=False)
        result["retrieve_memory"].append(_median_seconds(retrieve, patterns[queries]))
        nearest = NearestCode().fit(codes[:size], labels[:size])
        result["retrieve_nearest"].append(
            _median_seconds(lambda p: nearest.nearest(level.step(p, learn=False, rng=rng).codes[0] + cell_offset), patterns[queries])
        )
        view = hopfield[:size]
        result["retrieve_hopfield"].append(
            _median_seconds(lambda p: hopfield_retrieve(view, p.astype(np.float32), config.beta), patterns[queries])
        )
    retrieve = dict(zip(sizes, result["retrieve_memory"], strict=True))
    metrics = {
        "sizes": sizes, **result,
        "retrieve_ratio_largest_vs_smallest": retrieve[sizes[-1]] / retrieve[sizes[0]],
        "ratio_sizes": [sizes[0], sizes[-1]],
        "fill": float(level.weights["u"].mean()),
    }
    if 1000 in retrieve and 100000 in retrieve:
        metrics["retrieve_ratio_100k_vs_1k"] = retrieve[100000] / retrieve[1000]
    for key in ("retrieve_nearest", "retrieve_hopfield"):
        metrics[f"{key}_ratio_largest_vs_smallest"] = result[key][-1] / result[key][0]
    if folder is not None:
        from memory.plots import plot_timing

        plot_timing(metrics, Path(folder) / "timing.png")
    return metrics
