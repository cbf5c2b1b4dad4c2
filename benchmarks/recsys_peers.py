"""AutoInt on the ml100k CTR split: SparseWorks' recsys against DeepCTR-Torch's AutoInt.

Both models get the identical encoded split (label rating >= 4, eight fields, random
80/10/10 with seed 2020, vocabularies fitted on the training rows), Adam with learning
rate 1e-3, batch 1024, and early stopping on validation AUC with patience 2 (the best
weights restored). Architecture: the paper's embedding 16, 3 interacting layers, 2 heads,
residual; DeepCTR-Torch ties the attention width to the embedding size (2 heads x 8), ours
follows the paper (2 heads x 32), so ours does more work per sample.

Ours runs twice: in the paper's configuration and in the peer's (2 heads x 8), so that
speed is compared on equal work. Measured per model:
- test AUC / logloss after early stopping (mean over --seeds);
- training throughput: samples per second over two training epochs without validation,
  one torch thread for both, measured in the same run.

The peer is installed for the benchmark only:

    .venv/bin/pip install -c constraints.txt deepctr-torch==0.3.0

Run:  .venv/bin/python benchmarks/recsys_peers.py [--seeds 3] [--threads 1]
Writes benchmarks/results/recsys_peers.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from recsys.ctr import CTRConfig, prepare_ctr, train_ctr
from recsys.data.movielens import load_ctr_table, ml100k_folder
from recsys.metrics import auc, logloss
from recsys.models.autoint import AutoIntConfig
from recsys.trainer import TrainerConfig

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


def peer_throughput(data, epochs: int = 2) -> float:
    model = peer_model(data, 0)
    with contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        model.fit(peer_inputs(data, "train"), data.labels["train"], batch_size=1024, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - started
    return epochs * len(data.labels["train"]) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=30)
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
    speed = {}
    for name, config in variants.items():  # two epochs, no validation counted
        timing = CTRConfig(
            model="autoint",
            architecture=config.architecture,
            trainer=TrainerConfig(epochs=2, patience=99, monitor="auc"),
        )
        speed[name] = train_ctr(timing, data, seed=0)["samples_per_second"]
    speed["deepctr_torch"] = peer_throughput(data, epochs=2)

    def summary(values):
        return {
            "mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values,
        }

    result = {
        "threads": args.threads,
        "seeds": args.seeds,
        "train_rows": int(len(data.labels["train"])),
        "deepctr_torch_version": __import__("deepctr_torch").__version__,
        "libraries": {},
    }
    for name, values in runs.items():
        result["libraries"][name] = {
            "test_auc": summary([r["test_auc"] for r in values]),
            "test_logloss": summary([r["test_logloss"] for r in values]),
            "parameters": values[0]["parameters"],
            "samples_per_second": speed[name],
        }
    peer = result["libraries"]["deepctr_torch"]
    for name in variants:
        ours = result["libraries"][name]
        ours["auc_minus_peer"] = ours["test_auc"]["mean"] - peer["test_auc"]["mean"]
        ours["speed_ratio_to_peer"] = ours["samples_per_second"] / peer["samples_per_second"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    labels = {
        "ours_paper_2x32": "sparseworks AutoInt, paper (2 heads x 32)",
        "ours_matched_2x8": "sparseworks AutoInt, matched (2 heads x 8)",
        "deepctr_torch": f"DeepCTR-Torch {result['deepctr_torch_version']} AutoInt (2 heads x 8)",
    }
    rows = [("model", "test AUC (mean ± std)", "logloss", "params", "train samples/s", "AUC - peer", "speed / peer")]
    for name, r in result["libraries"].items():
        rows.append(
            (
                labels[name],
                f"{r['test_auc']['mean']:.4f} ± {r['test_auc']['std']:.4f}",
                f"{r['test_logloss']['mean']:.4f}",
                str(r["parameters"]),
                f"{r['samples_per_second']:.0f}",
                f"{r.get('auc_minus_peer', 0.0):+.4f}",
                f"{r.get('speed_ratio_to_peer', 1.0):.2f}x",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(f"\nAutoInt on the ml100k CTR split (80/10/10, seed 2020), {args.threads} thread(s), {args.seeds} seed(s)")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
