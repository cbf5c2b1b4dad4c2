"""The `core compare` experiment at tiny scale: every method meets its nonzero target."""

import json
import subprocess
import sys

import pytest

from sparse_core.comparison.compare import METHODS, CompareConfig, compare_methods, summary_table

pytestmark = pytest.mark.network  # reads the real mnist5k digits (fetched once into the cache)


def test_every_method_meets_its_nonzero_target_within_one_weight_per_layer():
    config = CompareConfig(
        hidden=(32, 16),
        epochs=1,
        finetune_epochs=1,
        imp_rounds=2,
        rewind_steps=5,
        soup_size=2,
        update_every=10,
        sparsity=0.9,
    )
    results = compare_methods(config)
    assert results["split"] == {"train": 4000, "test": 1000, "seed": 0}
    assert set(results["methods"]) == set(METHODS)
    total = 784 * 32 + 32 * 16 + 16 * 10
    for name, row in results["methods"].items():
        assert row["max_layer_deviation"] <= 1, name
        assert abs(row["nonzeros"] - round(0.1 * total)) <= len(row["layers"]), name
        assert 0.0 <= row["accuracy"] <= 1.0
    assert results["methods"]["soup"]["layers"] == results["methods"]["imp"]["layers"]
    sms = results["methods"]["sms"]  # Sparse Model Soups: one soup of 2 retrains per IMP cycle
    assert sms["nonzeros"] == round(0.1 * total) == sms["target_nonzeros"]
    assert [cycle["cycle"] for cycle in sms["cycles"]] == [1, 2]
    assert sms["cycles"][0]["nonzeros"] == round(0.1**0.5 * total) and sms["cycles"][-1]["nonzeros"] == sms["nonzeros"]
    assert all(len(cycle["member_accuracies"]) == 2 for cycle in sms["cycles"])
    assert sms["cycles"][-1]["soup_accuracy"] == sms["accuracy"]
    table = summary_table(results)
    assert all(name in table for name in ("dense", *METHODS))


def test_config_rejects_unknown_methods_and_bad_sparsities():
    with pytest.raises(ValueError, match="must be one of"):
        CompareConfig(methods=("imp", "snip"))
    with pytest.raises(ValueError, match="must be > 0 and < 1"):
        CompareConfig(sparsity=1.0)
    with pytest.raises(ValueError, match="include 'imp'"):
        CompareConfig(methods=("soup",))
    assert CompareConfig(methods=("sms",)).methods == ("sms",)  # the per-cycle soups need no IMP run


def test_cli_prints_table_and_json_and_writes_figure(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparseworks",
            "core",
            "compare",
            "--methods",
            "magnitude,rigl",
            "--epochs",
            "1",
            "--hidden",
            "32,16",
            "--threads",
            "1",
            "--json",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    metrics = json.loads(completed.stdout.strip().splitlines()[-1])
    assert set(metrics["methods"]) == {"magnitude", "rigl"}
    assert metrics["methods"]["rigl"]["density"] == pytest.approx(0.1, abs=1e-4)
    assert "accuracy" in metrics["dense"]
    assert "rigl" in completed.stdout and "method" in completed.stdout
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert (tmp_path / "accuracy_vs_sparsity.png").stat().st_size > 10_000
    assert (tmp_path / "config.toml").read_text().count("rigl") == 1


def _without_clock(value):
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if not k.endswith("_seconds")}
    return value


def test_config_replay_reproduces_the_metrics(tmp_path):
    first = [
        sys.executable,
        "-m",
        "sparseworks",
        "core",
        "compare",
        "--methods",
        "magnitude,rigl",
        "--epochs",
        "1",
        "--finetune-epochs",
        "1",
        "--hidden",
        "16",
        "--threads",
        "1",
        "--seed",
        "3",
        "--json",
        "--out",
        str(tmp_path / "a"),
    ]
    assert subprocess.run(first, capture_output=True, text=True, timeout=300).returncode == 0
    replay = [
        sys.executable,
        "-m",
        "sparseworks",
        "core",
        "compare",
        "--config",
        str(tmp_path / "a" / "config.toml"),
        "--json",
        "--out",
        str(tmp_path / "b"),
    ]
    completed = subprocess.run(replay, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "b" / "config.toml").read_text() == (tmp_path / "a" / "config.toml").read_text()
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in "ab"]
    assert _without_clock(metrics[0]) == _without_clock(metrics[1])
    assert metrics[0]["methods"]["rigl"]["nonzeros"] == metrics[1]["methods"]["rigl"]["nonzeros"]
    run = [json.loads((tmp_path / name / "run.json").read_text()) for name in "ab"]
    assert run[0]["config_hash"] == run[1]["config_hash"] and run[1]["seed"] == 3


def test_bad_settings_exit_2_naming_the_option_and_leave_no_folder(tmp_path):
    for args, option in (
        (["--sparsity", "0.99999", "--hidden", "16"], None),
        (["--sparsity", "1"], "--sparsity"),
        (["--methods", "imp,snip"], "--methods"),
        (["--lr", "0"], "--lr"),
        (["--hidden", "16,x"], "--hidden"),
        (["--device", "cuda"], "--device"),
    ):
        completed = subprocess.run(
            [sys.executable, "-m", "sparseworks", "core", "compare", *args, "--out", str(tmp_path / "run")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if option is None:  # 0.99999 of 12,704 weights keeps none in some layer: rejected up front
            assert completed.returncode == 2 and "keeps no weight" in completed.stderr, completed.stderr
        else:
            assert completed.returncode == 2 and f"error: {option}" in completed.stderr, completed.stderr
        assert "Traceback" not in completed.stderr
        assert not (tmp_path / "run").exists()
