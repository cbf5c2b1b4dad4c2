"""Exact MIP-MPC on a sparsified model vs sampling / gradient MPC and a dense model: pwa, push, sort, rope.

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

With ``--task push|sort|rope`` (no exact optimum exists there), closed loop on the task's
*true* simulator instead:

1. collect transitions, train a dense model (an MLP for push, a graph network for sort
   and rope) and sparsify it with the same recipe (cached under ``--cache``); both are
   exported as ``dynamics sparsify`` writes them and read back with
   `sparse_dynamics.mpc.graph.load_dynamics`, which unrolls a graph model's edge and node
   networks into one network for the scene;
2. ``--episodes`` episodes (the same start states and goals for every planner, drawn
   from ``--seed``; ``--validation`` draws them from ``seed + 1000`` for choosing
   settings), each planner in turn per episode so that machine load hits all alike:
   ``mip_sparse`` and ``mip_dense`` (the MIP on the sparsified / dense network) and
   ``mppi``, ``cem``, ``gd`` (on ``--baseline-model``), all at one wall-clock budget per
   step (``--step-budget``: the MIPs' time limit, the baselines' time budget); per
   planner success rate, final cost, step seconds, MIP gap, binaries, stable share and
   the one-step error of the planner's own model along the executed trajectory;
3. the MIP size: binaries per solve with and without stable-unit elimination, the share
   of ReLUs proven stable (interval bounds, LP tightening), and sparse vs dense solve
   times at the same horizon (gap ``--size-mip-gap``, default 0; the sparse MIP capped at
   ``--solve-limit``, the dense one at ``--dense-solve-limit``; bounds and LP tightening
   inside each solve's time; a solve that hits its limit counts at the limit and its gap
   there is reported; wall and CPU seconds), from the start states of the first
   ``--size-states`` episodes. ``--all-binaries sparse`` solves the variant without
   elimination for the sparse MIP only (the dense one's count, every ReLU over the
   horizon, is reported unsolved); ``--size-only`` skips the closed loop.

Writes benchmarks/results/mpc_planners_<task>.json (or ``--out``).

Threads are pinned (``--threads``, default 1: BLAS / OpenMP variables before numpy is
imported, torch, HiGHS). Prints the tables and writes benchmarks/results/mpc_planners.json.

Run: python benchmarks/mpc_planners.py [--threads 1] [--starts 20] [--horizon 4] [--relu-budget 8]
     python benchmarks/mpc_planners.py --task push --episodes 20 [--step-budget 1.0] [--horizon 8]
"""

from __future__ import annotations

import argparse
import dataclasses
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

from sparse_core.infra.files import atomic_write  # noqa: E402
from sparse_dynamics.config import CollectConfig, SparsifyRecipe, TrainConfig  # noqa: E402
from sparse_dynamics.data import collect, split_episodes  # noqa: E402
from sparse_dynamics.export import export_model  # noqa: E402
from sparse_dynamics.mpc.base import Planner, plan_info  # noqa: E402
from sparse_dynamics.mpc.bounds import propagate_bounds  # noqa: E402
from sparse_dynamics.mpc.closed_loop import episode_specs, run_episode, summarize  # noqa: E402
from sparse_dynamics.mpc.config import (  # noqa: E402
    CEMConfig,
    ClosedLoopConfig,
    GradientConfig,
    MIPConfig,
    MPPIConfig,
    ProblemConfig,
)
from sparse_dynamics.mpc.oracle import ExactPWAPlanner  # noqa: E402
from sparse_dynamics.mpc.planners import make_planner  # noqa: E402
from sparse_dynamics.mpc.problem import problem_for_task, rollout  # noqa: E402
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


# ---------------------------------------------------------------------------- push / sort / rope

