"""The recsys stage of ``sparseworks demo``: a quick look at both tasks on MovieLens-100k.

1. LightGCN trained sparse from scratch with DSL at density 0.2 (a short run);
2. AutoInt for click-through rate, two epochs.

Writes ``training_curves.png`` (loss and validation metrics per epoch). Short runs, so
the figures are below what full training reaches (see the README and
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
    """Runs the stage into ``folder``.

    Returns:
        The metrics, a one-line ``summary`` and what the demo report shows: ``title``,
        ``paragraph``, ``key_numbers`` and ``figures`` (paths relative to ``folder``).
    """
    folder = Path(folder)
    topk_config = TopKConfig(
        model="lightgcn",
        learning_rate=1e-2,
        trainer=TrainerConfig(epochs=12, patience=3, eval_every=4),
        dsl=DSLConfig(density=0.2, update_every=50),
    )
    topk = run_topk(topk_config, seed=seed, folder=folder / "topk", progress=progress)
    ctr_config = CTRConfig(
        model="autoint",
        architecture=AutoIntConfig(head_dim=8),
        trainer=TrainerConfig(epochs=2, patience=2, monitor="auc"),
    )
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
    plot_training(topk.get("epochs", []), ctr.get("epochs", []), folder / "training_curves.png")
    metrics.update(_report(topk_config, topk, ctr_config, ctr))
    return metrics


def _report(topk_config: TopKConfig, topk: dict, ctr_config: CTRConfig, ctr: dict) -> dict:
    """The demo report's title, paragraph, key numbers and figure of this stage."""
    density = topk_config.dsl.density
    paragraph = (
        f"MovieLens-100k: 100,000 ratings by 943 users of 1,682 movies. Top-K recommendation (each user's "
        f"interactions split into training, validation and test): LightGCN ({topk_config.layers} propagation layers, "
        f"{topk_config.embedding_dim}-dimensional embeddings) trained with the BPR loss sparse from scratch by "
        f"dynamic sparse learning (DSL), keeping {density:.0%} of the embedding weights "
        f"({topk['nonzeros']:,} of {topk['dense_parameters']:,}; prune and regrow every "
        f"{topk_config.dsl.update_every} steps), for at most {topk_config.trainer.epochs} epochs with validation "
        f"every {topk_config.trainer.eval_every}. Recall@20 is the share of a user's held-out movies found among "
        f"the 20 the model ranks first (movies already seen excluded), averaged over users; NDCG@20 also rewards "
        f"ranking them higher. Click-through rate: AutoInt (self-attention over the feature embeddings) predicts "
        f"whether a rating is at least 4, {len(ctr.get('epochs', []))} epochs; AUC is the probability that a "
        f"random positive is scored above a random negative (0.5 = chance). Short runs: full training reaches "
        f"more (benchmarks/recsys_dsl.py)."
    )
    return {
        "title": "recsys: sparse recommendation on MovieLens-100k",
        "paragraph": paragraph,
        "key_numbers": {
            f"LightGCN + DSL (density {density:g}): test Recall@20": topk["recall@20"],
            f"LightGCN + DSL (density {density:g}): test NDCG@20": topk["ndcg@20"],
            "embedding weights kept": topk["nonzeros"],
            "embedding weights of the dense model": topk["dense_parameters"],
            "LightGCN epochs run": topk["epochs_run"],
            "AutoInt: test AUC": ctr["test_auc"],
            "AutoInt: training samples per second": ctr["samples_per_second"],
        },
        "figures": [
            {
                "path": "training_curves.png",
                "caption": f"Per epoch: the BPR training loss of LightGCN + DSL at density {density:g} (left), its "
                f"validation Recall@20 at the evaluated epochs (middle), and AutoInt's validation AUC for "
                f"click-through rate (right).",
            }
        ],
    }


def plot_training(topk_epochs: list[dict], ctr_epochs: list[dict], path: Path) -> Path:
    """Training loss and validation Recall@20 of the top-K run, validation AUC of the CTR run; PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    axes[0].plot([e["epoch"] for e in topk_epochs], [e["loss"] for e in topk_epochs], "o-", markersize=3)
    axes[0].set_ylabel("BPR loss (mean per batch)")
    axes[0].set_title("LightGCN + DSL: training loss")
    evaluated = [e for e in topk_epochs if "valid_recall@20" in e]
    axes[1].plot([e["epoch"] for e in evaluated], [e["valid_recall@20"] for e in evaluated], "o-")
    axes[1].set_ylabel("validation Recall@20 (fraction)")
    axes[1].set_title("LightGCN + DSL: validation Recall@20")
    scored = [e for e in ctr_epochs if "valid_auc" in e]
    axes[2].plot([e["epoch"] for e in scored], [e["valid_auc"] for e in scored], "s-", color="tab:green")
    axes[2].set_ylabel("validation AUC")
    axes[2].set_title("AutoInt CTR: validation AUC")
    for axis in axes:
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
