import json
import subprocess
import sys

import pytest

TINY_CLASSIFY = ["--dataset", "digits", "--train-per-class", "5", "--test-limit", "20", "--channels", "filled",
                 "--top-cells-per-cm", "0", "--cells-per-cm", "16"]


def _run(*args, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sparseworks", "memory", *args, "--json", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _without_wall_clock(metrics):
    return {key: value for key, value in metrics.items() if not key.endswith("_seconds")}


def test_classify_digits_cli(tmp_path):
    metrics = _run("classify", "--dataset", "digits", "--train-per-class", "10", "--test-limit", "50", "--cells-per-cm", "64",
                   "--top-cells-per-cm", "32", "--channels", "filled,skeleton", tmp_path=tmp_path)
    assert {"accuracy", "train_seconds", "test_seconds", "knn1_accuracy"} <= set(metrics)
    assert (tmp_path / "model.npz").exists() and (tmp_path / "metrics.json").exists()


def test_classify_replays_from_its_config(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    first = _run("classify", *TINY_CLASSIFY, tmp_path=a)
    replay = _run("classify", "--config", str(a / "config.toml"), tmp_path=b)
    assert (b / "config.toml").read_text() == (a / "config.toml").read_text()
    saved = [_without_wall_clock(json.loads((folder / "metrics.json").read_text())) for folder in (a, b)]
    assert saved[0] == saved[1] == _without_wall_clock(first) == _without_wall_clock(replay)
    assert first["test_items"] == 20 and first["frame_shape"] == [16, 16]


def test_timing_and_capacity_cli(tmp_path):
    metrics = _run("timing", "--min-items", "100", "--max-items", "300", "--queries", "5", tmp_path=tmp_path / "t")
    assert metrics["sizes"] == [100, 300] and metrics["ratio_sizes"] == [100, 300]
    assert "retrieve_ratio_largest_vs_smallest" in metrics and (tmp_path / "t" / "timing.png").exists()
    metrics = _run("capacity", "--max-items", "30", "--queries", "5", tmp_path=tmp_path / "c")
    assert metrics["sizes"] == [10, 30] and (tmp_path / "c" / "capacity.png").exists()


@pytest.mark.parametrize("args, named", [
    (["timing", "--min-items", "1000", "--max-items", "100"], ("--min-items", "max_items")),
    (["classify", "--dataset", "digits", "--train-per-class", "500"], ("--train-per-class",)),
    (["classify", "--channels", "filled,blurred"], ("--channels",)),
    (["classify", "--readout", "middle"], ("--readout",)),
    (["capacity", "--max-items", "0"], ("--max-items",)),
    (["sequence", "--dataset", "ecg"], ("--dataset", "basicmotions")),
])
def test_bad_setting_exits_2_naming_the_option(tmp_path, args, named):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "sparseworks", "memory", *args, "--out", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and all(name in result.stderr for name in named), result.stderr
    assert not out.exists()


def test_configs_import_no_numerical_library():
    code = "import sys, memory.cli; print(sorted({'numpy', 'scipy', 'sklearn', 'matplotlib', 'torch'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