TABLE_DEFAULTS = {
    # hidden, data episodes, relu budget, horizon, step budget (s), loop steps
    "push": {"hidden": "64,64", "relu_budget": 16, "horizon": 4, "step_budget": 0.5, "loop_steps": 30},
    "sort": {"hidden": "32,32", "relu_budget": 8, "horizon": 3, "step_budget": 0.5, "loop_steps": 20},
    "rope": {"hidden": "32,32", "relu_budget": 8, "horizon": 3, "step_budget": 0.5, "loop_steps": 20},
}


def _cache_folder(args, budget: int) -> Path:
    key = f"{args.task}-h{args.hidden.replace(',', 'x')}-d{args.data_episodes}x{args.data_steps}-t{args.train_steps}"
    key += f"-s{args.sparsify_steps}-f{args.finetune_steps}-r{args.rollout_steps}-seed{args.seed}"
    return Path(args.cache) / key / f"budget{budget}"


def table_networks(args, budget: int) -> tuple[dict, dict]:
    """Dense and sparsified (``budget`` ReLUs per MLP) compact networks of ``args.task``, cached.

    The dense model is trained once per setting and reused for every budget; each model
    is exported as `dynamics sparsify` writes it (``compact_*.npz``) and read back with
    `load_dynamics` (graph models unrolled into one network).
    """
    from sparse_dynamics.mpc.graph import load_dynamics

    folder = train_cached(args, budget)
    summary = json.loads((folder / "summary.json").read_text())
    networks = {"sparse": load_dynamics(folder), "dense": load_dynamics(folder.parent / "dense")}
    summary.update(sparse_relus=networks["sparse"].relu_count, dense_relus=networks["dense"].relu_count)
    return networks, summary


def train_cached(args, budget: int) -> Path:
    """Trains (or finds under ``--cache``) the dense and the ``budget`` model; returns the sparse model's folder."""
    from sparse_dynamics.export import save_export
    from sparse_dynamics.models import load_model, save_model

    folder = _cache_folder(args, budget)
    dense_folder = folder.parent / "dense"
    summary_path = folder / "summary.json"
    if not summary_path.exists():
        started = time.perf_counter()
        task = make_task(args.task)
        data = collect(task, CollectConfig(episodes=args.data_episodes, steps=args.data_steps, seed=args.seed))
        train, _, test = split_episodes(data, seed=args.seed)
        scale = state_scale(train)
        dense_path = dense_folder / "model.pt"
        if dense_path.exists():
            dense = load_model(dense_path)
        else:
            config = TrainConfig(steps=args.train_steps, rollout_steps=args.rollout_steps)
            dense = train_dense(train, _ints(args.hidden), config, args.seed)
            dense_folder.mkdir(parents=True, exist_ok=True)
            save_model(dense, dense_path, task=args.task)
            save_export(export_model(dense, state_names=task.state_names, action_names=task.action_names), dense_folder)
            (dense_folder / "errors.json").write_text(json.dumps(evaluate(dense, test, scale, 10)))
        recipe = SparsifyRecipe(sparsify_steps=args.sparsify_steps, finetune_steps=args.finetune_steps)
        gated, info = sparsify_to_budget(dense, train, budget, recipe, seed=args.seed, rollout_steps=args.rollout_steps)
        folder.mkdir(parents=True, exist_ok=True)
        save_export(export_model(gated, state_names=task.state_names, action_names=task.action_names), folder)
        summary = {"train_seconds": time.perf_counter() - started, "relu_counts": info["relu_counts"],
                   "kept_neurons": info["kept_neurons"], "sparse_errors": evaluate(gated, test, scale, 10),
                   "dense_errors": json.loads((dense_folder / "errors.json").read_text())}  # fmt: skip
        summary_path.write_text(json.dumps(summary, indent=2))
    return folder


def table_defaults(args) -> None:
    """Fills the settings not given on the command line from `TABLE_DEFAULTS` and the shared defaults."""
    shared = {"episodes": 20 if args.task == "push" else 10, "train_steps": 3000, "sparsify_steps": 2000}
    for key, value in {**shared, **TABLE_DEFAULTS[args.task]}.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)


