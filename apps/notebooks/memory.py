# %% [markdown]
# # memory: a Sparsey-style sparse distributed representation memory
#
# Single-pass classification (MNIST-5k, or 8×8 digits at smoke scale) and the
# fixed-time retrieval experiment. Set `SPARSEWORKS_SMOKE=1` to shrink everything;
# figures go to `SPARSEWORKS_NOTEBOOK_OUT` (default: a temporary folder).

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
import matplotlib.pyplot as plt

from memory.classify import ClassifyConfig, run_classify
from memory.plots import plot_timing
from memory.timing import TimingConfig, run_timing

SMOKE = os.environ.get("SPARSEWORKS_SMOKE") == "1"
OUT = Path(os.environ.get("SPARSEWORKS_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="memory-notebook-"))
OUT.mkdir(parents=True, exist_ok=True)


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


# %% [markdown]
# ## Classification in one pass

# %%
if SMOKE:
    config = ClassifyConfig(
        dataset="digits", train_per_class=20, test_limit=200, cells_per_cm=256, top_cells_per_cm=128
    )
else:
    config = ClassifyConfig(dataset="mnist5k", train_per_class=100, test_limit=1000)
metrics = run_classify(config, OUT / "classify", seed=0)  # the model is saved in OUT/classify/model.npz
print({k: metrics[k] for k in ("accuracy", "knn1_accuracy", "nearest_code_accuracy", "train_seconds", "test_seconds")})

# %%
fig, ax = plt.subplots(figsize=(5, 3))
names = ["Hebbian read-out", "nearest code", "1-NN (pixels)"]
ax.bar(names, [metrics["accuracy"], metrics["nearest_code_accuracy"], metrics["knn1_accuracy"]])
ax.set_ylabel("test accuracy (fraction)")
ax.set_title(f"{config.dataset}, {metrics['train_items']} training images, one pass")
fig.tight_layout()
fig.savefig(OUT / "memory_classify.png", dpi=100)
plt.close(fig)
show(OUT / "memory_classify.png")

# %% [markdown]
# ## Fixed-time retrieval against N

# %%
if SMOKE:
    timing_config = TimingConfig(min_items=100, max_items=1000, queries=20)  # N = 100, 300, 1000
else:
    timing_config = TimingConfig(min_items=1000, max_items=30000, queries=100)  # N = 1000, 3000, 10000, 30000
timing = run_timing(timing_config, seed=0)
plot_timing(timing, OUT / "memory_timing.png")
show(OUT / "memory_timing.png")
small, large = timing["ratio_sizes"]
print(f"retrieve time ratio N={large} vs N={small}:", round(timing["retrieve_ratio_largest_vs_smallest"], 2))
