"""Bad input of every kind through the real command line: exit 2, ``error:`` naming the culprit, nothing left behind.

Every case runs ``sparseworks recsys ...`` in a subprocess. Settings are rejected before
any heavy import (fast); a bad file is found by the library after torch is loaded, so
those cases are run a few at a time in parallel to keep the module short.
"""

import gzip
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tomli_w

from tests.recsys.conftest import criteo_lines

# Whole-CLI bad-input, interruption and fuzz cases: minutes of subprocesses, so `make test-all` runs them.
pytestmark = pytest.mark.slow

# (id, arguments ({d} is the folder of the input files), what stderr must name, whether --out exists before)
CASES = [
    # settings: out of bounds, non-finite, unknown choices, malformed lists, cross-field checks
    ("topk-density-nan", "topk --density nan", ["--density", "finite"]),
    ("topk-density-inf", "topk --density inf", ["--density", "finite"]),
    ("topk-density-zero", "topk --density 0", ["--density", "> 0"]),
    ("topk-lr-negative", "topk --lr -1", ["--lr", "> 0"]),
    ("topk-epochs-zero", "topk --epochs 0", ["--epochs", ">= 1"]),
    ("topk-unknown-model", "topk --model svd", ["--model", "'svd'"]),
    ("topk-ks-not-numbers", "topk --ks 10,x", ["--ks", "comma-separated int"]),
    ("topk-ks-without-20", "topk --ks 10", ["--ks", "recall@20"]),
    ("topk-test-fraction-one", "topk --test-fraction 1", ["--test-fraction", "< 1"]),
    ("topk-min-rating-nan", "topk --min-rating nan", ["--min-rating", "finite"]),
    ("topk-unknown-split", "topk --split sideways", ["--split", "'sideways'"]),
    ("topk-column-without-data", "topk --user-column who", ["--user-column", "--data"]),
    ("ctr-fractions-two", "ctr --fractions 0.8,0.2", ["--fractions", "three shares"]),
    ("ctr-dropout-one", "ctr --dropout 1", ["--dropout", "< 1"]),
    ("ctr-batch-zero", "ctr --batch-size 0", ["--batch-size", ">= 1"]),
    ("ctr-max-rows-tiny", "ctr --max-rows 5", ["--max-rows", ">= 10"]),
    ("ctr-min-count-zero", "ctr --min-count 0", ["--min-count", ">= 1"]),
    ("ctr-format-without-data", "ctr --format criteo", ["--format", "--data"]),
    ("ctr-data-without-format", "ctr --data {d}/good.gz", ["--format", "criteo, avazu or csv"]),
    ("ctr-unknown-format", "ctr --data {d}/good.gz --format parquet", ["--format", "'parquet'"]),
    ("ctr-hash-buckets-one", "ctr --data {d}/good.gz --format criteo --hash-buckets 1", ["--hash-buckets", ">= 2"]),
    ("ctr-chunk-rows-zero", "ctr --data {d}/good.gz --format criteo --chunk-rows 0", ["--chunk-rows", ">= 1"]),
    (
        "ctr-criteo-split-column",
        "ctr --data {d}/good.gz --format criteo --split-column part",
        ["--split-column", "criteo"],
    ),
    (
        "ctr-column-twice",
        "ctr --data {d}/a.csv --format csv --numeric-columns x --categorical-columns x",
        ["--categorical-columns", "'x'"],
    ),
    # where results go, replayed configs
    ("out-is-a-file", "topk --out {d}/good.gz", ["good.gz"]),
    ("out-under-a-file", "topk --out {d}/good.gz/sub", ["good.gz"]),
    ("config-missing", "topk --config {d}/nope.toml", ["nope.toml"]),
    ("config-not-toml", "topk --config {d}/good.gz", ["good.gz", "TOML"]),
    ("config-unknown-key", "topk --config {d}/unknown_key.toml", ["unknown_key.toml", "bogus"]),
    ("config-of-another-command", "ctr --config {d}/topk.toml", ["topk.toml", "unknown key"]),
    # the user's CTR files: missing, empty, truncated, corrupt, wrong shape, non-finite, one class
    ("ctr-data-missing", "ctr --data {d}/nope.gz --format criteo", ["nope.gz"]),
    ("ctr-data-folder", "ctr --data {d} --format criteo", ["Is a directory"]),
    ("ctr-data-empty", "ctr --data {d}/empty.txt --format criteo", ["empty.txt", "no valid rows"]),
    ("ctr-data-truncated-gzip", "ctr --data {d}/truncated.gz --format criteo", ["truncated.gz", "damaged gzip"]),
    ("ctr-data-corrupt-gzip", "ctr --data {d}/corrupt.gz --format criteo", ["corrupt.gz", "damaged gzip"]),
    ("ctr-data-gzip-named-txt", "ctr --data {d}/gzip_named.txt --format criteo", ["gzip_named.txt", "damaged gzip"]),
    (
        "ctr-data-inf",
        "ctr --data {d}/inf.txt --format criteo",
        ["inf.txt", "no valid rows", "line 1:", "holds 'inf', not a finite number"],
    ),
    (
        "ctr-data-short-rows",
        "ctr --data {d}/short.txt --format criteo",
        ["short.txt", "no valid rows", "expected 40 cells, found 3"],
    ),
    ("ctr-data-nan-label", "ctr --data {d}/nan_label.txt --format criteo", ["nan_label.txt", "label 'nan'"]),
    ("ctr-data-garbage", "ctr --data {d}/garbage.gz --format criteo", ["garbage.gz", "no valid rows"]),
    (
        "ctr-data-too-many-malformed",
        "ctr --data {d}/mostly_bad.txt --format criteo --max-malformed 20",
        ["mostly_bad.txt", "more than 20 malformed rows", "line 1"],
    ),
    ("ctr-data-one-class", "ctr --data {d}/ones.txt --format criteo", ["ones.txt", "AUC needs both classes"]),
    ("ctr-data-csv-wrong-shape", "ctr --data {d}/good.gz --format csv", ["good.gz", "no column named 'label'"]),
    ("ctr-data-csv-unknown-column", "ctr --data {d}/a.csv --format csv --numeric-columns price", ["a.csv", "'price'"]),
    # the user's interactions for topk
    ("topk-data-missing", "topk --data {d}/nowhere", ["nowhere", "not found"]),
    ("topk-data-no-inter", "topk --data {d}/no_inter", ["no_inter", "no .inter file"]),
    ("topk-data-empty", "topk --data {d}/empty_inter", ["x.inter", "file is empty"]),
    ("topk-data-bad-header", "topk --data {d}/bad_header", ["x.inter", "header cell"]),
    (
        "topk-data-nan-rating",
        "topk --data {d}/nan_rating --max-malformed 0",
        ["x.inter, line 3", "'rating' holds 'nan'"],
    ),
    ("topk-data-no-item-column", "topk --data {d}/no_item", ["x.inter", "no column 'item_id'"]),
    ("topk-data-time-without-timestamps", "topk --data {d}/no_time --split time", ["x.inter", "'timestamp'"]),
    ("topk-data-too-few-items", "topk --data {d}/few_items", ["x.inter", "--ks"]),
    ("topk-data-one-interaction-each", "topk --data {d}/single", ["x.inter", "no validation interactions"]),
    # a failure into an existing folder keeps it, marks it failed, adds no half-written file
    ("existing-out-bad-data", "ctr --data {d}/empty.txt --format criteo", ["empty.txt", "no valid rows"], True),
]