class _Recording(Planner):
    """A planner that keeps the info of every plan (without the arrays), for the MIP statistics."""

    def __init__(self, planner: Planner) -> None:
        super().__init__(planner.problem)
        self.planner, self.infos, self.predicted = planner, [], []

    def reset(self) -> None:
        self.planner.reset()

    def plan(self, state, goal):
        actions, info = self.planner.plan(state, goal)
        self.predicted.append(np.asarray(info["predicted_states"])[1])
        self.infos.append({k: v for k, v in info.items() if not isinstance(v, np.ndarray)})
        return actions, info


class _ZeroPlanner(Planner):
    """The reference that never acts (zero actions; its predicted states from ``network``)."""

    def __init__(self, network, problem) -> None:
        super().__init__(problem)
        self.network = network

    def plan(self, state, goal):
        started = time.perf_counter()
        actions = np.clip(np.zeros((self.problem.horizon, self.problem.action_dim)), self.problem.action_low,
                          self.problem.action_high)  # fmt: skip
        states = rollout(self.network, state, actions)
        return actions, plan_info("ok", None, time.perf_counter() - started, states)


def table_planners(args, networks: dict, problem) -> dict:
    """The compared planners, every one at the same wall-clock budget per step."""
    budget, planners = args.step_budget, {}
    baseline = networks[args.baseline_model]
    for name in args.planners.split(","):
        if name.startswith("mip_"):
            part = name[len("mip_") :]
            config = MIPConfig(
                time_limit_seconds=budget, mip_gap=args.mip_gap, threads=args.threads,
                lp_tightening=args.lp_tightening == "both" or args.lp_tightening == part,
            )  # fmt: skip
            planners[name] = make_planner("mip", networks[part], problem, config)
        elif name in ("mppi", "cem", "gd"):
            config = {
                "mppi": MPPIConfig(samples=args.samples, time_budget_seconds=budget, seed=args.seed),
                "cem": CEMConfig(samples=args.samples, elites=max(2, args.samples // 16), time_budget_seconds=budget,
                                 seed=args.seed),
                "gd": GradientConfig(restarts=16, time_budget_seconds=budget, seed=args.seed),
            }[name]  # fmt: skip
            planners[name] = make_planner(name, baseline, problem, config)
        elif name == "zero":
            planners[name] = _ZeroPlanner(baseline, problem)
        else:
            raise SystemExit(f"--planners: unknown planner {name!r} (mip_sparse, mip_dense, mppi, cem, gd, zero)")
    return planners


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def table_closed_loop(args, task, problem, planners: dict, specs) -> dict:
    """Every planner on the same episodes, interleaved episode by episode (load hits all alike)."""
    warmup_state, warmup_goal = task.reset(specs[0][0]), specs[0][1]
    for planner in planners.values():  # the first solve sends the model to HiGHS: not part of any step
        planner.reset()
        planner.plan(warmup_state, warmup_goal)
    recorded = {name: _Recording(planner) for name, planner in planners.items()}
    results = {name: [] for name in planners}
    model_errors = {name: [] for name in planners}
    for seed, goal in specs:
        for name, planner in recorded.items():
            first = len(planner.predicted)
            episode = run_episode(task, planner, seed, goal, args.loop_steps)
            results[name].append(episode)
            predicted = np.array(planner.predicted[first:])
            true_cost, predicted_cost = task.cost(episode.states[1:], goal), task.cost(predicted, goal)
            model_errors[name].append(
                (np.abs(predicted - episode.states[1:]).mean(), np.abs(predicted_cost - true_cost).mean())
            )
    table = {}
    for name, planner in recorded.items():
        row = summarize(results[name])
        errors = np.array(model_errors[name])
        row["one_step_state_error_mean"] = float(errors[:, 0].mean())
        row["one_step_cost_error_mean"] = float(errors[:, 1].mean())
        row["final_costs"] = [r.final_cost for r in results[name]]
        if name.startswith("mip_"):
            infos = planner.infos
            row.update(
                neurons_per_solve=int(infos[0]["neurons"]),
                stable_share_median=_median(i["stable_share"] for i in infos),
                unstable_median=_median(i["unstable"] for i in infos),
                bounds_seconds_median=_median(i["bounds_seconds"] for i in infos),
                highs_seconds_median=_median(i.get("highs_seconds") for i in infos),
                time_limit_steps=sum(i["status"] in ("time_limit", "deadline") for i in infos),
            )
        table[name] = row
    return table


def _size_solves(planner, states, limit: float) -> dict:
    """One solve per start state; a solve that hits ``limit`` counts at ``limit`` (with its gap)."""
    binaries, seconds, cpu, statuses, gaps, bounds, objectives = [], [], [], [], [], [], []
    for state, goal in states:
        planner.reset()
        started = time.process_time()
        _, info = planner.plan(state, goal)
        cpu.append(time.process_time() - started)
        binaries.append(info["binaries"])
        limited = info["status"] in ("time_limit", "deadline", "no_solution")
        seconds.append(limit if limited else info["solve_seconds"])
        statuses.append(info["status"])
        gaps.append(info["gap"])
        bounds.append(info.get("dual_bound"))
        objectives.append(info["objective"])
    found = [g for g in gaps if g is not None]
    at_limit = [g for g, s in zip(gaps, statuses) if s in ("time_limit", "deadline") and g is not None]
    return {
        "solved": True, "limit_seconds": limit, "binaries": _stats(binaries), "solve_seconds": _stats(seconds),
        "cpu_seconds": _stats(cpu), "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
        "at_limit": sum(s in ("time_limit", "deadline", "no_solution") for s in statuses),
        "gap_max": max(found) if found else None, "gap_at_limit_median": _median(at_limit),
        "per_solve": [{"status": s, "seconds": w, "cpu_seconds": c, "binaries": b, "gap": g, "objective": o,
                       "dual_bound": d}
                      for s, w, c, b, g, o, d in zip(statuses, seconds, cpu, binaries, gaps, objectives, bounds)],
    }  # fmt: skip


def table_mip_size(args, problem, networks: dict, specs, task, planners: dict) -> dict:
    """Per MIP: binaries with / without stable-unit elimination, stable shares, solve times.

    From the start states of the first ``--size-states`` episodes, one solve each at
    ``--size-mip-gap`` (0: to optimality), the sparse MIP capped at ``--solve-limit``, the
    dense one at ``--dense-solve-limit`` (default the same); a solve that hits its limit
    counts at the limit, and its gap at the limit is reported. Bound propagation (LP
    tightening included, where on) is part of every solve's time. ``--all-binaries`` says
    for which networks the variant without elimination is solved; for the others only
    its binary count (every ReLU over the horizon) is reported.
    """
    states = [(task.reset(seed), goal) for seed, goal in specs[: args.size_states]]
    limits = {"sparse": args.solve_limit, "dense": args.dense_solve_limit or args.solve_limit}
    solve_all = {"both": ("sparse", "dense"), "sparse": ("sparse",), "none": ()}[args.all_binaries]
    result = {"states": len(states), "mip_gap": args.size_mip_gap, "load_average_start": os.getloadavg()}
    for part in ("sparse", "dense"):
        network = networks[part]
        lp = args.lp_tightening == "both" or args.lp_tightening == part
        neurons = network.relu_count * problem.horizon
        interval = [propagate_bounds(network, problem, s, threads=args.threads) for s, _ in states]
        row = {"neurons_per_solve": neurons, "lp_tightening": lp, "limit_seconds": limits[part],
               "stable_share_interval": _stats([b.stable_share for b in interval])}  # fmt: skip
        if lp:
            tightened = [
                propagate_bounds(network, problem, s, lp_tightening=True, threads=args.threads) for s, _ in states
            ]
            row["stable_share_lp"] = _stats([b.stable_share for b in tightened])
            row["lp_seconds"] = _stats([b.lp_seconds for b in tightened])
        planner = planners.get(f"mip_{part}")
        if planner is None:
            planner = make_planner("mip", network, problem, MIPConfig(lp_tightening=lp, threads=args.threads))
            planner.plan(*states[0])  # the first solve sends the model to HiGHS
        used = planner.config
        for eliminate in (True, False):
            key = "eliminated" if eliminate else "all_binaries"
            if not eliminate and part not in solve_all:
                row[key] = {"solved": False, "binaries": _stats([neurons])}
                continue
            planner.config = dataclasses.replace(
                used, mip_gap=args.size_mip_gap, time_limit_seconds=limits[part], eliminate_stable=eliminate
            )
            row[key] = _size_solves(planner, states, limits[part])
        planner.config = used
        result[part] = row
    sparse, dense = (result[p]["eliminated"]["solve_seconds"] for p in ("sparse", "dense"))
    result["dense_over_sparse_solve_seconds"] = {
        "median": dense["median"] / sparse["median"], "p95": dense["p95"] / sparse["p95"],
        "note": "a solve at its limit counts at the limit; with the dense MIP at its limit the ratio is a lower bound",
    }  # fmt: skip
    sparse_cpu, dense_cpu = (result[p]["eliminated"]["cpu_seconds"] for p in ("sparse", "dense"))
    result["dense_over_sparse_cpu_seconds"] = {
        "median": dense_cpu["median"] / sparse_cpu["median"], "p95": dense_cpu["p95"] / sparse_cpu["p95"],
        "note": "process CPU seconds of the same solves (a dense solve at its wall-clock limit: CPU used until then)",
    }  # fmt: skip
    result["load_average_end"] = os.getloadavg()
    return result


def table_main(args) -> None:
    """Closed loop on the true push / sort / rope simulator; prints the table and writes the JSON."""
    table_defaults(args)
    if args.train_only:
        folder = train_cached(args, args.relu_budget)
        print(folder, (folder / "summary.json").read_text())
        return
    started = time.perf_counter(), time.process_time()
    networks, training = table_networks(args, args.relu_budget)
    task = make_task(args.task)
    problem = problem_for_task(task, ProblemConfig(horizon=args.horizon), approach_weight=args.approach_weight)
    seed = args.seed + (1000 if args.validation else 0)
    specs = episode_specs(
        task, ClosedLoopConfig(task=args.task, episodes=args.episodes, steps=args.loop_steps, seed=seed)
    )
    built = time.perf_counter()
    planners = {} if args.size_only else table_planners(args, networks, problem)
    results = {
        "task": args.task, "threads": args.threads, "validation": args.validation, "episode_seed": seed,
        "episodes": args.episodes, "loop_steps": args.loop_steps, "horizon": args.horizon,
        "step_budget_seconds": args.step_budget, "relu_budget": args.relu_budget, "hidden": args.hidden,
        "baseline_model": args.baseline_model, "lp_tightening": args.lp_tightening, "mip_gap": args.mip_gap,
        "approach_weight": args.approach_weight,
        "samples": args.samples, "training": training, "build_seconds": time.perf_counter() - built,
        "load_average_start": os.getloadavg(),
    }  # fmt: skip
    if not args.size_only:
        results["closed_loop"] = table_closed_loop(args, task, problem, planners, specs)
    if args.size_states > 0:
        results["mip_size"] = table_mip_size(args, problem, networks, specs, task, planners)
    results["load_average_end"] = os.getloadavg()
    results["wall_seconds"], results["cpu_seconds"] = time.perf_counter() - started[0], time.process_time() - started[1]
    print_table(results)
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"mpc_planners_{args.task}.json"
    with atomic_write(out, "w") as handle:
        handle.write(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


def print_table(results: dict) -> None:
    t = results["training"]
    print(
        f"{results['task']}: {results['episodes']} episodes x {results['loop_steps']} steps, H = {results['horizon']}, "
        f"{results['step_budget_seconds']} s per step, {results['threads']} thread(s); dense {t['dense_relus']} ReLUs "
        f"(1-step error {t['dense_errors']['one_step_error']:.2e}), sparse {t['sparse_relus']} ReLUs "
        f"(1-step error {t['sparse_errors']['one_step_error']:.2e}); baselines on the {results['baseline_model']} model"
    )
    print(
        f"{'planner':<11}{'success':>8}{'final':>8}{'std':>7}{'s median':>9}{'s p95':>7}{'MIP gap':>9}"
        f"{'binaries':>9}{'stable':>7}{'model err':>10}"
    )
    for name, row in results.get("closed_loop", {}).items():
        gap = "-" if row["mip_gap_median"] is None else f"{row['mip_gap_median']:.1e}"
        stable = "-" if row.get("stable_share_median") is None else f"{row['stable_share_median']:.0%}"
        print(
            f"{name:<11}{row['success_rate']:>8.0%}{row['final_cost_mean']:>8.2f}{row['final_cost_std']:>7.2f}"
            f"{row['step_seconds_median']:>9.3f}{row['step_seconds_p95']:>7.3f}{gap:>9}{row['binaries_median']:>9.0f}"
            f"{stable:>7}{row['one_step_cost_error_mean']:>10.3f}"
        )
    if "mip_size" in results:
        size = results["mip_size"]
        print(f"\nMIP size and time ({size['states']} start states, gap {size['mip_gap']}; a solve at its limit counts "
              "at the limit; bounds and LP tightening inside the time)")  # fmt: skip
        print(f"{'network':<8}{'ReLUs x H':>10}{'stable int.':>12}{'stable LP':>10}{'bin. elim':>10}{'bin. all':>9}"
              f"{'limit':>7}{'s med':>8}{'s p95':>8}{'CPU med':>8}{'gap@lim':>9}{'s all med':>10}  statuses (elim / all)")  # fmt: skip
        for part in ("sparse", "dense"):
            row = size[part]
            e, a = row["eliminated"], row["all_binaries"]
            lp = f"{row['stable_share_lp']['mean']:.0%}" if "stable_share_lp" in row else "-"
            gap = "-" if e.get("gap_at_limit_median") is None else f"{e['gap_at_limit_median']:.2f}"
            all_seconds = f"{a['solve_seconds']['median']:.2f}" if a["solved"] else "not run"
            print(
                f"{part:<8}{row['neurons_per_solve']:>10}{row['stable_share_interval']['mean']:>12.0%}{lp:>10}"
                f"{e['binaries']['median']:>10.0f}{a['binaries']['median']:>9.0f}{row['limit_seconds']:>7.0f}"
                f"{e['solve_seconds']['median']:>8.2f}{e['solve_seconds']['p95']:>8.2f}{e['cpu_seconds']['median']:>8.2f}"
                f"{gap:>9}{all_seconds:>10}  {e['statuses']} / {a.get('statuses', '-')}"
            )
        ratio, cpu = size["dense_over_sparse_solve_seconds"], size.get("dense_over_sparse_cpu_seconds")
        print(f"dense / sparse solve seconds: median {ratio['median']:.1f}x, p95 {ratio['p95']:.1f}x"
              + (f" (CPU seconds: median {cpu['median']:.1f}x, p95 {cpu['p95']:.1f}x)" if cpu else ""))  # fmt: skip
    print(f"wall {results['wall_seconds']:.0f} s, CPU {results['cpu_seconds']:.0f} s, load "
          f"{results['load_average_start'][0]:.1f} -> {results['load_average_end'][0]:.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="pwa", choices=("pwa", "push", "sort", "rope"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="pwa: training episodes collected (200); push / sort / rope: closed-loop episodes (20 / 10)",
    )
    parser.add_argument("--steps", type=int, default=20, help="pwa: steps per training episode")
    parser.add_argument("--hidden", default=None, help="dense hidden widths (pwa 32,32; push 64,64; sort, rope 32,32)")
    parser.add_argument("--train-steps", type=int, default=None, help="dense training steps (pwa 2000, else 3000)")
    parser.add_argument("--sparsify-steps", type=int, default=None, help="gated steps (pwa 1500, else 2000)")
    parser.add_argument("--finetune-steps", type=int, default=800)
    parser.add_argument("--relu-budget", type=int, default=None, help="ReLUs per MLP (pwa 8; see TABLE_DEFAULTS)")
    parser.add_argument("--horizon", type=int, default=None)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--loop-steps", type=int, default=None, help="closed-loop steps per episode")
    parser.add_argument("--time-limit", type=float, default=10.0, help="pwa: MIP time limit per solve (s), sparse")
    parser.add_argument("--mip-gap", type=float, default=1e-4, help="relative MIP gap in closed loop")
    parser.add_argument("--dense-starts", type=int, default=5)
    parser.add_argument("--dense-time-limit", type=float, default=20.0)
    parser.add_argument("--samples", type=int, default=256, help="MPPI / CEM samples per iteration")
    parser.add_argument("--iterations", type=int, default=8, help="pwa: MPPI / CEM iterations (GD: 5x)")
    table = parser.add_argument_group("push / sort / rope")
    table.add_argument("--data-episodes", type=int, default=300, help="training episodes collected")
    table.add_argument("--data-steps", type=int, default=30, help="steps per training episode")
    table.add_argument("--rollout-steps", type=int, default=1, help="K of the rollout loss (dense and sparse)")
    table.add_argument(
        "--step-budget",
        type=float,
        default=None,
        help="wall-clock seconds per control step of every planner (the MIPs' time limit)",
    )
    table.add_argument(
        "--lp-tightening",
        choices=("sparse", "both", "none"),
        default="sparse",
        help="which MIP tightens its bounds by LPs (the dense one's LPs outlast any step budget)",
    )
    table.add_argument(
        "--baseline-model", choices=("dense", "sparse"), default="dense", help="the network MPPI / CEM / GD plan on"
    )
    table.add_argument(
        "--planners",
        default="mip_sparse,mip_dense,mppi,cem,gd,zero",
        help="compared planners; zero = never act (a reference, no planning time)",
    )
    table.add_argument(
        "--validation",
        action="store_true",
        help="episodes drawn from seed + 1000 (for choosing settings), results to *_validation.json",
    )
    table.add_argument("--size-states", type=int, default=5, help="start states of the MIP size / solve-time table")
    table.add_argument("--solve-limit", type=float, default=5.0, help="time limit of those solves (s)")
    table.add_argument(
        "--dense-solve-limit",
        type=float,
        default=None,
        help="time limit of the dense solves (s; default --solve-limit)",
    )
    table.add_argument("--size-mip-gap", type=float, default=0.0, help="relative MIP gap of those solves")
    table.add_argument(
        "--all-binaries",
        choices=("both", "sparse", "none"),
        default="both",
        help="whose MIP is also solved without stable-unit elimination (else only its binary count is reported)",
    )
    table.add_argument(
        "--approach-weight",
        type=float,
        default=0.0,
        help="push: planning-cost weight of the pusher's distance to its push point (problem_for_task)",
    )
    table.add_argument("--size-only", action="store_true", help="the MIP size / solve-time table only, no closed loop")
    table.add_argument("--train-only", action="store_true", help="train (or find) the models and stop")
    table.add_argument("--cache", default="/tmp/mipgraph/cache", help="folder of trained models")
    table.add_argument("--out", default=None, help="result file (default benchmarks/results/mpc_planners_<task>.json)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.task != "pwa":
        table_main(args)
        return
    pwa_defaults = {"episodes": 200, "hidden": "32,32", "train_steps": 2000, "sparsify_steps": 1500, "relu_budget": 8,
                    "horizon": 4, "loop_steps": 10}  # fmt: skip
    for key, value in pwa_defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)

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
