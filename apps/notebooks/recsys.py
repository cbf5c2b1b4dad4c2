# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Sparse recommendation on MovieLens-100k
#
# Two results of the `recsys` application, at small scale:
#
# 1. **Dynamic sparse learning** (Wang et al., WSDM 2024): LightGCN trained sparse from scratch at a
#    fixed parameter budget; test Recall@20 against the fraction of embedding weights kept.
# 2. **AutoInt** (Song et al., CIKM 2019) for click-through rate: validation AUC per epoch.
#
# Set `SPARSEWORKS_SMOKE=1` to shrink everything (the test suite does); figures go to
# `$SPARSEWORKS_NOTEBOOK_OUT` (default: a temporary folder). Full-scale figures come from
# `benchmarks/recsys_dsl.py` and `benchmarks/recsys_peers.py`.

# %%
import os
import sys

# run as a script, or in a kernel started in this folder, this folder is on sys.path and the
# notebook's file name would hide the package of the same name
sys.path[:] = [p for p in sys.path if os.path.basename(os.path.abspath(p or ".")) != "notebooks"]

import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from recsys.ctr import CTRConfig, load_ctr_data, train_ctr  # noqa: E402
from recsys.dsl import DSLConfig  # noqa: E402
from recsys.models.autoint import AutoIntConfig  # noqa: E402
from recsys.topk import TopKConfig, load_split, train_topk  # noqa: E402
from recsys.trainer import TrainerConfig  # noqa: E402

SMOKE = os.environ.get("SPARSEWORKS_SMOKE") == "1"
OUT = Path(os.environ.get("SPARSEWORKS_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="recsys-notebook-"))
OUT.mkdir(parents=True, exist_ok=True)
torch.set_num_threads(1)

DENSITIES = [1.0, 0.5, 0.2, 0.1] if not SMOKE else [1.0, 0.2]
SEEDS = [0, 1] if not SMOKE else [0]
EPOCHS = 40 if not SMOKE else 2


def show(*paths):
    """Display saved figures as cell outputs in Jupyter (nothing when run as a script)."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    if get_ipython() is not None:
        for path in paths:
            display(Image(filename=str(path)))


print(f"smoke={SMOKE}, figures in {OUT}")

# %% [markdown]
# ## Recall against density
# The same split (per-user 80/20, seed 2020) for every run; only the density and the seed change.
# DSL starts from a column-aligned mask (the default `initial_mask="columns"`), and every 50 steps
# drops the smallest-magnitude weights and regrows as many by gradient magnitude, with a
# cosine-decayed update fraction.

# %%
split = load_split(TopKConfig())
recall = {}
for density in DENSITIES:
    values = []
    for seed in SEEDS:
        config = TopKConfig(
            model="lightgcn",
            learning_rate=1e-2,
            trainer=TrainerConfig(epochs=EPOCHS, patience=3, eval_every=max(1, EPOCHS // 8)),
            dsl=DSLConfig(density=density, update_every=50),
        )
        metrics = train_topk(config, split, seed=seed)
        values.append(metrics["recall@20"])
    recall[density] = values
    print(f"density {density:.2f}: Recall@20 {sum(values) / len(values):.4f}  ({metrics['nonzeros']} weights)")

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
densities = sorted(recall)
means = [sum(recall[d]) / len(recall[d]) for d in densities]
ax.plot(densities, means, "o-", label="LightGCN + DSL")
for d in densities:
    ax.scatter([d] * len(recall[d]), recall[d], color="grey", s=10)
ax.set_xscale("log")
ax.set_xlabel("density (fraction of embedding weights kept)")
ax.set_ylabel("test Recall@20 (fraction)")
ax.set_title("MovieLens-100k, full ranking")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "recall_vs_density.png", dpi=120)
plt.close(fig)
show(OUT / "recall_vs_density.png")

# %% [markdown]
# ## AutoInt: validation AUC per epoch
# Label rating ≥ 4; eight categorical fields; random 80/10/10 split with seed 2020.

# %%
ctr_config = CTRConfig(
    model="autoint",
    trainer=TrainerConfig(epochs=12 if not SMOKE else 2, patience=3, monitor="auc"),
    max_rows=None if not SMOKE else 20_000,
)
ctr_data = load_ctr_data(ctr_config)
curves = {}
for name, architecture in (("AutoInt", AutoIntConfig()), ("AutoInt+", AutoIntConfig.plus(dropout=0.1))):
    config = CTRConfig(
        model="autoint" if name == "AutoInt" else "autoint+",
        architecture=architecture,
        trainer=ctr_config.trainer,
        max_rows=ctr_config.max_rows,
    )
    result = train_ctr(config, ctr_data, seed=0)
    curves[name] = [epoch["valid_auc"] for epoch in result["epochs"]]
    print(f"{name}: test AUC {result['test_auc']:.4f}, logloss {result['test_logloss']:.4f}")

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
for name, values in curves.items():
    ax.plot(range(1, len(values) + 1), values, "o-", label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("validation AUC")
ax.set_title("CTR on MovieLens-100k")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "auc_per_epoch.png", dpi=120)
plt.close(fig)
show(OUT / "auc_per_epoch.png")
print(sorted(p.name for p in OUT.glob("*.png")))
