"""Training time per epoch of DSL against dense training on MovieLens-100k, and the cost of one mask update.

For each model, dense and DSL runs alternate in every repeat (dense, DSL updating every
150 steps, DSL updating every 10 steps, then again), so that a change in machine load hits
them alike; reported are the median epoch time of each and the median of its ratios to
the dense run of the same repeat. Every run
trains ``--epochs`` epochs of ``recsys topk`` (ml100k, batch 2048: 36 steps per epoch);
masks change up to 75% of the planned steps, so ``--epochs`` must give an interval
updates at all (6 epochs: 1 update every 150 steps, 16 every 10). DSL's defaults otherwise
(density 0.2, gradient regrowth, cosine-decayed fraction from 0.5).

A finer measure of the same ratios alternates MF's runs step by step (``--steps``, CPU
time of each BPR step plus ``updater.step``, without the epoch's negative sampling).

The cost of one prune-and-regrow is measured apart: CPU time of
``DynamicSparseUpdater.step`` on update steps of MF's 2,625 x 64 table (168k weights)
after real BPR steps, at the update fractions of the schedule.

Every run trains with the optimizer ``recsys topk`` builds (:func:`recsys.trainer.make_optimizer`:
fused Adam; the single-tensor Adam would take the square root of the second moments, exactly
zero at every inactive weight of a sparse table, which ``torch.sqrt`` does several times
slower on CPU than of positive values).

Epoch times are CPU seconds of the training loop by default (``--clock wall`` for wall
seconds; on a loaded machine wall times are inflated, and unevenly).

Run:  .venv/bin/python benchmarks/recsys_dsl_timing.py [--models mf] [--repeats 5] [--epochs 6] [--threads 1]
      [--intervals 150 10] [--clock cpu] [--steps 600]
Writes benchmarks/results/recsys_dsl_timing.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from pathlib import Path
from unittest import mock

import torch

from recsys.dsl import DSLConfig, make_updater, sparsify
from recsys.models.mf import bpr_loss
from recsys.topk import TopKConfig, build_model, load_split, train_topk
from recsys.trainer import TrainerConfig, make_optimizer
from sparse_core.infra.files import atomic_write
from sparse_core.masks import masked_parameters

RESULTS = Path(__file__).resolve().parent / "results"


def epoch_clock(clock: str):
    """The clock of the trainer's per-epoch ``train_seconds`` while the block runs.

    "cpu" reads ``time.process_time`` (this process's CPU time: on a shared machine the
    load inflates wall times, and unevenly), "wall" keeps ``time.perf_counter``.
    """
    if clock == "wall":
        return contextlib.nullcontext()
    import recsys.trainer

    # every other attribute (process_time for the trainer's train_cpu_seconds) is the real module's
    return mock.patch.object(recsys.trainer, "time", mock.Mock(wraps=time, perf_counter=time.process_time))


def epoch_times(model: str, split, args) -> dict:
    """Epoch seconds of dense and of DSL at each update interval, runs interleaved.

    A run's epoch time is the mean over its epochs (6 epochs hold as many mask updates per
    epoch as a 60-epoch run); reported are the median over repeats and the median of the
    ratios to the dense run of the same repeat.
    """
    kinds = [("dense", 1.0, args.intervals[0])] + [(f"dsl_every_{n}", args.density, n) for n in args.intervals]
    per_run: dict[str, list[float]] = {kind: [] for kind, _, _ in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind, _, _ in kinds}
    updates: dict[str, int] = {}
    for repeat in range(args.repeats):
        for kind, density, every in kinds:
            config = TopKConfig(
                model=model,
                trainer=TrainerConfig(epochs=args.epochs, patience=99, eval_every=99),
                dsl=DSLConfig(density=density, update_every=every),
            )
            started = time.process_time()
            with epoch_clock(args.clock):
                metrics = train_topk(config, split, seed=repeat)
            cpu[kind].append(time.process_time() - started)
            per_run[kind].append(statistics.mean(epoch["train_seconds"] for epoch in metrics["epochs"]))
            updates[kind] = metrics["mask_updates"]
    return {
        kind: {
            "epoch_seconds": statistics.median(per_run[kind]),
            "ratio_to_dense": statistics.median(a / b for a, b in zip(per_run[kind], per_run["dense"])),
            "run_cpu_seconds": statistics.median(cpu[kind]),
            "mask_updates_per_run": updates[kind],
            "epoch_seconds_per_run": per_run[kind],
        }
        for kind in per_run
    }


def _mf_run(split, density: float, update_every: int, planned_steps: int):
    """MF as ``recsys topk`` builds it (DSL-masked when ``density < 1``), its optimizer and its updater."""
    generator = torch.Generator().manual_seed(0)
    config = TopKConfig(model="mf", dsl=DSLConfig(density=density, update_every=update_every))
    model = build_model(config, split.train, torch.device("cpu"), generator)
    updater = None
    if config.dsl.sparse:
        sparsify(model, config.dsl.density, generator, initial_mask=config.dsl.initial_mask)
    optimizer = make_optimizer(model.parameters(), config.learning_rate)
    if config.dsl.sparse:
        updater = make_updater(model, optimizer, config.dsl, planned_steps=planned_steps, generator=generator)
    return config, model, optimizer, updater


def _bpr_step(config, model, optimizer, batch) -> None:
    positive, negative, l2 = model(*batch)
    optimizer.zero_grad(set_to_none=True)
    (bpr_loss(positive, negative) + config.l2 * l2).backward()
    optimizer.step()


def _batches(split, batch_size: int, count: int, generator: torch.Generator) -> list[tuple]:
    users, items = torch.as_tensor(split.train.users), torch.as_tensor(split.train.items)
    out = []
    for _ in range(count):
        rows = torch.randint(0, len(users), (batch_size,), generator=generator)
        out.append(
            (users[rows], items[rows], torch.randint(0, split.train.num_items, (batch_size,), generator=generator))
        )
    return out


def step_times(split, args) -> dict:
    """CPU ms per MF training step (BPR step + ``updater.step``), dense and DSL runs alternating step by step.

    Finer-grained than `epoch_times` (each step of each run sees the same load), without the
    epoch's negative sampling; masks change up to 75% of ``--steps``, as in a run.
    """
    runs = {"dense": _mf_run(split, 1.0, args.intervals[0], args.steps)}
    for every in args.intervals:
        runs[f"dsl_every_{every}"] = _mf_run(split, args.density, every, args.steps)
    batches = _batches(split, runs["dense"][0].batch_size, 36, torch.Generator().manual_seed(1))
    seconds = {kind: 0.0 for kind in runs}
    for step in range(1, args.steps + 1):
        for kind, (config, model, optimizer, updater) in runs.items():
            started = time.process_time()
            _bpr_step(config, model, optimizer, batches[step % len(batches)])
            if updater is not None:
                updater.step(step)
            seconds[kind] += time.process_time() - started
    return {
        kind: {
            "step_cpu_ms": 1e3 * seconds[kind] / args.steps,
            "ratio_to_dense": seconds[kind] / seconds["dense"],
            "mask_updates": run[3].updates_done if run[3] is not None else 0,
        }
        for kind, run in runs.items()
    }


def update_cost(split, args, steps: int = 60) -> dict:
    """CPU milliseconds of one ``updater.step`` on an update step of MF's table (median over updates)."""
    # Updates every 2 steps of 2 * steps planned: the fraction decays as in the first half of a run.
    config, model, optimizer, updater = _mf_run(split, args.density, 2, 2 * steps)
    costs, moved = [], []
    for step, batch in enumerate(_batches(split, config.batch_size, steps, torch.Generator().manual_seed(2)), start=1):
        _bpr_step(config, model, optimizer, batch)
        before = {name: mask.clone() for name, (_, mask) in masked_parameters(model).items()}
        started = time.process_time()
        if updater.step(step):
            costs.append(time.process_time() - started)
            moved.append(sum(int((before[n] & ~m).sum()) for n, (_, m) in masked_parameters(model).items()))
    table = next(iter(masked_parameters(model).values()))[1]
    return {
        "table_shape": list(table.shape),
        "updates": len(costs),
        "update_cpu_ms_median": 1e3 * statistics.median(costs),
        "update_cpu_ms_first": 1e3 * costs[0],
        "weights_moved_median": statistics.median(moved),
        "weights_moved_first": moved[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="*", default=["mf", "lightgcn"], choices=["mf", "lightgcn"], help="epoch timing (none: skip)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--density", type=float, default=0.2)
    parser.add_argument("--intervals", type=int, nargs="+", default=[150, 10], help="DSL update intervals (steps)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", default="cpu", choices=["cpu", "wall"], help="epoch times: CPU or wall seconds")
    parser.add_argument("--steps", type=int, default=600, help="steps of the step-interleaved MF timing (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    split = load_split(TopKConfig())
    load = os.getloadavg()
    cost = update_cost(split, args)
    print(
        f"one prune-and-regrow on the {cost['table_shape'][0]} x {cost['table_shape'][1]} MF table: "
        f"{cost['update_cpu_ms_median']:.2f} ms CPU (median of {cost['updates']} updates, "
        f"{cost['weights_moved_median']:.0f} weights moved; first update {cost['update_cpu_ms_first']:.2f} ms, "
        f"{cost['weights_moved_first']} moved)",
        flush=True,
    )
    result = {
        "threads": args.threads,
        "density": args.density,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "clock": args.clock,
        "load_average_at_start": load,
        "update_cost": cost,
        "models": {},
    }
    if args.steps:
        result["mf_step_times"] = steps = step_times(split, args)
        print(f"MF steps alternating run by run ({args.steps} steps each, CPU ms per step incl. updater.step):")
        for kind, row in steps.items():
            print(
                f"{'':>8}  {kind}: {row['step_cpu_ms']:.3f} ms/step, {row['ratio_to_dense']:.3f}x dense "
                f"({row['mask_updates']} updates)",
                flush=True,
            )
    for model in args.models:
        times = epoch_times(model, split, args)
        result["models"][model] = times
        dense = times["dense"]
        print(
            f"{model:>8}: dense {dense['epoch_seconds']:.3f} {args.clock} s/epoch (run CPU {dense['run_cpu_seconds']:.2f} s)"
        )
        for kind, row in times.items():
            if kind == "dense":
                continue
            print(
                f"{'':>8}  DSL {kind.removeprefix('dsl_').replace('_', ' ')} steps ({row['mask_updates_per_run']} "
                f"updates/run): {row['epoch_seconds']:.3f} {args.clock} s/epoch, {row['ratio_to_dense']:.3f}x dense "
                f"(median of {args.repeats} paired ratios; run CPU {row['run_cpu_seconds']:.2f} s)",
                flush=True,
            )
    result["load_average_at_end"] = os.getloadavg()
    path = RESULTS / "recsys_dsl_timing.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as handle:
        handle.write(json.dumps(result, indent=2) + "\n")
    print(
        f"threads {args.threads}, load average {load[0]:.2f} -> {result['load_average_at_end'][0]:.2f}; written {path}"
    )


if __name__ == "__main__":
    main()
