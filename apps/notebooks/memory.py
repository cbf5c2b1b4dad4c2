# %% [markdown]
# # memory: a Sparsey-style sparse distributed representation memory
#
# Single-pass classification (MNIST-5k, or 8×8 digits at smoke scale) and the
# fixed-time retrieval experiment. Set `SPARSEWORKS_SMOKE=1` to shrink everything;
# figures go to `SPARSEWORKS_NOTEBOOK_OUT` (default: a temporary folder).

# %%
import sys

# run as a script, this file's folder comes first on sys.path and its name would hide the
# `memory` package
sys.path = [p for p in sys.path if not p.rstrip("/").endswith("notebooks")]

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from memory.classify import ClassifyConfig, default_channels, run_classify
from memory.plots import plot_timing
from memory.timing import TimingConfig, run_timing

SMOKE = os.environ.get("SPARSEWORKS_SMOKE") == "1"
OUT = Path(os.environ.get("SPARSEWORKS_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="memory-notebook-"))
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## Classification in one pass

# %%
if SMOKE:
    config = ClassifyConfig(dataset="digits", train_per_class=20, test_limit=200, cells_per_cm=256,
                            top_cells_per_cm=128, channels=default_channels("digits"))
else:
    config = ClassifyConfig(dataset="mnist5k", train_per_class=100, test_limit=1000)
metrics = run_classify(config, seed=0)
model = metrics.pop("model")
print({k: metrics[k] for k in ("accuracy", "knn1_accuracy", "nearest_code_accuracy", "train_seconds", "test_seconds")})

# %%
fig, ax = plt.subplots(figsize=(5, 3))
names = ["Hebbian read-out", "nearest code", "1-NN (pixels)"]
ax.bar(names, [metrics["accuracy"], metrics["nearest_code_accuracy"], metrics["knn1_accuracy"]])
ax.set_ylabel("test accuracy (fraction)")
ax.set_title(f"{config.dataset}, {metrics['train_items']} training images, one pass")
fig.tight_layout()
fig.savefig(OUT / "memory_classify.png", dpi=100)

# %% [markdown]
# ## Fixed-time retrieval against N

# %%
timing_config = TimingConfig(sizes=(100, 300, 1000), queries=20) if SMOKE else TimingConfig(sizes=(1000, 3000, 10000, 30000), queries=100)
timing = run_timing(timing_config, seed=0)
plot_timing(timing, OUT / "memory_timing.png")
small, large = timing["ratio_sizes"]
print(f"retrieve time ratio N={large} vs N={small}:", round(timing["retrieve_ratio_largest_vs_smallest"], 2))
