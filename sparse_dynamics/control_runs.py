"""The library behind ``dynamics control`` and ``dynamics compare``: closed-loop runs, their table and figures.

`control_run` is one planner in closed loop (`sparse_dynamics.mpc.run_control` on a
`ControlConfig`). `compare_run` runs every planner of a `ComparisonConfig` on the same
start states and goals at the same per-step budget (`sparse_dynamics.mpc.closed_loop.compare_episodes`:
the MIP on the sparsified network, ``mip_sparse``, and, when a dense compact network is
given, on it too, ``mip_dense``; the baselines on the network ``baseline_network``
names). It writes ``planners.csv`` (one row per planner) and the three figures of
`plot_closed_loop` into the run folder: ``trajectories.png`` (the first episode's path of
the goal coordinates ``G x``), ``cost_over_time.png`` (mean task cost per step) and
``step_seconds.png`` (median planner time per step). Metrics are JSON-safe, with paths
relative to the run folder (docs/architecture.md, "Outputs").
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from sparse_core.infra.files import atomic_write, save_figure
from sparse_dynamics.mpc.config import ComparisonConfig, ControlConfig

__all__ = ["SUMMARY_COLUMNS", "compare_run", "comparison_table", "control_run", "plot_closed_loop"]

SUMMARY_COLUMNS = (
    "success_rate", "final_cost_mean", "final_cost_std", "step_seconds_median", "step_seconds_p95", "mip_gap_median",
)  # fmt: skip


def control_run(config: ControlConfig) -> dict:
    """One planner in closed loop: the summary of `sparse_dynamics.mpc.run_control`."""
    from sparse_dynamics.mpc.closed_loop import run_control

    return run_control(config)


def compare_run(config: ComparisonConfig, folder: Path | None) -> dict:
    """Every planner of ``config`` on the same episodes; writes the table and figures into ``folder``.

    Returns:
        ``{"task", "horizon", "episodes", "steps", "step_budget_seconds", "relus": {"sparse", "dense"},
        "planners": {name: summary}, "table", "figures"}`` with names ``mip_sparse``,
        ``mip_dense``, ``mppi``, ``cem``, ``gd`` (those that ran); ``table`` and ``figures``
        only with a folder.
    """
    from sparse_dynamics.mpc.closed_loop import compare_episodes

    comparison = compare_episodes(config)
    metrics = comparison.metrics(config)
    if folder is not None:
        folder = Path(folder)
        metrics["table"] = _write_table(metrics["planners"], folder / "planners.csv")
        metrics["figures"] = plot_closed_loop(
            comparison.results, comparison.problem, folder, task=comparison.task,
            step_budget_seconds=config.step_budget_seconds,
        )  # fmt: skip
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
    with atomic_write(path, "w") as handle:
        writer = csv.writer(handle)
        writer.writerow(["planner", *SUMMARY_COLUMNS])
        for name, row in summaries.items():
            writer.writerow([name, *("" if row[key] is None else row[key] for key in SUMMARY_COLUMNS)])
    return path.name


def _coordinate_unit(task) -> str:
    """The unit of the goal coordinates: cm for the physical tasks, state units for pwa."""
    return "cm" if any(name.endswith("_cm") for name in task.state_names) else "state units"


def plot_closed_loop(
    results: dict,
    problem,
    folder: Path,
    *,
    task,
    step_budget_seconds: float = 0.0,
    episodes_shown: int = 1,
    prefix: str = "",
) -> dict[str, str]:
    """The closed-loop figures of several planners' episodes (module docstring); returns name -> file name.

    Args:
        results: Planner name -> its `sparse_dynamics.mpc.closed_loop.EpisodeResult` list, every
            planner on the same episodes.
        problem: The planning problem (its goal matrix maps a state to the goal coordinates).
        folder: Where the PNGs go.
        task: The task (its name titles the figures; its state names give the coordinates' unit).
        step_budget_seconds: Drawn as a dashed line on the step-time figure when positive.
        episodes_shown: Paths of this many first episodes on the trajectory figure.
        prefix: Put before each file name (``<prefix>trajectories.png``, ...).

    Returns:
        ``{"trajectories", "cost_over_time", "step_seconds"}`` -> file names inside ``folder``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    unit = _coordinate_unit(task)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    files = {}
    figure, axis = plt.subplots(figsize=(5, 5))
    for index, (name, runs) in enumerate(results.items()):
        for episode, run in enumerate(runs[:episodes_shown]):
            path = run.states @ problem.goal_matrix.T
            style = {"color": colours[index % len(colours)], "marker": ".", "label": name if episode == 0 else None}
            if path.shape[1] >= 2:
                axis.plot(path[:, 0], path[:, 1], **style)
            else:
                axis.plot(path[:, 0], **style)
    for episode, run in enumerate(next(iter(results.values()))[:episodes_shown]):
        target = problem.target(run.goal, run.states[0])
        if target.shape[0] >= 2:
            start = run.states[0] @ problem.goal_matrix.T
            axis.plot(target[0], target[1], "k*", markersize=14, label="goal" if episode == 0 else None)
            axis.plot(start[0], start[1], "ko", fillstyle="none", markersize=9, label="start" if episode == 0 else None)
    axis.set_xlabel(f"goal coordinate 1 ({unit})")
    axis.set_ylabel(f"goal coordinate 2 ({unit})")
    shown = min(episodes_shown, len(next(iter(results.values()))))
    shown = "first episode" if shown == 1 else f"first {shown} episodes"
    axis.set_title(f"{task.name}: {shown}")
    axis.legend()
    files["trajectories"] = _save(figure, folder / f"{prefix}trajectories.png")

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, runs in results.items():
        costs = np.stack([run.costs for run in runs])
        axis.plot(costs.mean(0), label=name)
    axis.set_yscale("symlog", linthresh=1e-3)
    axis.set_xlabel("control step")
    axis.set_ylabel(f"task cost ({unit}; mean over episodes)")
    axis.set_title(f"{task.name}: cost over time")
    axis.legend()
    files["cost_over_time"] = _save(figure, folder / f"{prefix}cost_over_time.png")

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, runs in results.items():
        seconds = np.stack([run.step_seconds for run in runs])
        axis.plot(np.arange(1, seconds.shape[1] + 1), np.median(seconds, 0), marker=".", label=name)
    if step_budget_seconds > 0:
        axis.axhline(step_budget_seconds, color="k", linestyle="--", label="budget")
    axis.set_yscale("log")
    axis.set_xlabel("control step")
    axis.set_ylabel("planner time per step (s; median over episodes)")
    axis.set_title(f"{task.name}: solve time")
    axis.legend()
    files["step_seconds"] = _save(figure, folder / f"{prefix}step_seconds.png")
    return files


def _save(figure, path: Path) -> str:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    save_figure(figure, path, dpi=100)
    plt.close(figure)
    return path.name
