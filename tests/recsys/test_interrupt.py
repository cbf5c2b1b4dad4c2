"""A training run killed (SIGKILL) or interrupted (Ctrl-C) mid-run, then rerun into the same folder.

The trainer checkpoints the best state (``best.pt``) and the per-epoch history
(``metrics.json``) at every validation, each written atomically; a rerun does not resume
but restarts from epoch 1, after removing what the killed run left (partial files, its
``best.pt`` and history).
"""

import json
import signal
import subprocess
import sys
import time
import tomllib

import pytest
import torch

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

COMMAND = [
    sys.executable,
    "-m",
    "sparseworks",
    "recsys",
    "topk",
    "--model",
    "mf",
    "--epochs",
    "40",
    "--threads",
    "1",
    "--json",
]


def start(out):
    return subprocess.Popen([*COMMAND, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(proc, folder, timeout=240):
    deadline = time.monotonic() + timeout
    while not (folder / "best.pt").exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.05)


def assert_files_complete(folder):
    """Every file of the run folder loads; a leftover of an interrupted atomic write is only ever a .part."""
    for path in folder.iterdir():
        if ".part" in path.name:
            assert path.name.startswith("."), path
            continue
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix == ".pt":
            state = torch.load(path, weights_only=True)
            assert state and all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())
        else:
            raise AssertionError(f"unexpected file {path.name}")


def assert_rerun_restarts_cleanly(folder):
    (folder / ".best.pt.deadbeef.part").write_bytes(b"half a checkpoint")  # as a kill mid-write leaves it
    (folder / ".metrics.json.cafe.part").write_text('{"epochs": [')
    done = subprocess.run([*COMMAND, "--out", str(folder)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not [p for p in folder.iterdir() if ".part" in p.name]
    assert_files_complete(folder)
    assert json.loads((folder / "run.json").read_text())["status"] == "complete"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics == json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["epochs"][0]["epoch"] == 1 and metrics["best_epoch"] >= 1  # a restart, not a resume
    assert "recall@20" in metrics


@pytest.mark.network  # MovieLens-100k, fetched on first use
def test_sigkill_after_the_first_checkpoint_then_rerun(tmp_path):
    folder = tmp_path / "run"
    proc = start(folder)
    wait_for_checkpoint(proc, folder)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert_files_complete(folder)
    assert json.loads((folder / "run.json").read_text())["status"] == "running"  # killed: nobody could mark it
    assert_rerun_restarts_cleanly(folder)


@pytest.mark.slow
@pytest.mark.network
def test_ctrl_c_marks_the_run_interrupted_then_rerun(tmp_path):
    folder = tmp_path / "run"
    proc = start(folder)
    wait_for_checkpoint(proc, folder)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert not [p for p in folder.iterdir() if ".part" in p.name]  # Ctrl-C unwinds: atomic writes clean up
    assert_files_complete(folder)
    assert json.loads((folder / "run.json").read_text())["status"] == "interrupted"
    assert_rerun_restarts_cleanly(folder)
