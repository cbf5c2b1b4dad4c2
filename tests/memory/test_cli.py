import json
import subprocess
import sys


def _run(*args, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sparseworks", "memory", *args, "--json", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_classify_digits_cli(tmp_path):
    metrics = _run("classify", "--dataset", "digits", "--train-per-class", "10", "--test-limit", "50", "--cells-per-cm", "64",
                   "--top-cells-per-cm", "32", "--channels", "filled,skeleton", tmp_path=tmp_path)
    assert {"accuracy", "train_seconds", "test_seconds", "knn1_accuracy"} <= set(metrics)
    assert (tmp_path / "model.npz").exists() and (tmp_path / "metrics.json").exists()


def test_timing_and_capacity_cli(tmp_path):
    metrics = _run("timing", "--min-items", "100", "--max-items", "300", "--queries", "5", tmp_path=tmp_path / "t")
    assert metrics["sizes"] == [100, 300] and metrics["ratio_sizes"] == [100, 300]
    assert "retrieve_ratio_largest_vs_smallest" in metrics and (tmp_path / "t" / "timing.png").exists()
    metrics = _run("capacity", "--max-items", "30", "--queries", "5", tmp_path=tmp_path / "c")
    assert metrics["sizes"] == [10, 30] and (tmp_path / "c" / "capacity.png").exists()
