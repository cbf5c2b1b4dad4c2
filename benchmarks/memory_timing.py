"""Store / retrieve time per item against N: the SDR memory vs exact search vs modern Hopfield.

All three memories hold the same random sparse patterns (784 inputs, 40 on) and grow
together to each N of the grid 10^3 ... 10^5 (memory.timing.run_timing):

- SDR memory: one CSA step (Q = 24, K = 16) plus the Hebbian class read-out, whose cost
  does not depend on N (Rinkus 2014, fixed-time storage and retrieval);
- exact nearest stored code: the query's code compared with all N stored codes;
- modern Hopfield retrieval, softmax(β X ξ) over the N stored patterns (Ramsauer et al.
  2021, eq. 1).

Threads are pinned to 1 (BLAS/OpenMP environment variables are set before numpy is
imported) and reported. Every ratio comes from the one run: retrieve time at the largest
N over the smallest, and the peers' time over the SDR memory's at each N.
Writes benchmarks/results/memory_timing.json.

Run: OMP_NUM_THREADS=1 python benchmarks/memory_timing.py [--max-items 100000] [--queries 200]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-items", type=int, default=100000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = TimingConfig(max_items=args.max_items, queries=args.queries)
    metrics = run_timing(config, seed=args.seed)
    threads = os.environ["OMP_NUM_THREADS"]
    print(f"memory timing: {config.inputs} inputs ({config.active} on), Q={config.cms}, K={config.cells_per_cm}, "
          f"{threads} thread, median of {config.queries} single-item calls")
    print(f"{'N':>8}{'store µs':>11}{'memory µs':>11}{'nearest µs':>12}{'hopfield µs':>13}{'nearest/mem':>13}{'hopfield/mem':>14}")
    for i, n in enumerate(metrics["sizes"]):
        mem, near, hop = (metrics[k][i] for k in ("retrieve_memory", "retrieve_nearest", "retrieve_hopfield"))
        print(f"{n:>8}{metrics['store_memory'][i] * 1e6:>11.1f}{mem * 1e6:>11.1f}{near * 1e6:>12.1f}{hop * 1e6:>13.1f}"
              f"{near / mem:>13.1f}{hop / mem:>14.1f}")
    small, large = metrics["ratio_sizes"]
    ratios = {
        key: metrics[f"{key}_ratio_largest_vs_smallest"] if key != "retrieve_memory" else metrics["retrieve_ratio_largest_vs_smallest"]
        for key in ("retrieve_memory", "retrieve_nearest", "retrieve_hopfield")
    }
    ratios["store_memory"] = metrics["store_memory"][-1] / metrics["store_memory"][0]
    print(f"time at N={large} / time at N={small}: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    results = {
        "threads": int(threads), "numpy": np.__version__, "machine": platform.processor() or platform.machine(),
        "config": {"inputs": config.inputs, "active": config.active, "cms": config.cms, "cells_per_cm": config.cells_per_cm,
                   "queries": config.queries, "beta": config.beta, "seed": args.seed},
        "sizes": metrics["sizes"],
        "seconds_per_item": {k: metrics[k] for k in ("store_memory", "store_hopfield", "retrieve_memory", "retrieve_nearest", "retrieve_hopfield")},
        "ratio_largest_vs_smallest": ratios, "ratio_sizes": [small, large],
        "retrieve_ratio_100k_vs_1k": metrics.get("retrieve_ratio_100k_vs_1k"),
        "peer_over_memory_at_largest": {k: metrics[k][-1] / metrics["retrieve_memory"][-1] for k in ("retrieve_nearest", "retrieve_hopfield")},
    }
    out = Path(__file__).resolve().parent / "results" / "memory_timing.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
