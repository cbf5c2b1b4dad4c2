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
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=300,
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
    assert completed.returncode == 2
    assert "error: unknown dataset 'mnist6k'" in completed.stderr and "mnist5k" in completed.stderr


def test_a_cache_that_is_a_file_is_an_error_not_a_traceback(tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    completed = sparseworks("data", "fetch", "mnist5k", env={"SPARSEWORKS_DATA": str(not_a_folder)}, check=False)
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("error: ") and str(not_a_folder) in completed.stderr
    assert "Traceback" not in completed.stderr


def test_info_and_data_list_report_a_cache_that_is_a_file(tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    env = {"SPARSEWORKS_DATA": str(not_a_folder)}
    listed = sparseworks("data", "list", "--json", env=env)
    assert "is a file, not a folder" in last_json(listed)["cache_problem"]
    assert "warning: the data cache" in listed.stderr
    info = sparseworks("info", "--json", env=env)
    assert "is a file, not a folder" in last_json(info)["cache_problem"]


@pytest.mark.network
def test_data_list_verify_rehashes_and_names_a_damaged_file(tmp_path):
    import shutil

    from sparse_core.infra import io

    cache = tmp_path / "cache"
    io.fetch("mnist5k", cache=cache)
    index = json.loads((cache / "index.json").read_text())
    relative = next(iter(index["mnist5k"]["files"]))
    target = cache / "mnist5k" / relative
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    env = {"SPARSEWORKS_DATA": str(cache)}
    trusting = last_json(sparseworks("data", "list", "--json", env=env))["datasets"]["mnist5k"]
    verified = last_json(sparseworks("data", "list", "--verify", "--json", env=env))["datasets"]["mnist5k"]
    assert trusting["fetched"] is True
    assert verified["fetched"] is False and verified["problem"] == f"altered: {relative}"
    shutil.rmtree(cache)


def test_an_offline_fetch_is_an_error_not_a_traceback(tmp_path):
    offline = {
        "SPARSEWORKS_DATA": str(tmp_path / "cache"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "",
        "PIP_CONFIG_FILE": os.devnull,
    }
    completed = sparseworks("data", "fetch", "mnist5k", env=offline, check=False)
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("error: pip could not download") and "SPARSEWORKS_DATA" in completed.stderr
    assert "Traceback" not in completed.stderr


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


FAKE_STAGE = """
import struct, zlib


def png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\\x00" + b"\\xff\\x00\\x00" * 2 + b"\\x00" + b"\\x00\\x00\\xff" * 2)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def run_demo(folder, seed, progress):
    folder.mkdir(parents=True)
    (folder / "plot.png").write_bytes(png())
    figures = [{"path": "plot.png", "caption": "accuracy <vs> sparsity"}]
    if seed == 13:
        figures.append({"path": "never_written.png", "caption": "lost"})
    return {"summary": "fake ok", "title": "fake stage", "paragraph": "ran <b>nothing</b> & more",
            "key_numbers": {"accuracy": 0.91234, "weights": 26620}, "figures": figures}
"""


@pytest.fixture
def fake_stage(tmp_path, monkeypatch):
    from sparseworks import cli

    (tmp_path / "fake_report_stage.py").write_text(FAKE_STAGE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "DEMO_STAGES", {"fake": "fake_report_stage"})
    return cli


def test_demo_writes_a_self_contained_report(tmp_path, fake_stage):
    from typer.testing import CliRunner

    out = tmp_path / "run"
    result = CliRunner().invoke(fake_stage.build_app(), ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = out / "report.html"
    assert f"report: open {report} in a browser" in result.output
    text = report.read_text()
    assert text.count('<img src="data:image/png;base64,') == 1 and "http://" not in text and "https://" not in text
    assert "fake stage" in text and "ran &lt;b&gt;nothing&lt;/b&gt; &amp; more" in text
    assert "accuracy &lt;vs&gt; sparsity" in text and "0.9123" in text and "26,620" in text
    assert json.loads((out / "metrics.json").read_text())["report"] == "report.html"


def test_demo_with_a_missing_figure_names_it_and_leaves_no_folder(tmp_path, fake_stage):
    from typer.testing import CliRunner

    out = tmp_path / "run"
    result = CliRunner().invoke(fake_stage.build_app(), ["demo", "--seed", "13", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "error: " in result.output and "never_written.png" in result.output
    assert not out.exists()
