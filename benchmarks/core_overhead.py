"""Cost of a masked training step: sparse_core masks vs torch.nn.utils.prune vs dense.

One Adam step (forward, backward, update) of LeNet-300-100 (784-300-100-10) on a batch of
64 random inputs, at 90% sparsity. All three variants are timed in the same process,
interleaved, with torch pinned to one thread; the table gives the median over repeats
and the ratio to dense. Writes benchmarks/results/core_overhead.json.

Run: python benchmarks/core_overhead.py [--repeats 30] [--steps 50] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune

from sparse_core.comparison.training import mlp
from sparse_core.masks import apply_mask
from sparse_core.pruning import magnitude_per_layer

SIZES = (784, 300, 100, 10)
DENSITY = 0.1


def build(variant: str) -> nn.Module:
    torch.manual_seed(0)
    model = mlp(SIZES)
    if variant == "sparse_core":
        apply_mask(model, magnitude_per_layer(model, DENSITY))
    elif variant == "torch_prune":
        for module in model:
            if isinstance(module, nn.Linear):
                prune.l1_unstructured(module, "weight", amount=1 - DENSITY)
    return model


def time_steps(model: nn.Module, optimizer, inputs, labels, steps: int) -> float:
    """Seconds per training step, averaged over ``steps`` consecutive steps."""
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(steps):
        loss_fn(model(inputs), labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(args.batch, SIZES[0], generator=generator)
    labels = torch.randint(0, SIZES[-1], (args.batch,), generator=generator)
    variants = ("dense", "sparse_core", "torch_prune")
    models = {v: build(v) for v in variants}
    optimizers = {v: torch.optim.Adam(m.parameters(), lr=1e-3) for v, m in models.items()}
    for v in variants:  # warm-up
        time_steps(models[v], optimizers[v], inputs, labels, 5)
    samples = {v: [] for v in variants}
    for _ in range(args.repeats):  # interleaved so that machine load hits all variants alike
        for v in variants:
            samples[v].append(time_steps(models[v], optimizers[v], inputs, labels, args.steps))
    medians = {v: statistics.median(s) for v, s in samples.items()}
    print(
        f"masked MLP {'-'.join(map(str, SIZES))} at density {DENSITY}, batch {args.batch}, "
        f"{torch.get_num_threads()} thread(s), median of {args.repeats} x {args.steps} steps"
    )
    print(f"{'variant':<14}{'ms/step':>10}{'vs dense':>10}")
    for v in variants:
        print(f"{v:<14}{medians[v] * 1e3:>10.3f}{medians[v] / medians['dense']:>10.2f}")
    print(f"sparse_core / torch.nn.utils.prune: {medians['sparse_core'] / medians['torch_prune']:.2f}")
    results = {
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "repeats": args.repeats,
        "steps": args.steps,
        "torch": torch.__version__,
        "ms_per_step": {v: m * 1e3 for v, m in medians.items()},
        "ratio_vs_dense": {v: medians[v] / medians["dense"] for v in variants},
        "sparse_core_vs_torch_prune": medians["sparse_core"] / medians["torch_prune"],
    }
    out = Path(__file__).resolve().parent / "results" / "core_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
