"""The umbrella command line: fast help, data commands, demo, the --json convention."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparseworks.cli import APPLICATIONS

REPO = Path(__file__).resolve().parents[2]


def sparseworks(*args, env=None, check=True):
    completed = subprocess.run(
        [sys.executable, "-m", "sparseworks", *args],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, **(env or {})}, timeout=300,
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def last_json(completed):
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_help_imports_no_heavy_package():
    code = (
        "import sys\n"
        "from sparseworks.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'torch_geometric', 'pyomo', 'shap', 'xarray', 'numpy',\n"
        "                     'memory', 'blocking', 'recsys', 'sparse_dynamics') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert "HEAVY []" in completed.stdout, completed.stdout + completed.stderr
    assert "data" in completed.stdout and "demo" in completed.stdout


def test_every_installed_application_is_listed_without_being_imported():
    help_text = sparseworks("--help").stdout.split("Commands:")[1]
    from sparseworks.cli import _available

    for name, (module, _) in APPLICATIONS.items():
        assert (name in help_text) == _available(module)


def test_data_list_json_names_every_source():
    listing = last_json(sparseworks("data", "list", "--json"))
    assert {"qg3", "ml100k", "mnist5k", "basicmotions", "digits", "era5"} <= set(listing["datasets"])
    assert listing["datasets"]["digits"]["kind"] == "builtin"


@pytest.mark.network
def test_data_fetch_twice_fetches_once_and_says_so(tmp_path):
    env = {"SPARSEWORKS_DATA": str(tmp_path)}
    first = last_json(sparseworks("data", "fetch", "mnist5k", "--json", env=env))
    assert first["downloaded"] == ["mnist5k"] and first["cache_dir"] == str(tmp_path)
    second = sparseworks("data", "fetch", "mnist5k", "--json", env=env)
    assert last_json(second)["downloaded"] == [] and last_json(second)["cached"] == ["mnist5k"]
    assert "nothing fetched" in second.stdout


def test_data_fetch_unknown_name_fails_with_the_known_names(tmp_path):
    completed = sparseworks("data", "fetch", "mnist6k", env={"SPARSEWORKS_DATA": str(tmp_path)}, check=False)
    assert completed.returncode == 1
    assert "unknown dataset 'mnist6k'" in completed.stderr and "mnist5k" in completed.stderr


def test_data_fetch_needs_names_or_all():
    completed = sparseworks("data", "fetch", check=False)
    assert completed.returncode == 2 and "--all" in completed.stderr


def test_info_json_reports_cache_and_threads():
    report = last_json(sparseworks("info", "--json"))
    assert report["threads"] >= 1 and report["cache_dir"]
    assert report["device"] in ("cpu", "cuda")
    assert set(report["datasets"]) >= {"mnist5k", "qg3"}


def test_demo_with_unknown_stage_is_an_error(tmp_path):
    completed = sparseworks("demo", "--only", "nope", "--out", str(tmp_path), check=False)
    assert completed.returncode == 2 and "unknown stage" in completed.stderr


def test_demo_runs_each_stage_and_writes_metrics(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from sparseworks import cli

    (tmp_path / "fake_stage.py").write_text(
        "def run_demo(folder, seed, progress):\n"
        "    folder.mkdir(parents=True)\n"
        "    return {'summary': 'fake ok', 'seed_seen': seed}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "DEMO_STAGES", {"fake": "fake_stage", "absent": "no_such_module_xyz"})
    out = tmp_path / "run"
    result = CliRunner().invoke(cli.build_app(), ["demo", "--json", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["stages"]["fake"]["seed_seen"] == 5 and "absent" not in metrics["stages"]
    assert metrics == json.loads((out / "metrics.json").read_text())
    assert (out / "fake").is_dir()
    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "demo" and run["seed"] == 5
