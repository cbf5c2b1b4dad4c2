"""The user's own data end to end: Criteo / Avazu / CSV files for ctr, RecBole atomic files for topk.

The gzipped Criteo file and the atomic folder go through the real command line; the other
layouts through the library function the command calls (in-process, to save a torch import).
"""

import gzip
import json
import subprocess
import sys
import tomllib

from recsys.config import CTRConfig, CTRFileConfig, InteractionFileConfig, TopKConfig, TrainerConfig
from recsys.ctr import run_ctr
from recsys.models.autoint import AutoIntConfig
from recsys.topk import run_topk
from tests.recsys.conftest import criteo_lines, write_criteo, write_inter

TINY = {
    "architecture": AutoIntConfig(embedding_dim=4, layers=1, heads=1, head_dim=4),
    "batch_size": 64,
    "learning_rate": 0.01,
}
TINY_AUTOINT = (
    "--embedding-dim",
    "4",
    "--layers",
    "1",
    "--heads",
    "1",
    "--head-dim",
    "4",
    "--batch-size",
    "64",
    "--lr",
    "0.01",
)
CLOCK_KEYS = ("samples_per_second",)


def run_cli(*args, out):
    command = [sys.executable, "-m", "sparseworks", "recsys", *args, "--threads", "1", "--json", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def without_clock(value):
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if not (k.endswith("_seconds") or k in CLOCK_KEYS)}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


def test_ctr_on_a_gzipped_criteo_file_and_its_replay(tmp_path):
    data = write_criteo(tmp_path / "day_0.gz", rows=1000, extra=["1\tinf\tb", "0" + "\tx" * 39])
    metrics, stderr = run_cli(
        "ctr",
        "--data",
        str(data),
        "--format",
        "criteo",
        "--min-count",
        "1",
        "--epochs",
        "2",
        "--chunk-rows",
        "300",
        *TINY_AUTOINT,
        "--seed",
        "3",
        out=tmp_path / "a",
    )
    assert metrics["rows"] == {"train": 802, "valid": 100, "test": 98}  # by line order; the last 2 lines malformed
    assert metrics["malformed_rows"] == 2 and "line 1001" in stderr and "line 1002" in stderr
    assert metrics["test_auc"] > 0.65  # the first categorical field decides the click rate (0.8 against 0.2)
    assert metrics["embedding_rows"] > 26 * 5  # 26 fields of 4 values + OOV, plus the binned numerics
    saved = tomllib.loads((tmp_path / "a" / "config.toml").read_text())
    assert saved["data"]["path"] == str(data) and saved["data"]["format"] == "criteo"
    assert saved["data"]["delimiter"] == "tab" and saved["min_count"] == 1  # what was used, recorded
    replay, _ = run_cli("ctr", "--config", str(tmp_path / "a" / "config.toml"), out=tmp_path / "b")
    assert without_clock(replay) == without_clock(metrics)
    assert (tmp_path / "b" / "config.toml").read_text() == (tmp_path / "a" / "config.toml").read_text()


def test_ctr_on_a_csv_with_a_split_column_and_hashing(tmp_path):
    lines = ["when,part,clicked," + ",".join(f"c{k}" for k in range(26)) + ",n1"]
    for r, line in enumerate(criteo_lines(600, seed=2)):
        cells = line.split("\t")
        part = "train" if r < 400 else ("valid" if r % 2 else "test")
        lines.append(",".join([str(r), part, cells[0], *cells[14:], cells[1]]))
    path = tmp_path / "clicks.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    config = CTRConfig(
        data=CTRFileConfig(
            path=path,
            format="csv",
            label_column="clicked",
            split_column="part",
            numeric_columns=("n1",),
            ignore_columns=("when",),
            hash_buckets=64,
        ),
        trainer=TrainerConfig(epochs=3, patience=2, monitor="auc"),
        **TINY,
    )
    metrics = run_ctr(config, seed=0, folder=tmp_path / "run")
    assert (tmp_path / "run" / "best.pt").exists()
    assert metrics["rows"] == {"train": 400, "valid": 100, "test": 100}
    assert metrics["embedding_rows"] == 27 * 64 and metrics["test_auc"] > 0.55


def test_ctr_on_an_avazu_file(tmp_path):
    lines = ["id,click,hour,C1,site_id,app_id"]
    for r, line in enumerate(criteo_lines(500, seed=4)):
        cells = line.split("\t")
        lines.append(f"{r},{cells[0]},141021{r % 24:02d},{cells[14]},{cells[15]},{cells[16]}")
    path = tmp_path / "train.csv"
    path.write_text("\n".join(lines) + "\n")
    config = CTRConfig(
        data=CTRFileConfig(path=path, format="avazu"),
        min_count=2,
        trainer=TrainerConfig(epochs=1, patience=2, monitor="auc"),
        **TINY,
    )
    metrics = run_ctr(config, seed=0)
    assert metrics["rows"] == {"train": 400, "valid": 50, "test": 50} and 0 <= metrics["test_auc"] <= 1


def test_topk_on_a_folder_of_atomic_files(tmp_path):
    folder = write_inter(tmp_path / "mine")
    metrics, _ = run_cli(
        "topk",
        "--data",
        str(folder),
        "--model",
        "mf",
        "--embedding-dim",
        "8",
        "--epochs",
        "6",
        "--eval-every",
        "3",
        "--batch-size",
        "64",
        "--lr",
        "0.05",
        "--split",
        "time",
        "--min-rating",
        "2",
        out=tmp_path / "run",
    )
    assert metrics["dense_parameters"] == (30 + 40) * 8
    assert metrics["recall@20"] > 0.5  # the taste groups halve the candidates; random ranking gives ~0.3
    saved = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert saved["data"]["path"] == str(folder) and saved["split"] == "time" and saved["min_rating"] == 2.0


def test_topk_on_an_inter_file_with_other_column_names(tmp_path):
    folder = write_inter(tmp_path / "mine", name="shop.inter.gz")
    text = (folder / "shop.inter.gz").read_text().replace("user_id:token\titem_id:token", "who:token\twhat:token", 1)
    (folder / "shop.inter.gz").write_bytes(gzip.compress(text.encode()))
    config = TopKConfig(
        model="lightgcn",
        embedding_dim=8,
        layers=1,
        batch_size=64,
        learning_rate=0.05,
        trainer=TrainerConfig(epochs=6, patience=3, eval_every=3),
        data=InteractionFileConfig(path=folder / "shop.inter.gz", user_column="who", item_column="what"),
    )
    metrics = run_topk(config, seed=0)
    assert metrics["dense_parameters"] == (30 + 40) * 8 and metrics["recall@20"] > 0.5
