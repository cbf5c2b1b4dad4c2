# %% [markdown]
# # blocking: the Marshall–Molteni QG3 model
#
# A short ensemble run of the three-level quasi-geostrophic model (T21), its energy and
# enstrophy, the z500 mean and standard deviation, and the speed of the fast packed kernel
# against the direct implementation. Set `SPARSEWORKS_SMOKE=1` to shrink everything;
# figures go to `SPARSEWORKS_NOTEBOOK_OUT` (default: a temporary folder).

# %%
import os
import sys

# run as a script, or in a kernel started in this folder, this folder is on sys.path and the
# notebook's file name would hide the package of the same name
sys.path[:] = [p for p in sys.path if os.path.basename(os.path.abspath(p or ".")) != "notebooks"]

import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np

from blocking.qg3.figures import plot_run
from blocking.qg3.run import SimulationConfig, build_model, initial_state, simulate
from blocking.qg3.stepping import step_function

SMOKE = os.environ.get("SPARSEWORKS_SMOKE") == "1"
OUT = Path(os.environ.get("SPARSEWORKS_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="blocking-notebook-"))
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
# ## An ensemble run
# Kutta's RK3 at 3600 s (the simulation default), members batched in one array.

# %%
config = SimulationConfig(
    years=(6 if SMOKE else 365) / 365,
    members=2 if SMOKE else 4,
    spinup_days=0.0 if SMOKE else 30.0,
    checkpoint_every_days=3.0 if SMOKE else 30.0,
)
metrics = simulate(config, OUT / "run")
print({k: metrics[k] for k in ("member_years", "member_years_per_wall_minute", "finite", "wall_seconds")})

# %%
figures = plot_run(Path(metrics["output"]), OUT, config.spinup_days)
print(figures)
show(figures["energy_enstrophy"], figures["z500_mean_std"])

# %% [markdown]
# ## Speed: the packed kernel against the direct implementation
# Both evaluate the same tendency (to round-off); the packed kernel keeps the spectral state
# m-major with members and levels as the batch, so every Legendre and Fourier sum is a GEMM.

# %%
model, initial_q = build_model(SimulationConfig())
members = 4 if SMOKE else 32
natural = initial_state(model, initial_q, range(members), seed=0, perturbation=0.01)
step = step_function("rk3")
timings = {}
for name, tendency, state in (
    ("direct", model.direct_tendency, natural),
    ("packed", model.fast, model.fast.pack(natural)),
):
    steps = 2 if SMOKE else 24
    started = time.perf_counter()
    for _ in range(steps):
        state = step(tendency, state, 3600.0)
    wall = time.perf_counter() - started
    timings[name] = members * steps * 3600.0 / (365 * 86400.0) / (wall / 60.0)
    print(f"{name}: {timings[name]:.2f} member-years per wall minute ({members} members, RK3, 3600 s)")
print(f"speed-up: {timings['packed'] / timings['direct']:.1f}x")
difference = np.abs(model.tendency(natural) - model.direct_tendency(natural)).max()
print(f"largest difference between the two tendencies: {difference:.2e} 1/s^2")

# %% [markdown]
# ## The blocking science at small scale
# The chain of the `blocking` commands (`blocking.pipeline.run_pipeline`): Atlantic onsets
# of the index Z_B, one sample per onset, a CNN that predicts at onset whether the block
# lasts, its SHAP composites and the sparse model on the SHAP-selected regions. The smoke
# scale reads a synthetic run with planted blocks whose persistence has a known precursor
# (`blocking.synthetic`); the default scale runs the QG3 model as the demo does, for longer.
# At these scales the skill numbers show the chain working, not the paper's science
# (threshold at the 90th percentile of Z_B, label D = 3 days).

# %%
import dataclasses

from blocking.demo import DEMO_SCALE
from blocking.pipeline import run_pipeline
from blocking.synthetic import synthetic_qg3_file

if SMOKE:
    synthetic = OUT / "synthetic.nc"
    synthetic_qg3_file(synthetic, days=900, members=2, seed=3)
    scale = dataclasses.replace(DEMO_SCALE, skip_days=0, threshold_percentile=None, persistence_days=5, epochs=5)
    science = run_pipeline(scale, OUT / "science", seed=0, inputs=synthetic)
else:
    scale = dataclasses.replace(DEMO_SCALE, simulation=dataclasses.replace(DEMO_SCALE.simulation, years=5.0))
    science = run_pipeline(scale, OUT / "science", seed=0)
train = science["train"]
print(f"onsets {science['events']['events']}, persistent {science['events']['persistent_events']}")
for name in ("cnn", "climatology", "logistic"):
    scores = train[name]
    print(
        f"{name:>12}: F1 {scores['f1']['value']:.3f} [{scores['f1']['ci_low']:.3f}, {scores['f1']['ci_high']:.3f}]  "
        f"precision {scores['precision']['value']:.3f}  recall {scores['recall']['value']:.3f}"
    )
print("SHAP additivity error (max abs, logit):", round(science["explain"]["additivity"]["max_abs"], 4))
show(*(OUT / "science" / path for path in science["figures"]))

# %%
import matplotlib.pyplot as plt

subsets = science["sparse_model"].get("subsets", [])
if subsets:
    figure, axis = plt.subplots(figsize=(5, 3.2), constrained_layout=True)
    axis.plot([len(s["features"]) for s in subsets], [s["test"]["f1"] for s in subsets], "o-", label="sparse model")
    axis.axhline(train["test_f1"], color="k", linestyle="--", label="CNN")
    axis.axhline(train["logistic_f1"], color="grey", linestyle=":", label="index-logistic baseline")
    axis.set_xlabel("regional features (SHAP boxes x levels)")
    axis.set_ylabel("test F1 of the persistent class")
    axis.legend()
    figure.savefig(OUT / "sparse_model_f1.png", dpi=110)
    plt.close(figure)
    show(OUT / "sparse_model_f1.png")
else:
    print(science["sparse_model"].get("skipped", "no sparse model"))

# %% [markdown]
# ## Learning curve and transfer
# The CNN's test skill against the training days (`blocking learning-curve`: the first N
# days of the training split, the same test split for every point, baselines fitted on the
# same days), and transfer learning to a scarce target: a second, short run stands in for
# reanalysis data (the README's study uses a run with other physics) (`blocking transfer`: direct training on the
# target, the pre-trained network unchanged, and the network fine-tuned on the target,
# k-fold x seeds). The paper-scale numbers are in the README; here the chain runs small.

# %%
from blocking.config import FitConfig, LearningCurveConfig, TransferConfig
from blocking.learning_curve import run_learning_curve
from blocking.transfer import run_transfer

dataset = OUT / "science" / "dataset" / science["dataset"]["file"]
fit = FitConfig(dataset=dataset, cnn=scale.cnn, epochs=scale.epochs, bootstrap=scale.bootstrap, seeds=1 if SMOKE else 3)
curve = run_learning_curve(
    LearningCurveConfig(fit=fit, train_days=(300, 100_000) if SMOKE else (365, 1000, 100_000)), OUT / "curve"
)
for point in curve["points"]:
    print(
        f"{point['train_days']:>6} training days: CNN F1 {point['cnn_f1']['mean']:.3f} ± {point['cnn_f1']['std']:.3f}, "
        f"index-logistic {point['logistic_f1']['value']:.3f}, climatology {point['climatology_f1']['value']:.3f}"
    )
show(OUT / "curve" / "learning_curve.png")

# %%
if SMOKE:
    target_run = OUT / "target.nc"
    synthetic_qg3_file(target_run, days=600, members=1, seed=8)
else:
    target_sim = dataclasses.replace(DEMO_SCALE.simulation, years=3.0, members=1, seed=7)
    from blocking.qg3.run import simulate

    (OUT / "target-run").mkdir(parents=True, exist_ok=True)
    simulate(target_sim, OUT / "target-run")
    target_run = OUT / "target-run" / "output.nc"
from blocking.config import DatasetConfig, IndexConfig, SplitConfig
from blocking.dataset import run_dataset

index = IndexConfig(threshold_percentile=scale.threshold_percentile, skip_days=scale.skip_days)
(OUT / "target").mkdir(parents=True, exist_ok=True)
(OUT / "transfer").mkdir(parents=True, exist_ok=True)
target = run_dataset(
    DatasetConfig(
        inputs=(str(target_run),),
        index=index,
        split=SplitConfig(block_days=scale.block_days),
        persistence_days=scale.persistence_days,
    ),
    OUT / "target",
)
transfer = run_transfer(
    TransferConfig(
        source=dataset,
        target=OUT / "target" / target["file"],
        pretrained=OUT / "science" / "train" / "model.pt",
        folds=2 if SMOKE else 5,
        seeds=1 if SMOKE else 3,
        finetune_epochs=3 if SMOKE else 20,
        direct_epochs=3 if SMOKE else 20,
    ),
    OUT / "transfer",
)
for name in ("direct", "pretrained", "transfer"):
    f1 = transfer[f"{name}_f1"]
    print(f"{name:>10}: F1 {f1['mean']:.3f} ± {f1['std']:.3f}")
print(
    f"{transfer['target_samples']} target samples; Wilcoxon p (transfer > direct, F1) {transfer['wilcoxon_p_f1']:.3g}"
)
