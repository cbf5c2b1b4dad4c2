"""The quick demonstration behind ``sparseworks demo --only dynamics`` (about twenty seconds on one thread).

On the piecewise-affine task: collect data, train a dense 32x32 ReLU MLP, sparsify it to
four ReLUs, export the compact network and check it against the gated model; train a
small dense network with the same four ReLUs for comparison; compute the exact optimal
control of the true system for a three-step horizon. Writes ``error_vs_relus.png``.

Then MIP-MPC on the sparsified network (`closed_loop_demo`): from a few start states and
goals, the exact mixed-integer planner and MPPI plan on the *learned* four-ReLU network
while the *true* system moves, beside the exact controller of the true system
(`sparse_dynamics.tasks.pwa.optimal_control` at every step, `ExactPWAPlanner`). Reported:
the open-loop gap of each planner's first plan to the exact optimum (its true cost over
the horizon / the optimal cost - 1, >= 0) and the closed-loop cost relative to the exact
controller's. Writes ``mpc_trajectories.png``, ``mpc_cost_over_time.png`` and
``mpc_step_seconds.png`` (`sparse_dynamics.control_runs.plot_closed_loop`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from sparse_dynamics.compact import CompactNetwork
from sparse_dynamics.config import SparsifyRecipe
from sparse_dynamics.data import CollectConfig, collect, save_dataset, split_episodes
from sparse_dynamics.export import compact_difference, export_model, save_export
from sparse_dynamics.pareto import plot_pareto, small_hidden
from sparse_dynamics.sparsify import sparsify_to_budget
from sparse_dynamics.tasks import make_task
from sparse_dynamics.tasks.pwa import PiecewiseAffineTask, optimal_control
from sparse_dynamics.training import TrainConfig, evaluate, state_scale, train_dense

__all__ = ["closed_loop_demo", "run_demo"]


def run_demo(folder: Path, seed: int = 0, progress: bool = False) -> dict:
    """Runs the demonstration, writing the dataset, compact network and figure into ``folder``.

    Returns:
        The errors of the three models, a one-line ``summary`` and what the demo report
        shows: ``title``, ``paragraph``, ``key_numbers`` and ``figures`` (paths relative
        to ``folder``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    task = make_task("pwa")
    data = collect(task, CollectConfig(episodes=60, steps=12, seed=seed), progress=progress)
    save_dataset(data, folder / "dataset.npz")
    train, _, test = split_episodes(data, seed=seed)
    scale = state_scale(train)
    dense = train_dense(train, (32, 32), TrainConfig(steps=600), seed, progress=progress)
    budget = 4  # ReLUs
    recipe = SparsifyRecipe(sparsify_steps=500, finetune_steps=200)  # learning rates 1e-3, then 5e-4
    gated, info = sparsify_to_budget(dense, train, budget, recipe, seed=seed, progress=progress)
    networks = export_model(gated, state_names=task.state_names, action_names=task.action_names)
    save_export(networks, folder)
    dense_errors, sparse_errors = evaluate(dense, test, scale, 10), evaluate(gated, test, scale, 10)
    relus = info["relu_counts"][0]
    small = small_hidden(budget, len(dense.hidden))
    small_model = train_dense(train, small, TrainConfig(steps=600), seed, progress=progress)
    small_errors = evaluate(small_model, test, scale, 10)
    plan = optimal_control(task, np.array([1.5, -1.0]), np.array([0.0, 0.5]), horizon=3)
    difference = compact_difference(gated, networks, test)
    summary = (
        f"pwa: dense 64 ReLUs 10-step error {dense_errors['rollout10_error']:.2e}; sparsified to "
        f"{relus} ReLUs {sparse_errors['rollout10_error']:.2e} (small dense {small_errors['rollout10_error']:.2e}); "
        f"compact vs gated {difference:.1e}; "
        f"exact 3-step optimum {plan.cost:.3f} over {plan.regions_tried} region sequences"
    )
    plot_pareto(
        _pareto_results(dense_errors, relus, budget, sparse_errors, small, small_errors), folder / "error_vs_relus.png"
    )
    paragraph = (
        f"The piecewise-affine task ({task.state_dim} states, {task.action_dim} actions; {data.episodes} episodes of "
        f"{data.steps} steps, split into training and held-out episodes): "
        f"a dense 32x32 ReLU MLP (64 ReLUs) is trained on the transitions, then sparsified neuron by neuron to a "
        f"budget of {budget} ReLUs (the other units become linear or are removed) and fine-tuned; a small "
        f"dense MLP with the same {sum(small)} ReLUs ({'x'.join(map(str, small))}) is trained the same way for "
        f"comparison. Errors are the mean squared next-state error on held-out episodes, per state entry divided "
        f"by the training-state standard deviation, after one step and after ten open-loop steps. The sparsified "
        f"network is exported as plain arrays (compact_dynamics.npz/.json) and matches the gated model to "
        f"{difference:.0e}; the exact optimal 3-step control of the true system costs {plan.cost:.3f}."
    )
    control = closed_loop_demo(task, networks["dynamics"], folder, seed, progress=progress)
    summary += (
        f"; MIP-MPC on the {control['relus']} ReLUs: open-loop gap to the exact optimum "
        f"{control['open_loop_gap']['mip']['mean']:.1e} mean (MPPI {control['open_loop_gap']['mppi']['mean']:.1e}), "
        f"closed-loop cost {control['closed_loop_excess']['mip']['mean']:+.1%} vs the exact controller "
        f"(MPPI {control['closed_loop_excess']['mppi']['mean']:+.1%})"
    )
    return {
        "dense_relus": 64,
        "dense": dense_errors,
        "relus": relus,
        "sparse": sparse_errors,
        "small_dense_hidden": list(small),
        "small_dense": small_errors,
        "compact_max_abs_diff": difference,
        "optimal_cost": plan.cost,
        "control": {
            key: control[key]
            for key in ("relus", "horizon", "episodes", "steps", "open_loop_gap", "closed_loop_excess", "planners")
        },
        "summary": summary,
        "title": "dynamics: a sparsified ReLU dynamics model, and exact MIP-MPC on it",
        "paragraph": paragraph + " " + control["paragraph"],
        "key_numbers": {
            "dense (64 ReLUs): 10-step error": dense_errors["rollout10_error"],
            f"sparsified ({relus} ReLUs): 10-step error": sparse_errors["rollout10_error"],
            f"small dense ({sum(small)} ReLUs): 10-step error": small_errors["rollout10_error"],
            "dense (64 ReLUs): one-step error": dense_errors["one_step_error"],
            f"sparsified ({relus} ReLUs): one-step error": sparse_errors["one_step_error"],
            f"small dense ({sum(small)} ReLUs): one-step error": small_errors["one_step_error"],
            "compact export vs gated model, max |difference|": difference,
            "exact 3-step optimal cost": plan.cost,
            **control["key_numbers"],
        },
        "figures": [
            {
                "path": "error_vs_relus.png",
                "caption": "Held-out prediction error (normalised MSE, state-std units squared; log scale) "
                "against the number of ReLUs (log2 scale), after one step (left) and ten open-loop "
                "steps (right): the dense model, its sparsification and a small dense model.",
            },
            *control["figures"],
        ],
    }


def closed_loop_demo(
    task: PiecewiseAffineTask,
    network: CompactNetwork,
    folder: Path,
    seed: int = 0,
    *,
    episodes: int = 4,
    steps: int = 15,
    horizon: int = 3,
    mppi_samples: int = 256,
    progress: bool = False,
) -> dict:
    """MIP-MPC and MPPI on a learned pwa network beside the exact controller of the true system.

    Every planner solves the task's own problem (L1 cost, action weight 0.1, no rate limit;
    `sparse_dynamics.mpc.problem_for_task`) over ``horizon`` steps. Open loop, each planner's
    first plan from each start state is applied to the true system and its cost compared
    with the exact optimum of `optimal_control` (Bemporad & Morari 1999, mode enumeration):
    ``gap = true cost / optimum - 1 >= 0``. In closed loop (`run_episodes`, the same
    episodes for every planner), ``excess = total cost / the exact controller's - 1``
    (negative is possible: receding-horizon control with a short horizon is not optimal
    over the episode).

    Args:
        task: The pwa task.
        network: A compact dynamics network of it (e.g. the sparsified one).
        folder: Where the three ``mpc_*.png`` figures go.
        seed: Seeds the start states, goals and MPPI.
        episodes: Start states (with their goals).
        steps: Control steps per episode.
        horizon: Planned steps H (1 to 6, as `optimal_control` allows).
        mppi_samples: MPPI's samples per iteration.
        progress: Show a progress bar over the planners' closed loops.

    Returns:
        ``relus``, ``horizon``, ``episodes``, ``steps``; ``open_loop_gap`` and
        ``closed_loop_excess`` (``{"mip" | "mppi": {"mean", "max"}}``); ``planners`` (name ->
        closed-loop summary, `summarize`); and for the report ``paragraph``, ``key_numbers``
        and ``figures`` (paths relative to ``folder``).
    """
    from sparse_dynamics.control_runs import plot_closed_loop
    from sparse_dynamics.mpc.closed_loop import episode_specs, run_episodes, summarize
    from sparse_dynamics.mpc.config import ClosedLoopConfig, MIPConfig, MPPIConfig, ProblemConfig
    from sparse_dynamics.mpc.oracle import ExactPWAPlanner
    from sparse_dynamics.mpc.planners import make_planner
    from sparse_dynamics.mpc.problem import check_network, problem_for_task

    problem = problem_for_task(task, ProblemConfig(horizon=horizon, action_weight=task.action_weight))
    check_network(network, problem, where="the demo's network")
    planners = {
        "exact": ExactPWAPlanner(task, problem),
        "mip": make_planner("mip", network, problem, MIPConfig(mip_gap=0.0, time_limit_seconds=10.0, threads=1)),
        "mppi": make_planner("mppi", network, problem, MPPIConfig(samples=mppi_samples, seed=seed)),
    }
    specs = episode_specs(task, ClosedLoopConfig(task="pwa", episodes=episodes, steps=steps, seed=seed))
    gaps = {name: [] for name in ("mip", "mppi")}
    for reset_seed, goal in specs:
        state = task.reset(reset_seed)
        optimum = optimal_control(task, state, goal, horizon).cost
        for name in gaps:
            planners[name].reset()
            actions, _ = planners[name].plan(state, goal)
            gap = _true_cost(task, state, goal, actions) / optimum - 1.0
            gaps[name].append(0.0 if -1e-9 < gap < 0.0 else gap)  # rounding of an exact plan
    results = {
        name: run_episodes(task, {name: planner}, specs, steps)[name]
        for name, planner in tqdm(planners.items(), desc="closed loop (exact, mip, mppi)", disable=not progress)
    }
    exact_totals = np.array([run.total_cost for run in results["exact"]])
    excess = {name: np.array([run.total_cost for run in results[name]]) / exact_totals - 1.0 for name in gaps}
    figures = plot_closed_loop(results, problem, folder, task=task, episodes_shown=episodes, prefix="mpc_")
    summaries = {name: summarize(runs) for name, runs in results.items()}
    relus = network.relu_count
    optimal_steps = summaries["mip"]["status_counts"].get("optimal", 0)
    paragraph = (
        f"MIP-MPC: the sparsified network's {relus} ReLUs make planning over {horizon} steps a mixed-integer "
        f"linear program with at most {relus * horizon} binaries, solved by HiGHS (proven optimal at "
        f"{optimal_steps} of {episodes * steps} steps). "
        f"From {episodes} start states and goals, the MIP and MPPI ({mppi_samples} samples) plan on the learned "
        f"network while the true system moves, beside the exact controller of the true system (one LP per region "
        f"sequence). Open loop, the first plan's true cost is {_mean(gaps['mip']):.1%} above the exact optimum for "
        f"the MIP and {_mean(gaps['mppi']):.1%} for MPPI (mean over the starts); over {steps} closed-loop steps the "
        f"total cost is {_mean(excess['mip']):+.1%} (MIP) and {_mean(excess['mppi']):+.1%} (MPPI) relative to the "
        f"exact controller's (short-horizon receding control is not optimal over the episode, and ties between "
        f"optimal plans of the L1 cost can send the loop different ways)."
    )
    return {
        "relus": relus,
        "horizon": horizon,
        "episodes": episodes,
        "steps": steps,
        "open_loop_gap": {name: {"mean": _mean(v), "max": float(np.max(v))} for name, v in gaps.items()},
        "closed_loop_excess": {name: {"mean": _mean(v), "max": float(np.max(v))} for name, v in excess.items()},
        "planners": summaries,
        "paragraph": paragraph,
        "key_numbers": {
            f"MIP on {relus} ReLUs: open-loop cost / exact {horizon}-step optimum - 1 (mean of {episodes} starts)": (
                _mean(gaps["mip"])
            ),
            f"MPPI on {relus} ReLUs: open-loop cost / exact optimum - 1 (mean)": _mean(gaps["mppi"]),
            f"MIP: closed-loop total cost / the exact controller's - 1 ({steps} steps, mean)": _mean(excess["mip"]),
            "MPPI: closed-loop total cost / the exact controller's - 1 (mean)": _mean(excess["mppi"]),
            "MIP: seconds per step (median)": summaries["mip"]["step_seconds_median"],
            "MPPI: seconds per step (median)": summaries["mppi"]["step_seconds_median"],
            "exact controller: seconds per step (median)": summaries["exact"]["step_seconds_median"],
        },
        "figures": [
            {
                "path": figures["trajectories"],
                "caption": f"Closed loop from {episodes} start states (circles) to their goals (stars) in the pwa "
                "state plane (state units): the exact controller of the true system, the MIP and MPPI planning on "
                f"the learned {relus}-ReLU network.",
            },
            {
                "path": figures["cost_over_time"],
                "caption": "Task cost |x - goal|_1 (state units, symlog scale) per control step, mean over the "
                "episodes.",
            },
            {
                "path": figures["step_seconds"],
                "caption": "Planner wall time per control step (seconds, log scale; median over the episodes).",
            },
        ],
    }


def _true_cost(task: PiecewiseAffineTask, state: np.ndarray, goal: np.ndarray, actions: np.ndarray) -> float:
    """The task's cost of ``actions`` applied to the true system from ``state``."""
    actions = np.stack([task.clip_action(action) for action in actions])
    states = [np.asarray(state, dtype=np.float64)]
    for action in actions:
        states.append(task.dynamics(states[-1], action))
    return float(task.trajectory_cost(np.stack(states), actions, goal))


def _mean(values) -> float:
    return float(np.mean(values))


def _pareto_results(
    dense_errors: dict, relus: int, budget: int, sparse_errors: dict, small: tuple[int, ...], small_errors: dict
) -> dict:
    """The demo's three models in the layout `plot_pareto` reads (one budget)."""
    return {
        "task": "pwa",
        "model": "mlp",
        "dense_relus": 64,
        "budgets": [budget],
        "relu_counts": [[relus]],
        "small_dense_hidden": [list(small)],
        **{key: [sparse_errors[key]] for key in ("one_step_error", "rollout10_error")},
        **{f"small_dense_{key}": [small_errors[key]] for key in ("one_step_error", "rollout10_error")},
        **{f"dense_{key}": dense_errors[key] for key in ("one_step_error", "rollout10_error")},
    }
