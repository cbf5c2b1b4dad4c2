"""Closed loop against the true simulator, the comparison summary and the configs."""

import subprocess
import sys

import numpy as np
import pytest

from sparse_core.infra.errors import ConfigError, InputError
from sparse_dynamics.mpc.closed_loop import (
    compare_planners,
    episode_specs,
    evaluate_planners,
    load_network,
    run_episode,
)
from sparse_dynamics.mpc.config import (
    CEMConfig,
    ClosedLoopConfig,
    ComparisonConfig,
    GradientConfig,
    MIPConfig,
    MPPIConfig,
    ProblemConfig,
)
from sparse_dynamics.mpc.controller import MIPController
from sparse_dynamics.mpc.oracle import ExactPWAPlanner
from sparse_dynamics.mpc.planners import make_planner
from tests.sparse_dynamics.mpc.conftest import pwa_network, pwa_problem

SUMMARY_KEYS = {
    "success_rate",
    "final_cost_mean",
    "final_cost_std",
    "step_seconds_median",
    "step_seconds_p95",
    "mip_gap_median",
}


def test_mip_on_the_exact_network_matches_the_exact_controller_in_closed_loop():
    task, problem = pwa_problem(horizon=3)
    mip = MIPController(pwa_network(task), problem, MIPConfig(mip_gap=0.0, time_limit_seconds=30.0))
    exact = ExactPWAPlanner(task, problem)
    goal = np.array([0.5, -0.5])
    results = [run_episode(task, planner, 3, goal, 6) for planner in (mip, exact)]
    for result in results:
        assert result.states.shape == (7, 2) and result.actions.shape == (6, 2) and len(result.statuses) == 6
        assert result.costs[-1] < result.costs[0]
    assert results[0].statuses == ["optimal"] * 6
    assert results[0].total_cost == pytest.approx(results[1].total_cost, rel=1e-4)


def test_evaluate_planners_summarises_each_planner_on_the_same_episodes():
    task, problem = pwa_problem(horizon=3)
    network = pwa_network(task)
    planners = {
        "mip": make_planner("mip", network, problem),
        "mppi": make_planner("mppi", network, problem, MPPIConfig(samples=32, iterations=2)),
        "cem": make_planner("cem", network, problem, CEMConfig(samples=32, elites=4, iterations=2)),
        "gd": make_planner("gd", network, problem, GradientConfig(restarts=2, iterations=5)),
    }
    episodes = episode_specs(task, ClosedLoopConfig(episodes=2, steps=3))
    assert [seed for seed, _ in episodes] == [seed for seed, _ in episode_specs(task, ClosedLoopConfig(episodes=2))]
    metrics = evaluate_planners(task, planners, episodes, 3)
    assert metrics["episodes"] == 2 and set(metrics["planners"]) == set(planners)
    for name, summary in metrics["planners"].items():
        assert SUMMARY_KEYS <= set(summary)
        assert 0.0 <= summary["success_rate"] <= 1.0
        assert (summary["mip_gap_median"] is None) == (name != "mip")


def test_compare_planners_reads_a_saved_network(tmp_path):
    task, _ = pwa_problem()
    path = pwa_network(task).save(tmp_path / "compact_dynamics.npz")
    config = ComparisonConfig(
        network=str(path),
        planners=("mip", "mppi"),
        step_budget_seconds=0.2,
        loop=ClosedLoopConfig(episodes=1, steps=2),
        problem=ProblemConfig(horizon=2),
    )
    assert config.planner_configs()["mip"].time_limit_seconds == 0.2
    assert config.planner_configs()["mppi"].time_budget_seconds == 0.2
    metrics = compare_planners(config)
    assert metrics["relus"] == {"sparse": 2} and set(metrics["planners"]) == {"mip_sparse", "mppi"}
    assert metrics["episodes"] == 1 and metrics["steps"] == 2 and metrics["step_budget_seconds"] == 0.2
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    (tmp_path / "bad.npz").write_bytes(b"")
    with pytest.raises(InputError, match="bad"):
        load_network(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError):
        load_network(tmp_path / "missing.npz")


def test_configs_reject_settings_without_meaning():
    with pytest.raises(ConfigError):
        CEMConfig(samples=8, elites=9)
    with pytest.raises(ConfigError):
        ComparisonConfig(network="x.npz", planners=("mip", "mip"))
    with pytest.raises(ConfigError):
        ComparisonConfig(network="")
    with pytest.raises(ConfigError, match="--dense-model"):
        ComparisonConfig(network="x.npz", baseline_network="dense")
    with pytest.raises(ConfigError, match="no planner would use it"):
        ComparisonConfig(network="x.npz", dense_network="d.npz", planners=("mppi",))
    with pytest.raises(ConfigError):
        ProblemConfig(horizon=0)
    with pytest.raises(ConfigError):
        ProblemConfig(cost="huber")
    with pytest.raises(ConfigError):
        MIPConfig(time_limit_seconds=0.0)


def test_the_exact_planner_refuses_another_cost():
    task, problem = pwa_problem(horizon=3, rate_limit=0.5)
    with pytest.raises(ConfigError):
        ExactPWAPlanner(task, problem)


def test_the_config_module_imports_neither_torch_nor_pyomo():
    code = (
        "import sys, sparse_dynamics.mpc, sparse_dynamics.mpc.config; "
        "print(sorted(m for m in ('torch', 'pyomo', 'highspy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
