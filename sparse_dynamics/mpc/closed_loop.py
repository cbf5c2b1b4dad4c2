"""Receding-horizon control against the task's true simulator, and planners compared on it.

`run_episode` resets the task with a seed, then at each step asks the planner for a plan
from the true state, applies its first action to the simulator and records the task
cost, the planner's wall time, status and MIP gap. `evaluate_planners` runs several
planners on the same start seeds and goals (`episode_specs`) and summarises each;
`compare_planners` / `run_control` are the library functions behind a comparison / a
single-planner run configured by `ComparisonConfig` / `ControlConfig`.

Summaries (JSON-safe): ``success_rate`` (final task cost at most the success cost,
`sparse_dynamics.mpc.problem.default_success_cost` unless given), ``final_cost_mean`` /
``final_cost_std`` (task cost of the last state), ``total_cost_mean`` (sum over the
executed steps of the task cost of each new state plus ``action_weight * |u|_1``: the
closed-loop counterpart of the planning cost), ``step_seconds_median`` / ``_p95`` (planner
wall time per step), ``mip_gap_median`` (None for planners without a gap),
``status_counts`` and ``fallback_steps``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sparse_core.infra.errors import InputError
from sparse_dynamics.compact import CompactNetwork
from sparse_dynamics.mpc.base import FALLBACK_STATUSES, Planner
from sparse_dynamics.mpc.config import ClosedLoopConfig, ComparisonConfig, ControlConfig
from sparse_dynamics.mpc.problem import default_success_cost, problem_for_task
from sparse_dynamics.tasks import Task, make_task

__all__ = [
    "EpisodeResult", "compare_planners", "episode_specs", "evaluate_planners", "load_network", "run_control",
    "run_episode", "summarize",
]  # fmt: skip


@dataclass
class EpisodeResult:
    """One closed-loop episode.

    Attributes:
        seed: The task's reset seed.
        goal: The goal.
        states: ``(steps + 1, S)`` true states.
        actions: ``(steps, A)`` applied actions.
        costs: ``(steps + 1,)`` task cost of each state.
        total_cost: Sum over the new states of the task cost plus ``action_weight * |u|_1``.
        step_seconds: ``(steps,)`` planner wall time.
        statuses: Planner status per step.
        gaps: MIP gap per step (None where the planner has none).
        binaries: Free binaries per step (0 for planners without).
        success: Final cost at most the success cost.
    """

    seed: int
    goal: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    costs: np.ndarray
    total_cost: float
    step_seconds: np.ndarray
    statuses: list[str] = field(default_factory=list)
    gaps: list[float | None] = field(default_factory=list)
    binaries: list[int] = field(default_factory=list)
    success: bool = False

    @property
    def final_cost(self) -> float:
        return float(self.costs[-1])


def run_episode(
    task: Task, planner: Planner, seed: int, goal: np.ndarray, steps: int, *, success_cost: float = 0.0
) -> EpisodeResult:
    """Runs ``planner`` receding-horizon on ``task`` for ``steps`` steps from ``task.reset(seed)``.

    Args:
        task: The true simulator.
        planner: Plans on its learned model; reset at the start.
        seed: Reset seed of the task (the start state).
        goal: The goal (`Task.sample_goal`).
        steps: Control steps.
        success_cost: Final task cost for success (0 = the task's default).
    """
    planner.reset()
    state = task.reset(seed)
    states, actions, seconds, statuses, gaps, binaries = [state], [], [], [], [], []
    action_weight = planner.problem.action_weight
    total = 0.0
    for _ in range(steps):
        plan, info = planner.plan(state, goal)
        action = task.clip_action(plan[0])
        state = task.step(action)
        total += float(task.cost(state, goal)) + action_weight * float(np.abs(action).sum())
        states.append(state)
        actions.append(action)
        seconds.append(info["solve_seconds"])
        statuses.append(info["status"])
        gaps.append(info["gap"])
        binaries.append(info["binaries"])
    states = np.stack(states)
    costs = np.asarray(task.cost(states, goal), dtype=np.float64)
    threshold = success_cost or default_success_cost(task)
    return EpisodeResult(
        int(seed), np.asarray(goal), states, np.stack(actions), costs, total, np.asarray(seconds),
        statuses, gaps, binaries, bool(costs[-1] <= threshold),
    )  # fmt: skip


def episode_specs(task: Task, config: ClosedLoopConfig) -> list[tuple[int, np.ndarray]]:
    """``(reset seed, goal)`` of each episode, drawn from ``config.seed`` (the same for every planner)."""
    rng = np.random.default_rng([config.seed, 17])
    seeds = np.random.SeedSequence([config.seed, 29]).generate_state(config.episodes, dtype=np.uint32)
    return [(int(seed), task.sample_goal(rng)) for seed in seeds]


def summarize(results: list[EpisodeResult]) -> dict:
    """The JSON-safe summary of a planner's episodes (module docstring)."""
    finals = np.array([r.final_cost for r in results])
    seconds = np.concatenate([r.step_seconds for r in results])
    gaps = [g for r in results for g in r.gaps if g is not None]
    statuses = Counter(s for r in results for s in r.statuses)
    return {
        "success_rate": float(np.mean([r.success for r in results])),
        "final_cost_mean": float(finals.mean()),
        "final_cost_std": float(finals.std()),
        "total_cost_mean": float(np.mean([r.total_cost for r in results])),
        "step_seconds_median": float(np.median(seconds)),
        "step_seconds_p95": float(np.percentile(seconds, 95)),
        "mip_gap_median": float(np.median(gaps)) if gaps else None,
        "binaries_median": float(np.median([b for r in results for b in r.binaries])),
        "status_counts": dict(sorted(statuses.items())),
        "fallback_steps": int(sum(statuses[s] for s in FALLBACK_STATUSES)),
    }


def evaluate_planners(
    task: Task,
    planners: dict[str, Planner],
    episodes: list[tuple[int, np.ndarray]],
    steps: int,
    *,
    success_cost: float = 0.0,
) -> dict:
    """Every planner on the same episodes: ``{"planners": {name: summary}, "episodes": n, "steps": steps}``."""
    summaries = {}
    for name, planner in planners.items():
        results = [run_episode(task, planner, seed, goal, steps, success_cost=success_cost) for seed, goal in episodes]
        summaries[name] = summarize(results)
    return {"planners": summaries, "episodes": len(episodes), "steps": steps}


def load_network(path: Path | str) -> CompactNetwork:
    """A compact network from ``path`` (.npz beside its .json).

    Raises:
        FileNotFoundError: If a file is missing.
        InputError: If the file is not a ``sparseworks.relu_dag/1`` network.
    """
    path = Path(path)
    for needed in (path.with_suffix(".npz"), path.with_suffix(".json")):
        if not needed.exists():
            raise FileNotFoundError(f"compact network file {needed} not found (write one with `dynamics sparsify`)")
    try:
        return CompactNetwork.load(path)
    except (ValueError, KeyError) as error:
        raise InputError(f"{path}: not a readable compact network: {error}") from error


def compare_planners(config: ComparisonConfig) -> dict:
    """The planners of ``config`` on its network, task and episodes (see `evaluate_planners`)."""
    from sparse_dynamics.mpc.planners import make_planner

    network = load_network(config.network)
    task = make_task(config.run.task)
    problem = problem_for_task(task, config.problem)
    planners = {name: make_planner(name, network, problem, cfg) for name, cfg in config.planner_configs().items()}
    metrics = evaluate_planners(
        task, planners, episode_specs(task, config.run), config.run.steps, success_cost=config.run.success_cost
    )
    return {"task": config.run.task, "horizon": config.problem.horizon, "relus": network.relu_count, **metrics}


def run_control(config: ControlConfig) -> dict:
    """One planner of ``config`` in closed loop: the summary of `evaluate_planners` for it."""
    from sparse_dynamics.mpc.planners import make_planner

    network = load_network(config.network)
    task = make_task(config.run.task)
    problem = problem_for_task(task, config.problem)
    planner_config = {"mip": config.mip, "mppi": config.mppi, "cem": config.cem, "gd": config.gd}[config.planner]
    planner = make_planner(config.planner, network, problem, planner_config)
    metrics = evaluate_planners(
        task, {config.planner: planner}, episode_specs(task, config.run), config.run.steps,
        success_cost=config.run.success_cost,
    )  # fmt: skip
    return {"task": config.run.task, "planner": config.planner, "horizon": config.problem.horizon,
            "relus": network.relu_count, **metrics["planners"][config.planner]}  # fmt: skip
