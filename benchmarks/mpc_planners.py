"""Exact MIP-MPC on a sparsified pwa model vs the exact optimum, sampling / gradient MPC and a dense model.

On the pwa task (whose optimal control is computable exactly, `optimal_control`):

1. collect transitions, train a dense residual ReLU MLP, sparsify it to a ReLU budget
   (`sparse_dynamics.sparsify.sparsify_to_budget`, the recipe of ``dynamics sparsify``)
   and export both as compact networks;
2. open loop, from ``--starts`` start states and goals: each planner plans H steps on the
   *learned sparse* network, its actions are applied to the *true* system, and the true
   cost is compared with the exact optimum (gap = cost / optimum - 1);
3. closed loop, the same starts: ``--loop-steps`` receding-horizon steps against the true
   system, total cost compared with the exact controller in the same loop;
4. the MIP's size: binaries per solve with and without stable-unit elimination, share of
   ReLUs proven stable by interval bounds and by LP tightening, LP time;
5. MIP solve time on the sparse vs the dense network at the same horizon (the dense one
   on ``--dense-starts`` starts, each solve capped by ``--dense-time-limit``).

Threads are pinned (``--threads``, default 1: BLAS / OpenMP variables before numpy is
imported, torch, HiGHS). Prints the tables and writes benchmarks/results/mpc_planners.json.

Run: python benchmarks/mpc_planners.py [--threads 1] [--starts 20] [--horizon 4] [--relu-budget 8]
"""

from __future__ import annotations

import argparse
import os
import sys

_THREADS = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = _THREADS

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sparse_dynamics.config import CollectConfig, SparsifyRecipe, TrainConfig  # noqa: E402
from sparse_dynamics.data import collect, split_episodes  # noqa: E402
from sparse_dynamics.export import export_model  # noqa: E402
from sparse_dynamics.mpc.bounds import propagate_bounds  # noqa: E402
from sparse_dynamics.mpc.closed_loop import run_episode  # noqa: E402
from sparse_dynamics.mpc.config import CEMConfig, GradientConfig, MIPConfig, MPPIConfig, ProblemConfig  # noqa: E402
from sparse_dynamics.mpc.oracle import ExactPWAPlanner  # noqa: E402
from sparse_dynamics.mpc.planners import make_planner  # noqa: E402
from sparse_dynamics.mpc.problem import problem_for_task  # noqa: E402
from sparse_dynamics.sparsify import sparsify_to_budget  # noqa: E402
from sparse_dynamics.tasks import make_task  # noqa: E402
from sparse_dynamics.tasks.pwa import optimal_control  # noqa: E402
from sparse_dynamics.training import evaluate, state_scale, train_dense  # noqa: E402


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _true_cost(task, state, goal, actions) -> float:
    states = [np.asarray(state)]
    for action in actions:
        states.append(task.dynamics(states[-1], action))
    return task.trajectory_cost(np.stack(states), np.asarray(actions), goal)


def _stats(values) -> dict:
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "median": float(np.median(values)), "p95": float(np.percentile(values, 95)),
            "max": float(values.max())}  # fmt: skip


def train_networks(args) -> tuple[dict, dict]:
    """Dense and sparsified compact networks of the pwa task, plus what training gave."""
    started = time.perf_counter()
    task = make_task("pwa")
    data = collect(task, CollectConfig(episodes=args.episodes, steps=args.steps, seed=args.seed))
    train, _, test = split_episodes(data, seed=args.seed)
    dense = train_dense(train, _ints(args.hidden), TrainConfig(steps=args.train_steps), args.seed)
    recipe = SparsifyRecipe(sparsify_steps=args.sparsify_steps, finetune_steps=args.finetune_steps)
    gated, info = sparsify_to_budget(dense, train, args.relu_budget, recipe, seed=args.seed)
    scale = state_scale(train)
    networks = {
        "sparse": export_model(gated, state_names=task.state_names, action_names=task.action_names)["dynamics"],
        "dense": export_model(dense, state_names=task.state_names, action_names=task.action_names)["dynamics"],
    }
    summary = {
        "train_seconds": time.perf_counter() - started, "relu_counts": info["relu_counts"],
        "sparse_relus": networks["sparse"].relu_count, "dense_relus": networks["dense"].relu_count,
        "sparse_errors": evaluate(gated, test, scale, 10), "dense_errors": evaluate(dense, test, scale, 10),
    }  # fmt: skip
    return networks, summary


