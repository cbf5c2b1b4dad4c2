"""Store and retrieve time per item, within capacity, beside exact and approximate nearest neighbours.

Sparsey's claim (Rinkus 2014) is fixed-time storage and best-match retrieval for a memory
of a given size while it holds its items. So at every N of the grid the memory is sized
to hold N: the smallest size of :class:`~memory.experiments.SizeGrid` (in order of
synapses) whose code recall of N stored random patterns, queried with ``query_noise`` of
their on bits moved, is >= 0.9. Sizes are tried from the one before the first whose
Willshaw-type bound reaches N (the bound is close to the measured N90 of one mac, see
memory capacity); every try is a row of the metrics with its recall, and only a row
that holds its items (recall >= 0.9) is timed against the peers and enters a ratio.

On the same patterns and noisy queries:

- this memory: storing is one CSA learning step plus the Hebbian read-out's update;
  retrieving is one CSA recognition step plus the read-out (cost: the active inputs'
  weight rows and the winners' class counts);
- exact nearest neighbour (numpy): the stored pattern of largest overlap with the query,
  from the query's on bits' columns of the stored patterns, O(N · active);
- approximate nearest neighbour (faiss ``IndexBinaryHNSW``, Hamming distance, when faiss
  is installed): the smallest ``efSearch`` of 16, 32, ..., 1024 whose recall is at least
  the memory's (equal recall);
- modern Hopfield retrieval (Ramsauer et al. 2021, eq. 1), where N × inputs floats fit
  in 256 MB.

Times are medians over ``queries`` single-item calls, in seconds, on one thread.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from memory.experiments import RECALL_THRESHOLD, MemorySize, TimingConfig
from memory.patterns import PatternMemory, add_noise, code_matches, dense, random_patterns
from memory.persist import remove_partial_files
from memory.readout import HebbianReadout
from sparse_core.infra.runtime import config_to_dict

__all__ = ["TimingConfig", "hopfield_retrieve", "retrieve_ratio", "run_timing", "time_row"]

HOPFIELD_BYTES = 256 * 2**20
EF_SEARCH = (16, 32, 64, 128, 256, 512, 1024)


def hopfield_retrieve(stored: np.ndarray, query: np.ndarray, beta: float) -> np.ndarray:
    """One modern-Hopfield update ξ' = Xᵀ softmax(β X ξ). stored: (N, d); query: (d,) → (d,)."""
    scores = beta * (stored @ query)
    scores -= scores.max()
    weights = np.exp(scores)
    return (weights / weights.sum()) @ stored


def _median_seconds(function, items) -> tuple[float, list]:
    times, results = [], []
    for item in items:
        start = time.perf_counter()
        results.append(function(item))
        times.append(time.perf_counter() - start)
    return float(np.median(times)), results


def retrieve_ratio(rows: list[dict], small: int, large: int, key: str = "retrieve_seconds") -> float:
    """The memory's time at N = ``large`` over its time at N = ``small``, from rows that hold their items.

    Raises:
        ValueError: no row for one of the N, or the row's recall is below 0.9 (a ratio
            from a saturated memory would time a fixed-size computation, not retrieval).
    """
    chosen = {}
    for n in (small, large):
        candidates = [row for row in rows if row["items"] == n]
        if not candidates:
            raise ValueError(f"retrieve_ratio: no timed row at N = {n}")
        held = [row for row in candidates if row["recall"] >= RECALL_THRESHOLD]
        if not held:
            raise ValueError(
                f"retrieve_ratio: the row at N = {n} has recall {max(r['recall'] for r in candidates):.3f} < "
                f"{RECALL_THRESHOLD}; a ratio is only reported within capacity"
            )
        chosen[n] = held[0]
    return chosen[large][key] / chosen[small][key]


