"""AutoInt's training step on the ml100k CTR split: ours against an earlier checkout, component by component.

One step is what :func:`recsys.ctr.train_ctr` runs per mini-batch: slice the batch, the
forward pass, binary cross-entropy (+ the embedding penalty), ``zero_grad``, the backward
pass and an Adam step. The same batches (1,024 rows of the 80% training split, shuffled
with a fixed seed) go through our model and through the model of an earlier checkout
(``--before``, e.g. ``git worktree add /tmp/autoint/wt 22ed074``), in alternating order,
step after step, so that the load of the machine hits both alike; the ratio of the
medians is the result. Our step is also split into its components (data, embedding,
interacting layers, output and loss, backward of the output / interacting layers /
embedding, optimizer), timed in the same steps.

Wall time (``perf_counter``) and process CPU time (``process_time``) are both recorded;
on a loaded machine the CPU time is the steadier of the two.

Run:  .venv/bin/python benchmarks/autoint_step.py --before /tmp/autoint/wt [--steps 200] [--head-dims 32,8]
Writes benchmarks/results/autoint_step.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from recsys.ctr import CTRConfig, load_ctr_data
from recsys.models.autoint import AutoInt, AutoIntConfig
from sparse_core.infra.files import atomic_write

RESULTS = Path(__file__).resolve().parent / "results" / "autoint_step.json"
BATCH = 1024


def load_before(checkout: Path):
    """The ``recsys.models.autoint`` module of another checkout, imported under its own name."""
    path = checkout / "recsys" / "models" / "autoint.py"
    spec = importlib.util.spec_from_file_location("before_autoint", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


class Clock:
    """Wall and CPU seconds since the last :meth:`lap`, recorded under a name."""

    def __init__(self):
        self.laps: dict[str, list[tuple[float, float]]] = {}
        self.reset()

    def reset(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.laps.setdefault(name, []).append((wall - self.wall, cpu - self.cpu))
        self.wall, self.cpu = wall, cpu


def whole_step(model, optimizer, ids, labels, rows) -> None:
    x, y = ids[rows], labels[rows]
    logits, penalty = model(x)
    loss = F.binary_cross_entropy_with_logits(logits, y) + penalty
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def timed_step(model: AutoInt, optimizer, ids, labels, rows, clock: Clock) -> None:
    """:func:`whole_step` of our model, with a lap after each component.

    The forward pass is :meth:`AutoInt.forward` written out (plain AutoInt, no dropout, no
    penalty: the paper's configuration); hooks on the layers' outputs stamp the backward pass.
    """
    clock.reset()
    x, y = ids[rows], labels[rows]
    clock.lap("data")
    embedded = model.embed(x)
    clock.lap("embedding")
    hidden = embedded
    outputs = []
    for layer in model.interacting:
        hidden = layer(hidden)
        outputs.append(hidden)
    clock.lap("interacting")
    loss = F.binary_cross_entropy_with_logits(model.output(hidden.flatten(1)).squeeze(-1), y)
    clock.lap("output_and_loss")
    optimizer.zero_grad(set_to_none=True)
    outputs[-1].register_hook(lambda grad: clock.lap("backward_output"))
    embedded.register_hook(lambda grad: clock.lap("backward_interacting"))
    loss.backward()
    clock.lap("backward_embedding")
    optimizer.step()
    clock.lap("optimizer")


def median_ms(values: list[float]) -> float:
    return 1e3 * statistics.median(values)


def run_width(data, before, head_dim: int, steps: int, warmup: int = 10, seed: int = 0) -> dict:
    """Median step times of ours (whole and per component) and, unless ``before`` is None, of the earlier model."""
    ids, labels = torch.as_tensor(data.ids["train"]), torch.as_tensor(data.labels["train"])
    config = AutoIntConfig(head_dim=head_dim)  # the paper's sizes otherwise: embedding 16, 3 layers, 2 heads
    ours = AutoInt(data.cardinalities, config, generator=torch.Generator().manual_seed(seed))
    models = {"ours": ours}
    if before is not None:
        torch.manual_seed(seed)  # the earlier model draws its weights from the global generator
        models["before"] = before.AutoInt(data.cardinalities, before.AutoIntConfig(head_dim=head_dim))
    with torch.no_grad():  # the written-out forward is the model's forward
        probe = ids[:BATCH]
        hidden = ours.embed(probe)
        for layer in ours.interacting:
            hidden = layer(hidden)
        assert torch.equal(ours.output(hidden.flatten(1)).squeeze(-1), ours(probe)[0])
    # each with the optimizer its train_ctr uses (ours: the fused Adam kernel)
    optimizers = {"ours": torch.optim.Adam(ours.parameters(), lr=1e-3, fused=True)}
    if before is not None:
        optimizers["before"] = torch.optim.Adam(models["before"].parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    epochs = 1 + (warmup + steps) * BATCH // ids.shape[0]  # enough shuffled epochs for full batches only
    order = torch.cat([torch.randperm(ids.shape[0], generator=generator) for _ in range(epochs)])
    batches = [order[i * BATCH : (i + 1) * BATCH] for i in range(warmup + steps)]
    clock, whole = Clock(), {name: [] for name in models}
    for index, rows in enumerate(batches):
        pair = list(models) if index % 2 == 0 else list(models)[::-1]
        for name in pair:
            wall, cpu = time.perf_counter(), time.process_time()
            if name == "ours":
                timed_step(ours, optimizers["ours"], ids, labels, rows, clock)
            else:
                whole_step(models["before"], optimizers["before"], ids, labels, rows)
            if index >= warmup:
                whole[name].append((time.perf_counter() - wall, time.process_time() - cpu))
        if index < warmup:
            clock.laps.clear()

    def summary(pairs):
        return {"wall_ms": median_ms([p[0] for p in pairs]), "cpu_ms": median_ms([p[1] for p in pairs])}

    result = {name: summary(pairs) for name, pairs in whole.items()}
    if before is not None:
        result["ratio_ours_to_before"] = {
            "wall": result["ours"]["wall_ms"] / result["before"]["wall_ms"],
            "cpu": result["ours"]["cpu_ms"] / result["before"]["cpu_ms"],
        }
    result["ours_components"] = {name: summary(pairs) for name, pairs in clock.laps.items()}
    result["parameters"] = {"ours": sum(p.numel() for p in ours.parameters())}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the earlier commit")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--head-dims", default="32,8", help="comma-separated head sizes (paper 32, DeepCTR-Torch 8)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    before = load_before(args.before)
    data = load_ctr_data(CTRConfig())
    result = {
        "threads": args.threads,
        "batch": BATCH,
        "steps": args.steps,
        "before": str(args.before),
        "load_average_start": os.getloadavg(),
        "widths": {},
    }
    for head_dim in (int(h) for h in args.head_dims.split(",")):
        name = f"2x{head_dim}"
        result["widths"][name] = run_width(data, before, head_dim, args.steps, args.warmup, args.seed)
        r = result["widths"][name]
        print(
            f"{name}: ours {r['ours']['wall_ms']:.1f} ms wall / {r['ours']['cpu_ms']:.1f} ms CPU, "
            f"before {r['before']['wall_ms']:.1f} / {r['before']['cpu_ms']:.1f}, "
            f"ratio {r['ratio_ours_to_before']['wall']:.3f} wall / {r['ratio_ours_to_before']['cpu']:.3f} CPU",
            flush=True,
        )
        for component, times in r["ours_components"].items():
            print(f"    {component:22s} {times['wall_ms']:8.2f} ms wall {times['cpu_ms']:8.2f} ms CPU")
    result["load_average_end"] = os.getloadavg()
    with atomic_write(args.out, "w") as handle:
        handle.write(json.dumps(result, indent=2) + "\n")
    print(f"load average {result['load_average_start']} -> {result['load_average_end']}; written {args.out}")


if __name__ == "__main__":
    main()
