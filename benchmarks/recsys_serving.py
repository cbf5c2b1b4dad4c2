"""Serving DSL-trained LightGCN models on MovieLens-100k: file size, memory, full-ranking time, metrics.

For every topk run given (DSL at density 0.2 and 0.1, optionally a dense run), the run's
best state is exported (recsys.export) in its automatic layout and, for reference, in the
dense layout (the full final tables) and the csr layout; then, with one thread:

- bytes on disk: the serving file against best.pt (what topk saves: the full table and its
  mask), the same model in the dense layout, and the dense-trained model's file; the
  tables (embeddings) apart from what every layout holds alike (known items, ids);
- memory: in a fresh process per file, tracemalloc's peak while loading, the bytes the
  loaded model holds, the peak while ranking every user (top 20, 64 users at a time) and
  the process's peak RSS (VmHWM: the interpreter, numpy and scipy included);
- full-ranking time for all users (scores, known items excluded, top 20), served layouts
  and today's path (the masked torch model's final tables, propagated once, a product per
  batch and ``torch.topk``, as the evaluation), interleaved over --repeats rounds; median
  wall and CPU seconds; and the load time of each file (LightGCN's csr propagates at load);
- Recall@20 / NDCG@20 of the served file against the masked model's (recomputed, and the
  run's metrics.json), and the largest score difference.

The runs come from (about 5-7 minutes each at one thread):

    .venv/bin/sparseworks recsys topk --model lightgcn --density 0.2 --threads 1 --out runs/serving-d0.2
    .venv/bin/sparseworks recsys topk --model lightgcn --density 0.1 --threads 1 --out runs/serving-d0.1
    .venv/bin/sparseworks recsys topk --model lightgcn --density 1 --threads 1 --out runs/serving-dense

Run:  .venv/bin/python benchmarks/recsys_serving.py --runs runs/serving-d0.2 runs/serving-d0.1 \\
          --dense-run runs/serving-dense [--repeats 7]
Writes benchmarks/results/recsys_serving.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "recsys_serving.json"
KS = (10, 20)
BATCH_USERS = 64
TABLE_ARRAYS = ("user_embeddings", "item_embeddings", "columns", "user_", "item_")


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM; getrusage's ru_maxrss would keep the parent's across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def child(path: str) -> None:
    """In a fresh process: load + rank every user; prints one JSON line of memory figures."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        tracemalloc.start()
        from recsys.serving import load_serving_model

        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        model = load_serving_model(path)
        load_peak = tracemalloc.get_traced_memory()[1] - baseline
        resident = tracemalloc.get_traced_memory()[0] - baseline
        tracemalloc.reset_peak()
        model.top_items(np.arange(model.num_users), 20, batch_users=BATCH_USERS)
        rank_peak = tracemalloc.get_traced_memory()[1] - baseline
    print(
        json.dumps(
            {
                "load_peak_bytes": load_peak,
                "resident_bytes": resident,
                "model_nbytes": model.nbytes,
                "table_nbytes": model.table_nbytes,
                "load_and_rank_peak_bytes": max(load_peak, rank_peak),
                "max_rss_kib": peak_rss_kib(),
            }
        )
    )