# More cases of files (each costs a torch import, ~3 s of CPU): run by `make test-all` (-m slow).
SLOW = {
    "ctr-data-folder",
    "ctr-data-short-rows",
    "ctr-data-garbage",
    "ctr-data-csv-unknown-column",
    "topk-data-empty",
    "topk-data-no-inter",
    "topk-data-bad-header",
    "topk-data-time-without-timestamps",
    "topk-data-too-few-items",
    "topk-data-one-interaction-each",
}
PARAMS = [pytest.param(case, id=case[0], marks=[pytest.mark.slow] if case[0] in SLOW else []) for case in CASES]


def inter_folder(root: Path, name: str, text: str) -> None:
    (root / name).mkdir()
    (root / name / "x.inter").write_text(text)


def make_inputs(d: Path) -> None:
    good = criteo_lines(60)
    (d / "good.gz").write_bytes(gzip.compress(("\n".join(good) + "\n").encode()))
    packed = gzip.compress(("\n".join(criteo_lines(3000)) + "\n").encode())
    (d / "truncated.gz").write_bytes(packed[: len(packed) // 2])
    corrupt = bytearray(packed)
    corrupt[len(corrupt) // 2 : len(corrupt) // 2 + 8] = b"\xff" * 8
    (d / "corrupt.gz").write_bytes(bytes(corrupt))
    (d / "gzip_named.txt").write_bytes(packed[: len(packed) // 3])
    (d / "empty.txt").write_bytes(b"")
    inf_row = "1\tinf" + "\t1" * 12 + "\tb" * 26
    (d / "inf.txt").write_text("\n".join([inf_row] * 5) + "\n")
    (d / "short.txt").write_text("1\tinf\tb\n" * 5)
    (d / "nan_label.txt").write_text("\n".join("nan" + line[1:] for line in good) + "\n")
    (d / "garbage.gz").write_bytes(bytes(range(256)) * 40)
    (d / "mostly_bad.txt").write_text("1\tinf\tb\n" * 30 + "\n".join(good) + "\n")
    (d / "ones.txt").write_text("\n".join("1" + line[1:] for line in good) + "\n")
    (d / "a.csv").write_text("label,site\n1,a\n0,b\n")
    (d / "unknown_key.toml").write_text('bogus = 1\nmodel = "mf"\n')
    from recsys.config import TopKConfig
    from sparse_core.infra.clikit import settings_document

    (d / "topk.toml").write_text(tomli_w.dumps(settings_document(TopKConfig(), 0, None, "cpu")))
    (d / "no_inter").mkdir()
    (d / "no_inter" / "readme.txt").write_text("nothing here")
    header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    inter_folder(d, "empty_inter", "")
    inter_folder(d, "bad_header", "user_id\titem_id\n1\t2\n")
    inter_folder(d, "nan_rating", header + "1\t1\t4\t10\n1\t2\tnan\t11\n")
    inter_folder(d, "no_item", "user_id:token\tmovie:token\n1\t2\n")
    inter_folder(
        d, "no_time", "user_id:token\titem_id:token\n" + "".join(f"{u}\t{i}\n" for u in range(5) for i in range(30))
    )
    inter_folder(d, "few_items", header + "".join(f"{u}\t{i}\t3\t1\n" for u in range(5) for i in range(8)))
    inter_folder(d, "single", header + "".join(f"u{u}\ti{u}\t3\t1\n" for u in range(40)))


def run_case(d: Path, outs: Path, case) -> subprocess.CompletedProcess:
    name, args, _, *existing = case
    command = [sys.executable, "-m", "sparseworks", "recsys", *args.format(d=d).split()]
    if "--out" not in command:
        out = outs / name
        if existing:
            out.mkdir()
            (out / "notes.txt").write_text("kept")
        command += ["--out", str(out)]
    return subprocess.run([*command, "--threads", "1"], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def ran(request, tmp_path_factory):
    """Every selected case, all started on first use (a few at a time): id -> future of its result."""
    d, outs = tmp_path_factory.mktemp("inputs"), tmp_path_factory.mktemp("outs")
    make_inputs(d)
    selected = {
        item.callspec.params["case"][0]
        for item in request.session.items
        if getattr(item, "callspec", None) is not None and "case" in item.callspec.params
    }
    pool = ThreadPoolExecutor(max_workers=3)
    futures = {case[0]: pool.submit(run_case, d, outs, case) for case in CASES if case[0] in selected}
    yield d, outs, futures
    pool.shutdown(wait=True)


@pytest.mark.parametrize("case", PARAMS)
def test_bad_input_exits_2_naming_it_and_leaves_nothing(ran, case):
    d, outs, futures = ran
    name, _, named, *existing = case
    done = futures[name].result()
    assert done.returncode == 2, (done.stdout[-2000:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    error = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert error, done.stderr[-3000:]
    for text in named:
        assert text.format(d=d) in error[-1], (text, error[-1])
    out = outs / name
    if existing:
        left = {p.name for p in out.iterdir()}
        assert {"notes.txt", "run.json"} <= left <= {"notes.txt", "run.json", "config.toml"}, left  # nothing half-made
        assert (out / "notes.txt").read_text() == "kept"
        status = json.loads((out / "run.json").read_text())
        assert status["status"] == "failed" and "no valid rows" in status["error"]
    else:
        assert not out.exists()
    assert (d / "good.gz").is_file()  # an --out naming a file leaves the file alone


def test_there_are_enough_cases():
    assert len(CASES) >= 25 and len({case[0] for case in CASES}) == len(CASES)
