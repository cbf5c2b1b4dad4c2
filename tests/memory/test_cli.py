import json
import subprocess
import sys

import pytest

TINY_CLASSIFY = [
    "--dataset",
    "digits",
    "--train-per-class",
    "5",
    "--test-limit",
    "20",
    "--channels",
    "filled",
    "--top-cells-per-cm",
    "0",
    "--cells-per-cm",
    "16",
]


def _run(*args, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sparseworks", "memory", *args, "--json", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _without_wall_clock(metrics):
    return {key: value for key, value in metrics.items() if not key.endswith("_seconds")}


def test_classify_digits_cli(tmp_path):
    metrics = _run(
        "classify",
        "--dataset",
        "digits",
        "--train-per-class",
        "10",
        "--test-limit",
        "50",
        "--cells-per-cm",
        "64",
        "--top-cells-per-cm",
        "32",
        "--channels",
        "filled,skeleton",
        tmp_path=tmp_path,
    )
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


SMALL_GRID = ["--inputs", "200,400", "--active", "10", "--cms", "8", "--cells-per-cm", "16,64"]


def test_timing_and_capacity_cli(tmp_path):
    metrics = _run(
        "timing",
        *SMALL_GRID,
        "--macs",
        "1",
        "--min-items",
        "10",
        "--max-items",
        "30",
        "--queries",
        "5",
        tmp_path=tmp_path / "t",
    )
    assert metrics["sizes"] == [10, 30] and metrics["ratio_sizes"] == [10, 30]
    assert all(row["recall"] >= 0.9 for row in metrics["rows"] if row["items"] in (10, 30) and row["holds"])
    assert "retrieve_ratio_largest_vs_smallest" in metrics and (tmp_path / "t" / "timing.png").exists()
    assert metrics["rows"][0]["levels"][0]["sigmoid_center"] == 0.9
    metrics = _run(
        "capacity", *SMALL_GRID, "--macs", "1,2", "--max-items", "30", "--queries", "5", tmp_path=tmp_path / "c"
    )
    assert [m["items"] for m in metrics["memories"]] == [[10, 20, 30]] * 2
    assert (tmp_path / "c" / "capacity.png").exists() and (tmp_path / "c" / "capacity_n90.png").exists()
    config = (tmp_path / "c" / "config.toml").read_text()
    assert "[csa]" in config and "[grid]" in config and 'normalise = "max"' in config


@pytest.mark.parametrize(
    "args, named",
    [
        (["timing", "--min-items", "1000", "--max-items", "100"], ("--min-items", "max_items")),
        (["classify", "--dataset", "digits", "--train-per-class", "500"], ("--train-per-class",)),
        (["classify", "--channels", "filled,blurred"], ("--channels",)),
        (["classify", "--readout", "middle"], ("--readout",)),
        (["capacity", "--max-items", "0"], ("--max-items",)),
        (["sequence", "--dataset", "ecg"], ("--dataset", "basicmotions")),
    ],
)
def test_bad_setting_exits_2_naming_the_option(tmp_path, args, named):
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "sparseworks", "memory", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and all(name in result.stderr for name in named), result.stderr
    assert not out.exists()


def test_configs_import_no_numerical_library():
    code = (
        "import sys, memory.cli; print(sorted({'numpy', 'scipy', 'sklearn', 'matplotlib', 'torch'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_classify_on_the_users_png_folder_and_gzip_csv(tmp_path):
    import gzip

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    prototypes = rng.random((2, 12, 12)) < 0.3
    rows = []
    for label, name in enumerate(("zero", "one")):
        (tmp_path / "pngs" / name).mkdir(parents=True)
        for i in range(8):
            image = (prototypes[label] ^ (rng.random((12, 12)) < 0.03)).astype(np.uint8) * 255
            Image.fromarray(image).save(tmp_path / "pngs" / name / f"{i}.png")
            big = np.pad(image, 8)  # 28 x 28
            rows.append(",".join(map(str, [*big.ravel(), label])))
    (tmp_path / "digits.csv").write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))  # gzip, named .csv
    common = ["--train-per-class", "4", "--channels", "filled", "--cells-per-cm", "32", "--top-cells-per-cm", "0"]
    png = _run("classify", "--data", str(tmp_path / "pngs"), *common, tmp_path=tmp_path / "a")
    assert png["dataset"] == "file:pngs" and png["class_names"] == ["one", "zero"] and png["test_items"] == 8
    assert png["accuracy"] >= 0.75 and png["frame_shape"] == [16, 16]
    csv = _run("classify", "--data", str(tmp_path / "digits.csv"), *common, tmp_path=tmp_path / "b")
    assert csv["class_names"] == ["0", "1"] and csv["frame_shape"] == [16, 16] and csv["accuracy"] >= 0.75


def test_a_killed_run_leaves_only_whole_files_and_a_rerun_finishes(tmp_path):
    import signal
    import time
    import tomllib

    out = tmp_path / "run"
    base = [
        sys.executable,
        "-m",
        "sparseworks",
        "memory",
        "capacity",
        "--inputs",
        "400",
        "--active",
        "10",
        "--cms",
        "8",
        "--cells-per-cm",
        "64",
        "--json",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(
        [*base, "--max-items", "3000", "--queries", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not (out / "run.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    for path in out.iterdir():
        if ".part" in path.name:
            continue  # a temporary of an atomic write: the next run removes it
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
    (out / ".metrics.json.x1y2.part").write_text('{"half": ')  # what a kill inside a write leaves
    rerun = subprocess.run([*base, "--max-items", "30", "--queries", "5"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert not [p for p in out.iterdir() if ".part" in p.name]
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert json.loads((out / "metrics.json").read_text())["memories"][0]["items"] == [10, 20, 30]