def baselines(args) -> dict:
    return {
        "mppi": MPPIConfig(samples=args.samples, iterations=args.iterations, seed=args.seed),
        "cem": CEMConfig(samples=args.samples, elites=max(2, args.samples // 16), iterations=args.iterations,
                         seed=args.seed),
        "gd": GradientConfig(restarts=16, iterations=5 * args.iterations, seed=args.seed),
    }  # fmt: skip


def open_loop(args, task, problem, networks, starts) -> dict:
    """Plans on the learned sparse network, applied to the true system, against the exact optimum."""
    mip_config = MIPConfig(mip_gap=0.0, time_limit_seconds=args.time_limit, threads=args.threads)
    planners = {"mip": make_planner("mip", networks["sparse"], problem, mip_config)}
    planners.update({n: make_planner(n, networks["sparse"], problem, c) for n, c in baselines(args).items()})
    gaps = {name: [] for name in planners}
    seconds = {name: [] for name in planners}
    statuses = []
    for state, goal in starts:
        optimum = optimal_control(task, state, goal, problem.horizon).cost
        for name, planner in planners.items():
            planner.reset()
            actions, info = planner.plan(state, goal)
            gaps[name].append(_true_cost(task, state, goal, actions) / optimum - 1.0)
            seconds[name].append(info["solve_seconds"])
            if name == "mip":
                statuses.append(info["status"])
    result = {name: {"gap": _stats(gaps[name]), "within_1_percent": float(np.mean(np.array(gaps[name]) <= 0.01)),
                     "seconds": _stats(seconds[name])} for name in planners}  # fmt: skip
    result["mip"]["statuses"] = {s: statuses.count(s) for s in sorted(set(statuses))}
    return result


def closed_loop(args, task, problem, networks, starts, seeds) -> dict:
    """Receding horizon on the true system; total cost against the exact controller in the same loop."""
    mip_config = MIPConfig(mip_gap=args.mip_gap, time_limit_seconds=args.time_limit, threads=args.threads)
    planners = {"exact": ExactPWAPlanner(task, problem),
                "mip": make_planner("mip", networks["sparse"], problem, mip_config)}  # fmt: skip
    planners.update({n: make_planner(n, networks["sparse"], problem, c) for n, c in baselines(args).items()})
    totals, finals, seconds, gaps, successes = ({n: [] for n in planners} for _ in range(5))
    for seed, (_, goal) in zip(seeds, starts):
        for name, planner in planners.items():
            episode = run_episode(task, planner, seed, goal, args.loop_steps)
            totals[name].append(episode.total_cost)
            finals[name].append(episode.final_cost)
            seconds[name].extend(episode.step_seconds.tolist())
            gaps[name].extend(g for g in episode.gaps if g is not None)
            successes[name].append(episode.success)
    exact = np.array(totals["exact"])
    return {
        name: {"total_cost_gap": _stats(np.array(totals[name]) / exact - 1.0),
               "within_1_percent": float(np.mean(np.array(totals[name]) / exact - 1.0 <= 0.01)),
               "final_cost_mean": float(np.mean(finals[name])), "success_rate": float(np.mean(successes[name])),
               "step_seconds": _stats(seconds[name]),
               "mip_gap_median": float(np.median(gaps[name])) if gaps[name] and name == "mip" else None}
        for name in planners
    }  # fmt: skip


def mip_size(args, problem, networks, starts) -> dict:
    """Binaries with / without stable-unit elimination, stable shares, LP time, solve times."""
    result = {}
    for part in ("sparse", "dense"):
        network = networks[part]
        chosen = starts if part == "sparse" else starts[: args.dense_starts]
        limit = args.time_limit if part == "sparse" else args.dense_time_limit
        interval_share, lp_share, lp_seconds = [], [], []
        for state, _ in chosen:
            interval = propagate_bounds(network, problem, state, threads=args.threads)
            lp = propagate_bounds(network, problem, state, lp_tightening=True, threads=args.threads)
            interval_share.append(interval.stable_share)
            lp_share.append(lp.stable_share)
            lp_seconds.append(lp.lp_seconds)
        row = {"neurons_per_solve": network.relu_count * problem.horizon, "starts": len(chosen),
               "stable_share_interval": _stats(interval_share), "stable_share_lp": _stats(lp_share),
               "lp_seconds": _stats(lp_seconds)}  # fmt: skip
        for eliminate in (True, False):
            config = MIPConfig(mip_gap=0.0, time_limit_seconds=limit, eliminate_stable=eliminate, threads=args.threads)
            planner = make_planner("mip", network, problem, config)
            binaries, seconds, statuses, gaps = [], [], [], []
            for state, goal in chosen:
                planner.reset()
                _, info = planner.plan(state, goal)
                binaries.append(info["binaries"])
                seconds.append(info["solve_seconds"])
                statuses.append(info["status"])
                if info["gap"] is not None:
                    gaps.append(info["gap"])
            key = "eliminated" if eliminate else "all_binaries"
            row[key] = {"binaries": _stats(binaries), "solve_seconds": _stats(seconds),
                        "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
                        "gap_max": max(gaps) if gaps else None}  # fmt: skip
        result[part] = row
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=200, help="training episodes collected")
    parser.add_argument("--steps", type=int, default=20, help="steps per training episode")
    parser.add_argument("--hidden", default="32,32")
    parser.add_argument("--train-steps", type=int, default=2000)
    parser.add_argument("--sparsify-steps", type=int, default=1500)
    parser.add_argument("--finetune-steps", type=int, default=800)
    parser.add_argument("--relu-budget", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=4)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--loop-steps", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=10.0, help="MIP time limit per solve (s), sparse")
    parser.add_argument("--mip-gap", type=float, default=1e-4, help="relative MIP gap in closed loop")
    parser.add_argument("--dense-starts", type=int, default=5)
    parser.add_argument("--dense-time-limit", type=float, default=20.0)
    parser.add_argument("--samples", type=int, default=256, help="MPPI / CEM samples per iteration")
    parser.add_argument("--iterations", type=int, default=8, help="MPPI / CEM iterations (GD: 5x)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    networks, training = train_networks(args)
    task = make_task("pwa")
    problem = problem_for_task(task, ProblemConfig(horizon=args.horizon, action_weight=task.action_weight))
    rng = np.random.default_rng([args.seed, 5])
    seeds = [int(s) for s in rng.integers(0, 2**31, size=args.starts)]
    starts = [(task.reset(seed), task.sample_goal(rng)) for seed in seeds]
    results = {"threads": args.threads, "horizon": args.horizon, "starts": args.starts, "training": training}
    results["open_loop"] = open_loop(args, task, problem, networks, starts)
    results["closed_loop"] = closed_loop(args, task, problem, networks, starts, seeds)
    results["mip_size"] = mip_size(args, problem, networks, starts)

    t = training
    print(
        f"pwa, H = {args.horizon}, {args.starts} starts, {args.threads} thread(s); trained in {t['train_seconds']:.0f} s: "
        f"dense {t['dense_relus']} ReLUs (1-step error {t['dense_errors']['one_step_error']:.2e}), sparse "
        f"{t['sparse_relus']} ReLUs (1-step error {t['sparse_errors']['one_step_error']:.2e})"
    )
    print("\nopen loop: plan on the learned sparse network, apply to the true system, vs the exact optimum")
    print(f"{'planner':<8}{'gap mean':>10}{'median':>9}{'max':>9}{'<=1%':>7}{'s median':>10}{'s p95':>8}")
    for name, row in results["open_loop"].items():
        g, s = row["gap"], row["seconds"]
        print(
            f"{name:<8}{g['mean']:>10.2%}{g['median']:>9.2%}{g['max']:>9.2%}{row['within_1_percent']:>7.0%}"
            f"{s['median']:>10.3f}{s['p95']:>8.3f}"
        )
    print(f"\nclosed loop ({args.loop_steps} steps): total cost vs the exact controller in the same loop")
    print(
        f"{'planner':<8}{'gap mean':>10}{'median':>9}{'max':>9}{'<=1%':>7}{'final':>8}{'success':>9}"
        f"{'s median':>10}{'s p95':>8}{'MIP gap':>9}"
    )
    for name, row in results["closed_loop"].items():
        g, s = row["total_cost_gap"], row["step_seconds"]
        mip_gap = "-" if row["mip_gap_median"] is None else f"{row['mip_gap_median']:.1e}"
        print(
            f"{name:<8}{g['mean']:>10.2%}{g['median']:>9.2%}{g['max']:>9.2%}{row['within_1_percent']:>7.0%}"
            f"{row['final_cost_mean']:>8.3f}{row['success_rate']:>9.0%}{s['median']:>10.3f}{s['p95']:>8.3f}{mip_gap:>9}"
        )
    print("\nMIP size and time (gap 0): binaries per solve, share of ReLUs proven stable, solve seconds")
    print(
        f"{'network':<8}{'ReLUs x H':>10}{'stable int.':>12}{'stable LP':>10}{'LP s':>7}{'bin. elim':>10}"
        f"{'bin. all':>9}{'s elim':>8}{'s all':>8}  statuses (elim / all)"
    )
    for part, row in results["mip_size"].items():
        e, a = row["eliminated"], row["all_binaries"]
        print(
            f"{part:<8}{row['neurons_per_solve']:>10}{row['stable_share_interval']['mean']:>12.0%}"
            f"{row['stable_share_lp']['mean']:>10.0%}{row['lp_seconds']['median']:>7.2f}"
            f"{e['binaries']['median']:>10.0f}{a['binaries']['median']:>9.0f}{e['solve_seconds']['median']:>8.2f}"
            f"{a['solve_seconds']['median']:>8.2f}  {e['statuses']} / {a['statuses']} ({row['starts']} starts)"
        )
    out = Path(__file__).parent / "results" / "mpc_planners.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
