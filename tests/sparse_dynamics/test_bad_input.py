"""Bad input of every kind through the real command line: one clear line, exit 2, nothing left behind.

Each case runs ``python -m sparseworks dynamics ...`` and asserts exit code 2, ``error:``
on standard error naming the option / field / file, no traceback, and no run folder
(or, for a folder that existed, no half-written file and ``run.json`` marked failed).
Most cases fail while the settings are checked, before torch is imported, so they are
fast. The interruption tests stop a running command (Ctrl-C, then kill -9) and rerun it
into the same folder.
"""

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import tomllib

import numpy as np
import pytest
import torch

from sparse_core.activation_gates import IDENTITY, RELU
from sparse_dynamics.config import CollectConfig
from sparse_dynamics.data import collect, load_dataset, save_dataset
from sparse_dynamics.export import export_model
from sparse_dynamics.models import make_model, save_model
from sparse_dynamics.tasks import make_task

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _run(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "sparseworks", "dynamics", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
    )


def _assert_refused(result, *needles):
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "error:" in result.stderr.lower(), result.stderr[-3000:]
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr[-3000:])


def _no_part_files(folder):
    return [p for p in folder.rglob("*") if ".part" in p.name] == []


# --------------------------------------------------------------------------- files given to the commands


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A valid pwa dataset and model, and broken variants of each, by name."""
    root = tmp_path_factory.mktemp("inputs")
    good = collect(make_task("pwa"), CollectConfig(episodes=10, steps=4, seed=0))
    paths = {"data": save_dataset(good, root / "good" / "dataset.npz")}
    description = paths["data"].with_suffix(".json").read_text()

    def dataset(name, states=None, actions=None, npz_bytes=None, json_text=description):
        folder = root / name
        folder.mkdir()
        if npz_bytes is None:
            np.savez(
                folder / "dataset.npz",
                states=good.states if states is None else states,
                actions=good.actions if actions is None else actions,
            )
        else:
            (folder / "dataset.npz").write_bytes(npz_bytes)
        if json_text is not None:
            (folder / "dataset.json").write_text(json_text)
        paths[name] = folder / "dataset.npz"

    valid = paths["data"].read_bytes()
    with_nan = good.states.copy()
    with_nan[2, 1, 0] = np.nan
    with_inf = good.actions.copy()
    with_inf[0, 0, 1] = np.inf
    described = json.loads(description)
    dataset("empty", npz_bytes=b"")
    dataset("truncated", npz_bytes=valid[: len(valid) // 2])
    dataset("corrupt_json", json_text=description[:40] + "}{")
    dataset("nan", states=with_nan)
    dataset("inf", actions=with_inf)
    dataset("wrong_shape", states=np.zeros((10, 5, 3)))
    dataset(
        "few_episodes",
        states=good.states[:3],
        actions=good.actions[:3],
        json_text=json.dumps({**described, "episodes": 3}),
    )
    dataset("standing_still", states=np.ones_like(good.states))
    dataset("no_description", json_text=None)
    dataset("other_format", json_text=json.dumps({**described, "format": "numpy"}))
    dataset("bad_task_options", json_text=json.dumps({**described, "task_options": {"action_bound": -1.0}}))
    dataset("broken_gzip", npz_bytes=gzip.compress(valid)[:300])
    dataset("gzipped", npz_bytes=gzip.compress(valid))

    model = make_model(make_task("pwa"), (8, 8), generator=torch.Generator().manual_seed(0))
    paths["model"] = save_model(model, root / "model.pt", task="pwa")
    push_model = make_model(make_task("push"), (8, 8), generator=torch.Generator().manual_seed(0))
    paths["push_model"] = save_model(push_model, root / "push_model.pt", task="push")
    gated = make_model(make_task("pwa"), (8, 8), gated=True, generator=torch.Generator().manual_seed(0))
    for activation in gated.net.activations:
        activation.harden(torch.tensor([IDENTITY, RELU] * 4))
    paths["gated_model"] = save_model(gated, root / "gated.pt", task="pwa")
    paths["model_data"] = paths["model"]  # a model given as --data
    raw = paths["model"].read_bytes()
    (root / "empty.pt").write_bytes(b"")
    (root / "truncated.pt").write_bytes(raw[: len(raw) - 200])
    saved = torch.load(paths["model"], weights_only=True)
    saved["state_dict"]["net.linears.0.weight"][0, 0] = float("nan")
    torch.save(saved, root / "nan.pt")
    compact = export_model(model)["dynamics"].save(root / "compact_dynamics.npz")
    paths.update(
        empty_model=root / "empty.pt",
        truncated_model=root / "truncated.pt",
        nan_model=root / "nan.pt",
        compact_model=compact,
        dataset_model=paths["data"],
    )  # .npz files given as --model
    (root / "not_a_file").write_text("x")
    paths["file"] = root / "not_a_file"
    return paths


# --------------------------------------------------------------------------- settings


SETTING_CASES = [
    (("collect", "--episodes", "0"), "--episodes"),
    (("collect", "--episodes", "abc"), "'--episodes'"),
    (("collect", "--steps", "0"), "--steps"),
    (("collect", "--scripted-fraction", "nan"), "--scripted-fraction"),
    (("collect", "--scripted-fraction", "inf"), "--scripted-fraction"),
    (("collect", "--task", "cartpole"), "--task"),
    (("collect", "--steps", "5", "--frames", "50"), "--frames"),
    (("collect", "--episodes", "1000000", "--steps", "100"), "--episodes"),
    (("train", "--hidden", "8,x"), "--hidden"),
    (("train", "--hidden", ""), "--hidden"),
    (("train", "--hidden", "0,8"), "--hidden"),
    (("train", "--hidden", "100000"), "--hidden"),
    (("train", "--train-steps", "-1"), "--train-steps"),
    (("train", "--rollout-steps", "0"), "--rollout-steps"),
    (("train", "--task", "pwa", "--steps", "3", "--rollout-steps", "4"), "--rollout-steps"),
    (("train", "--task", "pwa", "--episodes", "5"), "--episodes"),
    (("sparsify",), "--relu-budget"),
    (("sparsify", "--relu-budget", "-1"), "--relu-budget"),
    (("sparsify", "--relu-budget", "17", "--hidden", "8,8"), "--relu-budget"),
    (("sparsify", "--relu-budget", "2", "--sparsify-steps", "0"), "--sparsify-steps"),
    (("pareto", "--hidden", "8,8", "--budgets", "4,4"), "--budgets"),
    (("pareto", "--hidden", "8,8", "--budgets", "500"), "--budgets"),
    (("pareto", "--budgets", ""), "--budgets"),
    (("pareto", "--budgets", "4,a"), "--budgets"),
]


@pytest.mark.parametrize(("args", "option"), SETTING_CASES, ids=[" ".join(a) for a, _ in SETTING_CASES])
def test_a_bad_setting_is_refused_naming_the_option(tmp_path, args, option):
    _assert_refused(_run(*args, "--out", tmp_path / "run"), option)
    assert not (tmp_path / "run").exists()


CONFIG_FILES = {
    "missing": (None, "missing.toml"),
    "binary": (b"\x00\xff\xfe", "not a text"),
    "not_toml": (b"[[[ episodes = ", "not valid TOML"),
    "unknown_key": (b"colour = 'red'\n", "unknown key"),
    "another_command": (b"task = 'pwa'\nframes = 2\n[collect]\nepisodes = 10\n", "unknown key"),
    "wrong_type": (b"[source.collect]\nepisodes = 'ten'\n", "--episodes"),
    "zero_learning_rate": (b"[dense.train]\nlearning_rate = 0.0\n", "TrainConfig.learning_rate"),
    "negative_seed": (b"[run]\nseed = -3\n", "seed"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_FILES))
def test_a_bad_config_file_is_refused_naming_it(tmp_path, case):
    content, needle = CONFIG_FILES[case]
    path = tmp_path / "missing.toml" if content is None else tmp_path / f"{case}.toml"
    if content is not None:
        path.write_bytes(content)
    _assert_refused(_run("train", "--config", path, "--out", tmp_path / "run"), needle)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_an_unusable_out_folder_is_refused(files, where):
    out = files["file"] if where == "file" else files["file"] / "sub"
    _assert_refused(_run("collect", "--task", "pwa", "--episodes", "3", "--steps", "2", "--out", out), str(out))
    assert files["file"].read_text() == "x"


# --------------------------------------------------------------------------- input files


DATA_CASES = {
    "missing": ("not found",),
    "empty": ("the file is empty",),
    "truncated": ("dataset.npz",),
    "corrupt_json": ("dataset.json: not valid JSON",),
    "nan": ("field 'states': expected finite values",),
    "inf": ("field 'actions': expected finite values",),
    "wrong_shape": ("field 'states': expected shape (episodes, steps + 1, 2)",),
    "few_episodes": ("--data", "too few to split"),
    "standing_still": ("no transition changes the state",),
    "no_description": ("dataset.json not found",),
    "other_format": ("field 'format'",),
    "bad_task_options": ("field 'task_options'", "action_bound"),
    "broken_gzip": ("gzip-compressed file that does not decompress",),
    "model_data": ("a torch model file, not a dataset",),
    "wrong_task": ("--task", "of task 'pwa', not 'push'"),
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_a_bad_data_file_is_refused_naming_it(tmp_path, files, case):
    if case == "missing":
        data, task = tmp_path / "nothing.npz", "pwa"
    else:
        data, task = files["data" if case == "wrong_task" else case], "push" if case == "wrong_task" else "pwa"
    result = _run(
        "train", "--task", task, "--data", data, "--hidden", "8", "--train-steps", "1", "--out", tmp_path / "run"
    )
    _assert_refused(result, *DATA_CASES[case])
    assert str(data.parent) in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_gzipped_dataset_is_read_whatever_its_name(files):
    assert load_dataset(files["gzipped"]).episodes == 10
    result = _run("train", "--task", "pwa", "--data", files["gzipped"], "--print-config")
    assert result.returncode == 0, result.stderr[-2000:]


MODEL_CASES = {
    "missing": "not found",
    "empty_model": "the file is empty",
    "truncated_model": "truncated.pt",
    "nan_model": "field 'state_dict.net.linears.0.weight': expected finite values",
    "compact_model": "a numpy archive",
    "dataset_model": "a numpy archive",
    "push_model": "--model: SparsifyRunConfig.model",
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_a_bad_model_file_is_refused_naming_it(tmp_path, files, case):
    model = tmp_path / "nothing.pt" if case == "missing" else files[case]
    args = ["--task", "pwa", "--data", files["data"], "--model", model, "--relu-budget", "2"]
    result = _run("sparsify", *args, "--out", tmp_path / "run")
    _assert_refused(result, MODEL_CASES[case], model.name)
    assert not (tmp_path / "run").exists()


def test_a_sparsified_model_fails_the_run_and_marks_the_existing_folder_failed(tmp_path, files):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    args = ["--task", "pwa", "--data", files["data"], "--model", files["gated_model"], "--relu-budget", "2"]
    result = _run("sparsify", *args, "--sparsify-steps", "1", "--finetune-steps", "0", "--out", out)
    _assert_refused(result, "gated.pt: not a dense model")
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    assert (out / "notes.txt").read_text() == "kept"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "run.json"]  # its config.toml was taken back


# --------------------------------------------------------------------------- interruptions


def _start(out, steps):
    command = [
        sys.executable,
        "-m",
        "sparseworks",
        "dynamics",
        "train",
        "--task",
        "pwa",
        "--episodes",
        "10",
        "--steps",
        "4",
        "--hidden",
        "8",
        "--train-steps",
        str(steps),
        "--json",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _wait_until_training(folder, process, started, seconds=90):
    """Waits until this launch has written its dataset (so training runs), then a little more."""
    deadline = time.monotonic() + seconds
    dataset = folder / "dataset.json"
    while not (dataset.exists() and dataset.stat().st_mtime >= started):
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f"{dataset} was not written"
        time.sleep(0.05)
    time.sleep(0.3)


def _assert_complete_or_absent(folder):
    assert _no_part_files(folder), sorted(p.name for p in folder.rglob("*"))
    tomllib.loads((folder / "config.toml").read_text())
    json.loads((folder / "run.json").read_text())
    if (folder / "dataset.npz").exists():
        assert load_dataset(folder / "dataset.npz").episodes == 10


def test_an_interrupted_or_killed_run_leaves_complete_files_and_reruns_cleanly(tmp_path):
    out = tmp_path / "run"
    started = time.time()
    process = _start(out, 10**6)
    _wait_until_training(out, process, started)
    process.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    _assert_complete_or_absent(out)

    started = time.time()
    process = _start(out, 10**6)  # into the same folder, then kill -9
    _wait_until_training(out, process, started)
    process.kill()
    process.communicate(timeout=60)
    _assert_complete_or_absent(out)
    assert json.loads((out / "run.json").read_text())["status"] == "running"  # what a killed run leaves

    leftover = out / ".model.pt.x1y2.part"  # what a kill during a write would leave
    leftover.write_bytes(b"half")
    process = _start(out, 5)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert json.loads(stdout.strip().splitlines()[-1])["model_path"] == "model.pt"
    assert not leftover.exists() and _no_part_files(out)
    _assert_complete_or_absent(out)


def test_training_whose_loss_stops_being_finite_is_an_error():
    from sparse_core.infra.errors import ConfigError
    from sparse_dynamics.config import TrainConfig
    from sparse_dynamics.training import fit

    data = collect(make_task("pwa"), CollectConfig(episodes=4, steps=3, seed=0))
    model = make_model(make_task("pwa"), (4,), generator=torch.Generator().manual_seed(0))
    model.delta_mean.fill_(float("nan"))  # as if the weights had blown up
    with pytest.raises(ConfigError, match="training diverged"):
        fit(model, data, TrainConfig(steps=3, batch_size=4), torch.Generator().manual_seed(0))
