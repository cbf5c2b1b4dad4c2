"""DSL on MovieLens-100k: LightGCN (or MF) at densities 1.0 / 0.5 / 0.2 / 0.1 over several seeds.

Each run is one ``sparseworks recsys topk ... --json`` command (printed before it runs), so
every figure in the table can be reproduced alone. Reports test Recall@20 / NDCG@20 as mean
± std over seeds, the ratio to dense, nonzeros against the dense parameter count, training
and inference multiply-accumulates, and training seconds per epoch against dense.

Run:  .venv/bin/python benchmarks/recsys_dsl.py [--model lightgcn] [--densities 1.0 0.5 0.2] [--seeds 3] [--parallel 2]
      [--extra "--initial-mask random"]   (the DSL paper's uniform random start instead of columns)
Writes benchmarks/results/recsys_dsl_<model>.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def run(command: list[str]) -> dict:
    print("$ " + shlex.join(command), flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"command failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_all(commands: dict, parallel: int) -> dict:
    """Runs the commands, ``parallel`` at a time; returns key -> metrics."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {key: pool.submit(run, command) for key, command in commands.items()}
        return {key: future.result() for key, future in futures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lightgcn", choices=["mf", "lightgcn"])
    parser.add_argument("--densities", type=float, nargs="+", default=[1.0, 0.5, 0.2])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=1, help="commands run at once (epoch times then share the CPU)")
    parser.add_argument("--extra", default="", help="more options for every topk command, e.g. '--epochs 50'")
    args = parser.parse_args()
    runs: dict[float, list[dict]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        commands = {
            (density, seed): [
                sys.executable,
                "-m",
                "sparseworks",
                "recsys",
                "topk",
                "--model",
                args.model,
                "--density",
                str(density),
                "--seed",
                str(seed),
                "--threads",
                str(args.threads),
                "--json",
                "--out",
                f"{scratch}/{density}-{seed}",
                *shlex.split(args.extra),
            ]
            for density in args.densities
            for seed in range(args.seeds)
        }
        for (density, seed), metrics in run_all(commands, args.parallel).items():
            metrics.pop("epochs", None)
            runs.setdefault(density, []).append(metrics)
            print(
                f"  density {density} seed {seed}: Recall@20 {metrics['recall@20']:.4f}, "
                f"{metrics['epoch_seconds']:.2f} s/epoch",
                flush=True,
            )

    def stats(density, key):
        values = [m[key] for m in runs[density]]
        return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)

    dense = max(args.densities)
    dense_recall, _ = stats(dense, "recall@20")
    dense_seconds, _ = stats(dense, "epoch_seconds")
    table = []
    for density in args.densities:
        recall, recall_std = stats(density, "recall@20")
        ndcg, ndcg_std = stats(density, "ndcg@20")
        seconds, _ = stats(density, "epoch_seconds")
        first = runs[density][0]
        table.append(
            {
                "density": density,
                "recall@20": recall,
                "recall@20_std": recall_std,
                "ndcg@20": ndcg,
                "ndcg@20_std": ndcg_std,
                "recall_ratio": recall / dense_recall,
                "nonzeros": first["nonzeros"],
                "dense_parameters": first["dense_parameters"],
                "epoch_seconds": seconds,
                "time_ratio": seconds / dense_seconds,
                "train_macs_ratio": first["train_macs_per_step"] / first["dense_train_macs_per_step"],
                "inference_macs_ratio": first["inference_macs"] / first["dense_inference_macs"],
                "recall@20_per_seed": [m["recall@20"] for m in runs[density]],
            }
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"recsys_dsl_{args.model}.json"
    path.write_text(
        json.dumps(
            {"model": args.model, "seeds": args.seeds, "threads": args.threads, "extra": args.extra, "rows": table},
            indent=2,
        )
        + "\n"
    )
    print(f"\n{args.model} on ml100k, {args.seeds} seeds, {args.threads} thread(s)")
    header = f"{'density':>7}  {'Recall@20':>17}  {'NDCG@20':>17}  {'vs dense':>8}  {'nonzeros':>16}  {'s/epoch':>7}  {'time':>5}  {'train MACs':>10}  {'infer MACs':>10}"
    print(header)
    for row in table:
        print(
            f"{row['density']:>7.2f}  {row['recall@20']:.4f} ± {row['recall@20_std']:.4f}  "
            f"{row['ndcg@20']:.4f} ± {row['ndcg@20_std']:.4f}  {row['recall_ratio']:>8.3f}  "
            f"{row['nonzeros']:>7} / {row['dense_parameters']:<6}  {row['epoch_seconds']:>7.2f}  "
            f"{row['time_ratio']:>5.2f}  {row['train_macs_ratio']:>10.3f}  {row['inference_macs_ratio']:>10.3f}"
        )
    print(f"written {path}")


if __name__ == "__main__":
    main()
