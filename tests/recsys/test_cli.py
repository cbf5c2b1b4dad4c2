import json
import subprocess
import sys

import pytest


def run_cli(*args, tmp_path):
    command = [sys.executable, "-m", "sparseworks", "recsys", *args, "--threads", "1", "--json", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.network
def test_topk_smoke(tmp_path):
    metrics = run_cli("topk", "--model", "mf", "--density", "0.5", "--epochs", "1", "--eval-every", "1",
                      "--dataset", "ml100k", "--seed", "1", "--initial-mask", "columns", tmp_path=tmp_path)
    for key in ("recall@20", "ndcg@20", "nonzeros", "dense_parameters", "epoch_seconds"):
        assert key in metrics
    assert metrics["nonzeros"] == metrics["dense_parameters"] // 2
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["recall@20"] == metrics["recall@20"] and len(saved["epochs"]) == 1
    assert (tmp_path / "config.toml").exists()


@pytest.mark.network
def test_ctr_smoke(tmp_path):
    metrics = run_cli("ctr", "--model", "autoint+", "--epochs", "1", "--max-rows", "3000", "--head-dim", "8",
                      "--seed", "1", tmp_path=tmp_path)
    for key in ("test_auc", "test_logloss", "parameters", "samples_per_second"):
        assert key in metrics
    assert 0.0 <= metrics["test_auc"] <= 1.0


def test_help_has_examples():
    done = subprocess.run([sys.executable, "-m", "sparseworks", "recsys", "topk", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Examples" in done.stdout and "--density" in done.stdout


def test_bad_model_is_named(tmp_path):
    command = [sys.executable, "-m", "sparseworks", "recsys", "topk", "--model", "svd", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "'mf' or 'lightgcn'" in done.stderr
