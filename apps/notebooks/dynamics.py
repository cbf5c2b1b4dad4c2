# %% [markdown]
# # Sparse neural dynamics (Liu et al., NeurIPS 2023), part 1
#
# Collect transitions from the suite's simulators, train a dense ReLU dynamics model,
# sparsify it neuron by neuron to a ReLU budget, export the compact network (plain
# arrays + JSON, readable without torch), and compare against small dense models with
# the same number of ReLUs. Then plan on the sparsified network in closed loop: the exact
# mixed-integer MPC beside MPPI, CEM and gradient shooting. Set `SPARSEWORKS_SMOKE=1` for
# a seconds-long run.

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

# %% [markdown]
# ## Closed loop on the sparsified network: exact MIP-MPC against MPPI, CEM and gradient shooting
#
# Every planner plans on the same learned network over the same horizon and L1 cost, from
# the same start states and goals, while the true pwa system moves (`dynamics compare` does
# the same from the command line). The MIP is the exact optimum of the planning problem on
# the network (one binary per ReLU and step, proven optimal within its 1 s limit); the
# baselines run a fixed number of iterations. Figures: the episodes' paths, the task cost
# per step and what each planner's step costs in wall time (`dynamics compare
# --step-budget-seconds` instead gives every planner one budget).

# %%
from sparse_dynamics.control_runs import comparison_table, plot_closed_loop  # noqa: E402
from sparse_dynamics.data import split_episodes  # noqa: E402
from sparse_dynamics.export import export_model, save_export  # noqa: E402
from sparse_dynamics.mpc.closed_loop import compare_episodes  # noqa: E402
from sparse_dynamics.mpc.config import (  # noqa: E402
    CEMConfig,
    ClosedLoopConfig,
    ComparisonConfig,
    GradientConfig,
    MPPIConfig,
    ProblemConfig,
)
from sparse_dynamics.sparsify import sparsify_to_budget  # noqa: E402
from sparse_dynamics.training import train_dense  # noqa: E402

if SMOKE:  # the demo above is skipped: sparsify a tiny model of its own
    train, _, _ = split_episodes(data, seed=0)
    dense = train_dense(train, (16, 16), TrainConfig(steps=50), 0)
    gated, _ = sparsify_to_budget(dense, train, 4, SparsifyRecipe(sparsify_steps=50, finetune_steps=10), seed=0)
    save_export(export_model(gated, state_names=pwa.state_names, action_names=pwa.action_names), OUT / "closed_loop")
    network_path = OUT / "closed_loop" / "compact_dynamics.npz"
else:  # the demo's network, sparsified to four ReLUs
    network_path = OUT / "demo" / "compact_dynamics.npz"

loop_config = ComparisonConfig(
    network=str(network_path),
    step_budget_seconds=0.0,  # each planner's own settings (the baselines deterministic)
    loop=ClosedLoopConfig(task="pwa", episodes=2 if SMOKE else 5, steps=4 if SMOKE else 15),
    problem=ProblemConfig(horizon=3),
    mppi=MPPIConfig(samples=32, iterations=2) if SMOKE else MPPIConfig(),
    cem=CEMConfig(samples=32, elites=4, iterations=2) if SMOKE else CEMConfig(),
    gd=GradientConfig(restarts=2, iterations=5) if SMOKE else GradientConfig(),
)
comparison = compare_episodes(loop_config)
print(comparison_table(comparison.metrics(loop_config)))
loop_figures = plot_closed_loop(
    comparison.results,
    comparison.problem,
    OUT,
    task=comparison.task,
    step_budget_seconds=loop_config.step_budget_seconds,
    episodes_shown=loop_config.loop.episodes,
    prefix="closed_loop_",
)
show(*(OUT / name for name in loop_figures.values()))
print("figures in", OUT)
