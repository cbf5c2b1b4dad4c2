"""Store / retrieve time per item within capacity: the SDR memory vs exact and approximate nearest neighbours.

At every N of the grid 10^3 ... 10^5 (memory.timing.run_timing) the memory is the
smallest size of the shared grid that holds N random sparse patterns at code recall
>= 0.9; on the same patterns and noisy queries it is timed beside:

- exact nearest neighbour (numpy inverted lists over the on bits, O(N · active));
- approximate nearest neighbour: faiss ``IndexBinaryHNSW`` (Hamming) at the smallest
  efSearch whose recall is at least the memory's (needs ``pip install faiss-cpu``);
- modern Hopfield retrieval (Ramsauer et al. 2021, eq. 1) where it fits in 256 MB.

Rows whose recall is below 0.9 are kept with their recall and enter no ratio. Threads
are pinned to 1 (BLAS/OpenMP environment variables are set before numpy is imported);
the load average is recorded, since other processes share the machine.
Writes benchmarks/results/memory_timing.json.

Run: python benchmarks/memory_timing.py [--max-items 100000] [--queries 200]
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from memory.timing import TimingConfig, run_timing  # noqa: E402
from sparse_core.infra.files import atomic_write  # noqa: E402
from sparse_core.infra.runtime import config_to_dict  # noqa: E402


def _faiss_version() -> str | None:
    try:
        import faiss
    except ImportError:
        return None
    return faiss.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-items", type=int, default=1000)
    parser.add_argument("--max-items", type=int, default=100000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = TimingConfig(min_items=args.min_items, max_items=args.max_items, queries=args.queries)
    load_before = os.getloadavg()
    metrics = run_timing(config, seed=args.seed)
    load_after = os.getloadavg()
    print(
        f"memory timing within capacity: query noise {config.query_noise:.0%}, 1 thread, median of "
        f"{config.queries} single-item calls; load average {load_before[0]:.1f} -> {load_after[0]:.1f}"
    )
    print(
        f"{'N':>7} {'memory':<28}{'recall':>7}{'store µs':>10}{'memory µs':>10}{'exact µs':>10}"
        f"{'ANN µs':>9}{'ef':>6}{'ANN rec':>8}{'mem MiB':>9}{'exact MiB':>10}{'ANN MiB':>9}"
    )
    for row in metrics["rows"]:
        peers = row.get("peers", {})
        exact, ann = peers.get("exact", {}), peers.get("ann", {})

        def us(entry):
            return f"{entry['retrieve_seconds'] * 1e6:.1f}" if "retrieve_seconds" in entry else "-"

        def mib(entry):
            return f"{entry['bytes'] / 2**20:.2f}" if "bytes" in entry else "-"

        print(
            f"{row['items']:>7} {row['memory']['name']:<28}{row['recall']:>7.3f}{row['store_seconds'] * 1e6:>10.1f}"
            f"{row['retrieve_seconds'] * 1e6:>10.1f}{us(exact):>10}{us(ann):>9}{ann.get('ef_search', '-')!s:>6}"
            f"{ann.get('recall', float('nan')):>8.3f}{(row['weight_bytes'] + row['readout_bytes']) / 2**20:>9.2f}"
            f"{mib(exact):>10}{mib(ann):>9}" + ("" if row["holds"] else "   below 0.9: no peers, no ratio")
        )
    for key in ("retrieve_ratio_largest_vs_smallest", "retrieve_ratio_100k_vs_1k"):
        if key in metrics:
            print(f"{key}: {metrics[key]:.2f} (N = {metrics.get('ratio_sizes')})")
    results = {
        "threads": 1,
        "load_average": {"before": load_before, "after": load_after},
        "numpy": np.__version__,
        "faiss": _faiss_version(),
        "machine": platform.processor() or platform.machine(),
        "config": config_to_dict(config),
        "seed": args.seed,
        **metrics,
    }
    out = Path(__file__).resolve().parent / "results" / "memory_timing.json"
    with atomic_write(out, "w") as handle:
        json.dump(results, handle, indent=2)
        handle.write("\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
