import json
import os
import subprocess
import sys

import numpy as np


def _run(*args, check=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-m", "sparseworks", "dynamics", *args], capture_output=True, text=True, env=env)
    if check:
        assert result.returncode == 0, result.stderr[-2000:]
    return result


def _last_json(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_collect_train_sparsify_chain(tmp_path):
    data = _last_json(_run("collect", "--task", "pwa", "--episodes", "12", "--steps", "10", "--frames", "3",
                           "--json", "--out", str(tmp_path / "data")))
    assert data["transitions"] == 120 and len(list((tmp_path / "data" / "frames").glob("*.png"))) == 3
    trained = _last_json(_run("train", "--task", "pwa", "--data", data["dataset"], "--hidden", "8,8", "--train-steps", "30",
                              "--json", "--out", str(tmp_path / "train"), "--threads", "1"))
    assert trained["relus"] == 16 and np.isfinite(trained["rollout10_error"])
    sparse = _last_json(_run("sparsify", "--task", "pwa", "--data", data["dataset"], "--model", trained["model_path"],
                             "--relu-budget", "3", "--sparsify-steps", "20", "--finetune-steps", "5",
                             "--json", "--out", str(tmp_path / "sparse"), "--threads", "1"))
    assert sparse["relu_counts"][0] <= 3 and sparse["compact_max_abs_diff"] <= 1e-6
    assert (tmp_path / "sparse" / "compact_dynamics.npz").exists() and (tmp_path / "sparse" / "metrics.json").exists()


def test_pareto_json_has_the_issue_keys(tmp_path):
    result = _last_json(_run("pareto", "--task", "pwa", "--episodes", "12", "--steps", "10", "--hidden", "8,8",
                             "--budgets", "4,2", "--train-steps", "20", "--sparsify-steps", "20", "--finetune-steps", "5",
                             "--json", "--out", str(tmp_path), "--threads", "1"))
    for key in ("budgets", "one_step_error", "rollout10_error", "small_dense_rollout10_error"):
        assert len(result[key]) == 2 if key != "budgets" else result[key] == [4, 2]
    assert (tmp_path / "pareto.png").exists() and (tmp_path / "pareto.csv").exists()


def test_bad_dataset_is_rejected_with_a_clear_message(tmp_path):
    states = np.zeros((5, 4, 2))
    states[1, 1, 0] = np.nan
    np.savez(tmp_path / "bad.npz", states=states, actions=np.zeros((5, 3, 2)))
    description = {"format": "sparseworks.dynamics.dataset/1", "task": "pwa", "task_options": {}}
    (tmp_path / "bad.json").write_text(json.dumps(description))
    result = _run("train", "--task", "pwa", "--data", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "run"), check=False)
    assert result.returncode == 2
    assert "bad.npz: field 'states': expected finite values" in result.stderr
