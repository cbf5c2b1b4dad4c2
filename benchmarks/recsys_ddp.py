"""Scale-out of recsys training: one process against ``torchrun --nproc_per_node 2`` (gloo), interleaved.

Cases (``--cases``):

- ``autoint``: ``recsys ctr`` (AutoInt, the paper's sizes) on a Criteo-format file
  (``--data``, e.g. the 10^6-row file of benchmarks/criteo_synthetic.py), ``--epochs``
  epochs; ``autoint-sparse`` the same with ``--sparse-gradients`` (SparseAdam table, the
  touched rows allreduced sparse).
- ``mf``, ``lightgcn``: ``recsys topk`` on MovieLens-100k at density 0.2 (DSL), ``--topk-epochs``
  epochs; ``mf-sparse`` / ``lightgcn-sparse`` with ``--sparse-gradients``.

Every repeat runs, for each case, the single process and then the two processes, so that a
change in machine load hits both alike. Threads are pinned (``--threads 1`` per process,
``OMP_NUM_THREADS=1``). Reported per run: samples per second of training (the command's
own ``samples_per_second``, all processes together), seconds per epoch, test AUC or
Recall@20, the wall time of the whole command (scan, training, evaluation) and the CPU
seconds of all its processes; and per case the median speed-up of two processes over one,
in wall-clock samples per second and per CPU second of rank 0's training loop (samples of
all processes over one process's CPU time: the speed-up on cores of their own, which a
machine shared with other work does not give the wall clock).
The load average is printed before and after: on a machine shared with other work the
two processes compete with it for the cores, and the speed-up says so.

Run:  .venv/bin/python benchmarks/recsys_ddp.py --data /tmp/criteo_1e6.txt.gz [--cases autoint autoint-sparse]
      [--repeats 1] [--epochs 1] [--max-rows N] [--out benchmarks/results/recsys_ddp.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from recsys.distributed import local_torchrun
from sparse_core.infra.files import atomic_write

SPARSEWORKS = [sys.executable, "-m", "sparseworks"]
CASES = ("autoint", "autoint-sparse", "mf", "mf-sparse", "lightgcn", "lightgcn-sparse")


def command(case: str, args: argparse.Namespace, out: Path) -> list[str]:
    """The ``sparseworks recsys ...`` arguments of one case."""
    model, _, sparse = case.partition("-")
    extra = ["--sparse-gradients"] if sparse else []
    common = ["--threads", "1", "--json", "--out", str(out), "--seed", "0"]
    if model == "autoint":
        if args.data is None:
            raise SystemExit("the autoint cases need --data FILE (a Criteo-format file)")
        rows = ["--max-rows", str(args.max_rows)] if args.max_rows else []
        return ["recsys", "ctr", "--data", str(args.data), "--format", "criteo", "--epochs", str(args.epochs)] + (
            rows + extra + common
        )
    return [
        "recsys",
        "topk",
        "--model",
        model,
        "--density",
        "0.2",
        "--epochs",
        str(args.topk_epochs),
        "--eval-every",
        str(args.topk_epochs),
    ] + (extra + common)


def run_once(case: str, processes: int, args: argparse.Namespace, scratch: Path) -> dict:
    out = scratch / f"{case}-{processes}-{time.time_ns()}"
    launcher = SPARSEWORKS
    if processes > 1:
        launcher = [*local_torchrun(processes), "-m", "sparseworks"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(launcher + command(case, args, out), env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{case} on {processes} process(es) failed:\n{done.stderr[-3000:]}")
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    quality = metrics.get("test_auc", metrics.get("recall@20"))
    samples = metrics["samples_per_second"] * metrics["epoch_seconds"] * len(metrics["epochs"])  # all processes
    cpu = metrics.get("train_cpu_seconds")  # of rank 0's training loop
    return {
        "case": case,
        "processes": processes,
        "samples_per_second": metrics["samples_per_second"],
        "epoch_seconds": metrics["epoch_seconds"],
        "train_cpu_seconds": cpu,
        # what the processes would reach each on a core of its own: samples over one rank's CPU time
        "samples_per_cpu_second": samples / cpu if cpu else None,
        "quality": quality,
        "quality_name": "test_auc" if "test_auc" in metrics else "recall@20",
        "command_wall_seconds": wall,
        "command_cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="Criteo-format file for the autoint cases")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=["autoint", "autoint-sparse"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the autoint cases")
    parser.add_argument("--topk-epochs", type=int, default=5, help="epochs of the mf / lightgcn cases")
    parser.add_argument("--max-rows", type=int, default=None, help="lines of --data used (default: all)")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/recsys_ddp"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/recsys_ddp.json"))
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    runs = []
    for repeat in range(args.repeats):
        for case in args.cases:
            for processes in (1, 2):
                result = run_once(case, processes, args, args.scratch)
                result["repeat"] = repeat
                runs.append(result)
                per_cpu = result["samples_per_cpu_second"]
                print(
                    f"{case:16s} x{processes}: {result['samples_per_second']:9.0f} samples/s "
                    f"({per_cpu or float('nan'):9.0f} per CPU second of rank 0), "
                    f"{result['epoch_seconds']:7.2f} s/epoch, {result['quality_name']} {result['quality']:.4f}, "
                    f"command {result['command_wall_seconds']:6.1f} s wall / {result['command_cpu_seconds']:6.1f} s CPU",
                    flush=True,
                )
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    summary = {}
    print(
        f"\n{'case':16s} {'1 proc samples/s':>17s} {'2 procs samples/s':>18s} {'speed-up':>9s} "
        f"{'per-CPU speed-up':>17s} {'quality 1 / 2':>16s}"
    )
    for case in args.cases:
        ones = [r for r in runs if r["case"] == case and r["processes"] == 1]
        twos = [r for r in runs if r["case"] == case and r["processes"] == 2]
        ratios = [b["samples_per_second"] / a["samples_per_second"] for a, b in zip(ones, twos)]
        cpu_ratios = [
            b["samples_per_cpu_second"] / a["samples_per_cpu_second"]
            for a, b in zip(ones, twos)
            if a["samples_per_cpu_second"] and b["samples_per_cpu_second"]
        ]
        summary[case] = {
            "samples_per_second_1": statistics.median(r["samples_per_second"] for r in ones),
            "samples_per_second_2": statistics.median(r["samples_per_second"] for r in twos),
            "speedup": statistics.median(ratios),
            "cpu_speedup": statistics.median(cpu_ratios) if cpu_ratios else None,
            "quality_1": statistics.median(r["quality"] for r in ones),
            "quality_2": statistics.median(r["quality"] for r in twos),
        }
        row = summary[case]
        print(
            f"{case:16s} {row['samples_per_second_1']:17.0f} {row['samples_per_second_2']:18.0f} "
            f"{row['speedup']:8.2f}x {row['cpu_speedup'] or float('nan'):16.2f}x "
            f"{row['quality_1']:7.4f} / {row['quality_2']:.4f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out, "w") as handle:
        json.dump(
            {
                "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                "cpus": os.cpu_count(),
                "load_average_before": load_before,
                "load_average_after": load_after,
                "runs": runs,
                "summary": summary,
            },
            handle,
            indent=1,
        )


if __name__ == "__main__":
    main()
