"""``sparseworks dynamics control`` and ``dynamics compare``: planners in closed loop on a learned network.

Both commands are generated from the library's configs (`sparse_dynamics.mpc.config`:
`ControlConfig`, `ComparisonConfig`) and call one function of
`sparse_dynamics.control_runs`; this module only formats the printed summaries.
`register` adds them to the ``dynamics`` app.
"""

from __future__ import annotations

import typer

from sparse_core.infra.clikit import Run, config_command
from sparse_dynamics.mpc.config import ComparisonConfig, ControlConfig

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Adds ``control`` and ``compare`` to ``app`` (the ``dynamics`` Typer app)."""

    @config_command(app, ControlConfig, app_name="dynamics")
    def control(config: ControlConfig, run: Run) -> tuple[dict, str]:
        """Run one planner (mip, mppi, cem or gd) receding-horizon against the task's true simulator.

        Writes metrics.json: success_rate, final_cost_mean / _std, total_cost_mean,
        step_seconds_median / _p95, mip_gap_median, binaries_median, status_counts and
        fallback_steps over the episodes.

        Examples:

          sparseworks dynamics control --task pwa --planner mip --model runs/pwa-sparse/compact_dynamics.npz --episodes 20

          sparseworks dynamics control --task push --planner mppi --model runs/push-sparse/compact_dynamics.npz --mppi-samples 512 --json

          sparseworks dynamics control --task sort --planner mip --model runs/sort-sparse --horizon 2   # graph export

          sparseworks dynamics control --config runs/pwa-control/config.toml --mip-time-limit-seconds 0.2   # replay, one setting changed
        """
        from sparse_dynamics.control_runs import control_run

        metrics = control_run(config)
        gap = metrics["mip_gap_median"]
        return metrics, (
            f"{metrics['task']} / {metrics['planner']}: success {metrics['success_rate']:.2f}, final cost "
            f"{metrics['final_cost_mean']:.3g} ± {metrics['final_cost_std']:.2g}, step "
            f"{metrics['step_seconds_median']:.4f} s median ({metrics['step_seconds_p95']:.4f} s p95)"
            + ("" if gap is None else f", MIP gap {gap:.1e}")
            + f", fallback steps {metrics['fallback_steps']}"
        )

    @config_command(app, ComparisonConfig, app_name="dynamics")
    def compare(config: ComparisonConfig, run: Run) -> tuple[dict, str]:
        """Every planner on the same start states and goals at the same per-step budget.

        The MIP plans on the sparsified network (mip_sparse) and, with --dense-model, on the
        dense one (mip_dense); a graph export (sort, rope) is unrolled into one network.
        Prints a table and writes planners.csv, trajectories.png, cost_over_time.png,
        step_seconds.png and metrics.json ({"planners": {name:
        {success_rate, final_cost_mean, final_cost_std, step_seconds_median,
        step_seconds_p95, mip_gap_median, ...}}}).

        Examples:

          sparseworks dynamics compare --task pwa --model runs/pwa-sparse/compact_dynamics.npz --episodes 10

          sparseworks dynamics compare --task push --model runs/push-sparse/compact_dynamics.npz --dense-model runs/push-dense/compact_dynamics.npz --step-budget-seconds 0.1

          sparseworks dynamics compare --task pwa --model net.npz --planners mip,mppi --json --out runs/pwa-compare
        """
        from sparse_dynamics.control_runs import compare_run, comparison_table

        metrics = compare_run(config, run.folder)
        return metrics, comparison_table(metrics)
