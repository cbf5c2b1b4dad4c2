"""``dynamics control`` / ``dynamics compare`` on the exact two-ReLU pwa network, through a test Typer app."""

import json

import pytest
import typer
from typer.testing import CliRunner

from sparse_dynamics.cli_control import register
from sparse_dynamics.tasks import make_task
from tests.sparse_dynamics.mpc.conftest import pwa_network

SUMMARY_KEYS = {
    "success_rate", "final_cost_mean", "final_cost_std", "step_seconds_median", "step_seconds_p95", "mip_gap_median",
}  # fmt: skip
TINY = ("--task", "pwa", "--episodes", "2", "--steps", "4", "--horizon", "3", "--threads", "1")
TINY_BASELINES = ("--mppi-samples", "16", "--mppi-iterations", "2", "--cem-samples", "16", "--cem-elites", "4",
                  "--cem-iterations", "2", "--gd-restarts", "2", "--gd-iterations", "3")  # fmt: skip


@pytest.fixture(scope="module")
def app():
    application = typer.Typer(rich_markup_mode=None)
    register(application)

    @application.command()
    def other() -> None:  # a second command, so that the command names are needed as in the real app
        """Nothing."""

    return application


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    return str(pwa_network(make_task("pwa")).save(tmp_path_factory.mktemp("net") / "compact_dynamics.npz"))


