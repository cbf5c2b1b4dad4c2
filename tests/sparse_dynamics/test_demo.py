import pytest

import sparse_dynamics
from sparse_dynamics.demo import closed_loop_demo, run_demo
from sparse_dynamics.tasks import make_task
from tests.sparse_dynamics.mpc.conftest import pwa_network


@pytest.mark.slow
def test_demo_runs_and_reports(tmp_path):
    metrics = run_demo(tmp_path, seed=0)
    assert metrics["relus"] <= 4 and metrics["compact_max_abs_diff"] <= 1e-6
    assert "pwa" in metrics["summary"] and (tmp_path / "compact_dynamics.json").exists()
    assert metrics["small_dense_hidden"] == [2, 2] and metrics["small_dense"]["rollout10_error"] > 0
    assert metrics["paragraph"] and metrics["key_numbers"]
    assert len(metrics["figures"]) == 4 and "MIP-MPC" in metrics["summary"]
    for figure in metrics["figures"]:
        assert (tmp_path / figure["path"]).read_bytes().startswith(b"\x89PNG") and figure["caption"]
    control = metrics["control"]
    assert control["relus"] == metrics["relus"] and set(control["planners"]) == {"exact", "mip", "mppi"}
    assert control["planners"]["mip"]["status_counts"] == {"optimal": control["episodes"] * control["steps"]}
    assert 0.0 <= control["open_loop_gap"]["mip"]["mean"] < 0.1  # the learned network is close to the true system


def test_closed_loop_demo_on_the_exact_network_reaches_the_exact_optimum(tmp_path):
    task = make_task("pwa")
    result = closed_loop_demo(task, pwa_network(task), tmp_path, seed=0, episodes=2, steps=3, horizon=2,
                              mppi_samples=32)  # fmt: skip
    # the MIP plans on the true dynamics (two ReLUs) with gap 0: its first plan is the exact optimum
    assert result["open_loop_gap"]["mip"]["max"] == pytest.approx(0.0, abs=1e-6)
    assert result["open_loop_gap"]["mppi"]["mean"] >= 0.0  # nothing beats the exact optimum
    assert result["relus"] == 2 and result["episodes"] == 2 and result["steps"] == 3
    assert {summary["status_counts"].get("optimal", 0) for summary in result["planners"].values()} >= {6}
    assert sorted(f["path"] for f in result["figures"]) == [
        "mpc_cost_over_time.png", "mpc_step_seconds.png", "mpc_trajectories.png",
    ]  # fmt: skip
    for figure in result["figures"]:
        assert (tmp_path / figure["path"]).read_bytes().startswith(b"\x89PNG") and figure["caption"]
    assert all(isinstance(value, float) for value in result["key_numbers"].values())


def test_public_names_resolve():
    for name in sparse_dynamics.__all__:
        assert getattr(sparse_dynamics, name) is not None
