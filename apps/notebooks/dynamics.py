# %% [markdown]
# # Sparse neural dynamics (Liu et al., NeurIPS 2023), part 1
#
# Collect transitions from the suite's simulators, train a dense ReLU dynamics model,
# sparsify it neuron by neuron to a ReLU budget, export the compact network (plain
# arrays + JSON, readable without torch), and compare against small dense models with
# the same number of ReLUs. Set `SPARSEWORKS_SMOKE=1` for a seconds-long run.

# %%
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from sparse_dynamics.compact import CompactNetwork
from sparse_dynamics.config import DenseConfig, SparsifyRecipe
from sparse_dynamics.data import CollectConfig, collect
from sparse_dynamics.pareto import ParetoConfig, pareto_table, plot_pareto, run_pareto
from sparse_dynamics.tasks import make_task
from sparse_dynamics.tasks.pwa import optimal_control
from sparse_dynamics.training import TrainConfig

torch.set_num_threads(1)
SMOKE = os.environ.get("SPARSEWORKS_SMOKE") == "1"
OUT = Path(os.environ.get("SPARSEWORKS_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="dynamics-notebook-"))
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
# ## The tasks: a pushing frame and the exact optimum of the piecewise-affine system

# %%
push = make_task("push")
push.reset(0)
rng = np.random.default_rng(0)
for _ in range(5 if SMOKE else 15):
    push.step(push.scripted_action(rng))
push.render(OUT / "push_frame.png", goal=push.sample_goal(rng))
show(OUT / "push_frame.png")

pwa = make_task("pwa")
plan = optimal_control(pwa, np.array([1.5, -1.0]), np.array([0.0, 0.5]), horizon=3)
print("exact 3-step optimum of the PWA system:", round(plan.cost, 4), "actions", plan.actions.round(3).tolist())

# %% [markdown]
# ## Error against the number of ReLUs (sparsified large model vs small dense model)

# %%
data = collect(pwa, CollectConfig(episodes=20 if SMOKE else 300, steps=12 if SMOKE else 30, seed=0))
config = ParetoConfig(
    dense=DenseConfig(hidden=(16, 16) if SMOKE else (128, 128), train=TrainConfig(steps=50 if SMOKE else 3000)),
    budgets=(4,) if SMOKE else (64, 32, 16, 8, 4),
    recipe=SparsifyRecipe(sparsify_steps=50 if SMOKE else 2000, finetune_steps=10 if SMOKE else 1000),
)
results = run_pareto(data, config)
print(pareto_table(results))
plot_pareto(results, OUT / "pareto_pwa.png")
show(OUT / "pareto_pwa.png")

# %% [markdown]
# ## A compact network is plain arrays: evaluate it with numpy only

# %%
from sparse_dynamics.demo import run_demo  # noqa: E402

if not SMOKE:
    metrics = run_demo(OUT / "demo", seed=0)
    network = CompactNetwork.load(OUT / "demo" / "compact_dynamics.npz")
    print(metrics["summary"])
    show(OUT / "demo" / "error_vs_relus.png")
    print(
        "ReLUs:",
        network.relu_count,
        "next state from (1, 0) with u = 0:",
        network.step(np.array([1.0, 0.0]), np.zeros(2)),
    )
print("figures in", OUT)
