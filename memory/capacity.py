"""Capacity curves: recall against stored items N for every memory size of the grid.

For each size (:class:`~memory.experiments.SizeGrid`), N random sparse patterns are
stored one by one, single trial; at every N of the grid 10, 20, 30, 50, 70, 100, ... a
sample of the stored patterns is recalled with a fraction of its on bits moved to random
off positions (0-40 % noise). A recall is correct when the recognised code equals the
stored one in at least ``match_fraction`` of the CMs (code recall); the stored items'
random labels are also read out by the Hebbian read-out (read-out accuracy). A size stops
growing once its recall without noise falls below ``stop_below``.

Per size: N90, the largest N of the grid whose recall is >= 0.9 (per noise level, every
smaller N also >= 0.9); the bits stored per synapse at N90, N90 × (Σ Q·log2 K over the
macs) / synapses, beside the Willshaw bound of ln 2 ≈ 0.69 bits per binary synapse; the
Willshaw-type bound on N itself, ln 2 · synapses / (active inputs × Q); the fraction of
weights set (fill) at every N, and the N at which a mac froze, if one did.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from memory.experiments import RECALL_THRESHOLD, WILLSHAW_BITS_PER_SYNAPSE, CapacityConfig, MemorySize
from memory.patterns import PatternMemory, add_noise, code_matches, dense, random_patterns
from memory.persist import remove_partial_files
from memory.readout import HebbianReadout
from sparse_core.infra.runtime import config_to_dict

__all__ = ["CapacityConfig", "add_noise", "n_at_recall", "random_patterns", "run_capacity", "size_capacity"]


def n_at_recall(counts: list[int], recall: list[float], threshold: float = RECALL_THRESHOLD) -> int:
    """The largest N of ``counts`` up to which every recall is >= ``threshold`` (0 if the first is not)."""
    held = 0
    for count, value in zip(counts, recall):
        if value < threshold:
            break
        held = count
    return held


def size_capacity(size: MemorySize, config: CapacityConfig, *, seed: int = 0, progress: bool = False) -> dict:
    """Grow one memory along ``config.counts``; recall and read out at every N and noise level.

    Returns:
        The size's entry of :func:`run_capacity`'s ``memories``.
    """
    rng = np.random.default_rng(seed)
    memory = PatternMemory(size, config.csa, seed=seed)
    counts = list(config.counts)
    patterns = random_patterns(counts[-1], size.inputs, size.active, rng)
    labels = rng.integers(0, config.classes, counts[-1])
    readout = HebbianReadout(memory.n_cells, config.classes)
    codes: list[np.ndarray] = []
    rows = {"items": [], "recall": [], "readout_accuracy": [], "fill": []}
    frozen_at = None
    start = time.perf_counter()
    for count in tqdm(counts, disable=not progress, desc=size.name, leave=False):
        for item in range(len(codes), count):
            code = memory.store(dense(patterns[item], size.inputs))
            codes.append(code)
            readout.fit(memory.cells(code)[None], labels[item : item + 1])
            if frozen_at is None and memory.frozen:
                frozen_at = item + 1
        sample = rng.choice(count, min(config.queries, count), replace=False)
        recall, read = [], []
        for fraction in config.noise:
            hits = correct = 0
            for item in sample:
                got = memory.recall(add_noise(dense(patterns[item], size.inputs), fraction, rng))
                hits += code_matches(got, codes[item], config.match_fraction)
                correct += int(readout.predict(memory.cells(got)[None])[0] == labels[item])
            recall.append(hits / sample.size)
            read.append(correct / sample.size)
        rows["items"].append(count)
        rows["recall"].append(recall)
        rows["readout_accuracy"].append(read)
        rows["fill"].append(memory.fill())
        if recall[0] < config.stop_below:
            break
    n90 = {
        f"{noise:g}": n_at_recall(rows["items"], [r[i] for r in rows["recall"]]) for i, noise in enumerate(config.noise)
    }
    n90_readout = n_at_recall(rows["items"], [r[0] for r in rows["readout_accuracy"]])
    held = n90[f"{min(config.noise):g}"]
    bits = held * size.code_bits / memory.synapses
    return {
        **size.as_dict(),
        "name": size.name,
        "levels": memory.csa_configs(),
        "synapses": memory.synapses,
        "weight_bytes": memory.weight_bytes,
        **rows,
        "n90": n90,
        "n90_readout": n90_readout,
        "n90_is_lower_bound": held == counts[-1],  # recall still >= 0.9 at max_items: N90 >= this
        "bits_per_synapse_at_n90": bits,
        "willshaw_bits_per_synapse": WILLSHAW_BITS_PER_SYNAPSE,
        "willshaw_items": size.willshaw_items,
        "fill_at_n90": rows["fill"][rows["items"].index(held)] if held else None,
        "frozen_at": frozen_at,
        "stopped_at": rows["items"][-1],
        "store_recall_seconds": time.perf_counter() - start,
    }


def run_capacity(config: CapacityConfig, folder: Path | None = None, *, seed: int = 0, progress: bool = False) -> dict:
    """Capacity curves of every size of the grid.

    With ``folder``, also plots recall against N (``capacity.png``) and N90 against
    synapses (``capacity_n90.png``).

    Returns:
        ``csa`` (the shared settings), ``noise``, ``match_fraction``, ``memories`` (one
        entry per size: its settings and full CSA configuration per level, ``items``,
        ``recall`` and ``readout_accuracy`` (len(items) × len(noise)), ``fill``, ``n90``
        per noise level, ``bits_per_synapse_at_n90``, ``willshaw_items``, ``frozen_at``),
        and the largest N90 of the run (``largest_n90``, with the size that reached it).
    """
    remove_partial_files(folder)
    memories = [
        size_capacity(size, config, seed=seed, progress=progress)
        for size in tqdm(config.grid.sizes, disable=not progress, desc="capacity")
    ]
    zero = f"{min(config.noise):g}"
    best = max(memories, key=lambda m: m["n90"][zero])
    metrics = {
        "csa": config_to_dict(config.csa),
        "noise": list(config.noise),
        "match_fraction": config.match_fraction,
        "recall_threshold": RECALL_THRESHOLD,
        "memories": memories,
        "largest_n90": best["n90"][zero],
        "largest_n90_memory": best["name"],
        "max_bits_per_synapse": max(m["bits_per_synapse_at_n90"] for m in memories),
        "run_seconds": sum(m["store_recall_seconds"] for m in memories),
    }
    if folder is not None:
        from memory.plots import plot_capacity, plot_n90

        metrics["figures"] = [
            plot_capacity(metrics, Path(folder) / "capacity.png").name,
            plot_n90(metrics, Path(folder) / "capacity_n90.png").name,
        ]
    return metrics
