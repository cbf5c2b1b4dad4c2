"""Training time per epoch of DSL against dense training, LightGCN and MF on MovieLens-100k.

Dense and DSL runs alternate (dense, DSL, dense, DSL, ...) so that a change in machine load
hits both alike; the median epoch time of each is reported. DSL updates its masks every
``--update-every`` steps (default 10, far more often than in training runs: a worst case).

Run:  .venv/bin/python benchmarks/recsys_dsl_timing.py [--repeats 5] [--threads 1]
Writes benchmarks/results/recsys_dsl_timing.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from recsys.dsl import DSLConfig
from recsys.topk import TopKConfig, load_split, train_topk
from recsys.trainer import TrainerConfig

RESULTS = Path(__file__).resolve().parent / "results" / "recsys_dsl_timing.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--density", type=float, default=0.2)
    parser.add_argument("--update-every", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    split = load_split(TopKConfig())
    result = {"threads": args.threads, "density": args.density, "update_every": args.update_every, "models": {}}
    for model in ("lightgcn", "mf"):
        seconds: dict[str, list[float]] = {"dense": [], "dsl": []}
        updates = 0
        for repeat in range(args.repeats):
            for kind, density in (("dense", 1.0), ("dsl", args.density)):
                config = TopKConfig(
                    model=model,
                    trainer=TrainerConfig(epochs=args.epochs, patience=99, eval_every=99),
                    dsl=DSLConfig(density=density, update_every=args.update_every),
                )
                metrics = train_topk(config, split, seed=repeat)
                seconds[kind] += [e["train_seconds"] for e in metrics["epochs"]]
                updates = max(updates, metrics["mask_updates"])
        dense, dsl = statistics.median(seconds["dense"]), statistics.median(seconds["dsl"])
        result["models"][model] = {
            "dense_epoch_seconds": dense,
            "dsl_epoch_seconds": dsl,
            "ratio": dsl / dense,
            "mask_updates_per_run": updates,
            "samples": seconds,
        }
        print(
            f"{model:>8}: dense {dense:.3f} s/epoch, DSL (density {args.density}, update every "
            f"{args.update_every} steps, {updates} updates/run) {dsl:.3f} s/epoch, ratio {dsl / dense:.2f}",
            flush=True,
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"threads {args.threads}; written {RESULTS}")


if __name__ == "__main__":
    main()
