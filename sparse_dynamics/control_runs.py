"""The library behind ``dynamics control`` and ``dynamics compare``: closed-loop runs, their table and figures.

`control_run` is one planner in closed loop (`sparse_dynamics.mpc.run_control` on the
`ControlConfig` of a `ControlRunConfig`). `compare_run` runs every planner of a
`CompareRunConfig` on the same start states and goals (`episode_specs`) at the same
per-step budget: the MIP on the sparsified network (``mip_sparse``) and, when a dense
compact network is given, on it too (``mip_dense``), and the baselines on the network
``baseline_network`` names. It writes ``planners.csv`` (one row per planner) and three
figures into the run folder: ``trajectories.png`` (the first episode's path of the goal
coordinates ``G x``), ``cost_over_time.png`` (mean task cost per step) and
``step_seconds.png`` (median planner time per step). Metrics are JSON-safe, with paths
relative to the run folder (docs/architecture.md, "Outputs").
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from sparse_dynamics.control_config import CompareRunConfig, ControlRunConfig

__all__ = ["SUMMARY_COLUMNS", "compare_run", "comparison_table", "control_run"]

SUMMARY_COLUMNS = (
    "success_rate", "final_cost_mean", "final_cost_std", "step_seconds_median", "step_seconds_p95", "mip_gap_median",
)  # fmt: skip


def control_run(config: ControlRunConfig) -> dict:
    """One planner in closed loop: the summary of `sparse_dynamics.mpc.run_control`."""
    from sparse_dynamics.mpc.closed_loop import run_control

    return run_control(config.control_config())


def compare_run(config: CompareRunConfig, folder: Path | None) -> dict:
    """Every planner of ``config`` on the same episodes; writes the table and figures into ``folder``.

    Returns:
        ``{"task", "horizon", "episodes", "steps", "step_budget_seconds", "relus": {"sparse", "dense"},
        "planners": {name: summary}, "table", "figures"}`` with names ``mip_sparse``,
        ``mip_dense``, ``mppi``, ``cem``, ``gd`` (those that ran).
    """
    from sparse_dynamics.mpc.closed_loop import episode_specs, load_network, run_episode, summarize
    from sparse_dynamics.mpc.planners import make_planner
    from sparse_dynamics.mpc.problem import check_network, problem_for_task
    from sparse_dynamics.tasks import make_task

    task = make_task(config.loop.task)
    problem = problem_for_task(task, config.problem)
    networks = {"sparse": load_network(config.network)}
    check_network(networks["sparse"], problem, where=config.network)
    if config.dense_network:
        networks["dense"] = load_network(config.dense_network)
        check_network(networks["dense"], problem, where=config.dense_network)
    planner_configs = config.comparison_config().planner_configs()
    planners = {}
    for name, planner_config in planner_configs.items():
        if name == "mip":
            for kind, network in networks.items():
                planners[f"mip_{kind}"] = make_planner("mip", network, problem, planner_config)
        else:
            planners[name] = make_planner(name, networks[config.baseline_network], problem, planner_config)
    episodes = episode_specs(task, config.loop)
    results = {
        name: [
            run_episode(task, planner, seed, goal, config.loop.steps, success_cost=config.loop.success_cost)
            for seed, goal in episodes
        ]
        for name, planner in planners.items()
    }
    summaries = {name: summarize(runs) for name, runs in results.items()}
    metrics = {
        "task": config.loop.task,
        "horizon": config.problem.horizon,
        "episodes": len(episodes),
        "steps": config.loop.steps,
        "step_budget_seconds": config.step_budget_seconds,
        "relus": {kind: network.relu_count for kind, network in networks.items()},
        "planners": summaries,
    }
    if folder is not None:
        metrics["table"] = _write_table(summaries, folder / "planners.csv")
        metrics["figures"] = _plot(results, problem, config, folder)
    return metrics


def comparison_table(metrics: dict) -> str:
    """The printed table: one line per planner."""
    header = f"{'planner':<11}{'success':>8}{'final cost':>18}{'step s med':>12}{'step s p95':>12}{'MIP gap':>10}"
    lines = [header]
    for name, row in metrics["planners"].items():
        gap = "-" if row["mip_gap_median"] is None else f"{row['mip_gap_median']:.1e}"
        cost = f"{row['final_cost_mean']:.3g} ± {row['final_cost_std']:.2g}"
        lines.append(
            f"{name:<11}{row['success_rate']:>8.2f}{cost:>18}{row['step_seconds_median']:>12.4f}"
            f"{row['step_seconds_p95']:>12.4f}{gap:>10}"
        )
    return "\n".join(lines)


def _write_table(summaries: dict, path: Path) -> str:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["planner", *SUMMARY_COLUMNS])
        for name, row in summaries.items():
            writer.writerow([name, *("" if row[key] is None else row[key] for key in SUMMARY_COLUMNS)])
    return path.name


def _plot(results: dict, problem, config: CompareRunConfig, folder: Path) -> dict[str, str]:
    """The three figures (module docstring); returns name -> file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    figure, axis = plt.subplots(figsize=(5, 5))
    first = next(iter(results.values()))[0]
    target = problem.target(first.goal, first.states[0])
    for name, runs in results.items():
        path = runs[0].states @ problem.goal_matrix.T
        if path.shape[1] >= 2:
            axis.plot(path[:, 0], path[:, 1], marker=".", label=name)
        else:
            axis.plot(path[:, 0], marker=".", label=name)
    if target.shape[0] >= 2:
        axis.plot(target[0], target[1], "k*", markersize=14, label="goal")
    axis.set_xlabel("goal coordinate 1")
    axis.set_ylabel("goal coordinate 2")
    axis.set_title(f"{config.loop.task}: first episode")
    axis.legend()
    files["trajectories"] = _save(figure, folder / "trajectories.png")

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, runs in results.items():
        costs = np.stack([run.costs for run in runs])
        axis.plot(costs.mean(0), label=name)
    axis.set_yscale("symlog", linthresh=1e-3)
    axis.set_xlabel("control step")
    axis.set_ylabel("task cost (mean over episodes)")
    axis.legend()
    files["cost_over_time"] = _save(figure, folder / "cost_over_time.png")

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, runs in results.items():
        seconds = np.stack([run.step_seconds for run in runs])
        axis.plot(np.median(seconds, 0), label=name)
    if config.step_budget_seconds > 0:
        axis.axhline(config.step_budget_seconds, color="k", linestyle="--", label="budget")
    axis.set_xlabel("control step")
    axis.set_ylabel("planner seconds (median over episodes)")
    axis.legend()
    files["step_seconds"] = _save(figure, folder / "step_seconds.png")
    return files


def _save(figure, path: Path) -> str:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path.name
