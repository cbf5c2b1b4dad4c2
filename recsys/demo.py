"""The recsys stage of ``sparseworks demo``: a quick look at both tasks on MovieLens-100k.

1. LightGCN trained sparse from scratch with DSL at density 0.2 (a short run);
2. AutoInt for click-through rate, two epochs.

Short runs, so the figures are below what full training reaches (see the README and
``benchmarks/recsys_dsl.py``, ``benchmarks/recsys_peers.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

from recsys.ctr import CTRConfig, run_ctr
from recsys.dsl import DSLConfig
from recsys.models.autoint import AutoIntConfig
from recsys.topk import TopKConfig, run_topk
from recsys.trainer import TrainerConfig

__all__ = ["run_demo"]


def run_demo(folder: Path, seed: int = 0, progress: bool = False) -> dict:
    """Runs the stage into ``folder`` and returns its metrics with a one-line ``summary``."""
    folder = Path(folder)
    topk_config = TopKConfig(model="lightgcn", learning_rate=1e-2,
                             trainer=TrainerConfig(epochs=12, patience=3, eval_every=4),
                             dsl=DSLConfig(density=0.2, update_every=50))
    topk = run_topk(topk_config, seed=seed, folder=folder / "topk", progress=progress)
    ctr_config = CTRConfig(model="autoint", architecture=AutoIntConfig(head_dim=8),
                           trainer=TrainerConfig(epochs=2, patience=2, monitor="auc"))
    ctr = run_ctr(ctr_config, seed=seed, folder=folder / "ctr", progress=progress)
    metrics = {
        "lightgcn_dsl_density": 0.2,
        "lightgcn_recall@20": topk["recall@20"],
        "lightgcn_ndcg@20": topk["ndcg@20"],
        "lightgcn_nonzeros": topk["nonzeros"],
        "lightgcn_dense_parameters": topk["dense_parameters"],
        "autoint_test_auc": ctr["test_auc"],
        "autoint_samples_per_second": ctr["samples_per_second"],
    }
    metrics["summary"] = (
        f"LightGCN + DSL at density 0.2 ({topk['nonzeros']} of {topk['dense_parameters']} weights), "
        f"{topk['epochs_run']} epochs: Recall@20 {topk['recall@20']:.3f}; "
        f"AutoInt CTR, {len(ctr['epochs'])} epochs: test AUC {ctr['test_auc']:.3f}"
    )
    (folder / "recsys_demo.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