def _peers(
    config: TimingConfig, stored: np.ndarray, inputs: int, queries: np.ndarray, truth: np.ndarray, recall: float
) -> dict:
    """Exact nearest neighbour, the ANN index at equal recall and Hopfield on the same items.

    ``stored`` holds the patterns' on bits (count, active); ``queries`` are dense.
    """
    count = stored.shape[0]
    peers: dict = {}
    start = time.perf_counter()
    order = np.argsort(stored.ravel(), kind="stable")
    postings = (order // stored.shape[1]).astype(np.int32)  # items of each input's on bits, input by input
    bounds = np.searchsorted(stored.ravel()[order], np.arange(inputs + 1))
    store_seconds = (time.perf_counter() - start) / count

    def nearest(query: np.ndarray) -> int:
        on = np.flatnonzero(query)
        items = np.concatenate([postings[bounds[i] : bounds[i + 1]] for i in on])
        return int(np.bincount(items, minlength=count).argmax())

    seconds, found = _median_seconds(nearest, queries)
    peers["exact"] = {
        "method": "numpy inverted lists: overlap of the query's on bits with every stored pattern, argmax",
        "store_seconds": store_seconds,
        "retrieve_seconds": seconds,
        "recall": float(np.mean(np.array(found) == truth)),
        "bytes": int(postings.nbytes + bounds.nbytes),
    }
    if config.ann == "faiss":
        peers["ann"] = _faiss_peer(stored, inputs, queries, truth, recall)
    if count * inputs * 4 <= HOPFIELD_BYTES:
        floats = np.zeros((count, inputs), dtype=np.float32)
        np.put_along_axis(floats, stored.astype(np.intp), 1.0, axis=1)
        seconds, found = _median_seconds(
            lambda q: int((floats @ hopfield_retrieve(floats, q.astype(np.float32), config.beta)).argmax()), queries
        )
        peers["hopfield"] = {
            "method": f"modern Hopfield, beta {config.beta:g}, nearest stored pattern to the update",
            "retrieve_seconds": seconds,
            "recall": float(np.mean(np.array(found) == truth)),
            "bytes": int(floats.nbytes),
        }
    return peers


def _faiss_peer(stored: np.ndarray, inputs: int, queries: np.ndarray, truth: np.ndarray, recall: float) -> dict:
    try:
        import faiss
    except ImportError:
        return {"method": "faiss IndexBinaryHNSW", "skipped": "faiss is not installed (pip install faiss-cpu)"}
    faiss.omp_set_num_threads(1)
    count = stored.shape[0]
    width = -(-inputs // 8) * 8  # faiss takes whole bytes: pad with off bits

    def packed(patterns: np.ndarray) -> np.ndarray:
        if width != inputs:
            patterns = np.hstack([patterns, np.zeros((len(patterns), width - inputs), dtype=bool)])
        return np.packbits(patterns, axis=1)

    vectors = np.zeros((count, width // 8), dtype=np.uint8)
    for start in range(0, count, 4096):
        block = stored[start : start + 4096]
        rows = np.zeros((len(block), width), dtype=bool)
        np.put_along_axis(rows, block.astype(np.intp), True, axis=1)
        vectors[start : start + len(block)] = np.packbits(rows, axis=1)
    index = faiss.IndexBinaryHNSW(width, 16)
    start = time.perf_counter()
    index.add(vectors)
    store_seconds = (time.perf_counter() - start) / count
    codes = packed(queries)
    chosen = None
    for ef in EF_SEARCH:
        index.hnsw.efSearch = ef
        seconds, found = _median_seconds(lambda q: int(index.search(q[None], 1)[1][0, 0]), codes)
        got = float(np.mean(np.array(found) == truth))
        chosen = {"ef_search": ef, "retrieve_seconds": seconds, "recall": got}
        if got >= recall:
            break
    return {
        "method": "faiss IndexBinaryHNSW (M 16, Hamming), smallest efSearch at the memory's recall",
        "version": faiss.__version__,
        "store_seconds": store_seconds,
        **chosen,
        "equal_recall": chosen["recall"] >= recall,
        "bytes": int(faiss.serialize_index_binary(index).size),
    }


def time_row(size: MemorySize, count: int, config: TimingConfig, *, seed: int = 0, peers: bool = True) -> dict:
    """Store ``count`` random patterns in a memory of ``size``; time storing and retrieving; measure recall.

    Returns:
        The row: N (``items``), the memory's size and full CSA configuration per level,
        ``recall`` (code recall of the noisy queries), ``readout_accuracy`` (their random
        labels), median ``store_seconds`` / ``retrieve_seconds`` per item, ``fill``,
        ``weight_bytes`` and ``readout_bytes``, ``holds`` (recall >= 0.9) and, for a
        row that holds, the peers' times, recalls and bytes (``peers``).
    """
    rng = np.random.default_rng(seed)
    memory = PatternMemory(size, config.csa, seed=seed)
    patterns = random_patterns(count, size.inputs, size.active, rng)
    labels = rng.integers(0, config.classes, count)
    readout = HebbianReadout(memory.n_cells, config.classes)
    codes = np.zeros((count, sum(level.config.n_macs * size.cms for level in memory.levels)), dtype=np.int64)
    store_times = np.zeros(count)
    for item in range(count):
        pattern = dense(patterns[item], size.inputs)
        start = time.perf_counter()
        codes[item] = memory.store(pattern)
        readout.fit(memory.cells(codes[item])[None], labels[item : item + 1])
        store_times[item] = time.perf_counter() - start
    sample = rng.choice(count, min(config.queries, count), replace=False)
    queries = np.stack([add_noise(dense(patterns[item], size.inputs), config.query_noise, rng) for item in sample])

    def retrieve(query: np.ndarray) -> tuple[np.ndarray, int]:
        code = memory.recall(query)
        return code, int(readout.predict(memory.cells(code)[None])[0])

    for query in queries[:10]:  # warm-up: first calls pay for allocation and caches
        retrieve(query)
    seconds, results = _median_seconds(retrieve, queries)
    recall = float(np.mean([code_matches(code, codes[item], 0.9) for (code, _), item in zip(results, sample)]))
    read = float(np.mean([label == labels[item] for (_, label), item in zip(results, sample)]))
    row = {
        "items": count,
        "memory": {**size.as_dict(), "name": size.name},
        "levels": memory.csa_configs(),
        "synapses": memory.synapses,
        "recall": recall,
        "readout_accuracy": read,
        "holds": recall >= RECALL_THRESHOLD,
        "store_seconds": float(np.median(store_times)),
        "retrieve_seconds": seconds,
        "fill": memory.fill(),
        "frozen": memory.frozen,
        "weight_bytes": memory.weight_bytes,
        "readout_bytes": int(readout.counts_.nbytes),
    }
    if peers and row["holds"]:
        row["peers"] = _peers(config, patterns, size.inputs, queries, sample, recall)
    return row


def run_timing(config: TimingConfig, folder: Path | None = None, *, seed: int = 0, progress: bool = False) -> dict:
    """At every N, size the memory to hold N, then time it and its peers.

    With ``folder``, also plots the times against N into ``folder/timing.png``.

    Returns:
        ``csa`` (the shared settings), ``query_noise``, ``rows`` (every try, with its
        recall); for the N whose memory holds its items: ``sizes`` (those N),
        ``recall``, ``store_memory``, ``retrieve_memory``, ``retrieve_exact``,
        ``retrieve_ann``, ``memory_bytes``, ``exact_bytes``, ``ann_bytes``; the ratio
        ``retrieve_ratio_largest_vs_smallest`` with ``ratio_sizes`` (when two N hold)
        and ``retrieve_ratio_100k_vs_1k`` (when N = 10^3 and 10^5 both hold);
        ``not_held`` lists the N that no size of the grid held.
    """
    remove_partial_files(folder)
    by_synapses = sorted(config.grid.sizes, key=lambda size: size.synapses)
    rows, held, not_held = [], [], []
    for count in tqdm(config.counts, disable=not progress, desc="timing"):
        reaches = [i for i, size in enumerate(by_synapses) if size.willshaw_items >= count]
        first = max(0, (reaches[0] if reaches else len(by_synapses) - 1) - 1)
        for size in by_synapses[first:]:
            row = time_row(size, count, config, seed=seed)
            rows.append(row)
            if row["holds"]:
                held.append(row)
                break
        else:
            not_held.append(count)
    metrics: dict = {
        "csa": config_to_dict(config.csa),
        "query_noise": config.query_noise,
        "recall_threshold": RECALL_THRESHOLD,
        "rows": rows,
        "not_held": not_held,
        "sizes": [row["items"] for row in held],
        "recall": [row["recall"] for row in held],
        "memory": [row["memory"]["name"] for row in held],
        "store_memory": [row["store_seconds"] for row in held],
        "retrieve_memory": [row["retrieve_seconds"] for row in held],
        "memory_bytes": [row["weight_bytes"] + row["readout_bytes"] for row in held],
    }
    for peer in ("exact", "ann", "hopfield"):
        for key, field in (
            ("retrieve", "retrieve_seconds"),
            ("store", "store_seconds"),
            ("recall", "recall"),
            ("bytes", "bytes"),
        ):
            values = [row["peers"].get(peer, {}).get(field) for row in held]
            if any(v is not None for v in values):
                metrics[f"{key}_{peer}"] = values
    if len(held) >= 2:
        small, large = held[0]["items"], held[-1]["items"]
        metrics["retrieve_ratio_largest_vs_smallest"] = retrieve_ratio(rows, small, large)
        metrics["store_ratio_largest_vs_smallest"] = retrieve_ratio(rows, small, large, key="store_seconds")
        metrics["ratio_sizes"] = [small, large]
    if {1000, 100000} <= set(metrics["sizes"]):
        metrics["retrieve_ratio_100k_vs_1k"] = retrieve_ratio(rows, 1000, 100000)
    if folder is not None and held:
        from memory.plots import plot_timing

        metrics["figures"] = [plot_timing(metrics, Path(folder) / "timing.png").name]
    return metrics
