"""``sparseworks dynamics ...``: collect data, train, sparsify and compare dynamics models.

Each command is generated from its config in `sparse_dynamics.config` (options, defaults,
bounds, help) and calls one function of `sparse_dynamics.experiments`; this module only
formats the printed summaries.
"""

from __future__ import annotations

import typer

from sparse_core.infra.clikit import Run, config_command
from sparse_dynamics.config import CollectRunConfig, ParetoRunConfig, SparsifyRunConfig, TrainRunConfig

app = typer.Typer(
    help="Learned dynamics of control tasks (pwa, push, sort, rope), sparsified neuron by neuron "
    "(Liu et al., NeurIPS 2023) for exact mixed-integer planning.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@config_command(app, CollectRunConfig, app_name="dynamics")
def collect(config: CollectRunConfig, run: Run) -> tuple[dict, str]:
    """Collect transitions (random + scripted actions) into dataset.npz + dataset.json.

    Examples:

      sparseworks dynamics collect --task push --episodes 300 --frames 20

      sparseworks dynamics collect --task pwa --episodes 200 --steps 20 --json --out runs/pwa-data
    """
    from sparse_dynamics.experiments import collect_run

    metrics = collect_run(config, run.folder, progress=run.progress)
    return metrics, f"{metrics['transitions']} transitions of {config.task} in {run.folder / metrics['dataset']}"


@config_command(app, TrainRunConfig, app_name="dynamics")
def train(config: TrainRunConfig, run: Run) -> tuple[dict, str]:
    """Train a dense dynamics model (MLP; graph network for sort and rope); report held-out errors.

    Examples:

      sparseworks dynamics train --task push --data runs/push-data/dataset.npz

      sparseworks dynamics train --task pwa --hidden 64,64 --rollout-steps 5 --json
    """
    from sparse_dynamics.experiments import train_run

    metrics = train_run(config, run.folder, progress=run.progress)
    horizon = metrics["rollout_horizon"]
    return metrics, (
        f"{metrics['task']}: one-step error {metrics['one_step_error']:.3e}, {horizon}-step error "
        f"{metrics[f'rollout{horizon}_error']:.3e} (MSE / state std², held-out)"
    )


@config_command(app, SparsifyRunConfig, app_name="dynamics")
def sparsify(config: SparsifyRunConfig, run: Run) -> tuple[dict, str]:
    """Sparsify a dense model to a ReLU budget; export compact_*.npz + .json (readable without torch).

    The recipe is the one `pareto` follows for each budget: on the same data, dense model
    and seed, `sparsify --relu-budget 8` gives `pareto`'s budget-8 point.

    Examples:

      sparseworks dynamics sparsify --task pwa --relu-budget 4

      sparseworks dynamics sparsify --task push --relu-budget 16 --model runs/push-train/model.pt --data runs/push-data/dataset.npz
    """
    from sparse_dynamics.experiments import sparsify_run

    metrics = sparsify_run(config, run.folder, progress=run.progress)
    return metrics, (
        f"{metrics['task']}: ReLUs {metrics['relu_counts']} (budget {config.relu_budget}); one-step "
        f"{metrics['one_step_error']:.3e} (dense {metrics['dense_one_step_error']:.3e}); compact vs gated "
        f"max diff {metrics['compact_max_abs_diff']:.1e}"
    )


@config_command(app, ParetoRunConfig, app_name="dynamics")
def pareto(config: ParetoRunConfig, run: Run) -> tuple[dict, str]:
    """Prediction error against the number of ReLUs: sparsified large model vs small dense model.

    Writes pareto.png, pareto.csv and metrics.json (budgets, one_step_error, rollout10_error,
    small_dense_rollout10_error, ...).

    Examples:

      sparseworks dynamics pareto --task pwa --budgets 32,16,8,4,2

      sparseworks dynamics pareto --task sort --hidden 64,64 --budgets 32,16,8 --threads 1 --json
    """
    from sparse_dynamics.experiments import pareto_run
    from sparse_dynamics.pareto import pareto_table

    metrics = pareto_run(config, run.folder, progress=run.progress)
    return metrics, pareto_table(metrics)


# Closed-loop control on the learned networks (control, compare)
from sparse_dynamics.cli_control import register as _register_control  # noqa: E402

_register_control(app)