def memory_of(path: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, timeout=300, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def breakdown(path: Path) -> dict:
    """Compressed bytes of the tables and of the rest (known items, ids, header)."""
    tables = rest = 0
    for info in zipfile.ZipFile(path).infolist():
        if info.filename.startswith(TABLE_ARRAYS):
            tables += info.compress_size
        else:
            rest += info.compress_size
    return {"bytes": path.stat().st_size, "table_bytes": tables, "other_bytes": rest}


def torch_rank(model, known, users, k: int = 20):
    """Today's path: the masked model's final tables (propagated once), scores of a batch of users,
    known items to -inf, torch.topk (as recsys.metrics)."""
    import torch

    from recsys.metrics import _rows

    with torch.no_grad():
        user_rows, item_rows = model.final_embeddings()
        out = []
        for start in range(0, users.numel(), BATCH_USERS):
            batch = users[start : start + BATCH_USERS]
            scores = user_rows[batch] @ item_rows.T
            scores = scores.masked_fill(_rows(known, int(batch[0]), int(batch[-1]) + 1), float("-inf"))
            out.append(torch.topk(scores, k, dim=1).indices)
        return torch.cat(out)


def timed(function) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure_run(folder: Path, scratch: Path, repeats: int, dense_file: Path | None) -> dict:
    import torch

    from recsys.export import _known, export_model, load_topk_run, serving_metrics
    from recsys.metrics import topk_metrics, user_item_matrix
    from recsys.serving import load_serving_model

    run = load_topk_run(folder)
    split, model = run.split, run.model
    files = {}
    for layout in ("auto", "dense", "csr"):
        files[layout] = export_model(model, split, scratch / f"{folder.name}-{layout}.npz", layout=layout)
    served = {layout: load_serving_model(path) for layout, path in files.items()}
    result: dict = {
        "run": str(folder),
        "density": run.config.dsl.density,
        "initial_mask": run.config.dsl.initial_mask,
        "layout": served["auto"].header["layout"],
        "scoring_columns": served["auto"].header["scoring_columns"],
        "embedding_dim": served["auto"].header["embedding_dim"],
        "nonzeros": served["auto"].header["nonzeros"],
        "checkpoint_bytes": (folder / "best.pt").stat().st_size,
        "disk": {layout: breakdown(path) for layout, path in files.items()},
    }
    reference = dense_file if dense_file is not None else files["dense"]
    result["disk"]["dense_trained"] = breakdown(reference) if dense_file is not None else None
    auto, dense_ref = result["disk"]["auto"], breakdown(reference)
    result["disk_ratios"] = {
        "file_to_checkpoint": auto["bytes"] / result["checkpoint_bytes"],
        "file_to_dense_model_file": auto["bytes"] / dense_ref["bytes"],
        "tables_to_dense_model_tables": auto["table_bytes"] / dense_ref["table_bytes"],
        "file_to_same_model_dense_layout": auto["bytes"] / result["disk"]["dense"]["bytes"],
    }
    memory = {layout: memory_of(path) for layout, path in files.items()}
    if dense_file is not None:
        memory["dense_trained"] = memory_of(dense_file)
    result["memory"] = memory
    base = memory.get("dense_trained", memory["dense"])
    result["memory_ratios"] = {
        key: memory["auto"][key] / base[key]
        for key in ("table_nbytes", "load_peak_bytes", "resident_bytes", "load_and_rank_peak_bytes", "max_rss_kib")
    }
    # scores and metrics against the masked model
    users = np.arange(split.train.num_users)
    with torch.no_grad():
        expected = model.score_users(torch.as_tensor(users)).numpy()
    result["max_abs_score_difference"] = {
        layout: float(np.abs(s.score(users) - expected).max()) for layout, s in served.items()
    }
    result["max_abs_score"] = float(np.abs(expected).max())
    train, test = split.train, split.test
    known_users, known_items, _ = _known(split)
    known = user_item_matrix(known_users, known_items, train.num_users, train.num_items)
    test_matrix = user_item_matrix(test.users, test.items, train.num_users, train.num_items)
    masked = topk_metrics(model.score_users, test_matrix, known, KS)
    result["metrics"] = {"masked_model": masked, "run_metrics_json": {k: run.metrics.get(k) for k in masked}}
    for layout, s in served.items():
        result["metrics"][layout] = serving_metrics(s, test, KS)
    result["max_metric_difference"] = {
        layout: max(abs(result["metrics"][layout][k] - masked[k]) for k in ("recall@20", "ndcg@20"))
        for layout in served
    }
    # full-ranking time, interleaved
    variants = {layout: (lambda s=s: s.top_items(users, 20, batch_users=BATCH_USERS)) for layout, s in served.items()}
    if dense_file is not None:
        dense_model = load_serving_model(dense_file)
        variants["dense_trained"] = lambda: dense_model.top_items(users, 20, batch_users=BATCH_USERS)
    users_t = torch.as_tensor(users)
    variants["torch_masked"] = lambda: torch_rank(model, known, users_t)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for function in variants.values():  # warm-up
        function()
    for _ in range(repeats):
        for name, function in variants.items():
            samples[name].append(timed(function))
    timing = {
        name: {
            "wall_seconds": statistics.median(w for w, _ in values),
            "cpu_seconds": statistics.median(c for _, c in values),
            "samples": values,
        }
        for name, values in samples.items()
    }
    dense_name = "dense_trained" if dense_file is not None else "dense"
    result["ranking_time"] = timing
    result["ranking_time_ratios"] = {
        f"auto_to_{dense_name}_wall": timing["auto"]["wall_seconds"] / timing[dense_name]["wall_seconds"],
        f"auto_to_{dense_name}_cpu": timing["auto"]["cpu_seconds"] / timing[dense_name]["cpu_seconds"],
        "auto_to_torch_masked_wall": timing["auto"]["wall_seconds"] / timing["torch_masked"]["wall_seconds"],
        "auto_to_torch_masked_cpu": timing["auto"]["cpu_seconds"] / timing["torch_masked"]["cpu_seconds"],
        "csr_to_dense_cpu": timing["csr"]["cpu_seconds"] / timing["dense"]["cpu_seconds"],
    }
    # load time (LightGCN csr propagates at load)
    loads = {layout: [] for layout in files}
    for _ in range(repeats):
        for layout, path in files.items():
            loads[layout].append(timed(lambda path=path: load_serving_model(path))[1])
    result["load_cpu_seconds"] = {layout: statistics.median(v) for layout, v in loads.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="*", default=[Path("runs/serving-d0.2"), Path("runs/serving-d0.1")])
    parser.add_argument("--dense-run", type=Path, default=None, help="a dense (density 1) topk run, the reference")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    import torch
    from threadpoolctl import threadpool_limits

    from recsys.export import export_model, load_topk_run

    torch.set_num_threads(1)
    for folder in [*args.runs, *([args.dense_run] if args.dense_run else [])]:
        if not (folder / "best.pt").is_file():
            sys.exit(f"{folder}: no topk run there; train it first (see this script's docstring)")
    with threadpool_limits(1), tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        dense_file = None
        if args.dense_run is not None:
            dense = load_topk_run(args.dense_run)
            dense_file = export_model(dense.model, dense.split, scratch / "dense-trained.npz")
        load_before = os.getloadavg()
        runs = []
        for folder in args.runs:
            runs.append(measure_run(folder, scratch, args.repeats, dense_file))
            r = runs[-1]
            print(
                f"density {r['density']} ({r['initial_mask']}): layout {r['layout']}, {r['scoring_columns']} of "
                f"{r['embedding_dim']} columns; file {r['disk']['auto']['bytes']} B = "
                f"{r['disk_ratios']['file_to_checkpoint']:.3f}x best.pt, "
                f"{r['disk_ratios']['file_to_dense_model_file']:.3f}x the dense model's file "
                f"(tables {r['disk_ratios']['tables_to_dense_model_tables']:.3f}x); memory resident "
                f"{r['memory_ratios']['resident_bytes']:.3f}x, load+rank peak "
                f"{r['memory_ratios']['load_and_rank_peak_bytes']:.3f}x, max RSS {r['memory_ratios']['max_rss_kib']:.3f}x; "
                f"ranking {r['ranking_time']['auto']['cpu_seconds'] * 1e3:.1f} ms CPU = "
                + ", ".join(f"{k} {v:.3f}" for k, v in r["ranking_time_ratios"].items())
                + f"; Recall@20 {r['metrics']['auto']['recall@20']:.6f} vs masked "
                f"{r['metrics']['masked_model']['recall@20']:.6f} (max metric diff "
                f"{r['max_metric_difference']['auto']:.2g}, max score diff {r['max_abs_score_difference']['auto']:.2g})",
                flush=True,
            )
    result = {
        "threads": 1,
        "batch_users": BATCH_USERS,
        "repeats": args.repeats,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "dense_run": str(args.dense_run) if args.dense_run else None,
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    from sparse_core.infra.files import atomic_write

    with atomic_write(RESULTS, "w") as handle:
        json.dump(result, handle, indent=1)
        handle.write("\n")
    print(f"threads 1; load average {load_before} -> {result['load_average_after']}; written {RESULTS}")


if __name__ == "__main__":
    main()