def _invoke(app, *args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _metrics(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _without_seconds(metrics):
    return {key: value for key, value in metrics.items() if "_seconds" not in key}


@pytest.mark.parametrize("planner", ["mip", "mppi"])
def test_control_runs_and_writes_metrics(app, network, tmp_path, planner):
    metrics = _metrics(
        _invoke(
            app,
            "control",
            "--planner",
            planner,
            "--model",
            network,
            *TINY,
            *TINY_BASELINES,
            "--json",
            "--out",
            tmp_path / "run",
        )
    )
    assert SUMMARY_KEYS <= set(metrics) and metrics["planner"] == planner and metrics["relus"] == 2
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == metrics
    assert sum(metrics["status_counts"].values()) == 2 * 4
    if planner == "mip":
        assert metrics["mip_gap_median"] is not None and metrics["fallback_steps"] == 0
    else:
        assert metrics["mip_gap_median"] is None


def test_control_replay_reproduces_metrics_and_config(app, network, tmp_path):
    first = _metrics(
        _invoke(app, "control", "--model", network, *TINY, "--mip-gap", "0", "--json", "--out", tmp_path / "a")
    )
    second = _metrics(
        _invoke(app, "control", "--config", tmp_path / "a" / "config.toml", "--json", "--out", tmp_path / "b")
    )
    assert _without_seconds(first) == _without_seconds(second)
    assert (tmp_path / "a" / "config.toml").read_text() == (tmp_path / "b" / "config.toml").read_text()
    assert 'network = "' in (tmp_path / "a" / "config.toml").read_text()


def test_compare_json_has_every_planner_and_key_and_writes_figures(app, network, tmp_path):
    folder = tmp_path / "cmp"
    metrics = _metrics(
        _invoke(
            app,
            "compare",
            "--model",
            network,
            "--dense-model",
            network,
            *TINY,
            *TINY_BASELINES,
            "--step-budget-seconds",
            "0",
            "--json",
            "--out",
            folder,
        )
    )
    assert set(metrics["planners"]) == {"mip_sparse", "mip_dense", "mppi", "cem", "gd"}
    for name, summary in metrics["planners"].items():
        assert SUMMARY_KEYS <= set(summary), name
        assert (summary["mip_gap_median"] is None) == (not name.startswith("mip"))
    assert metrics["relus"] == {"sparse": 2, "dense": 2}
    for file in ("planners.csv", "trajectories.png", "cost_over_time.png", "step_seconds.png"):
        assert (folder / file).stat().st_size > 0, file
    rows = (folder / "planners.csv").read_text().splitlines()
    assert rows[0].startswith("planner,success_rate") and len(rows) == 6


def test_compare_without_dense_network_names_mip_sparse(app, network, tmp_path):
    metrics = _metrics(
        _invoke(
            app,
            "compare",
            "--model",
            network,
            "--planners",
            "mip,mppi",
            *TINY,
            *TINY_BASELINES,
            "--step-budget-seconds",
            "0.05",
            "--json",
            "--out",
            tmp_path / "cmp",
        )
    )
    assert set(metrics["planners"]) == {"mip_sparse", "mppi"} and metrics["relus"] == {"sparse": 2}


@pytest.fixture(scope="module")
def graph_exports(tmp_path_factory):
    """Untrained one-ReLU-per-MLP graph models of sort and rope, exported as ``dynamics sparsify`` writes them."""
    import torch

    from sparse_dynamics.export import export_model, save_export
    from sparse_dynamics.models import make_model

    folders = {}
    for name in ("sort", "rope"):
        task = make_task(name)
        model = make_model(task, (1,), generator=torch.Generator().manual_seed(0))
        folders[name] = tmp_path_factory.mktemp(name)
        save_export(export_model(model, state_names=task.state_names, action_names=task.action_names), folders[name])
    return folders


@pytest.mark.parametrize("task", ["sort", "rope"])
def test_control_plans_on_a_graph_export_unrolled(app, graph_exports, tmp_path, task):
    from sparse_dynamics.mpc.graph import load_dynamics

    folder = graph_exports[task]
    args = ("--task", task, "--episodes", "1", "--steps", "2", "--horizon", "1", "--threads", "1", "--json")
    by_file = _metrics(_invoke(app, "control", "--model", folder / "compact_edge.npz", *args, "--out", tmp_path / "a"))
    by_folder = _metrics(_invoke(app, "control", "--model", folder, *args, "--out", tmp_path / "b"))
    assert by_file["task"] == task and by_file["relus"] == load_dynamics(folder).relu_count > 0
    assert by_file["status_counts"] == {"optimal": 2} and by_file["fallback_steps"] == 0
    assert _without_seconds(by_file) == _without_seconds(by_folder)


def test_compare_plans_on_a_graph_export(app, graph_exports, tmp_path):
    metrics = _metrics(
        _invoke(
            app, "compare", "--task", "sort", "--model", graph_exports["sort"] / "compact_node.npz",
            "--planners", "mip,mppi", "--episodes", "1", "--steps", "2", "--horizon", "1", "--threads", "1",
            *TINY_BASELINES, "--step-budget-seconds", "0", "--json", "--out", tmp_path / "cmp",
        )
    )  # fmt: skip
    assert set(metrics["planners"]) == {"mip_sparse", "mppi"} and metrics["task"] == "sort"
    assert (tmp_path / "cmp" / "trajectories.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("command", "args", "option"),
    [
        ("control", ("--episodes", "0"), "--episodes"),
        ("control", ("--planner", "lqr"), "--planner"),
        ("control", ("--mip-gap", "1.5"), "--mip-gap"),
        ("control", ("--cem-samples", "4", "--cem-elites", "8"), "--cem-elites"),
        ("compare", ("--planners", "mip,mip"), "--planners"),
        ("compare", ("--baseline-network", "dense"), "--baseline-network"),
        ("compare", ("--step-budget-seconds", "-1"), "--step-budget-seconds"),
    ],
)
def test_bad_settings_exit_2_naming_the_option(app, network, tmp_path, command, args, option):
    folder = tmp_path / "bad"
    result = CliRunner().invoke(app, [command, "--model", network, *args, "--out", str(folder)])
    assert result.exit_code == 2
    assert "error:" in result.stderr and option in result.stderr
    assert not folder.exists()


def test_a_missing_network_file_exits_2_and_leaves_no_folder(app, tmp_path):
    folder = tmp_path / "missing"
    result = CliRunner().invoke(app, ["control", "--model", str(tmp_path / "nope.npz"), *TINY, "--out", str(folder)])
    assert result.exit_code == 2 and "error:" in result.stderr and "nope" in result.stderr
    assert not folder.exists()
