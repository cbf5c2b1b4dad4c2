"""Receding-horizon control against the task's true simulator, and planners compared on it.

`run_episode` resets the task with a seed, then at each step asks the planner for a plan
from the true state, applies its first action to the simulator and records the task
cost, the planner's wall time, status and MIP gap. `run_episodes` / `evaluate_planners`
run several planners on the same start seeds and goals (`episode_specs`) and keep /
summarise their episodes; `run_control` (a `ControlConfig`: one planner) and
`compare_episodes` / `compare_planners` (a `ComparisonConfig`: the MIP on the sparsified
network, ``mip_sparse``, and on an optional dense one, ``mip_dense``, beside the
baselines) are the library behind ``dynamics control`` / ``dynamics compare``.

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
from sparse_dynamics.mpc.problem import ControlProblem, check_network, default_success_cost, problem_for_task
from sparse_dynamics.tasks import Task, make_task

__all__ = [
    "Comparison", "EpisodeResult", "compare_episodes", "compare_planners", "comparison_planners", "episode_specs",
    "evaluate_planners", "load_network", "run_control", "run_episode", "run_episodes", "summarize",
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


def run_episodes(
    task: Task,
    planners: dict[str, Planner],
    episodes: list[tuple[int, np.ndarray]],
    steps: int,
    *,
    success_cost: float = 0.0,
) -> dict[str, list[EpisodeResult]]:
    """Every planner on the same episodes (``(reset seed, goal)`` pairs, `episode_specs`): name -> its episodes."""
    return {
        name: [run_episode(task, planner, seed, goal, steps, success_cost=success_cost) for seed, goal in episodes]
        for name, planner in planners.items()
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
    results = run_episodes(task, planners, episodes, steps, success_cost=success_cost)
    summaries = {name: summarize(runs) for name, runs in results.items()}
    return {"planners": summaries, "episodes": len(episodes), "steps": steps}


def load_network(path: Path | str) -> CompactNetwork:
    """The dynamics network of an export at ``path`` (`sparse_dynamics.mpc.graph.load_dynamics`).

    An MLP export (``compact_dynamics.npz`` beside its .json) is read as it is; a graph
    export (``compact_edge`` + ``compact_node``, either file or their folder) is unrolled
    into one network on ``[state, action]`` for the scene its metadata describes, so every
    planner plans on sort and rope as on pwa and push.

    Raises:
        FileNotFoundError: If a file is missing.
        InputError: If a file is not a ``sparseworks.relu_dag/1`` dynamics network (naming it).
    """
    from sparse_dynamics.mpc.graph import load_dynamics

    path = Path(path)
    if not path.is_dir():
        for needed in (path.with_suffix(".npz"), path.with_suffix(".json")):
            if not needed.exists():
                raise FileNotFoundError(f"compact network file {needed} not found (write one with `dynamics sparsify`)")
    try:
        return load_dynamics(path)
    except InputError:
        raise
    except (ValueError, KeyError) as error:
        raise InputError(f"{path}: not a readable compact network: {error}") from error


@dataclass
class Comparison:
    """The episodes of a `ComparisonConfig`'s planners (`compare_episodes`).

    Attributes:
        task: The true simulator.
        problem: The planning problem every planner solved.
        relus: ReLU count of each network planned on: ``{"sparse": n}``, plus ``"dense"`` when given.
        results: Planner name (``mip_sparse``, ``mip_dense``, ``mppi``, ``cem``, ``gd``) -> its episodes.
    """

    task: Task
    problem: ControlProblem
    relus: dict[str, int]
    results: dict[str, list[EpisodeResult]]

    def metrics(self, config: ComparisonConfig) -> dict:
        """``{"task", "horizon", "episodes", "steps", "step_budget_seconds", "relus", "planners": {name: summary}}``."""
        return {
            "task": config.loop.task,
            "horizon": config.problem.horizon,
            "episodes": config.loop.episodes,
            "steps": config.loop.steps,
            "step_budget_seconds": config.step_budget_seconds,
            "relus": dict(self.relus),
            "planners": {name: summarize(runs) for name, runs in self.results.items()},
        }


def comparison_planners(
    config: ComparisonConfig, problem: ControlProblem, networks: dict[str, CompactNetwork]
) -> dict[str, Planner]:
    """The planners of ``config``: ``mip_<kind>`` on each of ``networks``, the baselines on ``baseline_network``.

    Args:
        config: Names the planners, their settings and the step budget (`ComparisonConfig.planner_configs`).
        problem: The planning problem.
        networks: ``{"sparse": network}``, optionally with ``"dense"``.
    """
    from sparse_dynamics.mpc.planners import make_planner

    planners = {}
    for name, planner_config in config.planner_configs().items():
        if name == "mip":
            for kind, network in networks.items():
                planners[f"mip_{kind}"] = make_planner("mip", network, problem, planner_config)
        else:
            planners[name] = make_planner(name, networks[config.baseline_network], problem, planner_config)
    return planners


def compare_episodes(config: ComparisonConfig) -> Comparison:
    """Runs every planner of ``config`` on the same episodes, keeping each episode (for figures).

    Raises:
        FileNotFoundError: If a network file is missing.
        InputError: If a network is unreadable or does not fit the task.
    """
    task = make_task(config.loop.task)
    problem = problem_for_task(task, config.problem)
    paths = {"sparse": config.network, **({"dense": config.dense_network} if config.dense_network else {})}
    networks = {kind: load_network(path) for kind, path in paths.items()}
    for kind, network in networks.items():
        check_network(network, problem, where=paths[kind])
    planners = comparison_planners(config, problem, networks)
    episodes = episode_specs(task, config.loop)
    results = run_episodes(task, planners, episodes, config.loop.steps, success_cost=config.loop.success_cost)
    return Comparison(task, problem, {kind: network.relu_count for kind, network in networks.items()}, results)


def compare_planners(config: ComparisonConfig) -> dict:
    """The JSON-safe metrics of `compare_episodes` (`Comparison.metrics`)."""
    return compare_episodes(config).metrics(config)


def run_control(config: ControlConfig) -> dict:
    """One planner of ``config`` in closed loop: the summary of `evaluate_planners` for it.

    Raises:
        FileNotFoundError: If the network file is missing.
        InputError: If the network is unreadable or does not fit the task.
    """
    from sparse_dynamics.mpc.planners import make_planner

    network = load_network(config.network)
    task = make_task(config.loop.task)
    problem = problem_for_task(task, config.problem)
    check_network(network, problem, where=config.network)
    planner_config = {"mip": config.mip, "mppi": config.mppi, "cem": config.cem, "gd": config.gd}[config.planner]
    planner = make_planner(config.planner, network, problem, planner_config)
    metrics = evaluate_planners(
        task, {config.planner: planner}, episode_specs(task, config.loop), config.loop.steps,
        success_cost=config.loop.success_cost,
    )  # fmt: skip
    return {"task": config.loop.task, "planner": config.planner, "horizon": config.problem.horizon,
            "relus": network.relu_count, **metrics["planners"][config.planner]}  # fmt: skip
