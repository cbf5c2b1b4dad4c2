"""Bad settings and bad files through the real command line: one line ``error: ...``, exit 2, nothing left behind.

Every case runs ``python -m sparseworks memory ...`` in a subprocess; the cases run
concurrently (a module fixture) so that the module stays well under a minute.
"""

import gzip
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

TINY = [
    "--dataset",
    "digits",
    "--train-per-class",
    "2",
    "--channels",
    "filled",
    "--top-cells-per-cm",
    "0",
    "--cells-per-cm",
    "8",
    "--test-limit",
    "5",
    "--no-baselines",
]


def _csv_rows(count=6, classes=2, columns=785, value="0"):
    rows = []
    for i in range(count):
        fields = [value] * (columns - 1) + [str(i % classes)]
        rows.append(",".join(fields))
    return "\n".join(rows) + "\n"


def _png(path: Path, size=(28, 28), fill=0):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], fill, np.uint8)).save(path)


def _files(root: Path) -> dict[str, Path]:
    """The bad files every case may name, made once."""
    files = {}

    def text(name, content):
        path = root / name
        path.write_text(content)
        files[name] = path

    text("empty.csv", "")
    text("short_rows.csv", _csv_rows(columns=101))
    text("nan.csv", _csv_rows(value="nan"))
    text("inf.csv", _csv_rows(value="inf"))
    text("bright.csv", _csv_rows(value="300"))
    text("words.csv", _csv_rows(value="x"))
    text("one_class.csv", _csv_rows(classes=1))
    text("few_per_class.csv", _csv_rows(count=4))
    text("not_toml.toml", "this is = = not toml [[")
    text("unknown_key.toml", 'dataset = "digits"\nbanana = 3\n')
    text("no_data.ts", "@problemName X\n@classLabel true a b\n")
    text("no_labels.ts", "@problemName X\n@data\n1,2,3:a\n")
    text("missing_values.ts", "@classLabel true a b\n@data\n" + "?,?,?:?,?,?:a\n" * 12)
    text("good.ts", "@classLabel true a b\n@data\n" + "1,2,3,4:5,6,7,8:a\n2,3,4,5:6,7,8,9:b\n" * 3)
    text("other_classes.ts", "@classLabel true c d\n@data\n" + "1,2,3,4:5,6,7,8:c\n2,3,4,5:6,7,8,9:d\n" * 3)
    text("a_file", "I am a file, not a folder\n")
    (root / "binary.csv").write_bytes(bytes(range(256)) * 4)
    files["binary.csv"] = root / "binary.csv"
    (root / "binary.toml").write_bytes(b"\xff\xfe\x00\x01" * 10)
    files["binary.toml"] = root / "binary.toml"
    whole = gzip.compress(_csv_rows().encode())
    (root / "truncated.csv.gz").write_bytes(whole[: len(whole) // 2])
    files["truncated.csv.gz"] = root / "truncated.csv.gz"
    (root / "corrupt_gzip.csv").write_bytes(whole[:12] + b"\x00" * 40 + whole[52:])
    files["corrupt_gzip.csv"] = root / "corrupt_gzip.csv"
    (root / "no_classes").mkdir()
    files["no_classes"] = root / "no_classes"
    for name, size in (("a/1.png", (28, 28)), ("a/2.png", (28, 28)), ("b/1.png", (20, 24)), ("b/2.png", (28, 28))):
        _png(root / "mixed_sizes" / name, size)
    files["mixed_sizes"] = root / "mixed_sizes"
    for name in ("a/1.png", "a/2.png", "b/1.png", "b/2.png"):
        path = root / "broken_pngs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    files["broken_pngs"] = root / "broken_pngs"
    capacity_config = root / "capacity_config.toml"
    capacity_config.write_text("max_items = 100\nqueries = 5\n[grid]\ninputs = [100]\n")
    files["capacity_config.toml"] = capacity_config
    return files


# (id, command and options, text the error must contain); "{name}" is the path of a file of _files,
# "{out}" the run folder the case must not leave behind.
CASES = [
    ("zero-train", ["classify", "--train-per-class", "0"], ["--train-per-class"]),
    ("one-cell", ["classify", "--cells-per-cm", "1"], ["--cells-per-cm"]),
    (
        "memory-too-large",
        ["classify", "--cells-per-cm", "65536", "--top-cells-per-cm", "65536"],
        ["--cells-per-cm", "GiB"],
    ),
    ("nan-center", ["classify", "--sigmoid-center", "nan"], ["--sigmoid-center", "finite"]),
    ("inf-center", ["classify", "--sigmoid-center", "inf"], ["--sigmoid-center", "finite"]),
    ("negative-lambda", ["classify", "--sigmoid-lambda", "-1"], ["--sigmoid-lambda"]),
    ("zero-freeze", ["classify", "--freeze-fraction", "0"], ["--freeze-fraction"]),
    ("g-minus-one", ["classify", "--g-minus", "1.0"], ["--g-minus"]),
    ("unknown-normalise", ["classify", "--normalise", "median"], ["--normalise", "max"]),
    ("unknown-channel", ["classify", "--channels", "filled,blurred"], ["--channels"]),
    ("duplicate-channel", ["classify", "--channels", "filled,filled"], ["--channels"]),
    (
        "validation-all",
        ["classify", "--train-per-class", "20", "--validation-per-class", "20"],
        ["--validation-per-class"],
    ),
    ("train-too-many", ["classify", "--dataset", "digits", "--train-per-class", "500"], ["--train-per-class"]),
    ("noise-not-number", ["capacity", "--noise", "0.1,abc"], ["--noise", "comma-separated"]),
    ("noise-above-one", ["capacity", "--noise", "0,1.5"], ["--noise"]),
    ("grid-lengths", ["capacity", "--inputs", "784,2048", "--active", "40,16,16"], ["--inputs", "common length"]),
    ("active-above-inputs", ["capacity", "--inputs", "100", "--active", "100"], ["--active"]),
    ("macs-not-dividing", ["capacity", "--inputs", "784", "--active", "40", "--macs", "3"], ["--macs"]),
    ("zero-items", ["capacity", "--max-items", "0"], ["--max-items"]),
    ("negative-query-noise", ["timing", "--query-noise", "-0.1"], ["--query-noise"]),
    ("unknown-ann", ["timing", "--ann", "annoy"], ["--ann", "faiss"]),
    ("min-above-max", ["timing", "--min-items", "1000", "--max-items", "100"], ["--min-items"]),
    ("zero-window", ["sequence", "--window", "0"], ["--window"]),
    ("train-file-alone", ["sequence", "--train-file", "{good.ts}"], ["--train-file", "--test-file"]),
    ("unknown-dataset", ["sequence", "--dataset", "ecg"], ["--dataset", "basicmotions"]),
    # run folders and --config
    ("out-is-a-file", ["classify", *TINY, "--out", "{a_file}"], ["a_file"]),
    ("out-under-a-file", ["classify", *TINY, "--out", "{a_file}/sub"], ["a_file"]),
    ("config-missing", ["classify", "--config", "{missing}"], ["missing.toml"]),
    ("config-not-toml", ["classify", "--config", "{not_toml.toml}"], ["not_toml.toml", "TOML"]),
    ("config-binary", ["classify", "--config", "{binary.toml}"], ["binary.toml"]),
    ("config-unknown-key", ["classify", "--config", "{unknown_key.toml}"], ["banana"]),
    ("config-of-capacity", ["classify", "--config", "{capacity_config.toml}"], ["capacity_config.toml", "max_items"]),
    # the user's image files
    ("data-missing", ["classify", "--data", "{missing}"], ["--data", "missing"]),
    ("data-empty", ["classify", "--data", "{empty.csv}", "--train-per-class", "1"], ["empty.csv", "valid row"]),
    (
        "data-short-rows",
        ["classify", "--data", "{short_rows.csv}", "--train-per-class", "1"],
        ["short_rows.csv", "785 columns", "line 1"],
    ),
    ("data-nan", ["classify", "--data", "{nan.csv}", "--train-per-class", "1"], ["nan.csv", "non-finite"]),
    ("data-inf", ["classify", "--data", "{inf.csv}", "--train-per-class", "1"], ["inf.csv", "non-finite"]),
    ("data-pixel-300", ["classify", "--data", "{bright.csv}", "--train-per-class", "1"], ["bright.csv", "0-255"]),
    ("data-words", ["classify", "--data", "{words.csv}", "--train-per-class", "1"], ["words.csv", "not a number"]),
    (
        "data-one-class",
        ["classify", "--data", "{one_class.csv}", "--train-per-class", "1"],
        ["one_class.csv", "two classes"],
    ),
    (
        "data-few-per-class",
        ["classify", "--data", "{few_per_class.csv}", "--train-per-class", "2"],
        ["few_per_class.csv", "--train-per-class"],
    ),
    ("data-binary", ["classify", "--data", "{binary.csv}", "--train-per-class", "1"], ["binary.csv", "UTF-8"]),
    (
        "data-truncated-gzip",
        ["classify", "--data", "{truncated.csv.gz}", "--train-per-class", "1"],
        ["truncated.csv.gz", "gzip"],
    ),
    (
        "data-gzip-named-csv",
        ["classify", "--data", "{corrupt_gzip.csv}", "--train-per-class", "1"],
        ["corrupt_gzip.csv", "gzip"],
    ),
    (
        "data-no-class-folders",
        ["classify", "--data", "{no_classes}", "--train-per-class", "1"],
        ["no_classes", "sub-folder"],
    ),
    (
        "data-mixed-sizes",
        ["classify", "--data", "{mixed_sizes}", "--train-per-class", "1"],
        ["mixed_sizes", "one size"],
    ),
    ("data-broken-pngs", ["classify", "--data", "{broken_pngs}", "--train-per-class", "1"], ["broken_pngs", "PNG"]),
    # the user's sequence files
    ("ts-no-data", ["sequence", "--train-file", "{no_data.ts}", "--test-file", "{good.ts}"], ["no_data.ts", "@data"]),
    (
        "ts-no-labels",
        ["sequence", "--train-file", "{no_labels.ts}", "--test-file", "{good.ts}"],
        ["no_labels.ts", "@classLabel"],
    ),
    (
        "ts-missing-values",
        ["sequence", "--train-file", "{missing_values.ts}", "--test-file", "{good.ts}"],
        ["missing_values.ts", "malformed"],
    ),
    (
        "ts-other-classes",
        ["sequence", "--train-file", "{good.ts}", "--test-file", "{other_classes.ts}"],
        ["different classes"],
    ),
]


def _expand(items, files, root):
    def one(item):
        for name, path in files.items():
            item = item.replace("{" + name + "}", str(path))
        return item.replace("{missing}", str(root / "missing.toml"))

    return [one(item) for item in items]


def _run(args, out):
    command = [sys.executable, "-m", "sparseworks", "memory", *args]
    if "--out" not in args:
        command += ["--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    files = _files(root)
    jobs = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for case_id, args, expected in CASES:
            out = root / "runs" / case_id
            jobs[case_id] = (pool.submit(_run, _expand(args, files, root), out), out, _expand(expected, files, root))
        existing = root / "runs" / "existing"
        existing.mkdir(parents=True)
        (existing / "notes.txt").write_text("mine\n")
        args = _expand(
            ["classify", "--data", "{nan.csv}", "--train-per-class", "1", "--out", str(existing)], files, root
        )
        jobs["existing-out"] = (pool.submit(_run, args, existing), existing, ["nan.csv"])
        return {case_id: (future.result(), out, expected) for case_id, (future, out, expected) in jobs.items()}


@pytest.mark.parametrize("case_id", [case[0] for case in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_no_run_folder(outcomes, case_id):
    result, out, expected = outcomes[case_id]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    if out.name == case_id:
        assert not out.exists(), list(out.iterdir())


def test_a_bad_file_into_an_existing_folder_marks_it_failed_and_adds_no_file(outcomes):
    result, folder, expected = outcomes["existing-out"]
    assert result.returncode == 2 and result.stderr.startswith("error: ") and expected[0] in result.stderr
    names = sorted(p.name for p in folder.iterdir())
    # no metrics, no model, no *.part; the refused settings are not left as config.toml (there was none)
    assert names == ["notes.txt", "run.json"], names
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "failed" and "nan.csv" in run["error"]


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25
