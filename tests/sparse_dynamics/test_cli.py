import json
import os
import subprocess
import sys

import numpy as np
import pytest

TINY_TRAINING = ("--hidden", "8,8", "--train-steps", "20", "--sparsify-steps", "20", "--finetune-steps", "5")


def _run(*args, check=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "sparseworks", "dynamics", *args], capture_output=True, text=True, env=env
    )
    if check:
        assert result.returncode == 0, result.stderr[-2000:]
    return result


def _last_json(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pwa_dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    metrics = _last_json(
        _run(
            "collect",
            "--task",
            "pwa",
            "--episodes",
            "12",
            "--steps",
            "10",
            "--frames",
            "3",
            "--json",
            "--out",
            str(folder),
        )
    )
    assert metrics["transitions"] == 120 and len(list((folder / "frames").glob("*.png"))) == 3
    return folder / metrics["dataset"]


def test_collect_train_sparsify_chain(tmp_path, pwa_dataset):
    trained = _last_json(
        _run(
            "train",
            "--task",
            "pwa",
            "--data",
            str(pwa_dataset),
            "--hidden",
            "8,8",
            "--train-steps",
            "30",
            "--json",
            "--out",
            str(tmp_path / "train"),
            "--threads",
            "1",
        )
    )
    assert trained["relus"] == 16 and np.isfinite(trained["rollout10_error"])
    model = tmp_path / "train" / trained["model_path"]
    sparse = _last_json(
        _run(
            "sparsify",
            "--task",
            "pwa",
            "--data",
            str(pwa_dataset),
            "--model",
            str(model),
            "--relu-budget",
            "3",
            "--sparsify-steps",
            "20",
            "--finetune-steps",
            "5",
            "--json",
            "--out",
            str(tmp_path / "sparse"),
            "--threads",
            "1",
        )
    )
    assert sparse["relu_counts"][0] <= 3 and sparse["compact_max_abs_diff"] <= 1e-6
    assert (tmp_path / "sparse" / sparse["compact_files"]["dynamics"]).exists()
    # the hidden widths actually used are the model's, and config.toml records them
    assert (
        sparse["hidden"] == [8, 8]
        and "hidden = [\n    8,\n    8,\n]" in (tmp_path / "sparse" / "config.toml").read_text()
    )
    disagreeing = _run(
        "sparsify",
        "--task",
        "pwa",
        "--data",
        str(pwa_dataset),
        "--model",
        str(model),
        "--relu-budget",
        "3",
        "--hidden",
        "64,64",
        "--out",
        str(tmp_path / "disagree"),
        check=False,
    )
    assert disagreeing.returncode == 2 and "error: --hidden: " in disagreeing.stderr
    assert "disagrees with the model" in disagreeing.stderr and not (tmp_path / "disagree").exists()


def test_pareto_point_equals_sparsify_at_the_same_budget(tmp_path, pwa_dataset):
    common = ("--task", "pwa", "--data", str(pwa_dataset), *TINY_TRAINING, "--json", "--threads", "1")
    pareto = _last_json(_run("pareto", *common, "--budgets", "4,2", "--out", str(tmp_path / "pareto")))
    for key in ("budgets", "one_step_error", "rollout10_error", "small_dense_rollout10_error"):
        assert len(pareto[key]) == 2 if key != "budgets" else pareto[key] == [4, 2]
    assert (tmp_path / "pareto" / "pareto.png").exists() and (tmp_path / "pareto" / "pareto.csv").exists()
    sparse = _last_json(_run("sparsify", *common, "--relu-budget", "2", "--out", str(tmp_path / "sparse")))
    assert sparse["dense_one_step_error"] == pareto["dense_one_step_error"]  # the same dense model
    assert sparse["relu_counts"] == pareto["relu_counts"][1]  # and the same sparsified network
    assert sparse["one_step_error"] == pareto["one_step_error"][1]
    assert sparse["rollout10_error"] == pareto["rollout10_error"][1]


def test_collect_replays_bit_for_bit(tmp_path):
    first = _run(
        "collect",
        "--task",
        "pwa",
        "--episodes",
        "4",
        "--steps",
        "5",
        "--seed",
        "3",
        "--json",
        "--out",
        str(tmp_path / "A"),
    )
    second = _run("collect", "--config", str(tmp_path / "A" / "config.toml"), "--json", "--out", str(tmp_path / "B"))
    assert _last_json(first) == _last_json(second)
    a, b = tmp_path / "A", tmp_path / "B"
    assert (b / "metrics.json").read_bytes() == (a / "metrics.json").read_bytes()
    assert (b / "config.toml").read_text() == (a / "config.toml").read_text()
    assert "seed = 3" in (b / "config.toml").read_text()
    with np.load(a / "dataset.npz") as left, np.load(b / "dataset.npz") as right:
        assert sorted(left.files) == sorted(right.files) == ["actions", "states"]
        for name in left.files:
            assert np.array_equal(left[name], right[name])


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("pareto", "--budgets", "500", "--hidden", "8,8"), "--budgets"),
        (("sparsify", "--relu-budget", "17", "--hidden", "8,8"), "--relu-budget"),
        (("train", "--task", "pwa", "--episodes", "5"), "--episodes"),
        (("train", "--task", "pwa", "--steps", "3", "--rollout-steps", "4"), "--rollout-steps"),
        (("collect", "--task", "cartpole"), "--task"),
        (("collect", "--scripted-fraction", "1.5"), "--scripted-fraction"),
    ],
)
def test_bad_setting_exits_2_naming_the_option_and_leaves_no_folder(tmp_path, args, option):
    result = _run(*args, "--out", str(tmp_path / "run"), check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"error: {option}" in result.stderr
    assert not (tmp_path / "run").exists()


def test_bad_dataset_is_rejected_with_a_clear_message(tmp_path):
    states = np.zeros((5, 4, 2))
    states[1, 1, 0] = np.nan
    np.savez(tmp_path / "bad.npz", states=states, actions=np.zeros((5, 3, 2)))
    description = {"format": "sparseworks.dynamics.dataset/1", "task": "pwa", "task_options": {}}
    (tmp_path / "bad.json").write_text(json.dumps(description))
    result = _run(
        "train", "--task", "pwa", "--data", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "run"), check=False
    )
    assert result.returncode == 2
    assert "bad.npz: field 'states': expected finite values" in result.stderr
    assert not (tmp_path / "run").exists()
