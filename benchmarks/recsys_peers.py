"""AutoInt on the ml100k CTR split: SparseWorks' recsys against DeepCTR-Torch's AutoInt.

Both models get the identical encoded split (label rating >= 4, eight fields, random
80/10/10 with seed 2020, vocabularies fitted on the training rows), Adam with learning
rate 1e-3, batch 1024, and early stopping on validation AUC with patience 2 (the best
weights restored). Architecture: the paper's embedding 16, 3 interacting layers, 2 heads,
residual; DeepCTR-Torch ties the attention width to the embedding size (2 heads x 8), ours
follows the paper (2 heads x 32), so ours does more work per sample.

Ours runs twice: in the paper's configuration and in the peer's (2 heads x 8), so that
speed is compared on equal work. Measured per model:
- test AUC / logloss after early stopping (mean over --seeds; --seeds 0 skips this part);
- training throughput: samples per second of one training epoch (validation not
  counted), one torch thread for all; --rounds rounds, each running every model once in
  turn, so that the machine's load hits all alike; the medians are reported, from wall
  time and from process CPU time (for ours the CPU time of the epoch's validation and
  test pass, measured separately, is subtracted);
- ours, per 1,024-row training step: the median time of each component (data,
  embedding, interacting layers, output and loss, backward, optimizer;
  benchmarks/autoint_step.py).

The peer is installed for the benchmark only:

    .venv/bin/pip install -c constraints.txt deepctr-torch==0.3.0

Run:  .venv/bin/python benchmarks/recsys_peers.py [--seeds 3] [--rounds 3] [--threads 1]
Writes benchmarks/results/recsys_peers.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from recsys.ctr import CTRConfig, evaluate_part, prepare_ctr, train_ctr
from recsys.data.movielens import load_ctr_table, ml100k_folder
from recsys.metrics import auc, logloss
from recsys.models.autoint import AutoInt, AutoIntConfig
from recsys.trainer import TrainerConfig
from sparse_core.infra.files import atomic_write

sys.path.insert(0, str(Path(__file__).resolve().parent))
from autoint_step import run_width  # noqa: E402  (a sibling script, not a package)

PEER_INSTALL = ".venv/bin/pip install -c constraints.txt deepctr-torch==0.3.0"
RESULTS = Path(__file__).resolve().parent / "results" / "recsys_peers.json"


def peer_model(data, seed: int):
    from deepctr_torch.inputs import SparseFeat
    from deepctr_torch.models import AutoInt as PeerAutoInt

    columns = [
        SparseFeat(name, vocabulary_size=card, embedding_dim=16)
        for name, card in zip(data.encoder.fields, data.cardinalities)
    ]
    model = PeerAutoInt(
        columns,
        columns,
        att_layer_num=3,
        att_head_num=2,
        att_res=True,
        dnn_hidden_units=(),
        l2_reg_embedding=0.0,
        seed=seed,
        device="cpu",
    )
    model.compile(torch.optim.Adam(model.parameters(), lr=1e-3), "binary_crossentropy", metrics=["auc"])
    return model


def peer_inputs(data, part: str) -> dict[str, np.ndarray]:
    return {name: data.ids[part][:, i] for i, name in enumerate(data.encoder.fields)}


def run_peer(data, seed: int, epochs: int) -> dict:
    from deepctr_torch.callbacks import EarlyStopping

    torch.manual_seed(seed)
    model = peer_model(data, seed)
    stopper = EarlyStopping(monitor="val_auc", patience=2, mode="max", restore_best_weights=True)
    with contextlib.redirect_stdout(io.StringIO()):  # the peer prints its device and progress
        model.fit(
            peer_inputs(data, "train"),
            data.labels["train"],
            batch_size=1024,
            epochs=epochs,
            verbose=0,
            validation_data=(peer_inputs(data, "valid"), data.labels["valid"]),
            callbacks=[stopper],
        )
        p = model.predict(peer_inputs(data, "test"), batch_size=8192).ravel()
    return {
        "test_auc": auc(data.labels["test"], p),
        "test_logloss": logloss(data.labels["test"], p),
        "parameters": sum(t.numel() for t in model.parameters()),
    }


def peer_epoch(data) -> tuple[float, float]:
    """Wall and CPU seconds of one training epoch of the peer (no validation)."""
    model = peer_model(data, 0)
    with contextlib.redirect_stdout(io.StringIO()):
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(peer_inputs(data, "train"), data.labels["train"], batch_size=1024, epochs=1, verbose=0)
        return time.perf_counter() - wall, time.process_time() - cpu


def ours_epoch(data, config: CTRConfig) -> tuple[float, float]:
    """Wall and CPU seconds of one training epoch of ours (``train_ctr``, validation not counted)."""
    cpu = time.process_time()
    metrics = train_ctr(config, data, seed=0)
    cpu = time.process_time() - cpu
    model = AutoInt(data.cardinalities, config.resolved_architecture())  # same sizes: the same evaluation cost
    evaluation = time.process_time()
    for part in ("valid", "test"):
        evaluate_part(model, data, part, torch.device("cpu"))
    cpu -= time.process_time() - evaluation
    return metrics["epoch_seconds"], cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (every model once per round)")
    parser.add_argument("--steps", type=int, default=100, help="training steps timed per width for the components")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import deepctr_torch  # noqa: F401
    except ImportError:
        sys.exit(f"DeepCTR-Torch is not installed; install it for this benchmark only:\n    {PEER_INSTALL}")

    trainer = TrainerConfig(epochs=args.epochs, patience=2, monitor="auc", mode="max")
    variants = {  # ours in the paper's configuration, and in the peer's (attention width = embedding size)
        "ours_paper_2x32": CTRConfig(model="autoint", architecture=AutoIntConfig(head_dim=32), trainer=trainer),
        "ours_matched_2x8": CTRConfig(model="autoint", architecture=AutoIntConfig(head_dim=8), trainer=trainer),
    }
    data = prepare_ctr(load_ctr_table(ml100k_folder()), variants["ours_paper_2x32"])
    runs: dict[str, list[dict]] = {name: [] for name in [*variants, "deepctr_torch"]}
    for seed in range(args.seeds):
        for name, config in variants.items():
            runs[name].append(train_ctr(config, data, seed=seed))
        runs["deepctr_torch"].append(run_peer(data, seed, args.epochs))
        print(f"seed {seed}: " + ", ".join(f"{n} AUC {r[-1]['test_auc']:.4f}" for n, r in runs.items()), flush=True)
    epochs: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    one_epoch = TrainerConfig(epochs=1, patience=99, monitor="auc")
    for round_index in range(args.rounds):  # every model once per round, the order rotating
        names = list(epochs)[round_index % 3 :] + list(epochs)[: round_index % 3]
        for name in names:
            if name == "deepctr_torch":
                epochs[name].append(peer_epoch(data))
            else:
                config = CTRConfig(model="autoint", architecture=variants[name].architecture, trainer=one_epoch)
                epochs[name].append(ours_epoch(data, config))
        print(f"round {round_index}: " + ", ".join(f"{n} {e[-1][0]:.2f} s" for n, e in epochs.items()), flush=True)
    train_rows = len(data.labels["train"])
    speed = {
        name: {
            "samples_per_second": train_rows / statistics.median(w for w, _ in times),
            "samples_per_cpu_second": train_rows / statistics.median(c for _, c in times),
            "epoch_seconds": [w for w, _ in times],
            "epoch_cpu_seconds": [c for _, c in times],
        }
        for name, times in epochs.items()
    }
    steps = {
        name: run_width(data, None, config.architecture.head_dim, args.steps)["ours_components"]
        for name, config in variants.items()
    }

    def summary(values):
        return {
            "mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values,
        }

    result = {
        "threads": args.threads,
        "seeds": args.seeds,
        "rounds": args.rounds,
        "train_rows": int(train_rows),
        "deepctr_torch_version": __import__("deepctr_torch").__version__,
        "load_average_end": os.getloadavg(),
        "libraries": {},
    }
    for name, values in runs.items():
        result["libraries"][name] = {
            "test_auc": summary([r["test_auc"] for r in values]) if values else None,
            "test_logloss": summary([r["test_logloss"] for r in values]) if values else None,
            "parameters": values[0]["parameters"] if values else None,
            **speed[name],
        }
        if name in steps:
            result["libraries"][name]["step_components_ms"] = steps[name]
    peer = result["libraries"]["deepctr_torch"]
    for name in variants:
        ours = result["libraries"][name]
        if args.seeds:
            ours["auc_minus_peer"] = ours["test_auc"]["mean"] - peer["test_auc"]["mean"]
        ours["speed_ratio_to_peer"] = ours["samples_per_second"] / peer["samples_per_second"]
        ours["cpu_speed_ratio_to_peer"] = ours["samples_per_cpu_second"] / peer["samples_per_cpu_second"]
    with atomic_write(RESULTS, "w") as handle:
        handle.write(json.dumps(result, indent=2) + "\n")
    labels = {
        "ours_paper_2x32": "sparseworks AutoInt, paper (2 heads x 32)",
        "ours_matched_2x8": "sparseworks AutoInt, matched (2 heads x 8)",
        "deepctr_torch": f"DeepCTR-Torch {result['deepctr_torch_version']} AutoInt (2 heads x 8)",
    }
    rows = [("model", "test AUC (mean ± std)", "logloss", "train samples/s", "per CPU s", "speed / peer", "CPU / peer")]
    for name, r in result["libraries"].items():
        rows.append(
            (
                labels[name],
                f"{r['test_auc']['mean']:.4f} ± {r['test_auc']['std']:.4f}" if r["test_auc"] else "-",
                f"{r['test_logloss']['mean']:.4f}" if r["test_logloss"] else "-",
                f"{r['samples_per_second']:.0f}",
                f"{r['samples_per_cpu_second']:.0f}",
                f"{r.get('speed_ratio_to_peer', 1.0):.2f}x",
                f"{r.get('cpu_speed_ratio_to_peer', 1.0):.2f}x",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(f"\nAutoInt on the ml100k CTR split (80/10/10, seed 2020), {args.threads} thread(s), {args.seeds} seed(s)")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    for name, components in steps.items():
        print(f"{labels[name]}, per 1,024-row step (median ms, wall / CPU):")
        for component, times in components.items():
            print(f"    {component:22s} {times['wall_ms']:8.2f} {times['cpu_ms']:8.2f}")
    print(f"load average {result['load_average_end']}; written {RESULTS}")


if __name__ == "__main__":
    main()
